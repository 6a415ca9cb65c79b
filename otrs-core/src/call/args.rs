//! Splitting OTRSTicket()'s argument string. The dialplan substitutes
//! ${CALLERID(num)} before the app sees it, so a caller ID holding a comma
//! would otherwise choose the profile: when the channel's own caller number
//! starts the argument, it is taken whole.

#[derive(Debug, PartialEq, Eq)]
pub struct AppArgs {
    pub number: String,
    pub profile: String,
    pub options: String,
}

pub fn split(data: &str, channel_caller: Option<&str>) -> AppArgs {
    let (number, rest) = match channel_caller {
        Some(cid) if !cid.is_empty() && data.starts_with(cid) && matches!(data.as_bytes().get(cid.len()), None | Some(b',')) => {
            (cid.to_string(), data.get(cid.len() + 1..).unwrap_or(""))
        }
        _ => match data.split_once(',') {
            Some((n, r)) => (n.to_string(), r),
            None => (data.to_string(), ""),
        },
    };
    let (profile, options) = rest.split_once(',').unwrap_or((rest, ""));
    AppArgs { number, profile: profile.trim().to_string(), options: options.trim().to_string() }
}

/// The number of `otrs test lookup` typed as words: the CLI splits
/// `+7 (916) 122-96-24` at the spaces; they are joined again with one space.
/// None when no word was given.
pub fn cli_number(words: &[String]) -> Option<String> {
    (!words.is_empty()).then(|| words.join(" "))
}

/// `otrs test ticket <number> [profile]` as the CLI's words: the last word
/// names the profile when there are at least two words and it is the name
/// of a profile (`is_profile`) or has no digit (a misspelt profile must not
/// become part of the number: the CLI then says there is no such profile);
/// every other word is the number, joined with one space. None when no
/// word was given.
pub fn cli_number_and_profile(words: &[String], is_profile: impl Fn(&str) -> bool) -> Option<(String, String)> {
    let (last, before) = words.split_last()?;
    let names_profile = !before.is_empty() && (is_profile(last) || !last.chars().any(|c| c.is_ascii_digit()));
    Some(if names_profile { (before.join(" "), last.clone()) } else { (words.join(" "), String::new()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_profile_options() {
        let a = split("89161229624,vip,in", None);
        assert_eq!(a, AppArgs { number: "89161229624".into(), profile: "vip".into(), options: "in".into() });
    }

    #[test]
    fn number_only_and_empty() {
        assert_eq!(split("123", None).profile, "");
        assert_eq!(split("", None).number, "");
        assert_eq!(split(",vip", None).profile, "vip");
    }

    #[test]
    fn caller_id_with_comma_cannot_pick_profile() {
        let cid = "123,vip";
        let a = split(cid, Some(cid));
        assert_eq!(a.number, "123,vip");
        assert_eq!(a.profile, "");
        let a = split("123,vip,sales", Some(cid));
        assert_eq!((a.number.as_str(), a.profile.as_str()), ("123,vip", "sales"));
    }

    #[test]
    fn other_number_than_channel_caller() {
        let a = split("555,sales", Some("123"));
        assert_eq!((a.number.as_str(), a.profile.as_str()), ("555", "sales"));
        // a prefix of a longer number is not the channel's number
        let a = split("1234,sales", Some("123"));
        assert_eq!((a.number.as_str(), a.profile.as_str()), ("1234", "sales"));
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn cli_words_of_a_number_are_joined() {
        assert_eq!(cli_number(&words("+7 (916) 122-96-24")).as_deref(), Some("+7 (916) 122-96-24"));
        assert_eq!(cli_number(&words("89161229624")).as_deref(), Some("89161229624"));
        assert_eq!(cli_number(&[]), None);
    }

    #[test]
    fn cli_ticket_takes_a_last_word_naming_a_profile() {
        let profiles = |p: &str| ["default", "vip", "line2"].contains(&p.to_ascii_lowercase().as_str());
        let split = |s: &str| cli_number_and_profile(&words(s), profiles).unwrap();
        let owned = |n: &str, p: &str| (n.to_string(), p.to_string());
        assert_eq!(split("+7 (916) 122-96-24"), owned("+7 (916) 122-96-24", ""));
        assert_eq!(split("+7 (916) 122-96-24 vip"), owned("+7 (916) 122-96-24", "vip"));
        assert_eq!(split("89161229624 VIP"), owned("89161229624", "VIP"));
        // a profile name with digits, when it exists
        assert_eq!(split("8 916 122 96 24 line2"), owned("8 916 122 96 24", "line2"));
        // a word without digits is meant as a profile, even a misspelt one
        assert_eq!(split("89161229624 vipp"), owned("89161229624", "vipp"));
        // digits that name no profile are part of the number
        assert_eq!(split("8 916 122 96 24"), owned("8 916 122 96 24", ""));
        // one word is always the number, even without digits
        assert_eq!(split("anonymous"), owned("anonymous", ""));
        assert_eq!(cli_number_and_profile(&[], profiles), None);
    }
}
