//! Text made safe for one log line, a channel variable or a ticket text:
//! the helpers every layer shares.

/// Collapses all whitespace and control characters to single spaces and
/// caps the length, so the text fits one log line or a channel variable.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let words = text.split(|c: char| c.is_whitespace() || c.is_control());
    let mut out = String::with_capacity(text.len().min(max_chars + 3));
    let mut count = 0;
    for word in words.filter(|w| !w.is_empty()) {
        let sep = if count > 0 { Some(' ') } else { None };
        for c in sep.into_iter().chain(word.chars()) {
            if count >= max_chars {
                out.truncate(out.trim_end().len());
                out.push_str("...");
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}
/// A value that came from the call (channel name, uniqueid, exten, Dial()'s
/// peer) for a ticket text: no control characters, at most 128 characters,
/// no surrounding blanks. A peer may have sent it (an exten dialled from
/// outside).
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_and_caps() {
        assert_eq!(one_line("a\r\n b\t\tc  ", 100), "a b c");
        assert_eq!(one_line("disk\nfull", 100), "disk full");
        assert_eq!(one_line("abcdef", 3), "abc...");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn clean_drops_controls_and_caps() {
        assert_eq!(clean(" PJSIP/a\r\n-1 "), "PJSIP/a-1");
        assert_eq!(clean(&"x".repeat(500)).len(), 128);
    }
}
