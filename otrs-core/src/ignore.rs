//! `ignore_numbers`: callers that never get a ticket (internal extensions,
//! test calls, spam). Rules are read once with the configuration; a call is
//! checked against them before anything else happens (no customer lookup,
//! no OTRS request, no spool job).

use std::fmt;

use crate::number::{self, NumberPlan, MIN_DIGITS_AFTER_PREFIX};

/// One entry of an `ignore_numbers` list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    /// `anonymous`: a withheld number (see [`number::is_anonymous`]).
    Anonymous,
    /// A number, compared after normalisation (the canonical form).
    Exact(String),
    /// `4500-4599`: canonical numbers of that many digits in the range.
    Range(String, String),
    /// `+7495*`: the number written internationally starts with these digits.
    IntlPrefix(String),
    /// `45*`: the canonical number (national significant, or short) starts so.
    Prefix(String),
}

/// The rules of one list, with their text as written (for OTRSERROR).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreList {
    rules: Vec<(String, Rule)>,
}

/// Why an `ignore_numbers` entry was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRule(pub String);

impl fmt::Display for BadRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn digits(s: &str) -> Option<String> {
    let d: String = s.chars().filter(|c| !matches!(c, ' ' | '(' | ')' | '.')).collect();
    (!d.is_empty() && d.len() <= number::MAX_DIGITS && d.chars().all(|c| c.is_ascii_digit())).then_some(d)
}

fn parse_rule(text: &str, plan: &NumberPlan) -> Result<Rule, BadRule> {
    let bad = |why: &str| BadRule(format!("'{text}': {why}"));
    if text.eq_ignore_ascii_case("anonymous") {
        return Ok(Rule::Anonymous);
    }
    if let Some(p) = text.strip_suffix('*') {
        let p = p.trim();
        return match p.strip_prefix('+') {
            Some(rest) => digits(rest).map(Rule::IntlPrefix).ok_or_else(|| bad("expected +digits* for a prefix")),
            None => digits(p).map(Rule::Prefix).ok_or_else(|| bad("expected digits* for a prefix")),
        };
    }
    // a range is two digit groups of the same length; `916-122-96-24` is a number
    if let Some((lo, hi)) = text.split_once('-') {
        if let (Some(lo), Some(hi)) = (digits(lo), digits(hi)) {
            if lo.len() == hi.len() && !hi.contains('-') {
                if lo > hi {
                    return Err(bad("the range's first number is above its last"));
                }
                return Ok(Rule::Range(lo, hi));
            }
        }
    }
    if number::is_anonymous(text) {
        return Err(bad("not a number, range (4500-4599), prefix (+7495*) or 'anonymous'"));
    }
    number::canonical(text, plan).map(Rule::Exact).ok_or_else(|| bad("not a phone number"))
}

impl IgnoreList {
    /// Reads a comma-separated list (`4500-4599, +7495*, anonymous, 89161112233`).
    pub fn parse(list: &str, plan: &NumberPlan) -> Result<IgnoreList, BadRule> {
        let mut rules = Vec::new();
        for text in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            rules.push((text.to_string(), parse_rule(text, plan)?));
        }
        Ok(IgnoreList { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule `raw` (the caller ID as the dialplan passed it)
    /// matches, as written in otrs.conf.
    pub fn matching(&self, raw: &str, plan: &NumberPlan) -> Option<&str> {
        if self.rules.is_empty() {
            return None;
        }
        let anonymous = number::is_anonymous(raw);
        let canon = if anonymous { None } else { number::canonical_key(raw, plan) };
        let national = canon.filter(|c| !c.is_plus());
        // the number written internationally: `+` and digits
        let intl: Option<String> = canon.and_then(|c| {
            if c.is_plus() {
                Some(c.as_str().to_string())
            } else if !plan.country_code.is_empty() && c.len() >= MIN_DIGITS_AFTER_PREFIX {
                Some(format!("+{}{}", plan.country_code, c.as_str()))
            } else {
                None
            }
        });
        let hit = |rule: &Rule| match rule {
            Rule::Anonymous => anonymous,
            Rule::Exact(n) => canon.is_some_and(|c| c.as_str() == n),
            Rule::Range(lo, hi) => {
                national.is_some_and(|c| c.len() == lo.len() && c.as_str() >= lo.as_str() && c.as_str() <= hi.as_str())
            }
            Rule::IntlPrefix(p) => intl.as_deref().and_then(|i| i.strip_prefix('+')).is_some_and(|d| d.starts_with(p.as_str())),
            Rule::Prefix(p) => national.is_some_and(|c| c.starts_with(p.as_str())),
        };
        self.rules.iter().find(|(_, r)| hit(r)).map(|(t, _)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberPlan {
        NumberPlan {
            country_code: "7".into(),
            national_prefix: "8".into(),
            international_prefixes: vec!["00".into(), "810".into()],
            national_number_length: None,
        }
    }

    fn list(s: &str) -> IgnoreList {
        IgnoreList::parse(s, &plan()).unwrap()
    }

    #[test]
    fn exact_numbers_match_after_normalisation() {
        let l = list("8 (916) 122-96-24");
        for n in ["89161229624", "+7 916 122 96 24", "0079161229624", "9161229624"] {
            assert_eq!(l.matching(n, &plan()), Some("8 (916) 122-96-24"), "{n}");
        }
        assert_eq!(l.matching("89161229625", &plan()), None);
        assert_eq!(l.matching("anonymous", &plan()), None);
    }

    #[test]
    fn ranges_cover_numbers_of_their_length() {
        let l = list("4500-4599");
        assert_eq!(l.matching("4500", &plan()), Some("4500-4599"));
        assert_eq!(l.matching("4599", &plan()), Some("4500-4599"));
        assert_eq!(l.matching("4507", &plan()), Some("4500-4599"));
        assert_eq!(l.matching("4600", &plan()), None);
        assert_eq!(l.matching("45070", &plan()), None);
        assert_eq!(l.matching("+4507", &plan()), None);
    }

    #[test]
    fn prefixes_international_and_national() {
        let l = list("+7495*");
        for n in ["84951110000", "+74951110000", "0074951110000", "4951110000"] {
            assert_eq!(l.matching(n, &plan()), Some("+7495*"), "{n}");
        }
        assert_eq!(l.matching("89161229624", &plan()), None);
        assert_eq!(l.matching("4951", &plan()), None, "a short number has no international form");
        let l = list("+44*");
        assert_eq!(l.matching("0044 20 7946 0958", &plan()), Some("+44*"));
        assert_eq!(l.matching("84420000000", &plan()), None);
        let l = list("45*");
        assert_eq!(l.matching("4507", &plan()), Some("45*"));
        assert_eq!(l.matching("+4507000000", &plan()), None);
    }

    #[test]
    fn anonymous_matches_withheld_numbers_only() {
        let l = list("anonymous");
        for n in ["", "anonymous", "Restricted", "unknown"] {
            assert_eq!(l.matching(n, &plan()), Some("anonymous"), "{n:?}");
        }
        assert_eq!(l.matching("89161229624", &plan()), None);
    }

    #[test]
    fn the_first_matching_rule_is_named_and_empty_lists_match_nothing() {
        let l = list(" 4500-4599 , +7495* ,anonymous,");
        assert_eq!(l.matching("84951110000", &plan()), Some("+7495*"));
        assert_eq!(l.matching("4501", &plan()), Some("4500-4599"));
        assert!(list("").is_empty());
        assert_eq!(list("").matching("", &plan()), None);
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in ["4599-4500", "spam", "+74a95*", "*", "12345678901234567890123"] {
            assert!(IgnoreList::parse(bad, &plan()).is_err(), "{bad}");
        }
        // unequal groups: a number written with a dash, not a range
        assert_eq!(list("495-1110000").matching("84951110000", &plan()), Some("495-1110000"));
    }
}
