//! Phone number normalisation, free of Asterisk.
//!
//! Agents type customer numbers into OTRS as free text (`89161229624`,
//! `+7 (916) 122-96-24`, `8 916 122 9624`) and the caller ID arrives in yet
//! another form. [`canonical`] maps all the ways of writing one line to the
//! same key, so the customer index and the caller ID can be compared with a
//! plain string equality (one hash lookup per call).

use std::cmp::Reverse;

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

/// The key two numbers share when they are the same line, or `None` when `raw`
/// holds no phone number (no digits, or more than [`MAX_DIGITS`]).
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
pub fn canonical(raw: &str, plan: &NumberPlan) -> Option<String> {
    let (plus, digits) = extract_digits(raw)?;
    if digits.is_empty() {
        return None;
    }
    let cc = plan.country_code.as_str();
    if plus {
        return Some(from_international(&digits, cc));
    }

    // Longest first: with "8" and "810" both possible, "810..." is the
    // international prefix, not a national "8" followed by "10...".
    let mut prefixes: Vec<&str> = plan
        .international_prefixes
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    prefixes.sort_by_key(|p| Reverse(p.len()));
    for prefix in prefixes {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                return Some(from_international(rest, cc));
            }
        }
    }

    if plan.national_number_length == Some(digits.len()) {
        return Some(digits);
    }

    let np = plan.national_prefix.as_str();
    if !np.is_empty() {
        if let Some(rest) = digits.strip_prefix(np) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                return Some(rest.to_string());
            }
        }
    }

    if let Some(len) = plan.national_number_length {
        // checked_add: a configured length of usize::MAX must not overflow.
        if !cc.is_empty() && cc.len().checked_add(len) == Some(digits.len()) {
            if let Some(rest) = digits.strip_prefix(cc) {
                if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                    return Some(rest.to_string());
                }
            }
        }
    }

    Some(digits)
}

/// `digits` follow a `+` or an international prefix. Country codes are
/// prefix-free, so "starts with our code" means "is our country".
fn from_international(digits: &str, cc: &str) -> String {
    if !cc.is_empty() {
        if let Some(rest) = digits.strip_prefix(cc) {
            if rest.len() >= MIN_DIGITS_AFTER_PREFIX {
                return rest.to_string();
            }
        }
    }
    format!("+{digits}")
}

/// The `+` flag and the ASCII digits of `raw`, up to an extension marker.
/// `None` when there are more than [`MAX_DIGITS`] digits.
fn extract_digits(raw: &str) -> Option<(bool, String)> {
    let limited: String = raw.chars().take(MAX_INPUT_CHARS).collect();
    let lower = limited.to_lowercase();
    let mut plus = false;
    let mut digits = String::new();
    for (i, c) in lower.char_indices() {
        if c.is_ascii_digit() {
            if digits.len() >= MAX_DIGITS {
                return None;
            }
            digits.push(c);
        } else if digits.is_empty() {
            if c == '+' {
                plus = true;
            }
        } else {
            // `i` comes from char_indices, so `get` always succeeds; `get`
            // rather than indexing keeps this free of panics regardless.
            let rest = lower.get(i..).unwrap_or("");
            let is_extension = EXTENSION_MARKERS.iter().any(|m| {
                rest.strip_prefix(m).is_some_and(|after| {
                    after
                        .trim_start_matches([' ', '.', ':', '-', '\t'])
                        .starts_with(|c: char| c.is_ascii_digit())
                })
            });
            if is_extension {
                break;
            }
        }
    }
    Some((plus, digits))
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
        let q = NumberPlan {
            national_number_length: Some(usize::MAX),
            ..ru()
        };
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
            "", "  ", "\0", "anonymous", "Anonymous", "UNKNOWN", "restricted", "Private",
            "unavailable", " anonymous\r\n", "abc", "+", "😀",
        ] {
            assert!(is_anonymous(raw), "{raw:?}");
        }
        for raw in ["89161229624", "+7 916", "101", "0", "Иван 8916"] {
            assert!(!is_anonymous(raw), "{raw:?}");
        }
    }
}
