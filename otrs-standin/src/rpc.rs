//! rpc.pl: OTRS's legacy SOAP interface as Znuny 6.5 serves it
//! (tests/fixtures/otrs/rpc): SOAP::Transport::HTTP::CGI dispatching to
//! `Core::Dispatch(User, Password, Object, Method, %Param)` and
//! `Core::DispatchMultipleTicketMethods`, which call OTRS's Perl API
//! directly. Replies are serialised as SOAP::Lite 1.17 does: positional
//! `s-gensymN` elements numbered from a process-wide counter, autotyped
//! values (`xsd:int`, `xsd:long`, `xsd:string`, base64 for non-ASCII...).
//!
//! `--otrs-version 5` emulates OTRS 5, whose TicketObject still has
//! `ArticleCreate`; with 6 (the default, and Znuny) that call is the
//! `soap:Server` fault "Can't locate object method" of samples 03/04.
//!
//! Not emulated (see the notes at the constants): the exact line numbers of
//! SOAP::Lite's own error messages, methods of the Perl API other than the
//! few below (they get the "Can't locate object method" fault that missing
//! methods get), multiref (`href`) arguments, the SOAP version check of the
//! Envelope namespace.

use crate::db::{Company, Customer};
use crate::http::Request;
use crate::soap::{self as xml, Element, Hash, Val};
use crate::store::{self, Article, RpcMeta, Ticket};
use crate::{lock, Shared};
use std::sync::atomic::Ordering;

/// Namespace of `Core`; its URI path names the Perl class.
pub const NAMESPACE: &str = "http://localhost/Core";
/// `$HOME` of the OTRS installation in Perl's messages. The samples show
/// `ZNUNY_HOME` (the recorded path was replaced, which is why their
/// Content-Length is 5 bytes more than the body).
pub const HOME: &str = "/opt/otrs";
pub const SERVER: &str = "Apache/2.4.71 (Debian) mod_perl/2.0.12 Perl/v5.36.0";
pub const SOAP_SERVER: &str = "SOAP::Lite/Perl/1.17";
const XML_PARSER_PM: &str = "/usr/lib/x86_64-linux-gnu/perl5/5.36/XML/Parser.pm";
const SOAP_LITE_PM: &str = "/usr/share/perl5/SOAP/Lite.pm";
/// rpc.pl lines of `$CommonObject{$Object}->$Method(...)` in Dispatch and
/// DispatchMultipleTicketMethods (samples 03, 09), and of the list and hash
/// dereferences in the latter (counted in Znuny's rpc.pl).
const LINE_DISPATCH: u32 = 106;
const LINE_MULTI_CALL: u32 = 196;
const LINE_MULTI_LIST: u32 = 186;
const LINE_MULTI_ENTRY: u32 = 188;
const LINE_MULTI_PARAM: u32 = 189;
/// Lines in SOAP/Lite.pm of its messages that do not end in "\n" (Perl
/// appends " at FILE line N."): not verified against a real installation.
const LINE_NO_ENVELOPE: u32 = 2810;
const LINE_NO_METHOD: u32 = 2831;
const LINE_CLASS: u32 = 2752;
const LINE_DENIED: u32 = 2784;
const LINE_LOCATE: u32 = 2874;

/// The objects rpc.pl offers (Znuny 6.5) and their Perl packages.
const OBJECTS: &[(&str, &str)] = &[
    ("ConfigObject", "Kernel::Config"),
    ("CustomerCompanyObject", "Kernel::System::CustomerCompany"),
    ("CustomerUserObject", "Kernel::System::CustomerUser"),
    ("EncodeObject", "Kernel::System::Encode"),
    ("GroupObject", "Kernel::System::Group"),
    ("LinkObject", "Kernel::System::LinkObject"),
    ("LogObject", "Kernel::System::Log"),
    ("PIDObject", "Kernel::System::PID"),
    ("QueueObject", "Kernel::System::Queue"),
    ("SessionObject", "Kernel::System::AuthSession"),
    ("TicketObject", "Kernel::System::Ticket"),
    ("TimeObject", "Kernel::System::Time"),
    ("UserObject", "Kernel::System::User"),
];

/// OTRS 5's article types (id order of its initial_insert).
const ARTICLE_TYPES: &[&str] = &[
    "email-external",
    "email-internal",
    "email-notification-ext",
    "email-notification-int",
    "phone",
    "fax",
    "sms",
    "webrequest",
    "note-internal",
    "note-external",
    "note-report",
    "chat-external",
    "chat-internal",
];

const LOCKS: &[(&str, u32)] = &[("unlock", 1), ("lock", 2), ("tmp_lock", 3)];

/// The stand-in's agents: root@localhost (1) and the SOAP agent (2).
const USER_IDS: &[u32] = &[1, 2];

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// Whether a path is rpc.pl (`{prefix}/rpc.pl`).
pub fn is_rpc_path(path: &str) -> bool {
    path.rsplit('/').next() == Some("rpc.pl")
}

/// A reply as SOAP::Transport::HTTP::CGI makes it (`xml`: a SOAP envelope
/// with SOAP::Lite's headers; else an empty 405/411).
#[derive(Debug, Clone, PartialEq)]
pub struct RpcReply {
    pub status: u16,
    pub xml: bool,
    pub body: Vec<u8>,
}

/// The response head as Apache sends it for rpc.pl (headers of the samples,
/// without the Client-* lines LWP adds).
pub fn head(proto: &str, status: u16, now_secs: i64, xml: bool, len: usize) -> String {
    let mut h = format!(
        "{} {} {}\r\nDate: {}\r\nServer: {}\r\n",
        proto,
        status,
        crate::http::reason(status),
        http_date(now_secs),
        SERVER
    );
    if xml {
        h.push_str(&format!("SOAPServer: {}\r\n", SOAP_SERVER));
    }
    if status == 200 {
        h.push_str("Vary: Accept-Encoding\r\n");
    }
    h.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n", len));
    if xml {
        h.push_str("Content-Type: text/xml; charset=utf-8\r\n");
    }
    h.push_str("\r\n");
    h
}

/// `Thu, 26 Nov 2026 08:29:02 GMT`
pub fn http_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, s) = store::civil(t);
    let wd = DAYS[t.div_euclid(86400).rem_euclid(7) as usize];
    format!("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", wd, d, MONTHS[(mo as usize).clamp(1, 12) - 1], y, h, mi, s)
}

/// The key a request is counted under in /control/requests:
/// `rpc.TicketObject.TicketCreate`, `rpc.DispatchMultipleTicketMethods`,
/// `rpc._malformed`, `rpc._empty`.
pub fn op_name(req: &Request) -> String {
    if req.body.is_empty() {
        return "rpc._empty".into();
    }
    let root = match xml::parse_xml(&req.body) {
        Ok(r) => r,
        Err(_) => return "rpc._malformed".into(),
    };
    let method = match method_element(&root) {
        Some(m) => m,
        None => return "rpc._no_method".into(),
    };
    let clean = |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(60).collect() };
    let name = clean(method.local());
    if name == "Dispatch" {
        let arg = |i: usize| method.children.get(i).map(|c| clean(&c.text)).unwrap_or_default();
        return format!("rpc.{}.{}", arg(2), arg(3));
    }
    format!("rpc.{}", name)
}

// ---------------------------------------------------------------------------
// SOAP::Lite's serialisation
// ---------------------------------------------------------------------------

/// One value of the list a Perl method returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Nil,
    Scalar(String),
    /// A structure, serialised already (the element's content).
    Inner(&'static str),
    /// A reference to a multiref'd structure.
    Href(&'static str),
}

fn sc(v: impl ToString) -> Out {
    Out::Scalar(v.to_string())
}

/// SOAP::Utils::encode_data: `&`, `<`, `>` and CR escaped.
pub fn encode_data(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\r' => o.push_str("&#xd;"),
            c => o.push(c),
        }
    }
    o
}

/// Perl's `$` matches before one trailing newline.
fn perl_end(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `^[+-]?\d+$`: the digits as a number (f64, as Perl compares them).
fn integer(s: &str) -> Option<f64> {
    let s = perl_end(s);
    let (neg, d) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if !all_digits(d) {
        return None;
    }
    let v: f64 = d.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// A leading run of ASCII digits; returns the rest.
fn digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

fn is_float(s: &str) -> bool {
    let s = perl_end(s);
    // -?(?:\d+(?:\.\d*)?|\.\d+|NaN|INF)
    let a = s.strip_prefix('-').unwrap_or(s);
    if a == "NaN" || a == "INF" {
        return true;
    }
    let (d, rest) = digits(a);
    if !d.is_empty() && (rest.is_empty() || rest.strip_prefix('.').is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()))) {
        return true;
    }
    if let Some(r) = a.strip_prefix('.') {
        if all_digits(r) {
            return true;
        }
    }
    // ([+-]?)(?=\d|\.\d)\d*(\.\d*)?([Ee]([+-]?\d+))?
    let b = s.strip_prefix(['+', '-']).unwrap_or(s);
    let starts = b.bytes().next().is_some_and(|c| c.is_ascii_digit())
        || (b.starts_with('.') && b.as_bytes().get(1).is_some_and(|c| c.is_ascii_digit()));
    if !starts {
        return false;
    }
    let (_, mut rest) = digits(b);
    if let Some(r) = rest.strip_prefix('.') {
        rest = digits(r).1;
    }
    if let Some(r) = rest.strip_prefix(['E', 'e']) {
        let r = r.strip_prefix(['+', '-']).unwrap_or(r);
        let (d, r) = digits(r);
        return !d.is_empty() && r.is_empty();
    }
    rest.is_empty()
}

/// A pattern of fixed shape: `d` a digit, other bytes literal.
fn shape(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len() && s.bytes().zip(pattern.bytes()).all(|(c, p)| if p == b'd' { c.is_ascii_digit() } else { c == p })
}

/// `(Z|([+-]\d\d:\d\d))?` / `(-\d\d:\d\d)?` at the end.
fn zone(s: &str, z: bool) -> bool {
    s.is_empty()
        || (z && s == "Z")
        || (s.len() == 6 && (if z { s.starts_with(['+', '-']) } else { s.starts_with('-') }) && shape(&s[1..], "dd:dd"))
}

fn fixed_then_zone(s: &str, pattern: &str, z: bool) -> bool {
    s.len() >= pattern.len()
        && s.is_char_boundary(pattern.len())
        && shape(&s[..pattern.len()], pattern)
        && zone(&s[pattern.len()..], z)
}

fn is_duration(s: &str) -> bool {
    // $_ !~ m{^-?PT?$} && m{^-?P(:?\d+Y)?(:?\d+M)?(:?\d+D)?(:?T(:?\d+H)?(:?\d+M)?(:?\d+S)?)?$}
    // (`(:?` is SOAP::Lite's typo: an optional colon)
    let s = perl_end(s);
    let b = s.strip_prefix('-').unwrap_or(s);
    let Some(mut rest) = b.strip_prefix('P') else { return false };
    if rest.is_empty() || rest == "T" {
        return false;
    }
    let part = |rest: &mut &str, unit: char| {
        let r = rest.strip_prefix(':').unwrap_or(rest);
        let (d, r2) = digits(r);
        if !d.is_empty() {
            if let Some(r3) = r2.strip_prefix(unit) {
                *rest = r3;
            }
        }
    };
    for u in ['Y', 'M', 'D'] {
        part(&mut rest, u);
    }
    if !rest.is_empty() {
        let r = rest.strip_prefix(':').unwrap_or(rest);
        let Some(mut t) = r.strip_prefix('T') else { return false };
        for u in ['H', 'M', 'S'] {
            part(&mut t, u);
        }
        rest = t;
    }
    rest.is_empty()
}

/// SOAP::Lite 1.17's autotyping (its typelookup table, in priority order):
/// the `xsi:type` and the element content for a Perl scalar.
pub fn autotype(v: &str) -> (&'static str, String) {
    let raw = |t: &'static str| (t, v.to_string());
    if v.chars().any(|c| !matches!(c as u32, 0x09 | 0x0a | 0x0d | 0x20..=0x7f)) {
        return ("xsd:base64Binary", base64(v.as_bytes()));
    }
    let e = perl_end(v);
    if e.len() > 1 && e.starts_with('0') && all_digits(e) {
        return ("xsd:string", encode_data(v));
    }
    if let Some(n) = integer(v) {
        if (-2147483648.0..=2147483647.0).contains(&n) {
            return raw("xsd:int");
        }
        if n <= 9223372036854775807.0 {
            return raw("xsd:long");
        }
    }
    if is_float(v) {
        return raw("xsd:float");
    }
    let checks: [(&str, bool, &'static str); 8] = [
        ("--dd--", false, "xsd:gMonth"),
        ("---dd", false, "xsd:gDay"),
        ("dddd", false, "xsd:gYear"),
        ("-dd-dd", false, "xsd:gMonthDay"),
        ("dddd-dd", true, "xsd:gYearMonth"),
        ("dddd-dd-dd", true, "xsd:date"),
        ("dd:dd:dd", true, "xsd:time"),
        ("dddd-dd-ddTdd:dd:dd", true, "xsd:dateTime"),
    ];
    for (pattern, z, ty) in checks {
        let signed = matches!(ty, "xsd:gYear" | "xsd:gYearMonth" | "xsd:date");
        let s = if signed { e.strip_prefix('-').unwrap_or(e) } else { e };
        if fixed_then_zone(s, pattern, z) {
            return raw(ty);
        }
        if matches!(ty, "xsd:time" | "xsd:dateTime") && s.len() > pattern.len() + 3 && s.is_char_boundary(pattern.len() + 4) {
            // optional milliseconds
            let (a, b) = s.split_at(pattern.len());
            if b.starts_with('.') && shape(&b[1..4], "ddd") && shape(a, pattern) && zone(&b[4..], z) {
                return raw(ty);
            }
        }
    }
    if is_duration(v) {
        return raw("xsd:duration");
    }
    if e.eq_ignore_ascii_case("true") || e.eq_ignore_ascii_case("false") {
        let b = if v != "false" && xml::perl_true(v) { "true" } else { "false" };
        return ("xsd:boolean", b.to_string());
    }
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("urn:") || lower.starts_with("http://") {
        return ("xsd:anyURI", encode_data(v));
    }
    ("xsd:string", encode_data(v))
}

pub(crate) fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

const ENV_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
soap:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>";
const ENV_TAIL: &str = "</soap:Body></soap:Envelope>";

/// The `{method}Response` envelope of a Perl list. Element names come from
/// the process-wide gensym counter: one for the envelope, two per value
/// (the first is generated and thrown away), one per multiref (samples 01,
/// 05, 08 are consecutive requests of one mod_perl process: 3, 6, 9).
pub fn response(shared: &Shared, method: &str, values: &[Out], multirefs: Option<&str>) -> String {
    let need = 1 + 2 * values.len() as u64 + if multirefs.is_some() { 2 } else { 0 };
    let mut n = shared.rpc_gensym.fetch_add(need, Ordering::SeqCst) + 1;
    let mut out = String::with_capacity(1024);
    out.push_str(ENV_HEAD);
    out.push('<');
    out.push_str(method);
    out.push_str("Response xmlns=\"");
    out.push_str(NAMESPACE);
    out.push('"');
    if values.is_empty() {
        out.push_str(" xsi:nil=\"true\" />");
    } else {
        out.push('>');
        for v in values {
            n += 2;
            let name = format!("s-gensym{}", n);
            match v {
                Out::Nil => out.push_str(&format!("<{} xsi:nil=\"true\" />", name)),
                Out::Scalar(s) => {
                    let (ty, content) = autotype(s);
                    if content.is_empty() {
                        out.push_str(&format!("<{} xsi:type=\"{}\" />", name, ty));
                    } else {
                        out.push_str(&format!("<{} xsi:type=\"{}\">{}</{}>", name, ty, content, name));
                    }
                }
                Out::Inner(x) => out.push_str(&format!("<{}>{}</{}>", name, x, name)),
                Out::Href(id) => out.push_str(&format!("<{} href=\"#{}\" />", name, id)),
            }
        }
        out.push_str("</");
        out.push_str(method);
        out.push_str("Response>");
    }
    if let Some(m) = multirefs {
        out.push_str(&m.replace("{G1}", &format!("s-gensym{}", n + 1)).replace("{G2}", &format!("s-gensym{}", n + 2)));
    }
    out.push_str(ENV_TAIL);
    out
}

/// A `soap:Fault` (HTTP 500). `code` is `Client` or `Server`.
pub fn fault(code: &str, faultstring: &str) -> String {
    format!(
        "{}<soap:Fault><faultcode>soap:{}</faultcode><faultstring>{}</faultstring></soap:Fault>{}",
        ENV_HEAD,
        code,
        encode_data(faultstring),
        ENV_TAIL
    )
}

fn fault_reply(code: &str, msg: &str) -> RpcReply {
    RpcReply { status: 500, xml: true, body: fault(code, msg).into_bytes() }
}

/// A Perl `die` without a trailing newline, as it reaches SOAP::Lite.
fn perl_die(msg: &str, file: &str, line: u32) -> String {
    format!("{} at {} line {}.\n", msg, file, line)
}

/// What `--mode fault` answers on rpc.pl: a Perl error in the API call.
pub fn mode_fault() -> String {
    fault(
        "Server",
        &perl_die(
            "DBI connect('database=otrs;host=127.0.0.1','otrs',...) failed: Too many connections",
            &format!("{}/Kernel/System/DB.pm", HOME),
            301,
        ),
    )
}

// ---------------------------------------------------------------------------
// Request decoding (SOAP::Server::handle, find_target)
// ---------------------------------------------------------------------------

fn method_element(root: &Element) -> Option<&Element> {
    if root.local() != "Envelope" {
        return None;
    }
    root.children.iter().find(|c| c.local() == "Body")?.children.first()
}

/// The namespace URI of `el` (declared on it, on Body or on Envelope).
fn namespace_of(el: &Element, scopes: &[&Element]) -> String {
    let prefix = el.name.rsplit_once(':').map(|(p, _)| p);
    let key = match prefix {
        Some(p) => format!("xmlns:{}", p),
        None => "xmlns".to_string(),
    };
    std::iter::once(el)
        .chain(scopes.iter().rev().copied())
        .find_map(|e| e.attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
        .unwrap_or_default()
}

/// `URI->new($uri)->path`, then SOAP::Lite's `s!^/|/$!!g; s!/!::!g; s/^$/main/`.
fn class_of(uri: &str) -> String {
    let path = if let Some((_, rest)) = uri.split_once("://") {
        match rest.find('/') {
            Some(i) => &rest[i..],
            None => "",
        }
    } else if let Some(i) =
        uri.find(':').filter(|i| uri[..*i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) && *i > 0)
    {
        &uri[i + 1..]
    } else {
        uri
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let class = path.replace('/', "::");
    if class.is_empty() {
        "main".into()
    } else {
        class
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// What SOAP::Lite's deserializer makes of an argument element.
fn decode(el: &Element) -> Val {
    let attr = |name: &str| el.attrs.iter().find(|(k, _)| xml::local_name(k) == name).map(|(_, v)| v.as_str());
    if matches!(attr("nil").or(attr("null")), Some("true") | Some("1")) {
        return Val::Undef;
    }
    if attr("href").is_some() {
        return Val::Undef;
    }
    let ty = attr("type").map(xml::local_name).unwrap_or("");
    let array = ty == "Array" || attr("arrayType").is_some();
    if el.children.is_empty() {
        if array {
            return Val::Array(Vec::new());
        }
        return match ty {
            "base64Binary" | "base64" => match base64_decode(&el.text) {
                Some(b) => Val::Str(String::from_utf8_lossy(&b).into_owned()),
                None => Val::Str(el.text.clone()),
            },
            "boolean" => Val::Str(if el.text == "true" || el.text == "1" { "1" } else { "0" }.into()),
            _ => Val::Str(el.text.clone()),
        };
    }
    if array {
        return Val::Array(el.children.iter().map(decode).collect());
    }
    let mut h = Hash::new();
    for c in &el.children {
        h.insert(c.local().to_string(), decode(c));
    }
    Val::Hash(h)
}

/// Perl's string value of an argument (`$User ||= ''` and friends).
fn text(v: Option<&Val>) -> String {
    match v {
        Some(Val::Str(s)) => s.clone(),
        Some(Val::Hash(_)) => "HASH(0x55d0c0ffee00)".into(),
        Some(Val::Array(_)) => "ARRAY(0x55d0c0ffee00)".into(),
        _ => String::new(),
    }
}

/// `%Param` from the arguments after the method: pairs, later keys win.
fn params(args: &[Val]) -> Hash {
    let mut h = Hash::new();
    for pair in args.chunks(2) {
        let k = text(pair.first());
        h.insert(k, pair.get(1).cloned().unwrap_or(Val::Undef));
    }
    h
}

/// The request as rpc.pl answers it.
pub fn process(shared: &Shared, req: &Request, error_mode: bool) -> RpcReply {
    if req.method != "POST" {
        return RpcReply { status: 405, xml: false, body: Vec::new() };
    }
    if req.length == 0 || req.body.is_empty() {
        return RpcReply { status: 411, xml: false, body: Vec::new() };
    }
    let ct = req.header("Content-Type").unwrap_or("").split(';').next().unwrap_or("").trim().to_lowercase();
    if !ct.is_empty()
        && ct != "text/xml"
        && ct != "application/soap+xml"
        && ct != "application/dime"
        && !ct.starts_with("multipart/")
    {
        return fault_reply(
            "Client",
            &format!(
                "Content-Type must be 'text/xml,' 'multipart/*,' 'application/soap+xml,' 'or 'application/dime' instead of '{}'",
                ct
            ),
        );
    }
    let root = match xml::parse_xml(&req.body) {
        Ok(r) => r,
        Err(e) => {
            return fault_reply(
                "Client",
                &format!(
                    "Application failed during request deserialization: \n{} at line {}, column {}, byte {} at {} line 187.\n",
                    e.msg, e.line, e.col, e.byte, XML_PARSER_PM
                ),
            )
        }
    };
    if root.local() != "Envelope" {
        return fault_reply("Client", &perl_die("Can't find root element in the message", SOAP_LITE_PM, LINE_NO_ENVELOPE));
    }
    let Some(body) = root.children.iter().find(|c| c.local() == "Body") else {
        return fault_reply("Client", &perl_die("Can't find method element in the message", SOAP_LITE_PM, LINE_NO_METHOD));
    };
    let Some(method) = body.children.first() else {
        return fault_reply("Client", &perl_die("Can't find method element in the message", SOAP_LITE_PM, LINE_NO_METHOD));
    };
    let method_name = method.local().to_string();
    let method_uri = namespace_of(method, &[&root, body]);

    // on_action: SOAPAction, if present and not "", must be uri#method
    let action = req.header("SOAPAction").unwrap_or("");
    let action = match action.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        Some(inner) if action.len() >= 2 => inner,
        _ => action,
    };
    let expected = format!("{}#{}", method_uri, method_name);
    if xml::perl_true(action)
        && action != expected
        && action != format!("{}/{}", method_uri, method_name)
        && (!method_uri.ends_with('/') || action != format!("{}{}", method_uri, method_name))
    {
        return fault_reply(
            "Client",
            &format!("SOAPAction shall match 'uri#method' if present (got '{}', expected '{}'\n", action, expected),
        );
    }
    if !is_word(&method_name) {
        return fault_reply("Client", &format!("Denied access to method ({})\n", method_name));
    }
    let class = class_of(&method_uri);
    if class != "Core" {
        let valid = class.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_')
            && class.chars().all(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let msg = if !valid {
            perl_die(&format!("Failed to access class ({})", class), SOAP_LITE_PM, LINE_CLASS)
        } else if class == "main" || class.starts_with("Kernel::") || class.starts_with("SOAP::") {
            // loaded already (or main): not dispatched to
            perl_die(&format!("Denied access to method ({}) in class ({})", method_name, class), SOAP_LITE_PM, LINE_DENIED)
        } else {
            format!(
                "Failed to access class ({}): Can't locate {}.pm in @INC (you may need to install the {} module) \
                 (@INC contains: {home}/bin/cgi-bin/../.. {home}/bin/cgi-bin/../../Kernel/cpan-lib \
                 {home}/bin/cgi-bin/../../Custom /etc/perl /usr/share/perl5) at (eval 98) line 1.\n",
                class,
                class.replace("::", "/"),
                class,
                home = HOME
            )
        };
        return fault_reply("Client", &msg);
    }
    let args: Vec<Val> = method.children.iter().map(decode).collect();
    let now_ms = shared.now_ms();
    let ctx =
        Ctx { shared, now: now_ms.div_euclid(1000), now_ms, soapaction: req.header("SOAPAction").unwrap_or(""), error_mode };
    let result = match method_name.as_str() {
        "Dispatch" => dispatch(&ctx, &args),
        "DispatchMultipleTicketMethods" => dispatch_multiple(&ctx, &args),
        // Core->new returns its first argument, the class name
        "new" => Ok(vec![sc("Core")]),
        _ => Err(Fail::Client(perl_die(
            &format!("Failed to locate method ({}) in class (Core)", method_name),
            SOAP_LITE_PM,
            LINE_LOCATE,
        ))),
    };
    match result {
        Ok(values) => {
            let multirefs = values.iter().any(|v| matches!(v, Out::Href(_))).then_some(crate::rpc_config::MULTIREFS);
            RpcReply { status: 200, xml: true, body: response(shared, &method_name, &values, multirefs).into_bytes() }
        }
        Err(Fail::Client(m)) => fault_reply("Client", &m),
        Err(Fail::Server(m)) => fault_reply("Server", &m),
    }
}

enum Fail {
    Client(String),
    Server(String),
}

struct Ctx<'a> {
    shared: &'a Shared,
    now: i64,
    now_ms: i64,
    soapaction: &'a str,
    error_mode: bool,
}

/// rpc.pl's checks common to both entry points: None to go on, Some(reply)
/// to return it.
fn common_checks(ctx: &Ctx, user: &str, pw: &str, object: &str) -> Option<Vec<Out>> {
    let cfg = &ctx.shared.cfg;
    if cfg.rpc_user.is_empty() || cfg.rpc_password.is_empty() {
        eprintln!("rpc.pl: SOAP::User or SOAP::Password is empty, SOAP access denied!");
        return Some(vec![]);
    }
    if user != cfg.rpc_user || pw != cfg.rpc_password {
        eprintln!("rpc.pl: Auth for user {} failed!", user);
        return Some(vec![]);
    }
    if package(object).is_none() {
        return Some(vec![sc(format!("No such Object {}!", object))]);
    }
    None
}

fn package(object: &str) -> Option<&'static str> {
    OBJECTS.iter().find(|(o, _)| *o == object).map(|(_, p)| *p)
}

fn dispatch(ctx: &Ctx, args: &[Val]) -> Result<Vec<Out>, Fail> {
    let user = text(args.first());
    let pw = text(args.get(1));
    let object = text(args.get(2));
    if let Some(r) = common_checks(ctx, &user, &pw, &object) {
        return Ok(r);
    }
    let method = text(args.get(3));
    let p = params(args.get(4..).unwrap_or(&[]));
    call(ctx, &object, &method, &p, LINE_DISPATCH)
}

fn dispatch_multiple(ctx: &Ctx, args: &[Val]) -> Result<Vec<Out>, Fail> {
    let user = text(args.first());
    let pw = text(args.get(1));
    let object = text(args.get(2));
    if let Some(r) = common_checks(ctx, &user, &pw, &object) {
        return Ok(r);
    }
    let rpc_pl = format!("{}/bin/cgi-bin/rpc.pl", HOME);
    let list = match args.get(3) {
        Some(Val::Array(l)) => l.clone(),
        None | Some(Val::Undef) => {
            return Err(Fail::Server(perl_die("Can't use an undefined value as an ARRAY reference", &rpc_pl, LINE_MULTI_LIST)))
        }
        Some(_) => return Err(Fail::Server(perl_die("Not an ARRAY reference", &rpc_pl, LINE_MULTI_LIST))),
    };
    let mut ticket_id: Option<String> = None;
    for (i, entry) in list.iter().enumerate() {
        let entry = match entry {
            Val::Hash(h) => h,
            Val::Str(s) => {
                return Err(Fail::Server(perl_die(
                    &format!(
                        "Can't use string (\"{}\") as a HASH ref while \"strict refs\" in use",
                        s.chars().take(32).collect::<String>()
                    ),
                    &rpc_pl,
                    LINE_MULTI_ENTRY,
                )))
            }
            _ => {
                return Err(Fail::Server(perl_die("Can't use an undefined value as a HASH reference", &rpc_pl, LINE_MULTI_ENTRY)))
            }
        };
        let method = text(entry.get("Method"));
        let mut p = match entry.get("Parameter") {
            Some(Val::Hash(h)) => h.clone(),
            None | Some(Val::Undef) => {
                return Err(Fail::Server(perl_die("Can't use an undefined value as a HASH reference", &rpc_pl, LINE_MULTI_PARAM)))
            }
            Some(Val::Str(s)) if s.is_empty() => Hash::new(),
            Some(other) => {
                return Err(Fail::Server(perl_die(
                    &format!("Can't use string (\"{}\") as a HASH ref while \"strict refs\" in use", text(Some(other))),
                    &rpc_pl,
                    LINE_MULTI_PARAM,
                )))
            }
        };
        if !xml::val_true(p.get("TicketID")) {
            if let Some(id) = &ticket_id {
                p.insert("TicketID".into(), Val::Str(id.clone()));
            }
        }
        let ret = call(ctx, &object, &method, &p, LINE_MULTI_CALL)?;
        if i == 0 && object == "TicketObject" && method == "TicketCreate" {
            ticket_id = match ret.last() {
                Some(Out::Scalar(s)) => Some(s.clone()),
                _ => None,
            };
        }
    }
    Ok(match ticket_id {
        Some(id) => vec![sc(id)],
        None => vec![Out::Nil],
    })
}

/// `$CommonObject{$Object}->$Method(%Param)`.
fn call(ctx: &Ctx, object: &str, method: &str, p: &Hash, line: u32) -> Result<Vec<Out>, Fail> {
    let v5 = ctx.shared.cfg.otrs_version <= 5;
    let r = match (object, method) {
        ("TicketObject", "TicketCreateNumber") => ticket_create_number(ctx),
        ("TicketObject", "TicketCreate") => ticket_create(ctx, p),
        ("TicketObject", "TicketGet") => ticket_get(ctx, p),
        ("TicketObject", "TicketIDLookup") => ticket_id_lookup(ctx, p),
        ("TicketObject", "TicketSearch") => ticket_search(ctx, p),
        ("TicketObject", "TicketNumberLookup") => ticket_number_lookup(ctx, p),
        ("TicketObject", "ArticleCreate") if v5 => article_create(ctx, p),
        ("CustomerUserObject", "CustomerUserDataGet") => customer_user_data_get(ctx, p),
        _ => {
            return Err(Fail::Server(perl_die(
                &format!("Can't locate object method \"{}\" via package \"{}\"", method, package(object).unwrap_or("main")),
                &format!("{}/bin/cgi-bin/rpc.pl", HOME),
                line,
            )))
        }
    };
    Ok(r)
}

// ---------------------------------------------------------------------------
// The Perl API (Kernel::System::Ticket, ::CustomerUser)
// ---------------------------------------------------------------------------

fn sv(p: &Hash, k: &str) -> Option<String> {
    p.get(k).and_then(Val::as_str).map(str::to_string)
}

fn tv(p: &Hash, k: &str) -> bool {
    xml::val_true(p.get(k))
}

/// A truthy string parameter.
fn ts(p: &Hash, k: &str) -> Option<String> {
    sv(p, k).filter(|s| xml::perl_true(s))
}

/// Perl's numeric value of a string (leading number, else 0).
fn num(s: &str) -> u64 {
    let t = s.trim_start();
    let d: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    d.parse().unwrap_or(0)
}

fn user_login(ctx: &Ctx, id: u32) -> String {
    if id == 1 {
        "root@localhost".into()
    } else {
        ctx.shared.cfg.user.clone()
    }
}

fn ticket_create_number(ctx: &Ctx) -> Vec<Out> {
    let tn = lock(&ctx.shared.store).next_ticket_number(ctx.now);
    vec![sc(tn)]
}

/// Kernel::System::Ticket::TicketCreate: lookups, then the insert. Any
/// failure logs and returns undef (an empty reply here).
fn ticket_create(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let fail = |why: String| {
        eprintln!("rpc.pl TicketCreate: {}", why);
        Vec::new()
    };
    if ctx.error_mode {
        return fail(format!("No QueueID for '{}'!", text(p.get("Queue"))));
    }
    for needed in ["OwnerID", "UserID"] {
        if !tv(p, needed) {
            return fail(format!("Need {}!", needed));
        }
    }
    let by_id =
        |table: &[(&str, u32)], id: &str| table.iter().find(|(_, i)| u64::from(*i) == num(id)).map(|(n, i)| (n.to_string(), *i));
    let by_name = |table: &[(&str, u32)], n: &str| table.iter().find(|(x, _)| *x == n).map(|(n, i)| (n.to_string(), *i));
    // type: the default ticket type when none is given
    let type_name = match (ts(p, "TypeID"), ts(p, "Type")) {
        (Some(id), _) => by_id(store::TYPES, &id),
        (None, Some(n)) => by_name(store::TYPES, &n),
        (None, None) => Some(("Unclassified".to_string(), 1)),
    };
    let Some((type_name, _)) = type_name else { return fail(format!("No TypeID for '{}'!", text(p.get("Type")))) };
    let queue = match (ts(p, "QueueID"), ts(p, "Queue")) {
        (Some(id), _) => ctx.shared.cfg.queues.iter().find(|(_, i)| u64::from(*i) == num(&id)).cloned(),
        (None, Some(n)) => ctx.shared.cfg.queues.iter().find(|(x, _)| *x == n).cloned(),
        _ => None,
    };
    let Some((queue, queue_id)) = queue else { return fail(format!("No QueueID for '{}'!", text(p.get("Queue")))) };
    let state = match ts(p, "StateID") {
        Some(id) => store::STATES.iter().find(|(_, i, _)| u64::from(*i) == num(&id)).map(|(n, _, _)| n.to_string()),
        None => sv(p, "State").and_then(|n| store::state(&n).map(|_| n)),
    };
    let Some(state) = state else { return fail(format!("No StateID for '{}'!", text(p.get("State")))) };
    let lock_name = match (ts(p, "LockID"), ts(p, "Lock")) {
        (Some(id), _) => by_id(LOCKS, &id),
        (None, Some(n)) => by_name(LOCKS, &n),
        (None, None) => Some(("unlock".to_string(), 1)),
    };
    let Some((lock_name, _)) = lock_name else { return fail(format!("No LockID for '{}'!", text(p.get("Lock")))) };
    let priority = match (ts(p, "PriorityID"), ts(p, "Priority")) {
        (Some(id), _) => by_id(store::PRIORITIES, &id),
        (None, Some(n)) => by_name(store::PRIORITIES, &n),
        _ => None,
    };
    let Some((priority, _)) = priority else { return fail("No PriorityID (invalid Priority Name?)!".into()) };
    let owner = num(&text(p.get("OwnerID"))) as u32;
    let responsible = ts(p, "ResponsibleID").map(|r| num(&r) as u32).unwrap_or(1);
    let create_by = num(&text(p.get("UserID"))) as u32;
    // foreign keys of the ticket table
    if !USER_IDS.contains(&owner) || !USER_IDS.contains(&responsible) || !USER_IDS.contains(&create_by) {
        return fail("DB error: a foreign key constraint fails (users)".into());
    }
    let title: String = sv(p, "Title").unwrap_or_default().chars().take(255).collect();
    let customer_id = ts(p, "CustomerNo").or_else(|| ts(p, "CustomerID")).unwrap_or_default();
    let customer_user = ts(p, "CustomerUser").unwrap_or_default();
    let now = ctx.now;

    let mut st = lock(&ctx.shared.store);
    let tn = match ts(p, "TN") {
        Some(tn) => {
            if st.tickets.iter().any(|t| t.tn == tn) {
                drop(st);
                return fail(format!("DB error: Duplicate entry '{}' for key 'ticket_tn'", tn));
            }
            tn
        }
        None => st.next_ticket_number(now),
    };
    let id = st.next_ticket_id;
    st.next_ticket_id += 1;
    let mut ticket = Ticket {
        id,
        tn: tn.clone(),
        title,
        queue: queue.clone(),
        queue_id,
        state: state.clone(),
        priority: priority.clone(),
        type_name,
        customer_user: customer_user.clone(),
        customer_id: customer_id.clone(),
        owner_id: owner,
        created: now,
        changed: now,
        unlock_timeout: 0,
        until_time: 0,
        articles: Vec::new(),
        history: Vec::new(),
        lock: lock_name,
        responsible_id: responsible,
        time_unit_total: 0.0,
        dynamic_fields: Vec::new(),
    };
    ticket.add_history(now, 0, "NewTicket", format!("%%{}%%{}%%{}%%{}%%{}", tn, queue, priority, state, id));
    if !customer_id.is_empty() || !customer_user.is_empty() {
        ticket.add_history(now, 0, "CustomerUpdate", format!("%%CustomerID={};CustomerUser={};", customer_id, customer_user));
    }
    let meta = RpcMeta { received_at_ms: ctx.now_ms, soapaction: ctx.soapaction.to_string(), create_by };
    let line = ticket_line(&ticket, None, &meta);
    st.lines.push(line.clone());
    st.rpc_meta.insert(id, meta);
    st.tickets.push(ticket);
    drop(st);
    ctx.shared.record(&line);
    vec![sc(id)]
}

/// TicketGet's hash as a list, in the Perl hash order of sample 06.
fn ticket_get(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let Some(id) = ts(p, "TicketID") else { return Vec::new() };
    let st = lock(&ctx.shared.store);
    let Some(t) = st.ticket(num(&id)) else { return Vec::new() };
    let by = st.rpc_meta.get(&t.id).map(|m| m.create_by).unwrap_or(crate::ops::AGENT_USER_ID);
    let pending = t.state_type().starts_with("pending") && t.until_time > 0;
    let fields: Vec<(&str, Out)> = vec![
        ("EscalationSolutionTime", sc(0)),
        ("Responsible", sc(user_login(ctx, t.responsible_id))),
        ("UnlockTimeout", sc(t.unlock_timeout)),
        ("Created", sc(store::timestamp(t.created))),
        ("ResponsibleID", sc(t.responsible_id)),
        ("SLAID", sc("")),
        ("ChangeBy", sc(by)),
        ("EscalationUpdateTime", sc(0)),
        ("GroupID", sc(1)),
        ("State", sc(&t.state)),
        ("StateID", sc(t.state_id())),
        ("Age", sc(ctx.now - t.created)),
        ("ArchiveFlag", sc("n")),
        ("Queue", sc(&t.queue)),
        ("QueueID", sc(t.queue_id)),
        ("Changed", sc(store::timestamp(t.changed))),
        ("OwnerID", sc(t.owner_id)),
        ("Title", sc(&t.title)),
        ("TypeID", sc(t.type_id())),
        ("Lock", sc(&t.lock)),
        ("TicketID", sc(t.id)),
        ("Owner", sc(user_login(ctx, t.owner_id))),
        ("EscalationTime", sc(0)),
        ("CustomerID", sc(&t.customer_id)),
        ("CreateBy", sc(by)),
        ("RealTillTimeNotUsed", sc(if pending { t.until_time } else { 0 })),
        ("Priority", sc(&t.priority)),
        ("StateType", sc(t.state_type())),
        ("TicketNumber", sc(&t.tn)),
        ("Type", sc(&t.type_name)),
        ("PriorityID", sc(t.priority_id())),
        ("LockID", sc(LOCKS.iter().find(|(n, _)| *n == t.lock).map(|(_, i)| *i).unwrap_or(1))),
        ("ServiceID", sc("")),
        ("EscalationResponseTime", sc(0)),
        ("CustomerUserID", sc(&t.customer_user)),
        ("UntilTime", sc(if pending { (t.until_time - ctx.now).max(0) } else { 0 })),
    ];
    fields.into_iter().flat_map(|(k, v)| [sc(k), v]).collect()
}

fn ticket_id_lookup(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let Some(tn) = ts(p, "TicketNumber") else { return Vec::new() };
    let st = lock(&ctx.shared.store);
    st.tickets.iter().find(|t| t.tn == tn).map(|t| vec![sc(t.id)]).unwrap_or_default()
}

/// Kernel::System::Ticket::TicketSearch as rpc.pl calls it (every param
/// passed on as is), for the criteria the module sends: Title (a
/// QueryCondition, `*` a wildcard), CustomerUserLogin (pattern) or
/// CustomerUserLoginRaw (as is, case ignored by MariaDB), Result ARRAY:
/// the TicketIDs, newest first (SortBy Age, OrderBy Down by default).
fn ticket_search(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let cond = |k: &str| ts(p, k).filter(|v| !v.is_empty()).map(|v| store::QueryCondition::new(&v.replace('*', "%"), "", ""));
    let (title, login) = (cond("Title"), cond("CustomerUserLogin"));
    let raw = ts(p, "CustomerUserLoginRaw").map(|v| v.to_lowercase());
    let st = lock(&ctx.shared.store);
    st.tickets
        .iter()
        .rev()
        .filter(|t| title.as_ref().is_none_or(|c| c.matches(&t.title)))
        .filter(|t| match &raw {
            Some(r) => t.customer_user.to_lowercase() == *r,
            None => login.as_ref().is_none_or(|c| c.matches(&t.customer_user)),
        })
        .map(|t| sc(t.id))
        .collect()
}

fn ticket_number_lookup(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let Some(id) = ts(p, "TicketID") else { return Vec::new() };
    let st = lock(&ctx.shared.store);
    st.ticket(num(&id)).map(|t| vec![sc(&t.tn)]).unwrap_or_default()
}

/// OTRS 5's Kernel::System::Ticket::Article::ArticleCreate.
fn article_create(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let fail = |why: &str| {
        eprintln!("rpc.pl ArticleCreate: {}", why);
        Vec::new()
    };
    let article_type = match (ts(p, "ArticleTypeID"), ts(p, "ArticleType")) {
        (Some(id), _) => ARTICLE_TYPES.get((num(&id) as usize).wrapping_sub(1)).map(|s| s.to_string()),
        (None, Some(n)) => ARTICLE_TYPES.iter().find(|x| **x == n).map(|s| s.to_string()),
        _ => None,
    };
    let sender = match (ts(p, "SenderTypeID"), ts(p, "SenderType")) {
        (Some(id), _) => store::SENDER_TYPES.iter().find(|(_, i)| u64::from(*i) == num(&id)).map(|(n, _)| n.to_string()),
        (None, Some(n)) => store::SENDER_TYPES.iter().find(|(x, _)| *x == n).map(|(n, _)| n.to_string()),
        _ => None,
    };
    if !tv(p, "TicketID") || !tv(p, "UserID") {
        return fail(if !tv(p, "TicketID") { "Need TicketID!" } else { "Need UserID!" });
    }
    let Some(article_type) = article_type else { return fail("Need ArticleTypeID!") };
    let Some(sender) = sender else { return fail("Need SenderTypeID!") };
    for needed in ["HistoryType", "HistoryComment"] {
        if !tv(p, needed) {
            return fail(&format!("Need {}!", needed));
        }
    }
    let (content_type, charset, mime_type) = match ts(p, "ContentType") {
        Some(ct) => {
            let mut cs = String::new();
            if let Some(i) = ct.to_lowercase().find("charset=") {
                cs = ct[i + 8..].replace(['"', '\''], "");
                if let Some(j) = cs.find(';') {
                    cs.truncate(j);
                }
            }
            let mime: String = {
                let a: String = ct.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let rest = &ct[a.len()..];
                match rest.strip_prefix('/') {
                    Some(r) if !a.is_empty() => {
                        let b: String = r.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if b.is_empty() {
                            String::new()
                        } else {
                            format!("{}/{}", a, b)
                        }
                    }
                    _ => String::new(),
                }
            };
            (ct, cs.trim().to_string(), mime)
        }
        None => match (ts(p, "Charset"), ts(p, "MimeType")) {
            (Some(cs), Some(m)) => (format!("{}; charset={}", m, cs), cs, m),
            (None, _) => return fail("Need Charset!"),
            (_, None) => return fail("Need MimeType!"),
        },
    };
    let ticket_id = num(&text(p.get("TicketID")));
    let strip = |k: &str| sv(p, k).unwrap_or_default().replace(['\n', '\r'], "");
    let mut body = sv(p, "Body").unwrap_or_default();
    if body.is_empty() {
        body = "No body".into();
    } else {
        body = body.replace("\n\r", "\n").replace("\r\r\n", "\n").replace("\r\n", "\n");
    }
    let channel = match article_type.as_str() {
        t if t.starts_with("email") => "Email",
        "phone" | "fax" | "sms" => "Phone",
        t if t.starts_with("chat") => "Chat",
        _ => "Internal",
    };
    let now = ctx.now;
    let mut st = lock(&ctx.shared.store);
    if st.ticket(ticket_id).is_none() {
        drop(st);
        return fail("DB error: a foreign key constraint fails (ticket)");
    }
    let article_id = st.next_article_id;
    st.next_article_id += 1;
    let a = Article {
        id: article_id,
        ticket_id,
        from: strip("From"),
        to: strip("To"),
        subject: strip("Subject"),
        body,
        content_type,
        charset,
        mime_type,
        channel: channel.to_string(),
        sender_type: sender,
        visible: !article_type.ends_with("-internal") && !article_type.ends_with("-int") && article_type != "note-report",
        created: now,
        time_unit: String::new(),
        attachments: Vec::new(),
    };
    let history_type = sv(p, "HistoryType").unwrap_or_default();
    let history_comment = sv(p, "HistoryComment").unwrap_or_default();
    let meta = st.rpc_meta.get(&ticket_id).cloned();
    let Some(ticket) = st.ticket_mut(ticket_id) else { return Vec::new() };
    ticket.add_article(a.clone(), now, &history_type, &history_comment);
    let ticket = ticket.clone();
    // the first article completes an rpc ticket's line, as the
    // GenericInterface's TicketCreate has it; later ones get their own line
    let prefix = format!("ticket_id={}\t", ticket_id);
    let first = ticket.articles.len() == 1;
    let at = st.lines.iter().position(|l| l.starts_with(&prefix));
    match (first, meta, at) {
        (true, Some(meta), Some(i)) => st.lines[i] = ticket_line(&ticket, Some(&a), &meta),
        _ => {
            let line = article_line(&ticket, &a, ctx);
            st.lines.push(line);
        }
    }
    vec![sc(article_id)]
}

/// CustomerUserObject->CustomerUserDataGet: the company's hash, then the
/// user's, as one list (sample 08's Perl hash order).
fn customer_user_data_get(ctx: &Ctx, p: &Hash) -> Vec<Out> {
    let Some(login) = ts(p, "User") else { return Vec::new() };
    let c = match ctx.shared.customers.details(&login) {
        Ok(Some(c)) => c,
        Ok(None) => return Vec::new(),
        Err(e) => {
            eprintln!("rpc.pl CustomerUserDataGet: {}", e);
            return Vec::new();
        }
    };
    customer_values(&c, ctx.now)
}

/// The list of CustomerUserDataGet for a customer (pure, for the tests).
pub fn customer_values(c: &Customer, now: i64) -> Vec<Out> {
    let x = &c.extra;
    let stamp = |s: &str| if s.is_empty() { store::timestamp(now) } else { s.to_string() };
    let company = x.company.clone().unwrap_or_else(|| Company {
        customer_id: c.customer_id.clone(),
        name: c.customer_id.clone(),
        valid_id: 1,
        create_by: 1,
        change_by: 1,
        ..Company::default()
    });
    let opt = |v: &Option<String>| v.as_ref().map(sc).unwrap_or(Out::Nil);
    let full_name =
        [x.title.as_str(), &c.first_name, &c.last_name].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    let by = |n: i64| if n == 0 { 1 } else { n };
    let mut v: Vec<(&str, Out)> = vec![
        ("Source", sc("CustomerCompany")),
        ("CustomerCompanyComment", opt(&company.comments)),
        ("CustomerCompanyZIP", opt(&company.zip)),
        ("CustomerCompanyCountry", opt(&company.country)),
        ("CustomerCompanyStreet", opt(&company.street)),
        ("CustomerCompanyName", sc(&company.name)),
        ("ValidID", sc(company.valid_id)),
        ("CreateTime", sc(stamp(&company.create_time))),
        ("CreateBy", sc(by(company.create_by))),
        ("CustomerID", sc(&company.customer_id)),
        ("CustomerCompanyValidID", sc(company.valid_id)),
        ("ChangeBy", sc(by(company.change_by))),
        ("ChangeTime", sc(stamp(&company.change_time))),
        ("CustomerCompanyURL", opt(&company.url)),
        ("CustomerCompanyCity", opt(&company.city)),
        ("Config", Out::Href(crate::rpc_config::COMPANY_CONFIG_REF)),
        ("UserShowTickets", sc(25)),
        ("UserLastViewsLimit", sc(5)),
        ("UserStreet", sc(&x.street)),
        ("UserTitle", sc(&x.title)),
        ("UserZip", sc(&x.zip)),
        ("ValidID", sc(c.valid_id)),
        ("UserLastname", sc(&c.last_name)),
        ("UserFullname", sc(&full_name)),
        ("UserEmail", sc(&c.email)),
        ("UserFax", sc(&x.fax)),
        ("UserPassword", sc(&x.pw)),
        ("CreateTime", sc(stamp(&x.create_time))),
        ("CreateBy", sc(by(x.create_by))),
        ("UserRefreshTime", sc(0)),
        ("UserCustomerID", sc(&c.customer_id)),
        ("UserCity", sc(&x.city)),
        ("UserMailString", sc(format!("\"{}\" <{}>", full_name, c.email))),
        ("UserMobile", sc(&x.mobile)),
        ("UserLogin", sc(&c.login)),
        ("UserID", sc(&c.login)),
        ("UserPhone", sc(&x.phone)),
    ];
    if let Some(t) = x.last_pw_change {
        v.push(("UserLastPwChangeTime", sc(t)));
    }
    v.push(("UserFirstname", sc(&c.first_name)));
    if let Some(n) = x.login_failed {
        v.push(("UserLoginFailed", sc(n)));
    }
    v.extend([
        ("ChangeTime", sc(stamp(&x.change_time))),
        ("ChangeBy", sc(by(x.change_by))),
        ("UserCountry", sc(&x.country)),
        ("UserComment", sc(&x.comments)),
        ("Source", sc("CustomerUser")),
        ("Config", Out::Inner(crate::rpc_config::USER_CONFIG)),
        ("CompanyConfig", Out::Href(crate::rpc_config::COMPANY_CONFIG_REF)),
    ]);
    v.into_iter().flat_map(|(k, val)| [sc(k), val]).collect()
}

// ---------------------------------------------------------------------------
// /control/tickets lines
// ---------------------------------------------------------------------------

/// The ticket line of an rpc ticket: the GenericInterface keys (article
/// fields empty until OTRS 5's ArticleCreate fills them), `auth=rpc`,
/// `api=rpc`.
fn ticket_line(t: &Ticket, a: Option<&Article>, meta: &RpcMeta) -> String {
    let af = |f: fn(&Article) -> String| a.map(f).unwrap_or_default();
    store::control_line(
        None,
        &[
            ("ticket_id", t.id.to_string()),
            ("ticket_number", t.tn.clone()),
            ("article_id", af(|a| a.id.to_string())),
            ("title", t.title.clone()),
            ("queue", t.queue.clone()),
            ("state", t.state.clone()),
            ("priority", t.priority.clone()),
            ("type", t.type_name.clone()),
            ("customer_user", t.customer_user.clone()),
            ("customer_id", t.customer_id.clone()),
            ("communication_channel", af(|a| a.channel.clone())),
            ("sender_type", af(|a| a.sender_type.clone())),
            ("is_visible_for_customer", af(|a| if a.visible { "1" } else { "0" }.to_string())),
            ("subject", af(|a| a.subject.clone())),
            ("body", af(|a| a.body.clone())),
            ("content_type", af(|a| a.content_type.clone())),
            ("from", af(|a| a.from.clone())),
            ("auth", "rpc".to_string()),
            ("soapaction", meta.soapaction.clone()),
            ("received_at", meta.received_at_ms.to_string()),
            ("api", "rpc".to_string()),
        ],
    )
}

fn article_line(t: &Ticket, a: &Article, ctx: &Ctx) -> String {
    crate::ops::control_article_line(t, a, "rpc", "rpc", ctx.soapaction, ctx.now_ms)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn autotyping_as_soap_lite() {
        let t = |v: &str| autotype(v).0;
        assert_eq!(t("40"), "xsd:int");
        assert_eq!(t("-2147483648"), "xsd:int");
        assert_eq!(t("2147483648"), "xsd:long");
        assert_eq!(t("2026112610000408"), "xsd:long");
        assert_eq!(t("89161229624"), "xsd:long");
        assert_eq!(t("99999999999999999999"), "xsd:float");
        assert_eq!(t("0123"), "xsd:string");
        assert_eq!(t("0"), "xsd:int");
        assert_eq!(t("1.5"), "xsd:float");
        assert_eq!(t("1e5"), "xsd:float");
        assert_eq!(t(".5"), "xsd:float");
        assert_eq!(t("NaN"), "xsd:float");
        assert_eq!(t("."), "xsd:string");
        assert_eq!(t("2026-11-26"), "xsd:date");
        assert_eq!(t("2026-11-26 08:29:02"), "xsd:string");
        assert_eq!(t("2026-11-26T08:29:02Z"), "xsd:dateTime");
        assert_eq!(t("08:29:02.123+03:00"), "xsd:time");
        assert_eq!(t("2026-11"), "xsd:gYearMonth");
        assert_eq!(t("P1Y2M"), "xsd:duration");
        assert_eq!(t("P"), "xsd:string");
        assert_eq!(t("PT"), "xsd:string");
        assert_eq!(t("True"), "xsd:boolean");
        assert_eq!(autotype("FALSE").1, "true");
        assert_eq!(t("http://x"), "xsd:anyURI");
        assert_eq!(t("ivanov"), "xsd:string");
        assert_eq!(t("+7 (916) 122-96-24"), "xsd:string");
        assert_eq!(autotype("Тест"), ("xsd:base64Binary", "0KLQtdGB0YI=".to_string()));
        assert_eq!(autotype("a\u{1}b").0, "xsd:base64Binary");
        assert_eq!(autotype("\"a\" <b> & c\r"), ("xsd:string", "\"a\" &lt;b&gt; &amp; c&#xd;".to_string()));
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64_decode("0KLQtdGB0YI="), Some("Тест".as_bytes().to_vec()));
    }

    #[test]
    fn dates_and_classes() {
        assert_eq!(http_date(1795681742), "Thu, 26 Nov 2026 08:29:02 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(class_of("http://localhost/Core"), "Core");
        assert_eq!(class_of("http://otrs.example:80/Core/"), "Core");
        assert_eq!(class_of("urn:Core"), "Core");
        assert_eq!(class_of("http://localhost/My/Examples"), "My::Examples");
        assert_eq!(class_of(""), "main");
        assert_eq!(class_of("http://localhost"), "main");
        assert!(is_rpc_path("/otrs/rpc.pl") && is_rpc_path("/rpc.pl") && !is_rpc_path("/otrs/rpc.pl/x"));
    }
}
