//! XML parsing (with expat-style error messages, as Znuny's XML::Parser
//! reports them) and SOAP reply serialisation in the exact form
//! SOAP::Lite produces for Znuny's GenericInterface.

use std::collections::BTreeMap;

pub const NAMESPACE: &str = "http://www.otrs.org/TicketConnector/";
/// OTOBO's (RotherOSS/otobo: the NameSpace of its stock SOAP web services
/// and GenericInterface tests).
pub const OTOBO_NAMESPACE: &str = "http://www.otobo.org/TicketConnector/";

/// The namespace of the flavour served.
pub fn namespace(otobo: bool) -> &'static str {
    if otobo {
        OTOBO_NAMESPACE
    } else {
        NAMESPACE
    }
}

const ENV_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
soap:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>";
const ENV_TAIL: &str = "</soap:Body></soap:Envelope>";

/// Perl-like data: what SOAP::Lite hands to the operations and what the
/// operations return. Hash keys are kept sorted (Perl `sort keys`).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Undef,
    Str(String),
    Hash(BTreeMap<String, Val>),
    Array(Vec<Val>),
}

pub type Hash = BTreeMap<String, Val>;

impl Val {
    pub fn s(v: impl Into<String>) -> Val {
        Val::Str(v.into())
    }
    #[allow(dead_code)]
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Hash(h) => h.get(key),
            _ => None,
        }
    }
    /// The value as a string when it is a plain string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Val::Hash(h) => Some(h),
            _ => None,
        }
    }
    /// IsHashRefWithData
    pub fn is_hash_with_data(&self) -> bool {
        matches!(self, Val::Hash(h) if !h.is_empty())
    }
}

/// Perl truth of a string: "" and "0" are false.
pub fn perl_true(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// Perl truth of an optional value (a hash or an array is true).
pub fn val_true(v: Option<&Val>) -> bool {
    match v {
        None | Some(Val::Undef) => false,
        Some(Val::Str(s)) => perl_true(s),
        Some(_) => true,
    }
}

// ---------------------------------------------------------------------------
// XML parser
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct XmlError {
    pub msg: &'static str,
    pub line: usize,
    pub col: usize,
    pub byte: usize,
}

impl XmlError {
    /// The text Znuny puts in its plain-text HTTP 500 body (sample 29).
    pub fn znuny_text(&self) -> String {
        format!(
            "Error deserializing message:\n{} at line {}, column {}, byte {} at /usr/lib/x86_64-linux-gnu/perl5/5.36/XML/Parser.pm line 187.\n",
            self.msg, self.line, self.col, self.byte
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn local(&self) -> &str {
        local_name(&self.name)
    }
}

pub fn local_name(q: &str) -> &str {
    match q.rfind(':') {
        Some(i) => &q[i + 1..],
        None => q,
    }
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    /// byte offset of invalid UTF-8 in the original input, and whether it is
    /// only a truncated (partial) character at the very end
    bad_utf8: Option<(usize, bool)>,
    base: usize,
    depth: usize,
}

/// Deeper documents are refused (the tree is walked recursively).
pub const MAX_DEPTH: usize = 256;

const NO_ELEMENT: &str = "no element found";
const INVALID_TOKEN: &str = "not well-formed (invalid token)";
const UNCLOSED: &str = "unclosed token";

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':' || (c as u32) >= 0x80 && !c.is_whitespace()
}
fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.' || c.is_numeric()
}
fn is_xml_char(c: char) -> bool {
    let u = c as u32;
    u == 0x9 || u == 0xA || u == 0xD || (0x20..=0xD7FF).contains(&u) || (0xE000..=0xFFFD).contains(&u) || u >= 0x10000
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &'static str, at: usize) -> XmlError {
        // positions in the original input (before the BOM was skipped)
        let (line, col) = line_col(self.b, at);
        XmlError { msg, line, col, byte: at + self.base }
    }
    /// An error at the end of the (valid) input: if the input went on with
    /// bytes that are no UTF-8, expat would stop there with another message.
    fn eof_err(&self, msg: &'static str, at: usize) -> XmlError {
        if let Some((pos, partial)) = self.bad_utf8 {
            return self.err(if partial { "partial character" } else { INVALID_TOKEN }, pos);
        }
        self.err(msg, at)
    }
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }
    fn starts(&self, p: &str) -> bool {
        self.s[self.i..].starts_with(p)
    }
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn name(&mut self) -> Result<String, XmlError> {
        let start = self.i;
        match self.peek() {
            Some(c) if is_name_start(c) => self.i += c.len_utf8(),
            Some(_) => return Err(self.err(INVALID_TOKEN, self.i)),
            None => return Err(self.eof_err(UNCLOSED, start)),
        }
        while let Some(c) = self.peek() {
            if is_name_char(c) {
                self.i += c.len_utf8();
            } else {
                break;
            }
        }
        Ok(self.s[start..self.i].to_string())
    }

    /// `&...;` at self.i; returns the replacement text.
    fn reference(&mut self, tok_start: usize) -> Result<String, XmlError> {
        let amp = self.i;
        self.i += 1;
        let rest = &self.s[self.i..];
        let end = match rest.find(';') {
            Some(e) => e,
            None => {
                // no terminating ';' in the rest of the input
                if rest.chars().all(is_name_char) {
                    return Err(self.eof_err(UNCLOSED, tok_start));
                }
                return Err(self.err(INVALID_TOKEN, amp));
            }
        };
        let body = &rest[..end];
        if let Some(num) = body.strip_prefix('#') {
            let v = if let Some(hex) = num.strip_prefix('x') {
                if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(self.err(INVALID_TOKEN, amp));
                }
                u32::from_str_radix(hex, 16).ok()
            } else {
                if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
                    return Err(self.err(INVALID_TOKEN, amp));
                }
                num.parse::<u32>().ok()
            };
            let c = v.and_then(char::from_u32).filter(|c| is_xml_char(*c));
            match c {
                Some(c) => {
                    self.i += end + 1;
                    return Ok(c.to_string());
                }
                None => return Err(self.err("reference to invalid character number", amp)),
            }
        }
        let mut chars = body.chars();
        let ok_name = match chars.next() {
            Some(c) if is_name_start(c) => chars.all(is_name_char),
            _ => false,
        };
        if !ok_name {
            return Err(self.err(INVALID_TOKEN, amp));
        }
        let r = match body {
            "lt" => "<",
            "gt" => ">",
            "amp" => "&",
            "quot" => "\"",
            "apos" => "'",
            _ => return Err(self.err("undefined entity", amp)),
        };
        self.i += end + 1;
        Ok(r.to_string())
    }

    fn comment(&mut self) -> Result<(), XmlError> {
        let start = self.i;
        self.i += 4;
        match self.s[self.i..].find("--") {
            Some(p) => {
                self.i += p;
                if self.starts("-->") {
                    self.i += 3;
                    Ok(())
                } else {
                    Err(self.err(INVALID_TOKEN, self.i))
                }
            }
            None => Err(self.eof_err(UNCLOSED, start)),
        }
    }

    fn pi(&mut self, at_doc_start: bool) -> Result<(), XmlError> {
        let start = self.i;
        self.i += 2;
        let target = self.name()?;
        if target.eq_ignore_ascii_case("xml") && !at_doc_start {
            return Err(self.err("XML or text declaration not at start of entity", start));
        }
        match self.s[self.i..].find("?>") {
            Some(p) => {
                self.i += p + 2;
                Ok(())
            }
            None => Err(self.eof_err(UNCLOSED, start)),
        }
    }

    fn doctype(&mut self) -> Result<(), XmlError> {
        let start = self.i;
        let mut depth = 0i32;
        let mut quote: Option<char> = None;
        self.i += 2;
        while let Some(c) = self.peek() {
            self.i += c.len_utf8();
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    '>' if depth <= 0 => return Ok(()),
                    _ => {}
                },
            }
        }
        Err(self.eof_err(UNCLOSED, start))
    }

    /// Attribute value normalisation as expat does it.
    fn attr_value(&mut self, tag_start: usize) -> Result<String, XmlError> {
        let q = match self.peek() {
            Some(c @ ('"' | '\'')) => c,
            Some(_) => return Err(self.err(INVALID_TOKEN, self.i)),
            None => return Err(self.eof_err(UNCLOSED, tag_start)),
        };
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => return Err(self.eof_err(UNCLOSED, tag_start)),
            };
            if c == q {
                self.i += 1;
                return Ok(out);
            }
            match c {
                '<' => return Err(self.err(INVALID_TOKEN, self.i)),
                '&' => out.push_str(&self.reference(tag_start)?),
                '\r' => {
                    self.i += 1;
                    if self.peek() == Some('\n') {
                        self.i += 1;
                    }
                    out.push(' ');
                }
                '\n' | '\t' => {
                    self.i += 1;
                    out.push(' ');
                }
                c if !is_xml_char(c) => return Err(self.err(INVALID_TOKEN, self.i)),
                c => {
                    self.i += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// Parses a start tag at self.i ('<'); returns the element and whether
    /// it was empty (`/>`).
    fn start_tag(&mut self) -> Result<(Element, bool), XmlError> {
        let start = self.i;
        self.i += 1;
        let name = self.name()?;
        let mut el = Element { name, ..Default::default() };
        loop {
            let before_ws = self.i;
            self.skip_ws();
            match self.peek() {
                None => return Err(self.eof_err(UNCLOSED, start)),
                Some('>') => {
                    self.i += 1;
                    return Ok((el, false));
                }
                Some('/') => {
                    self.i += 1;
                    match self.peek() {
                        Some('>') => {
                            self.i += 1;
                            return Ok((el, true));
                        }
                        None => return Err(self.eof_err(UNCLOSED, start)),
                        Some(_) => return Err(self.err(INVALID_TOKEN, self.i)),
                    }
                }
                Some(_) => {
                    if self.i == before_ws {
                        // attribute without whitespace before it
                        return Err(self.err(INVALID_TOKEN, self.i));
                    }
                    let name_at = self.i;
                    let an = self.name()?;
                    self.skip_ws();
                    match self.peek() {
                        Some('=') => self.i += 1,
                        None => return Err(self.eof_err(UNCLOSED, start)),
                        Some(_) => return Err(self.err(INVALID_TOKEN, self.i)),
                    }
                    self.skip_ws();
                    let v = self.attr_value(start)?;
                    if el.attrs.iter().any(|(n, _)| *n == an) {
                        return Err(self.err("duplicate attribute", name_at));
                    }
                    el.attrs.push((an, v));
                }
            }
        }
    }

    /// Element content after the start tag, up to and including the end tag.
    fn content(&mut self, el: &mut Element) -> Result<(), XmlError> {
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => return Err(self.eof_err(NO_ELEMENT, self.i)),
            };
            match c {
                '<' => {
                    if self.starts("</") {
                        let start = self.i;
                        self.i += 2;
                        let n = self.name()?;
                        self.skip_ws();
                        match self.peek() {
                            Some('>') => self.i += 1,
                            None => return Err(self.eof_err(UNCLOSED, start)),
                            Some(_) => return Err(self.err(INVALID_TOKEN, self.i)),
                        }
                        if n != el.name {
                            return Err(self.err("mismatched tag", start));
                        }
                        return Ok(());
                    } else if self.starts("<!--") {
                        self.comment()?;
                    } else if self.starts("<![CDATA[") {
                        let start = self.i;
                        self.i += 9;
                        match self.s[self.i..].find("]]>") {
                            Some(p) => {
                                let t = &self.s[self.i..self.i + p];
                                el.text.push_str(&t.replace("\r\n", "\n").replace('\r', "\n"));
                                self.i += p + 3;
                            }
                            None => return Err(self.eof_err("unclosed CDATA section", start)),
                        }
                    } else if self.starts("<!") {
                        return Err(self.err(INVALID_TOKEN, self.i + 1));
                    } else if self.starts("<?") {
                        self.pi(false)?;
                    } else {
                        let at = self.i;
                        let (mut child, empty) = self.start_tag()?;
                        if !empty {
                            self.depth += 1;
                            if self.depth >= MAX_DEPTH {
                                return Err(self.err("excessive element nesting", at));
                            }
                            self.content(&mut child)?;
                            self.depth -= 1;
                        }
                        el.children.push(child);
                    }
                }
                '&' => {
                    let r = self.reference(self.i)?;
                    el.text.push_str(&r);
                }
                '\r' => {
                    self.i += 1;
                    if self.peek() == Some('\n') {
                        self.i += 1;
                    }
                    el.text.push('\n');
                }
                ']' if self.starts("]]>") => return Err(self.err(INVALID_TOKEN, self.i)),
                c if !is_xml_char(c) => return Err(self.err(INVALID_TOKEN, self.i)),
                c => {
                    self.i += c.len_utf8();
                    el.text.push(c);
                }
            }
        }
    }

    fn document(&mut self) -> Result<Element, XmlError> {
        let mut root: Option<Element> = None;
        let mut first = true;
        loop {
            let at_start = first;
            first = false;
            let c = match self.peek() {
                Some(c) => c,
                None => {
                    return match root {
                        Some(r) => Ok(r),
                        None => Err(self.eof_err(NO_ELEMENT, self.i)),
                    }
                }
            };
            match c {
                ' ' | '\t' | '\n' | '\r' => self.i += 1,
                '<' if self.starts("<?") => self.pi(at_start)?,
                '<' if self.starts("<!--") => self.comment()?,
                '<' if self.starts("<!DOCTYPE") && root.is_none() => self.doctype()?,
                '<' if root.is_some() => return Err(self.err("junk after document element", self.i)),
                '<' => {
                    if self.starts("<!") || self.starts("</") {
                        return Err(self.err(INVALID_TOKEN, self.i + 1));
                    }
                    let (mut el, empty) = self.start_tag()?;
                    if !empty {
                        self.content(&mut el)?;
                    }
                    root = Some(el);
                }
                _ if root.is_some() => return Err(self.err("junk after document element", self.i)),
                c if !is_xml_char(c) => return Err(self.err(INVALID_TOKEN, self.i)),
                _ => return Err(self.err("syntax error", self.i)),
            }
        }
    }
}

/// Line (1-based) and column (0-based, in characters) of a byte offset, as
/// expat counts them (CR LF and lone CR are one line break).
fn line_col(b: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(b.len());
    let mut line = 1;
    let mut col = 0;
    let mut i = 0;
    while i < at {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            col = 0;
        } else if c == b'\r' {
            if i + 1 < at && b[i + 1] == b'\n' {
                i += 1;
            }
            line += 1;
            col = 0;
        } else if c & 0xC0 != 0x80 {
            col += 1;
        }
        i += 1;
    }
    (line, col)
}

pub fn parse_xml(input: &[u8]) -> Result<Element, XmlError> {
    let base = if input.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
    let body = &input[base..];
    let (s, bad) = match std::str::from_utf8(body) {
        Ok(s) => (s, None),
        Err(e) => {
            let valid = e.valid_up_to();
            // SAFETY-free: re-slice the valid prefix
            let s = std::str::from_utf8(&body[..valid]).unwrap_or("");
            (s, Some((valid, e.error_len().is_none())))
        }
    };
    let mut p = Parser { s, b: body, i: 0, bad_utf8: bad, base, depth: 0 };
    let r = p.document();
    match r {
        Ok(el) => {
            if let Some((pos, _)) = p.bad_utf8 {
                // the root element closed before the bytes that are no UTF-8
                return Err(p.err(INVALID_TOKEN, pos));
            }
            Ok(el)
        }
        Err(e) => Err(e),
    }
}

/// What SOAP::Lite makes of an element: a string, or a hash of its child
/// elements (repeated names become a list), `xsi:nil` → undef.
pub fn to_val(e: &Element) -> Val {
    if e.children.is_empty() {
        let nil = e.attrs.iter().any(|(n, v)| local_name(n) == "nil" && (v == "true" || v == "1"));
        if nil {
            return Val::Undef;
        }
        return Val::Str(e.text.clone());
    }
    let mut h: Hash = BTreeMap::new();
    for c in &e.children {
        let k = c.local().to_string();
        let v = to_val(c);
        // to_val never returns an Array for one element, so an Array here
        // is always a list of repeated elements
        match h.remove(&k) {
            None => {
                h.insert(k, v);
            }
            Some(Val::Array(mut a)) => {
                a.push(v);
                h.insert(k, Val::Array(a));
            }
            Some(prev) => {
                h.insert(k, Val::Array(vec![prev, v]));
            }
        }
    }
    Val::Hash(h)
}

/// The SOAP body: its child elements by local name (`$Deserialized->body()`).
/// None when there is no envelope or an empty body.
pub fn soap_body(root: &Element) -> Option<Hash> {
    if root.local() != "Envelope" {
        return None;
    }
    let body = root.children.iter().find(|c| c.local() == "Body")?;
    match to_val(body) {
        Val::Hash(h) if !h.is_empty() => Some(h),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------

/// Znuny's _SOAPOutputProcessString: escape & < >, drop restricted
/// characters.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        let u = c as u32;
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            _ if (0x01..=0x08).contains(&u)
                || (0x0B..=0x0C).contains(&u)
                || (0x0E..=0x1F).contains(&u)
                || (0x7F..=0x84).contains(&u)
                || (0x86..=0x9F).contains(&u) => {}
            _ => o.push(c),
        }
    }
    o
}

fn ser(out: &mut String, name: &str, v: &Val) {
    match v {
        Val::Undef => {
            out.push('<');
            out.push_str(name);
            out.push_str(" />");
        }
        Val::Str(s) => {
            let e = esc(s);
            if e.is_empty() {
                out.push('<');
                out.push_str(name);
                out.push_str(" />");
            } else {
                out.push('<');
                out.push_str(name);
                out.push('>');
                out.push_str(&e);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
        Val::Hash(h) => {
            if h.is_empty() {
                ser(out, name, &Val::Undef);
                return;
            }
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (k, v) in h {
                ser(out, k, v);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Val::Array(a) => {
            for v in a {
                ser(out, name, v);
            }
        }
    }
}

/// The whole reply envelope. `element` is e.g. `TicketCreateResponse` or
/// `Fault`; an empty data hash gives the `xsi:nil` form (sample 06).
/// In namespace `ns`: SOAP::Serializer's `default_ns` is the
/// web service's NameSpace (OTOBO's SOAP.pm, ProviderGenerateResponse).
pub fn envelope_in(ns: &str, element: &str, data: &Hash) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str(ENV_HEAD);
    out.push('<');
    out.push_str(element);
    out.push_str(" xmlns=\"");
    out.push_str(ns);
    out.push('"');
    if data.is_empty() {
        out.push_str(" xsi:nil=\"true\" />");
    } else {
        out.push('>');
        for (k, v) in data {
            ser(&mut out, k, v);
        }
        out.push_str("</");
        out.push_str(element);
        out.push('>');
    }
    out.push_str(ENV_TAIL);
    out
}

/// A transport fault envelope (HTTP 500, samples 27, 28, 30).
/// In namespace `ns`.
pub fn fault_in(ns: &str, faultstring: &str) -> String {
    let mut h = Hash::new();
    h.insert("faultcode".into(), Val::s("Server"));
    h.insert("faultstring".into(), Val::s(if faultstring.is_empty() { "Unknown" } else { faultstring }));
    envelope_in(ns, "Fault", &h)
}

/// `{ Error => { ErrorCode, ErrorMessage } }` (Operation::Common::ReturnError).
pub fn error_data(code: &str, message: &str) -> Hash {
    let mut e = Hash::new();
    e.insert("ErrorCode".into(), Val::s(code));
    e.insert("ErrorMessage".into(), Val::s(message));
    let mut h = Hash::new();
    h.insert("Error".into(), Val::Hash(e));
    h
}

// ---------------------------------------------------------------------------
// SOAPAction handling (Transport::HTTP::SOAP::ProviderProcessRequest)
// ---------------------------------------------------------------------------

/// Parses the SOAPAction header as Znuny does. Returns (namespace,
/// operation); namespace is None when the header had no separator.
pub fn parse_soapaction(h: &str) -> (Option<String>, Option<String>) {
    // \A ["']? ( (.+?) [#/] ([^#/]+?) ) ["']? \z
    let mut core = h;
    let lead = core.starts_with('"') || core.starts_with('\'');
    if lead {
        core = &core[1..];
    }
    // the optional closing quote: the operation may not contain # or /, so
    // try with and without a trailing quote
    let candidates: Vec<&str> =
        if core.ends_with('"') || core.ends_with('\'') { vec![&core[..core.len() - 1], core] } else { vec![core] };
    for c in candidates {
        // (.+?) non-greedy, then [#/], then ([^#/]+?) to the end: the
        // separator is the last # or / and the namespace is non-empty
        if let Some(p) = c.rfind(['#', '/']) {
            let ns = &c[..p];
            let op = &c[p + 1..];
            if !ns.is_empty() && !op.is_empty() {
                return (Some(ns.to_string()), Some(op.to_string()));
            }
        }
    }
    // Fallback: ( .+ ) between quotes as the operation
    if h.len() >= 3 {
        let f = h.as_bytes()[0];
        let l = h.as_bytes()[h.len() - 1];
        if (f == b'"' || f == b'\'') && (l == b'"' || l == b'\'') {
            return (None, Some(h[1..h.len() - 1].to_string()));
        }
    }
    (None, None)
}

/// `$SOAPAction =~ s{ \A ( ["']? ) (?<SOAPAction> .+? ) \1 \z }{...}`
pub fn strip_soapaction(h: &str) -> String {
    let b = h.as_bytes();
    if b.len() >= 3 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return h[1..h.len() - 1].to_string();
    }
    h.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expat_positions() {
        let e = parse_xml(b"<a>\n  <b>").unwrap_err();
        assert_eq!((e.msg, e.line, e.col, e.byte), ("no element found", 2, 5, 9));
        let e = parse_xml(b"<a></b>").unwrap_err();
        assert_eq!((e.msg, e.line, e.col, e.byte), ("mismatched tag", 1, 3, 3));
        let e = parse_xml(b"<a>x & y</a>").unwrap_err();
        assert_eq!(e.msg, "not well-formed (invalid token)");
        assert_eq!(e.byte, 5);
        let e = parse_xml(b"<a/><b/>").unwrap_err();
        assert_eq!(e.msg, "junk after document element");
        let e = parse_xml(b"").unwrap_err();
        assert_eq!(e.msg, "no element found");
        let e = parse_xml(b"hello").unwrap_err();
        assert_eq!(e.msg, "syntax error");
        let e = parse_xml(b"<a>&foo;</a>").unwrap_err();
        assert_eq!(e.msg, "undefined entity");
        let e = parse_xml(b"<a b='1' b='2'/>").unwrap_err();
        assert_eq!(e.msg, "duplicate attribute");
        let e = parse_xml(b"<a><b").unwrap_err();
        assert_eq!((e.msg, e.byte), ("unclosed token", 3));
        let e = parse_xml(b"<a>\xff</a>").unwrap_err();
        assert_eq!((e.msg, e.byte), ("not well-formed (invalid token)", 3));
        let e = parse_xml("<a>дд</b>".as_bytes()).unwrap_err();
        assert_eq!((e.msg, e.col, e.byte), ("mismatched tag", 5, 7));
        let e = parse_xml(b" <?xml version='1.0'?><a/>").unwrap_err();
        assert_eq!(e.msg, "XML or text declaration not at start of entity");
    }

    #[test]
    fn parses_text_and_entities() {
        let r = parse_xml(b"<?xml version=\"1.0\"?><x:a xmlns:x='u'><b>1 &lt; 2 &#x41;&#66;</b><c>\r\nz</c><c/><d xsi:nil='true'/><![CDATA[q]]></x:a>").unwrap();
        let v = to_val(&r);
        let h = v.as_hash().unwrap();
        assert_eq!(h["b"], Val::s("1 < 2 AB"));
        assert_eq!(h["c"], Val::Array(vec![Val::s("\nz"), Val::s("")]));
        assert_eq!(h["d"], Val::Undef);
    }

    #[test]
    fn three_repeats_make_one_list() {
        let r = parse_xml(b"<a><s>1</s><s>2</s><s>3</s><s>4</s></a>").unwrap();
        assert_eq!(to_val(&r).get("s").unwrap(), &Val::Array(vec![Val::s("1"), Val::s("2"), Val::s("3"), Val::s("4")]));
    }

    #[test]
    fn soapaction_forms() {
        let ns = "http://www.otrs.org/TicketConnector/";
        assert_eq!(
            parse_soapaction("\"http://www.otrs.org/TicketConnector/#TicketCreate\""),
            (Some(ns.into()), Some("TicketCreate".into()))
        );
        assert_eq!(
            parse_soapaction("http://www.otrs.org/TicketConnector/TicketCreate"),
            (Some("http://www.otrs.org/TicketConnector".into()), Some("TicketCreate".into()))
        );
        assert_eq!(parse_soapaction("\"\""), (None, None));
        assert_eq!(parse_soapaction("\"TicketCreate\""), (None, Some("TicketCreate".into())));
        assert_eq!(strip_soapaction("\"abc\""), "abc");
    }

    #[test]
    fn serialises_like_soap_lite() {
        let mut h = Hash::new();
        h.insert("B".into(), Val::s(""));
        h.insert("A".into(), Val::Array(vec![Val::s("1"), Val::s("2")]));
        h.insert("C".into(), Val::s("\"x\" <y> & \u{1}z"));
        let s = envelope_in(NAMESPACE, "XResponse", &h);
        assert!(s.ends_with("<XResponse xmlns=\"http://www.otrs.org/TicketConnector/\"><A>1</A><A>2</A><B /><C>\"x\" &lt;y&gt; &amp; z</C></XResponse></soap:Body></soap:Envelope>"));
        assert!(envelope_in(NAMESPACE, "TicketSearchResponse", &Hash::new()).contains("xsi:nil=\"true\" />"));
    }
}
