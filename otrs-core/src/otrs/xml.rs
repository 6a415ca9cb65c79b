//! XML for both OTRS interfaces: the escaping of request values, the
//! reply parser (a small tree of local names), and the SOAP envelope and
//! fault handling every reply goes through.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::SoapError;
use crate::text::one_line;

/// Deepest element nesting accepted in a reply. Real replies are < 10 deep;
/// the cap keeps a hostile reply from costing unbounded stack or memory.
const MAX_DEPTH: usize = 64;

/// How a writer escapes text: the requests must be byte-for-byte what the
/// real clients in the samples send.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum EscapeStyle {
    /// GenericInterface requests: quotes escaped too, CR as `&#13;`.
    Connector,
    /// SOAP::Lite's `encode_data` (rpc.pl): `&`, `<`, `>`, CR as `&#xd;`.
    SoapLite,
}

/// Appends `value` XML-escaped. Characters XML 1.0 cannot carry at all
/// (C0 controls other than TAB/LF/CR, U+FFFE, U+FFFF) are dropped, so no
/// value can make the envelope unparseable. CR is written as a character
/// reference because a literal CR would be normalised to LF by the parser.
pub(crate) fn escape_styled(out: &mut String, value: &str, style: EscapeStyle) {
    let connector = style == EscapeStyle::Connector;
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if connector => out.push_str("&quot;"),
            '\'' if connector => out.push_str("&apos;"),
            '\r' if connector => out.push_str("&#13;"),
            '\r' => out.push_str("&#xd;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// XML-escapes one text value as the GenericInterface requests do (see
/// [`escape_styled`]).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_styled(&mut out, value, EscapeStyle::Connector);
    out
}

/// A parsed element: local name, its own text, child elements, and the
/// attributes SOAP-RPC replies (rpc.pl) need.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub name: String,
    /// `xsi:type`
    pub xsi_type: Option<String>,
    /// `xsi:nil="true"` (or `null`)
    pub nil: bool,
    /// a multi-ref `href` (not followed)
    pub href: bool,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// The element `expected` inside `Envelope/Body` of a reply, or the error
/// the reply stands for, for both interfaces: a `Fault` (Znuny answers them
/// with HTTP 500) is [`SoapError::Fault`]; `operation_error` finds an error
/// the expected element itself reports (the GenericInterface's `<Error>`),
/// the best reason even if some setup sent it with a non-200; another
/// element with a non-200 status is [`SoapError::Http`]; a reply without
/// an envelope is judged by its status and content type ([`not_soap`]).
pub(crate) fn reply_element(
    status: u16,
    content_type: &str,
    body: &[u8],
    expected: &str,
    operation_error: fn(&Node) -> Option<SoapError>,
) -> Result<Node, SoapError> {
    let root = match parse_tree(body) {
        Ok(root) => root,
        Err(why) => return Err(not_soap(status, content_type, body, &why)),
    };
    let Some(reply) = body_element(root) else {
        return Err(not_soap(status, content_type, body, "no SOAP Body"));
    };
    if reply.name == "Fault" {
        return Err(fault(&reply));
    }
    let is_expected = reply.name == expected;
    if let Some(e) = operation_error(&reply).filter(|_| is_expected) {
        return Err(e);
    }
    if status != 200 {
        let detail = format!("unexpected {} element", one_line(&reply.name, 60));
        return Err(SoapError::Http { status, detail });
    }
    if !is_expected {
        return Err(SoapError::Malformed(format!("expected {expected}, got {}", one_line(&reply.name, 60))));
    }
    Ok(reply)
}

/// Both Znuny's `<Fault xmlns=connector>` and a standard `soap:Fault` (SOAP::Lite) have
/// unqualified `faultcode`/`faultstring` children.
fn fault(node: &Node) -> SoapError {
    let text = |name: &str| node.child(name).map(|c| one_line(&c.text, 400)).unwrap_or_default();
    SoapError::Fault { code: text("faultcode"), message: text("faultstring") }
}

/// The first element inside `Envelope/Body`, taken by value.
pub(crate) fn body_element(root: Node) -> Option<Node> {
    if root.name != "Envelope" {
        return None;
    }
    let body = root.children.into_iter().find(|c| c.name == "Body")?;
    body.children.into_iter().next()
}

/// Error for a reply that is not a usable SOAP envelope.
fn not_soap(status: u16, content_type: &str, body: &[u8], why: &str) -> SoapError {
    if status != 200 {
        return SoapError::Http { status, detail: http_detail(content_type, body) };
    }
    if body.is_empty() {
        return SoapError::Malformed("empty body".into());
    }
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    if ct.is_empty() || ct.contains("xml") {
        SoapError::Malformed(why.to_string())
    } else {
        SoapError::Malformed(format!("not a SOAP reply ({}): {why}", one_line(ct, 40)))
    }
}

/// A short human hint from a non-SOAP error body: an HTML page's title, or
/// the first non-empty line of text (sample 29: "Error deserializing message:").
fn http_detail(content_type: &str, body: &[u8]) -> String {
    let head = body.get(..4096).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    let detail = if content_type.contains("html") || text.trim_start().starts_with('<') {
        html_title(&text).unwrap_or_default()
    } else {
        text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default()
    };
    one_line(detail, 120)
}

fn html_title(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let len = lower.get(start..)?.find("</title>")?;
    text.get(start..start + len).map(str::trim)
}

/// Parses the whole document into a tree of local names (namespace prefixes
/// dropped). Fails on anything not well formed: bad syntax, invalid UTF-8,
/// mismatched or unclosed tags (a truncated reply), nesting beyond
/// [`MAX_DEPTH`], no root element.
pub(crate) fn parse_tree(body: &[u8]) -> Result<Node, String> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("bad XML: {e}"))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err("nested too deeply".into());
                }
                stack.push(node(&e)?);
            }
            Event::Empty(e) => {
                let n = node(&e)?;
                attach(&mut stack, &mut root, n)?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the names match
                let node = stack.pop().ok_or("unbalanced end tag")?;
                attach(&mut stack, &mut root, node)?;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| format!("bad text: {e}"))?;
                append_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| format!("bad CDATA: {e}"))?;
                append_text(&mut stack, &text)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("truncated (unclosed elements)".into());
    }
    root.ok_or_else(|| "no XML element".to_string())
}

/// An element with the attributes we look at.
fn node(e: &quick_xml::events::BytesStart) -> Result<Node, String> {
    let mut n = Node { name: local_name(e.local_name().as_ref()), ..Node::default() };
    for attr in e.attributes() {
        let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
        let value = attr.unescape_value().map_err(|e| format!("bad attribute: {e}"))?;
        match attr.key.local_name().as_ref() {
            b"type" => n.xsi_type = Some(value.into_owned()),
            b"nil" | b"null" => n.nil = value == "true" || value == "1",
            b"href" => n.href = true,
            _ => {}
        }
    }
    Ok(n)
}

/// Adds a finished element to its parent, or makes it the root.
fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => *root = Some(node),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

/// Text inside an element is kept; whitespace between top-level markup is
/// fine, anything else outside the root is not XML.
fn append_text(stack: &mut [Node], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(node) => node.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".into()),
    }
    Ok(())
}

fn local_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
