//! `[agents]`: which OTRS agent a phone belongs to, so the agent who
//! answered a call owns its ticket. Keys are channel names without the
//! suffix Asterisk adds per call (`PJSIP/4507` for `PJSIP/4507-0000001a`,
//! `Local/4507@agents` for `Local/4507@agents-00000003;1`), or patterns in
//! the dialplan's letters (`PJSIP/45XX`: X any digit, Z 1-9, N 2-9, `.` the
//! rest; a leading `_` is allowed).

/// The `[agents]` section, read once with the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    /// (channel, login), exact names; compared without regard to case.
    exact: Vec<(String, String)>,
    /// (pattern, login) in file order.
    patterns: Vec<(String, String)>,
}

/// The channel's name without Asterisk's per-call suffix: `;1`/`;2` of a
/// Local channel, then `-` and the hexadecimal sequence number.
pub fn base_name(channel: &str) -> &str {
    let c = channel.trim();
    let c = match c.rsplit_once(';') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|ch| ch.is_ascii_digit()) => head,
        _ => c,
    };
    match c.rsplit_once('-') {
        // Asterisk writes the sequence number as %08x
        Some((head, tail)) if !head.is_empty() && tail.len() >= 8 && tail.chars().all(|ch| ch.is_ascii_hexdigit()) => head,
        _ => c,
    }
}

/// Whether the resource part (after `/`, before a Local channel's `@`) is
/// a pattern: only digits and the pattern letters, at least one of them.
fn is_pattern(key: &str) -> bool {
    if key.starts_with('_') {
        return true;
    }
    let Some((_, res)) = key.split_once('/') else {
        return false;
    };
    let res = res.split_once('@').map_or(res, |(r, _)| r);
    res.chars().all(|c| c.is_ascii_digit() || matches!(c, 'X' | 'x' | 'Z' | 'z' | 'N' | 'n' | '.'))
        && res.chars().any(|c| !c.is_ascii_digit())
}

/// The dialplan's pattern letters; the tech and other text compare without
/// regard to case.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.strip_prefix('_').unwrap_or(pattern).chars().collect();
    let n: Vec<char> = name.chars().collect();
    // the resource (after `/`, before `@`): letters there are pattern letters
    let slash = p.iter().position(|c| *c == '/').unwrap_or(p.len());
    let at_sign = p.iter().position(|c| *c == '@').unwrap_or(p.len());
    let mut i = 0;
    for (at, pc) in p.iter().enumerate() {
        let in_res = at > slash && at < at_sign;
        if in_res && *pc == '.' {
            // the rest of the resource, then what follows the pattern's `@`
            let tail: String = p[at + 1..].iter().collect();
            let rest: String = n[i..].iter().collect();
            return match tail.is_empty() {
                true => !rest.is_empty(),
                false => rest.len() > tail.len() && rest.to_ascii_lowercase().ends_with(&tail.to_ascii_lowercase()),
            };
        }
        let Some(nc) = n.get(i) else {
            return false;
        };
        let ok = match (in_res, pc.to_ascii_uppercase()) {
            (true, 'X') => nc.is_ascii_digit(),
            (true, 'Z') => matches!(nc, '1'..='9'),
            (true, 'N') => matches!(nc, '2'..='9'),
            _ => pc.eq_ignore_ascii_case(nc),
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    i == n.len()
}

impl Agents {
    /// From the section's entries (`PJSIP/4507 = ivanova`); the error names
    /// the entry.
    pub fn from_entries(entries: &[(String, String)]) -> Result<Agents, String> {
        let mut a = Agents::default();
        for (k, v) in entries {
            let (k, v) = (k.trim(), v.trim());
            if !k.contains('/') {
                return Err(format!("'{k}': expected a channel such as PJSIP/4507 or Local/4507@agents"));
            }
            if v.is_empty() || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(format!("'{k}': expected an OTRS agent login, got '{v}'"));
            }
            let entry = (k.to_string(), v.to_string());
            if is_pattern(k) {
                a.patterns.push(entry);
            } else {
                a.exact.retain(|(e, _)| !e.eq_ignore_ascii_case(k));
                a.exact.push(entry);
            }
        }
        Ok(a)
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }

    /// The agent login of the phone on `channel` (a full channel name such
    /// as `PJSIP/4507-0000001a`, or one without the suffix). Exact names
    /// first, then the patterns in file order.
    pub fn agent_for(&self, channel: &str) -> Option<&str> {
        let name = base_name(channel);
        if name.is_empty() {
            return None;
        }
        self.exact
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .or_else(|| self.patterns.iter().find(|(p, _)| pattern_matches(p, name)))
            .map(|(_, login)| login.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents(entries: &[(&str, &str)]) -> Agents {
        Agents::from_entries(&entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn the_per_call_suffix_is_dropped() {
        assert_eq!(base_name("PJSIP/4507-0000001a"), "PJSIP/4507");
        assert_eq!(base_name("Local/4507@agents-00000003;1"), "Local/4507@agents");
        assert_eq!(base_name("SIP/trunk-provider-000000ff"), "SIP/trunk-provider");
        assert_eq!(base_name("PJSIP/4507"), "PJSIP/4507");
        assert_eq!(base_name("PJSIP/office-x"), "PJSIP/office-x");
        assert_eq!(base_name("PJSIP/front-desk"), "PJSIP/front-desk");
    }

    #[test]
    fn exact_names_before_patterns() {
        let a = agents(&[("PJSIP/45XX", "duty"), ("PJSIP/4507", "ivanova"), ("Local/4508@agents", "petrov")]);
        assert_eq!(a.agent_for("PJSIP/4507-00000001"), Some("ivanova"));
        assert_eq!(a.agent_for("pjsip/4507-00000001"), Some("ivanova"));
        assert_eq!(a.agent_for("PJSIP/4599-00000002"), Some("duty"));
        assert_eq!(a.agent_for("Local/4508@agents-00000003;2"), Some("petrov"));
        assert_eq!(a.agent_for("PJSIP/4600-00000004"), None);
        assert_eq!(a.agent_for("PJSIP/45999-00000004"), None);
        assert_eq!(a.agent_for(""), None);
    }

    #[test]
    fn pattern_letters() {
        let a = agents(&[("_PJSIP/4Z", "z"), ("PJSIP/5N", "n"), ("Local/6.", "rest")]);
        assert_eq!(a.agent_for("PJSIP/41-00000001"), Some("z"));
        assert_eq!(a.agent_for("PJSIP/40-00000001"), None);
        assert_eq!(a.agent_for("PJSIP/52-00000001"), Some("n"));
        assert_eq!(a.agent_for("PJSIP/51-00000001"), None);
        assert_eq!(a.agent_for("Local/6123@x-00000001;1"), Some("rest"));
        assert_eq!(a.agent_for("Local/6-00000001;1"), None);
        let a = agents(&[("Local/45XX@agents", "duty"), ("Local/7.@inbound", "seven")]);
        assert_eq!(a.agent_for("Local/4510@agents-0000000a;1"), Some("duty"));
        assert_eq!(a.agent_for("Local/4510@other-0000000a;1"), None);
        assert_eq!(a.agent_for("Local/45100@agents-0000000a;1"), None);
        assert_eq!(a.agent_for("Local/712@inbound-0000000a;1"), Some("seven"));
        assert_eq!(a.agent_for("Local/7@inbound-0000000a;1"), None);
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad = |k: &str, v: &str| Agents::from_entries(&[(k.to_string(), v.to_string())]).is_err();
        assert!(bad("4507", "ivanova"));
        assert!(bad("PJSIP/4507", ""));
        assert!(bad("PJSIP/4507", "iva nova"));
    }
}
