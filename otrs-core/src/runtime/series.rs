//! The Asterisk series the module was built for against the one it runs in.
//! Asterisk's loader checks no version (only the GPL key, the build-options
//! checksum and that every symbol resolves), so a module of another series
//! may load and still misread a changed structure: say so loudly.

/// The series (major version) of an Asterisk version text: "16.28.0~dfsg-0+deb11u4" → 16,
/// "1:22.10.1+dfsg" (a Debian version with epoch) → 22; None for "GIT-master-1234abc".
pub fn major(version: &str) -> Option<u32> {
    let v = version.trim();
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The status lines: the Asterisk running, the series built for (with the
/// headers' version when known), and a warning when they differ.
pub fn status_lines(built_series: u32, built_for: &str, running: &str) -> String {
    let mut o = format!("Asterisk:         {running} (module built for Asterisk {built_series}: headers {built_for})\n");
    if let Some(w) = mismatch(built_series, running) {
        o.push_str(&format!("WARNING:          {w}\n"));
    }
    o
}

/// Why the running Asterisk is not the one the module was built for; None when it is.
pub fn mismatch(built_series: u32, running: &str) -> Option<String> {
    match major(running) {
        Some(n) if n == built_series => None,
        Some(n) => Some(format!(
            "built for Asterisk {built_series} but running in Asterisk {n} ({running}): install the module built for {n} \
             (scripts/build-release.sh against its headers, or its package) and restart Asterisk"
        )),
        None => Some(format!("cannot tell the series of Asterisk '{running}'; the module was built for Asterisk {built_series}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_of_debian_upstream_and_git_versions() {
        assert_eq!(major("16.28.0~dfsg-0+deb11u4"), Some(16));
        assert_eq!(major("1:22.10.1+dfsg+~cs6.17.60671434-1"), Some(22));
        assert_eq!(major("20.6.0"), Some(20));
        assert_eq!(major("GIT-master-1234abc"), None);
    }

    #[test]
    fn same_series_no_warning_other_series_warns() {
        let same = status_lines(22, "1:22.10.1+dfsg-1", "22.10.1+dfsg-1");
        assert!(same.starts_with("Asterisk:         22.10.1+dfsg-1 (module built for Asterisk 22"), "{same}");
        assert!(!same.contains("WARNING"), "{same}");
        let other = status_lines(16, "1:16.28.0~dfsg", "22.10.1");
        assert!(other.contains("WARNING:          built for Asterisk 16 but running in Asterisk 22 (22.10.1)"), "{other}");
        assert!(mismatch(22, "GIT-master-1").is_some_and(|w| w.contains("cannot tell")));
    }
}
