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
}
