//! `${name}` templates for ticket titles, subjects and bodies configured in
//! otrsticket.conf.
//!
//! Asterisk config values cannot hold newlines, so a few backslash escapes
//! are decoded here: `\n` newline, `\t` tab, `\\` backslash, and `\$` a
//! literal `$` (to write `${name}` verbatim). Any other backslash is kept.
//!
//! A placeholder is `${` + `[a-z_]+` + `}`. A name the lookup does not know
//! is left as written, so a typo shows up in the ticket instead of silently
//! vanishing. Substituted values are inserted as they are: not scanned for
//! escapes or placeholders again.

/// Renders `template`, asking `lookup` for each placeholder name.
pub fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        rest = match c {
            '\\' => escape(rest, &mut out),
            '$' => match placeholder(rest) {
                Some((name, after)) => {
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => out.push_str(&rest[..rest.len() - after.len()]),
                    }
                    after
                }
                None => push_char(rest, c, &mut out),
            },
            _ => push_char(rest, c, &mut out),
        };
    }
    out
}

/// Every `${...}` that [`render`] would leave verbatim: placeholders with a
/// name not in `known`, and brace groups whose content is not a valid name
/// (`${CallerID}`, `${caller id}`). Each reported once, in order of first
/// appearance, without the `${ }`. For config validation.
pub fn unknown_placeholders(template: &str, known: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            let mut sink = String::new();
            rest = escape(rest, &mut sink);
            continue;
        }
        if let Some((name, after)) = brace_group(rest) {
            let renders = is_name(name) && known.contains(&name);
            if !renders && !found.iter().any(|f| f == name) {
                found.push(name.to_string());
            }
            rest = after;
            continue;
        }
        rest = &rest[c.len_utf8()..];
    }
    found
}

/// Decodes the escape at the start of `s` (which begins with `\`) into
/// `out`; returns the remaining input.
fn escape<'a>(s: &'a str, out: &mut String) -> &'a str {
    let mut chars = s.chars();
    chars.next(); // the backslash
    let decoded = match chars.next() {
        Some('n') => '\n',
        Some('t') => '\t',
        Some('\\') => '\\',
        Some('$') => '$',
        // unknown escape or trailing backslash: keep the backslash only;
        // the next character is handled normally (it may be a placeholder)
        _ => {
            out.push('\\');
            return &s[1..];
        }
    };
    out.push(decoded);
    &s[1 + decoded.len_utf8()..]
}

/// If `s` starts with `${...}` (content on one line, without `$` or `{`),
/// returns the content and what follows.
fn brace_group(s: &str) -> Option<(&str, &str)> {
    let (inner, after) = s.strip_prefix("${")?.split_once('}')?;
    let plain = !inner.contains(['$', '{', '\n', '\r']);
    plain.then_some((inner, after))
}

/// If `s` starts with `${name}`, returns the name and what follows.
fn placeholder(s: &str) -> Option<(&str, &str)> {
    let (name, after) = s.strip_prefix("${")?.split_once('}')?;
    is_name(name).then_some((name, after))
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn push_char<'a>(s: &'a str, c: char, out: &mut String) -> &'a str {
    out.push(c);
    &s[c.len_utf8()..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "callerid" => Some("89161229624".into()),
            "customer" => Some("ivanov".into()),
            "empty" => Some(String::new()),
            "tricky" => Some("${callerid} \\n".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_known_names() {
        assert_eq!(render("Call from ${callerid} (${customer})", vars), "Call from 89161229624 (ivanov)");
        assert_eq!(render("${callerid}${callerid}", vars), "8916122962489161229624");
        assert_eq!(render("[${empty}]", vars), "[]");
        assert_eq!(render("", vars), "");
        assert_eq!(render("Звонок от ${callerid} ☎", vars), "Звонок от 89161229624 ☎");
    }

    #[test]
    fn unknown_and_invalid_placeholders_stay_verbatim() {
        assert_eq!(render("a ${calerid} b", vars), "a ${calerid} b");
        assert_eq!(render("${CallerID} ${caller id} ${} ${callerid", vars), "${CallerID} ${caller id} ${} ${callerid");
        assert_eq!(render("$ $$ {callerid} $", vars), "$ $$ {callerid} $");
        assert_eq!(render("$${callerid}", vars), "$89161229624");
    }

    #[test]
    fn values_are_not_expanded_again() {
        assert_eq!(render("${tricky}", vars), "${callerid} \\n");
    }

    #[test]
    fn escapes() {
        assert_eq!(render(r"line1\nline2\ttab\\back", vars), "line1\nline2\ttab\\back");
        assert_eq!(render(r"\\n", vars), "\\n");
        assert_eq!(render(r"\${callerid}", vars), "${callerid}");
        assert_eq!(render(r"\\${callerid}", vars), "\\89161229624");
        assert_eq!(render(r"C:\dir \é end\", vars), "C:\\dir \\é end\\");
        assert_eq!(render(r"Caller: ${callerid}\nCustomer: ${customer}", vars), "Caller: 89161229624\nCustomer: ivanov");
    }

    #[test]
    fn lists_unknown_placeholders() {
        let known = ["callerid", "customer", "uniqueid"];
        let t = r"${callerid} ${calerid} ${CallerID} ${customer} ${calerid} \${escaped} ${x y} ${} ${a ${customer} ${open";
        assert_eq!(unknown_placeholders(t, &known), vec!["calerid", "CallerID", "x y", ""]);
        assert!(unknown_placeholders(r"Call from ${callerid}\n${uniqueid}", &known).is_empty());
        assert!(unknown_placeholders("no placeholders, é ☎", &known).is_empty());
    }
}
