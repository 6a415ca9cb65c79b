//! Phone number normalisation, free of Asterisk.
//!
//! Agents type customer numbers into OTRS as free text (`89161229624`,
//! `+7 (916) 122-96-24`, `8 916 122 9624`) and the caller ID arrives in yet
//! another form. [`canonical`] maps all the ways of writing one line to the
//! same key, so the customer index and the caller ID can be compared with a
//! plain string equality (one hash lookup per call).

/// How numbers are written where the helpdesk is (from the module's config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberPlan {
    /// Our country calling code, digits only (`"7"`); empty if unknown, in which
    /// case every international number keeps its `+` form.
    pub country_code: String,
    /// Trunk prefix dialled before a national number (`"8"` in Russia, `"0"` in
    /// most of Europe); empty if there is none.
    pub national_prefix: String,
    /// Prefixes that introduce an international number (`"00"`, `"810"`).
    pub international_prefixes: Vec<String>,
    /// Length of every national significant number, if the plan is closed
    /// (`Some(10)` in Russia). Lets `79161229624` (international, `+` left out)
    /// be recognised, and keeps a number of exactly this length from having
    /// its first digit taken for the national prefix (`8001234567`, toll-free
    /// written without the `8`). Leave `None` where lengths vary (Germany).
    pub national_number_length: Option<usize>,
}

impl Default for NumberPlan {
    fn default() -> Self {
        NumberPlan {
            country_code: String::new(),
            national_prefix: "0".to_string(),
            international_prefixes: vec!["00".to_string()],
            national_number_length: None,
        }
    }
}

/// Only this many characters of the input are looked at: no phone number is
/// longer, and it bounds the work done on hostile or corrupt input.
pub const MAX_INPUT_CHARS: usize = 256;

/// More digits than this is not a phone number (E.164 allows 15; the slack
/// covers international prefixes such as `810`).
pub const MAX_DIGITS: usize = 20;

/// A prefix (international, national, or our country code) is only taken as
/// one when at least this many digits follow it. Otherwise the digits are a
/// short number and stay as they are: an extension `810` or `8123` must not be
/// read as "international prefix + nothing" or "trunk prefix + 123".
pub const MIN_DIGITS_AFTER_PREFIX: usize = 6;

/// Markers of a trailing extension, compared lowercased. One counts only once a
/// digit has been seen (so the `x` in `fax: 8 916 ...` is not one) and when a
/// digit follows it, perhaps after spaces or `.`, `:`, `-` (so the `x` of a
/// name written inside the number is not one either). Everything from the
/// marker on is ignored: the extension is not part of the line's number.
/// `х` is the Cyrillic letter, which Russian agents type for `x`.
const EXTENSION_MARKERS: [&str; 5] = ["ext", "доб", "x", "х", "#"];

/// A canonical number held inline, without a heap allocation: an optional
/// `+` and at most [`MAX_DIGITS`] ASCII digits. Derefs to its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Canonical {
    len: u8,
    bytes: [u8; MAX_DIGITS + 1],
}

impl Canonical {
    fn new(plus: bool, digits: &[u8]) -> Canonical {
        let mut c = Canonical { len: 0, bytes: [0; MAX_DIGITS + 1] };
        if plus {
            c.bytes[0] = b'+';
            c.len = 1;
        }
        // `digits` never holds more than MAX_DIGITS (extract_digits's cap).
        let n = digits.len().min(MAX_DIGITS);
        c.bytes[c.len as usize..c.len as usize + n].copy_from_slice(&digits[..n]);
        c.len += n as u8;
        c
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII `+` and digits are ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// Whether the number is in the `+` (foreign) form.
    pub fn is_plus(&self) -> bool {
        self.len > 0 && self.bytes[0] == b'+'
    }

    fn digits(&self) -> &[u8] {
        &self.bytes[usize::from(self.is_plus())..self.len as usize]
    }

    /// The number as one integer, for a compact index key, when it has at
    /// most [`MAX_PACKED_DIGITS`] digits (every E.164 number does):
    /// `(10^digits + value) * 2 + plus`. The leading `1` keeps leading zeros
    /// apart (`012` and `12` differ), and bit 63 is always clear, so callers
    /// may use it for keys of their own. Never 0.
    pub fn packed(&self) -> Option<u64> {
        let digits = self.digits();
        if digits.len() > MAX_PACKED_DIGITS {
            return None;
        }
        let mut value: u64 = 1;
        for d in digits {
            value = value * 10 + u64::from(d - b'0');
        }
        Some(value << 1 | u64::from(self.is_plus()))
    }
}

/// Numbers with at most this many digits have a [`Canonical::packed`] form:
/// `2 * 10^18` still fits in 61 bits.
pub const MAX_PACKED_DIGITS: usize = 18;

impl std::ops::Deref for Canonical {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Canonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Canonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`canonical_key`] as a `String`.
pub fn canonical(raw: &str, plan: &NumberPlan) -> Option<String> {
    canonical_key(raw, plan).map(|k| k.as_str().to_string())
}

/// The key two numbers share when they are the same line, or `None` when `raw`
/// holds no phone number (no digits, or more than [`MAX_DIGITS`]). Allocates
/// nothing: the key is held inline ([`Canonical`]).
///
/// - Only the first [`MAX_INPUT_CHARS`] characters are considered.
/// - Digits and a `+` placed before the first digit are kept; everything else
///   (spaces, `-`, `.`, `(`, `)`, `/`, letters, ...) is ignored. Only ASCII
///   digits count.
/// - A trailing extension (`ext. 12`, `доб. 12`, `x12`, `#12`) is dropped.
/// - `+` or an international prefix (longest first) gives the international
///   form; if it starts with our country code, the result is the national
///   significant number (NSN), otherwise `"+"` followed by the digits.
/// - A number of exactly `national_number_length` digits is already an NSN.
/// - Else a leading national prefix is stripped, giving the NSN.
/// - Else our country code followed by `national_number_length` digits
///   (`79161229624`) gives the NSN.
/// - Else the digits as they are (short internal numbers).
///
/// No prefix is stripped unless [`MIN_DIGITS_AFTER_PREFIX`] digits remain.
///
/// With country code 7, national prefix 8 and international prefixes 00/810,
/// `89161229624`, `+7 (916) 122-96-24`, `0079161229624` and `9161229624` all
/// give `9161229624`; `+44 20 7946 0958` gives `+442079460958`.
pub fn canonical_key(raw: &str, plan: &NumberPlan) -> Option<Canonical> {
    let mut buf = [0u8; MAX_DIGITS];
    let (plus, n) = extract_digits(raw, &mut buf)?;
    let digits = &buf[..n];
    if digits.is_empty() {
        return None;
    }
    let cc = plan.country_code.as_bytes();
    if plus {
        return Some(from_international(digits, cc));
    }

    // Longest first: with "8" and "810" both possible, "810..." is the
    // international prefix, not a national "8" followed by "10...". (Of equal
    // lengths the first listed, as a stable sort by length would give.)
    let mut best: Option<&[u8]> = None;
    for prefix in &plan.international_prefixes {
        let p = prefix.as_bytes();
        if p.is_empty() || best.is_some_and(|b| b.len() >= p.len()) {
            continue;
        }
        if let Some(rest) = digits.strip_prefix(p) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                best = Some(rest);
            }
        }
    }
    if let Some(rest) = best {
        return Some(from_international(rest, cc));
    }

    if plan.national_number_length == Some(digits.len()) {
        return Some(Canonical::new(false, digits));
    }

    let np = plan.national_prefix.as_bytes();
    if !np.is_empty() {
        if let Some(rest) = digits.strip_prefix(np) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                return Some(Canonical::new(false, rest));
            }
        }
    }

    if let Some(len) = plan.national_number_length {
        // checked_add: a configured length of usize::MAX must not overflow.
        if !cc.is_empty() && cc.len().checked_add(len) == Some(digits.len()) {
            if let Some(rest) = digits.strip_prefix(cc) {
                if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                    return Some(Canonical::new(false, rest));
                }
            }
        }
    }

    Some(Canonical::new(false, digits))
}

/// `digits` follow a `+` or an international prefix. Country codes are
/// prefix-free, so "starts with our code" means "is our country".
fn from_international(digits: &[u8], cc: &[u8]) -> Canonical {
    if !cc.is_empty() {
        if let Some(rest) = digits.strip_prefix(cc) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                return Canonical::new(false, rest);
            }
        }
    }
    Canonical::new(true, digits)
}

/// The `+` flag and the ASCII digits of `raw` (written to `buf`, their count
/// returned), up to an extension marker. `None` when there are more than
/// [`MAX_DIGITS`] digits. Markers are matched case-insensitively, char by
/// char, so nothing is allocated.
fn extract_digits(raw: &str, buf: &mut [u8; MAX_DIGITS]) -> Option<(bool, usize)> {
    let end = raw.char_indices().nth(MAX_INPUT_CHARS).map_or(raw.len(), |(i, _)| i);
    let limited = raw.get(..end).unwrap_or(raw);
    let mut plus = false;
    let mut n = 0;
    for (i, c) in limited.char_indices() {
        if c.is_ascii_digit() {
            if n >= MAX_DIGITS {
                return None;
            }
            buf[n] = c as u8;
            n += 1;
        } else if n == 0 {
            if c == '+' {
                plus = true;
            }
        } else if c.is_ascii_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/') {
            // The usual separators: never the start of a marker.
        } else {
            // `i` comes from char_indices, so `get` always succeeds.
            let rest = limited.get(i..).unwrap_or("");
            if EXTENSION_MARKERS.iter().any(|m| is_extension_at(rest, m)) {
                break;
            }
        }
    }
    Some((plus, n))
}

/// Whether `rest`, lowercased, starts with `marker` followed by a digit
/// (perhaps after spaces or `.`, `:`, `-`).
fn is_extension_at(rest: &str, marker: &str) -> bool {
    let mut lower = rest.chars().flat_map(char::to_lowercase).peekable();
    for m in marker.chars() {
        if lower.next() != Some(m) {
            return false;
        }
    }
    while lower.next_if(|c| matches!(c, ' ' | '.' | ':' | '-' | '\t')).is_some() {}
    lower.next().is_some_and(|c| c.is_ascii_digit())
}

/// Caller IDs longer than this are cut for display.
pub const MAX_CALLER_CHARS: usize = 64;

/// The caller ID made fit to show in a ticket: control characters (NUL, CR,
/// LF, TAB, DEL, C1) and bidirectional-override characters (which could make
/// the text display reversed) are dropped, surrounding whitespace trimmed, and
/// the result cut to [`MAX_CALLER_CHARS`] characters. `""` stays `""`; what to
/// show for an anonymous caller is the caller's decision (see [`is_anonymous`]).
pub fn sanitize_caller(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .skip_while(|c| c.is_whitespace())
        .take(MAX_CALLER_CHARS)
        .collect();
    kept.trim_end().to_string()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether the caller ID identifies nobody: empty after [`sanitize_caller`],
/// one of the words carriers send for withheld numbers (`anonymous`,
/// `unknown`, `restricted`, `private`, `unavailable`, any case), or without
/// any digit at all.
pub fn is_anonymous(raw: &str) -> bool {
    const WORDS: [&str; 5] = ["anonymous", "unknown", "restricted", "private", "unavailable"];
    let clean = sanitize_caller(raw);
    if clean.is_empty() {
        return true;
    }
    let lower = clean.to_lowercase();
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    !clean.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> NumberPlan {
        NumberPlan {
            country_code: "7".into(),
            national_prefix: "8".into(),
            international_prefixes: vec!["00".into(), "810".into()],
            national_number_length: Some(10),
        }
    }

    fn c(raw: &str, plan: &NumberPlan) -> Option<String> {
        canonical(raw, plan)
    }

    #[test]
    fn default_plan() {
        let p = NumberPlan::default();
        assert_eq!(p.country_code, "");
        assert_eq!(p.national_prefix, "0");
        assert_eq!(p.international_prefixes, vec!["00".to_string()]);
        assert_eq!(p.national_number_length, None);
    }

    #[test]
    fn russian_forms_of_one_line_agree() {
        let p = ru();
        for raw in [
            "89161229624",
            "+7 (916) 122-96-24",
            "8 916 122 9624",
            "+79161229624",
            "9161229624",
            "0079161229624",
            "81079161229624",
            "79161229624",
            "8-916-122-96-24",
            "8.916.122.96.24",
            "8 (916) 122/96/24",
            " tel: +7 916 1229624 ",
            "+7 (916) 122-96-24 доб. 12",
            "+7 (916) 122-96-24 Доб.12",
            "8 916 122 9624 ext. 12",
            "8 916 122 9624 EXT 12",
            "89161229624x12",
            "89161229624 х 12",
            "89161229624#12",
            "(+7) 916 122 96 24",
        ] {
            assert_eq!(c(raw, &p).as_deref(), Some("9161229624"), "{raw:?}");
        }
    }

    #[test]
    fn foreign_numbers_keep_plus_form() {
        let p = ru();
        assert_eq!(c("+44 20 7946 0958", &p).as_deref(), Some("+442079460958"));
        assert_eq!(c("00442079460958", &p).as_deref(), Some("+442079460958"));
        assert_eq!(c("810 44 20 7946 0958", &p).as_deref(), Some("+442079460958"));
        // A foreign number of cc + 10 digits is not taken for ours.
        assert_eq!(c("+1 212 555 0100", &p).as_deref(), Some("+12125550100"));
    }

    #[test]
    fn extension_marker_only_after_digits() {
        let p = ru();
        // The `x` of "fax" comes before any digit: not an extension.
        assert_eq!(c("fax: 8 916 122 96 24", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 (fax)", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("ext. 12", &p).as_deref(), Some("12"));
        // Letters inside the number, or a marker with no digits after it.
        assert_eq!(c("8 916 (Alexey) 122 96 24", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 (Max)", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 ext", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 ext.: 1", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 x-1", &p).as_deref(), Some("9161229624"));
    }

    #[test]
    fn short_and_prefix_like_numbers_stay() {
        let p = ru();
        assert_eq!(c("8", &p).as_deref(), Some("8"));
        assert_eq!(c("0", &p).as_deref(), Some("0"));
        assert_eq!(c("00", &p).as_deref(), Some("00"));
        assert_eq!(c("810", &p).as_deref(), Some("810"));
        assert_eq!(c("8100", &p).as_deref(), Some("8100"));
        assert_eq!(c("81234", &p).as_deref(), Some("81234"));
        assert_eq!(c("7", &p).as_deref(), Some("7"));
        assert_eq!(c("101", &p).as_deref(), Some("101"));
        assert_eq!(c("112", &p).as_deref(), Some("112"));
        // "+7" alone and "+7 12": too little after the country code.
        assert_eq!(c("+7", &p).as_deref(), Some("+7"));
        assert_eq!(c("+7 12", &p).as_deref(), Some("+712"));
        // 6 digits after the trunk prefix are enough to strip it.
        assert_eq!(c("8123456", &p).as_deref(), Some("123456"));
        // 00 followed by a short number is not international.
        assert_eq!(c("0012", &p).as_deref(), Some("0012"));
    }

    #[test]
    fn national_number_length() {
        let p = ru();
        // Toll-free 800 written without the trunk prefix still matches the
        // form with it.
        assert_eq!(c("8001234567", &p).as_deref(), Some("8001234567"));
        assert_eq!(c("8 800 123-45-67", &p).as_deref(), Some("8001234567"));
        assert_eq!(c("+7 800 123 45 67", &p).as_deref(), Some("8001234567"));
        // Without the length, 7 + 10 digits is left alone.
        let mut q = ru();
        q.national_number_length = None;
        assert_eq!(c("79161229624", &q).as_deref(), Some("79161229624"));
        assert_eq!(c("89161229624", &q).as_deref(), Some("9161229624"));
        // Wrong length: not read as international.
        assert_eq!(c("7916122962", &p).as_deref(), Some("7916122962"));
    }

    #[test]
    fn empty_country_code() {
        let p = NumberPlan::default();
        assert_eq!(c("+7 916 122 96 24", &p).as_deref(), Some("+79161229624"));
        assert_eq!(c("0079161229624", &p).as_deref(), Some("+79161229624"));
        assert_eq!(c("020 7946 0958", &p).as_deref(), Some("2079460958"));
        assert_eq!(c("2079460958", &p).as_deref(), Some("2079460958"));
        let q = NumberPlan { national_number_length: Some(10), ..NumberPlan::default() };
        assert_eq!(c("2079460958", &q).as_deref(), Some("2079460958"));
    }

    #[test]
    fn uk_plan() {
        let p = NumberPlan {
            country_code: "44".into(),
            national_prefix: "0".into(),
            international_prefixes: vec!["00".into()],
            national_number_length: Some(10),
        };
        for raw in ["+44 20 7946 0958", "0044 20 7946 0958", "020 7946 0958", "442079460958"] {
            assert_eq!(c(raw, &p).as_deref(), Some("2079460958"), "{raw:?}");
        }
        assert_eq!(c("+7 916 122 96 24", &p).as_deref(), Some("+79161229624"));
    }

    #[test]
    fn empty_national_prefix() {
        let p = NumberPlan {
            country_code: "39".into(),
            national_prefix: String::new(),
            international_prefixes: vec!["00".into()],
            national_number_length: None,
        };
        // Italy keeps the leading 0 of area codes inside the NSN.
        assert_eq!(c("06 1234 5678", &p).as_deref(), Some("0612345678"));
        assert_eq!(c("+39 06 1234 5678", &p).as_deref(), Some("0612345678"));
        assert_eq!(c("0039 06 1234 5678", &p).as_deref(), Some("0612345678"));
    }

    #[test]
    fn odd_plans_do_not_panic() {
        let p = NumberPlan {
            country_code: "x".into(),
            national_prefix: "+".into(),
            international_prefixes: vec![String::new(), "0".into(), "ä".into()],
            national_number_length: Some(0),
        };
        assert!(c("0079161229624", &p).is_some());
        assert!(c("5", &p).is_some());
        let q = NumberPlan { national_number_length: Some(usize::MAX), ..ru() };
        assert_eq!(c("89161229624", &q).as_deref(), Some("9161229624"));
    }

    #[test]
    fn no_number() {
        let p = ru();
        for raw in ["", "+", "++", "   ", "abc", "anonymous", "😀📞", "+-()", "\0\r\n", "Доб."] {
            assert_eq!(c(raw, &p), None, "{raw:?}");
        }
    }

    #[test]
    fn letters_and_emoji_are_ignored() {
        let p = ru();
        assert_eq!(c("📞 8 916 122 96 24 😀", &p).as_deref(), Some("9161229624"));
        // Ten digits are a whole NSN, so the leading 8 is not a trunk prefix.
        assert_eq!(c("tel8916122962four", &p).as_deref(), Some("8916122962"));
        // Non-ASCII digits do not count.
        assert_eq!(c("８９１６", &p), None);
        assert_eq!(c("٨٩١٦", &p), None);
    }

    #[test]
    fn plus_only_before_first_digit() {
        let p = ru();
        assert_eq!(c("8+9161229624", &p).as_deref(), Some("9161229624"));
        assert_eq!(c("8 916 122 96 24 +", &p).as_deref(), Some("9161229624"));
    }

    #[test]
    fn digit_cap() {
        let p = ru();
        assert!(c(&"1".repeat(MAX_DIGITS), &p).is_some());
        assert_eq!(c(&"1".repeat(MAX_DIGITS + 1), &p), None);
        // Digits after an extension marker do not count towards the cap.
        let long_ext = format!("89161229624 ext {}", "9".repeat(50));
        assert_eq!(c(&long_ext, &p).as_deref(), Some("9161229624"));
    }

    #[test]
    fn huge_inputs() {
        let p = ru();
        assert_eq!(c(&"1".repeat(10_240), &p), None);
        // Digits beyond the first 256 characters are not considered.
        let late = format!("{}89161229624", " ".repeat(10_240));
        assert_eq!(c(&late, &p), None);
        let just_in = format!("{}89161229624", " ".repeat(MAX_INPUT_CHARS - 11));
        assert_eq!(c(&just_in, &p).as_deref(), Some("9161229624"));
        let cut = format!("{}89161229624", " ".repeat(MAX_INPUT_CHARS - 10));
        assert_eq!(c(&cut, &p).as_deref(), Some("8916122962"));
        assert_eq!(c(&"😀".repeat(10_240), &p), None);
        assert_eq!(c(&"x".repeat(10_240), &p), None);
    }

    #[test]
    fn key_is_inline_and_packs() {
        let p = ru();
        let k = canonical_key("+7 (916) 122-96-24", &p).expect("a number");
        assert_eq!(k.as_str(), "9161229624");
        assert_eq!(&*k, "9161229624");
        assert_eq!(format!("{k}"), "9161229624");
        assert_eq!(k.packed(), Some((10_000_000_000 + 9_161_229_624) * 2));
        let plus = canonical_key("+44 20 7946 0958", &p).expect("a number");
        assert_eq!(plus.as_str(), "+442079460958");
        assert!(plus.is_plus());
        assert_eq!(plus.packed(), Some((1_000_000_000_000 + 442_079_460_958) * 2 + 1));
        // Leading zeros stay distinct: "012", "12", "0012" differ.
        let plan = NumberPlan { national_prefix: String::new(), international_prefixes: vec![], ..NumberPlan::default() };
        let packed = |raw: &str| canonical_key(raw, &plan).expect("a number").packed().expect("packs");
        assert_ne!(packed("012"), packed("12"));
        assert_ne!(packed("0012"), packed("012"));
        assert_ne!(packed("0"), packed("00"));
        assert_ne!(packed("+12"), packed("12"));
        // Up to 18 digits pack (below bit 63); 19 and 20 do not.
        let max = canonical_key(&"9".repeat(MAX_PACKED_DIGITS), &plan).expect("a number");
        assert!(max.packed().expect("18 digits pack") < 1 << 62);
        let plus_max = canonical_key(&format!("+{}", "9".repeat(MAX_PACKED_DIGITS)), &plan).expect("a number");
        assert!(plus_max.packed().expect("18 digits pack") < 1 << 62);
        for n in [MAX_PACKED_DIGITS + 1, MAX_DIGITS] {
            let long = canonical_key(&"1".repeat(n), &plan).expect("still a number");
            assert_eq!(long.len(), n);
            assert_eq!(long.packed(), None);
        }
        let long_plus = canonical_key(&format!("+{}", "1".repeat(MAX_DIGITS)), &plan).expect("a number");
        assert_eq!(long_plus.len(), MAX_DIGITS + 1);
        // Distinct numbers give distinct packed keys.
        let mut seen = std::collections::HashSet::new();
        for raw in ["1", "01", "001", "10", "100", "+1", "+01", "999999", "0999999", "+999999"] {
            assert!(seen.insert(packed(raw)), "{raw}");
        }
    }

    #[test]
    fn key_and_string_agree() {
        let p = ru();
        for raw in [
            "89161229624",
            "+7 (916) 122-96-24",
            "810 44 20 7946 0958",
            "101",
            "ext. 12",
            "8 916 122 9624 ДОБ 5",
            "İ8 916 122 9624 x 3",
            "+",
            "",
            "anonymous",
            "8 (916) 122/96/24",
        ] {
            assert_eq!(canonical_key(raw, &p).map(|k| k.to_string()), canonical(raw, &p), "{raw:?}");
        }
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_caller(""), "");
        assert_eq!(sanitize_caller("  +7 916\t"), "+7 916");
        assert_eq!(sanitize_caller("89161229624\r\nX-Injected: 1"), "89161229624X-Injected: 1");
        assert_eq!(sanitize_caller("a\0b\u{7f}c\u{85}d"), "abcd");
        assert_eq!(sanitize_caller("\u{202E}4269"), "4269");
        assert_eq!(sanitize_caller("Иван Петров"), "Иван Петров");
        assert_eq!(sanitize_caller(" \t\r\n "), "");
        let long = "я".repeat(100);
        let s = sanitize_caller(&long);
        assert_eq!(s.chars().count(), MAX_CALLER_CHARS);
        let emoji = "😀".repeat(10_240);
        assert_eq!(sanitize_caller(&emoji).chars().count(), MAX_CALLER_CHARS);
        // A cut landing on whitespace leaves no trailing space.
        let spaced = format!("{} tail", "a".repeat(MAX_CALLER_CHARS - 1));
        assert_eq!(sanitize_caller(&spaced), "a".repeat(MAX_CALLER_CHARS - 1));
        // Leading control characters and spaces do not use up the cap.
        let lead = format!("{}123", "\0 ".repeat(10_240));
        assert_eq!(sanitize_caller(&lead), "123");
    }

    #[test]
    fn anonymous() {
        for raw in [
            "",
            "  ",
            "\0",
            "anonymous",
            "Anonymous",
            "UNKNOWN",
            "restricted",
            "Private",
            "unavailable",
            " anonymous\r\n",
            "abc",
            "+",
            "😀",
        ] {
            assert!(is_anonymous(raw), "{raw:?}");
        }
        for raw in ["89161229624", "+7 916", "101", "0", "Иван 8916"] {
            assert!(!is_anonymous(raw), "{raw:?}");
        }
    }
}
