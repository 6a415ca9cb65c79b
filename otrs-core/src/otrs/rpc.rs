//! Client for OTRS's legacy `rpc.pl` interface: SOAP::Lite RPC/encoded,
//! one method `Core::Dispatch(User, Password, Object, Method, %Params)`
//! that calls `$Object->$Method(%Params)` of OTRS's Perl API directly.
//!
//! This is what old installations and the AGI scripts this module replaces
//! use. It needs no web service configuration, only `SOAP::User` and
//! `SOAP::Password` in OTRS's SysConfig. Facts from the captured Znuny 6.5
//! samples (tests/fixtures/otrs/rpc) that shape this code:
//!
//! * wrong credentials are not an error: HTTP 200 with an empty (`xsi:nil`)
//!   `DispatchResponse` (sample 07). The first call of a ticket
//!   (`TicketCreateNumber`, which cannot return nothing otherwise) turns that
//!   into `rpc.AuthFail`;
//! * `TicketCreate` returns only the TicketID (sample 02), so the number is
//!   taken from `TicketCreateNumber` (sample 01) and passed as `TN` (else
//!   OTRS draws another one and the first is wasted);
//! * `ArticleCreate` through `TicketObject` exists up to OTRS 5 only; on
//!   OTRS 6+/Znuny it is a `soap:Server` fault "Can't locate object method"
//!   in an HTTP 500 (samples 03, 04). The ticket then stays without an
//!   article: [`RpcCreated::article_warning`] says so, and later tickets do
//!   not try again;
//! * `ArticleObject` is not exposed: "No such Object ArticleObject!" as a
//!   normal string result (sample 05).
//!
//! Request builders and reply parsers are pure functions; the client reuses
//! the deadline discipline of [`crate::otrs::generic_client`]: DNS, connect, write and
//! read are all bounded by the caller's deadline.

use super::error::SoapError;
use super::xml::{escape_styled, reply_element, EscapeStyle, Node};
use super::{NewTicket, TicketInfo, ARTICLE_CONTENT_TYPE};
use crate::text::one_line;

/// Namespace of the `Core` class; `rpc.pl` maps its path to the class name.
pub const NAMESPACE: &str = "http://localhost/Core";

/// `SOAPAction` header of every call (samples 01-08). SOAP::Lite also accepts
/// none at all, but this is what its own client sends.
pub const SOAP_ACTION: &str = "\"http://localhost/Core#Dispatch\"";

/// OTRS 5 article type of the ticket's article (customer-visible phone call).
pub const ARTICLE_TYPE: &str = "phone";

/// History entry of the article, as in sample 03.
pub const HISTORY_TYPE: &str = "PhoneCallCustomer";
pub const HISTORY_COMMENT: &str = "Inbound call";

/// `OwnerID` and `UserID` of everything created: 1 is OTRS's admin
/// (root@localhost), the only user id every installation has.
pub const SYSTEM_USER_ID: &str = "1";

/// Error codes of [`SoapError::Operation`] made by this module (rpc.pl
/// itself has none).
pub const CODE_AUTH_FAIL: &str = "rpc.AuthFail";
pub const CODE_TICKET_CREATE_FAILED: &str = "rpc.TicketCreateFailed";
pub const CODE_ARTICLE_CREATE_FAILED: &str = "rpc.ArticleCreateFailed";
pub const CODE_NO_RESULT: &str = "rpc.NoResult";
pub const CODE_NO_SUCH_OBJECT: &str = "rpc.NoSuchObject";

/// Longest ID or ticket number accepted from a reply.
const MAX_ID_CHARS: usize = 40;

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// One value of a `DispatchResponse`, in order. rpc.pl returns Perl lists:
/// a hash comes back as key, value, key, value...
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `xsi:nil="true"` (Perl undef).
    Nil,
    /// Text, base64 already decoded.
    Scalar(String),
    /// A struct, an array, or a reference (`href`) to one; not used here.
    Complex,
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

const ENVELOPE_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
soap:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>";
const ENVELOPE_CLOSE: &str = "</soap:Body></soap:Envelope>";

/// The `xsi:type` SOAP::Lite's autotyping gives a string: `xsd:int` for a
/// decimal integer that fits 32 bits, `xsd:long` for 64 bits, else
/// `xsd:string` (leading zeros stay strings, as SOAP::Lite's "zerostring"
/// rule has it). Unlike SOAP::Lite, non-ASCII text is sent as `xsd:string`
/// (UTF-8), not `xsd:base64Binary`, and "true"/"false"/URIs are not turned
/// into booleans/anyURI: the server's deserializer would change booleans.
pub fn xsd_type(value: &str) -> &'static str {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || value.starts_with('0') && value.len() > 1 {
        return "xsd:string";
    }
    match value.parse::<i64>() {
        Ok(n) if i32::try_from(n).is_ok() => "xsd:int",
        Ok(_) => "xsd:long",
        Err(_) => "xsd:string",
    }
}

/// Appends `value` escaped as SOAP::Lite's `encode_data` does.
fn escape_into(out: &mut String, value: &str) {
    escape_styled(out, value, EscapeStyle::SoapLite);
}

/// A `Dispatch` call with positional arguments, laid out byte for byte as
/// SOAP::Lite's client does (samples 01-08): each argument an element
/// `c-gensymN` (names are ignored by the server; SOAP::Lite numbers them
/// from a process-wide counter, the first at `first_gensym`, then every
/// second number). `params` are the `%Param` pairs of the OTRS method.
pub fn dispatch_request<K: AsRef<str>, V: AsRef<str>>(
    user: &str,
    password: &str,
    object: &str,
    method: &str,
    params: &[(K, V)],
    first_gensym: u64,
) -> String {
    let mut out = String::with_capacity(700 + params.len() * 120);
    out.push_str(ENVELOPE_OPEN);
    out.push_str("<Dispatch xmlns=\"");
    out.push_str(NAMESPACE);
    out.push_str("\">");
    let fixed = [user, password, object, method];
    let values = fixed.into_iter().chain(params.iter().flat_map(|(k, v)| [k.as_ref(), v.as_ref()]));
    let mut n = first_gensym;
    for value in values {
        let ty = xsd_type(value);
        out.push_str("<c-gensym");
        out.push_str(&n.to_string());
        out.push_str(" xsi:type=\"");
        out.push_str(ty);
        out.push('"');
        if value.is_empty() {
            out.push_str(" />");
        } else {
            out.push('>');
            escape_into(&mut out, value);
            out.push_str("</c-gensym");
            out.push_str(&n.to_string());
            out.push('>');
        }
        n += 2;
    }
    out.push_str("</Dispatch>");
    out.push_str(ENVELOPE_CLOSE);
    out
}

/// `%Param` of `TicketObject->TicketCreate` (sample 02's order). `tn` is the
/// number from `TicketCreateNumber`; OTRS uses it verbatim. Without a
/// `customer_id` the ticket's CustomerID stays empty: unlike the
/// GenericInterface, the Perl API does not derive it from the customer user.
pub fn ticket_create_params(t: &NewTicket, customer_id: Option<&str>, tn: Option<&str>) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("Title", t.title.clone()),
        ("Queue", t.queue.clone()),
        ("Lock", "unlock".to_string()),
        ("Priority", t.priority.clone()),
        ("State", t.state.clone()),
    ];
    if let Some(ty) = t.ticket_type.as_ref().filter(|s| !s.is_empty()) {
        p.push(("Type", ty.clone()));
    }
    if let Some(cid) = customer_id.filter(|s| !s.is_empty()) {
        p.push(("CustomerID", cid.to_string()));
    }
    p.push(("CustomerUser", t.customer_user.clone()));
    p.push(("OwnerID", SYSTEM_USER_ID.to_string()));
    p.push(("UserID", SYSTEM_USER_ID.to_string()));
    if let Some(tn) = tn {
        p.push(("TN", tn.to_string()));
    }
    p
}

/// `%Param` of OTRS 5's `TicketObject->ArticleCreate` (sample 03): a
/// customer phone article. OTRS 6+ has no such method (see module docs).
pub fn article_create_params(ticket_id: &str, t: &NewTicket) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("TicketID", ticket_id.to_string()),
        ("ArticleType", ARTICLE_TYPE.to_string()),
        ("SenderType", "customer".to_string()),
    ];
    if let Some(from) = t.from.as_ref().filter(|s| !s.is_empty()) {
        p.push(("From", from.clone()));
    }
    p.extend([
        ("Subject", t.subject.clone()),
        ("Body", t.body.clone()),
        ("ContentType", ARTICLE_CONTENT_TYPE.to_string()),
        ("HistoryType", HISTORY_TYPE.to_string()),
        ("HistoryComment", HISTORY_COMMENT.to_string()),
        ("UserID", SYSTEM_USER_ID.to_string()),
    ]);
    p
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// The values of a `DispatchResponse`, or the error the reply stands for:
/// a `soap:Fault` (Znuny answers them with HTTP 500) is [`SoapError::Fault`]
/// with the code as sent (`soap:Server`); a non-200 without an envelope is
/// [`SoapError::Http`]; anything unreadable is [`SoapError::Malformed`].
/// An empty (`xsi:nil`) response is `Ok(vec![])`.
pub fn parse_dispatch_reply(status: u16, content_type: &str, body: &[u8]) -> Result<Vec<Item>, SoapError> {
    let reply = reply_element(status, content_type, body, "DispatchResponse", |_| None)?;
    Ok(reply.children.into_iter().map(item).collect())
}

fn item(node: Node) -> Item {
    if node.nil {
        return Item::Nil;
    }
    if node.href || !node.children.is_empty() {
        return Item::Complex;
    }
    let ty = node.xsi_type.as_deref().map(|t| t.rsplit(':').next().unwrap_or(t));
    match ty {
        Some("base64Binary" | "base64") => match base64_decode(&node.text) {
            Some(bytes) => Item::Scalar(String::from_utf8_lossy(&bytes).into_owned()),
            None => Item::Scalar(node.text),
        },
        Some("Array" | "Struct" | "Map") => Item::Complex,
        _ => Item::Scalar(node.text),
    }
}

/// Whether a fault is Perl's "Can't locate object method" for a method the
/// object does not have: `ArticleCreate` through `TicketObject` on OTRS 6+.
pub fn is_missing_method(e: &SoapError) -> bool {
    matches!(e, SoapError::Fault { message, .. } if message.contains("Can't locate object method"))
}

/// The one scalar a method returned, trimmed; `None` when it returned
/// nothing (or undef). "No such Object" (sample 05) is an operation error.
fn single(items: Vec<Item>, what: &str) -> Result<Option<String>, SoapError> {
    let mut iter = items.into_iter();
    let first = iter.next();
    if iter.next().is_some() {
        return Err(SoapError::Malformed(format!("{what} returned a list")));
    }
    match first {
        None | Some(Item::Nil) => Ok(None),
        Some(Item::Complex) => Err(SoapError::Malformed(format!("{what} returned a structure"))),
        Some(Item::Scalar(s)) if s.starts_with("No such Object ") => {
            Err(SoapError::Operation { code: CODE_NO_SUCH_OBJECT.into(), message: one_line(&s, 120) })
        }
        Some(Item::Scalar(s)) => Ok(Some(s.trim().to_string())),
    }
}

/// An ID or ticket number: digits only (both are numeric in OTRS).
fn numeric(value: String, what: &str) -> Result<String, SoapError> {
    if value.is_empty() || value.len() > MAX_ID_CHARS || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SoapError::Malformed(format!("{what} returned {:?}, not a number", one_line(&value, 40))));
    }
    Ok(value)
}

/// `TicketObject->TicketCreateNumber` reply (sample 01): the new ticket
/// number. Nothing at all can only mean refused credentials (sample 07).
pub fn parse_ticket_create_number(status: u16, content_type: &str, body: &[u8]) -> Result<String, SoapError> {
    let items = parse_dispatch_reply(status, content_type, body)?;
    match single(items, "TicketCreateNumber")? {
        Some(tn) => numeric(tn, "TicketCreateNumber"),
        None => Err(auth_fail()),
    }
}

/// `TicketObject->TicketCreate` reply (sample 02): the TicketID. Nothing
/// means OTRS refused (unknown queue, state, priority, type or lock, the
/// `TN` already used; its log says which) or the credentials went bad.
pub fn parse_ticket_create(status: u16, content_type: &str, body: &[u8]) -> Result<String, SoapError> {
    let items = parse_dispatch_reply(status, content_type, body)?;
    match single(items, "TicketCreate")? {
        Some(id) => numeric(id, "TicketCreate"),
        None => Err(SoapError::Operation {
            code: CODE_TICKET_CREATE_FAILED.into(),
            message: "TicketCreate returned nothing: queue, state, priority, type or TN refused, or SOAP credentials \
                      changed (see the OTRS log)"
                .into(),
        }),
    }
}

/// `TicketObject->ArticleCreate` reply (OTRS 5 and older): the ArticleID.
/// On OTRS 6+ the reply is the fault of samples 03/04 (see
/// [`is_missing_method`]).
pub fn parse_article_create(status: u16, content_type: &str, body: &[u8]) -> Result<String, SoapError> {
    let items = parse_dispatch_reply(status, content_type, body)?;
    match single(items, "ArticleCreate")? {
        Some(id) => numeric(id, "ArticleCreate"),
        None => Err(SoapError::Operation {
            code: CODE_ARTICLE_CREATE_FAILED.into(),
            message: "ArticleCreate returned nothing (see the OTRS log)".into(),
        }),
    }
}

/// `TicketObject->TicketIDLookup` reply: the TicketID, `None` when there is
/// no such ticket (or the credentials are refused: rpc.pl cannot tell).
pub fn parse_ticket_id_lookup(status: u16, content_type: &str, body: &[u8]) -> Result<Option<String>, SoapError> {
    let items = parse_dispatch_reply(status, content_type, body)?;
    single(items, "TicketIDLookup")?.map(|id| numeric(id, "TicketIDLookup")).transpose()
}

/// A method that returns a hash (`TicketGet`, sample 06;
/// `CustomerUserDataGet`, sample 08): its key/value pairs in the order sent.
/// Keys may repeat (CustomerUserDataGet returns the company's and the
/// user's hash in one list). Undef values are empty strings; structures
/// (`Config`) are left out. An empty reply is [`CODE_NO_RESULT`].
pub fn parse_pairs(status: u16, content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, SoapError> {
    let items = parse_dispatch_reply(status, content_type, body)?;
    if items.is_empty() {
        return Err(SoapError::Operation {
            code: CODE_NO_RESULT.into(),
            message: "rpc.pl returned nothing: no such item, or SOAP::User/SOAP::Password refused".into(),
        });
    }
    if let [Item::Scalar(s)] = items.as_slice() {
        if s.starts_with("No such Object ") {
            return Err(SoapError::Operation { code: CODE_NO_SUCH_OBJECT.into(), message: one_line(s, 120) });
        }
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter();
    while let Some(key) = iter.next() {
        let value = iter.next().unwrap_or(Item::Nil);
        let Item::Scalar(key) = key else { continue };
        match value {
            Item::Scalar(v) => out.push((key, v)),
            Item::Nil => out.push((key, String::new())),
            Item::Complex => {}
        }
    }
    Ok(out)
}

/// The fields [`TicketInfo`] has, from `TicketGet`'s pairs (sample 06).
pub fn ticket_info(pairs: &[(String, String)]) -> Result<TicketInfo, SoapError> {
    let get = |k: &str| pairs.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let info = TicketInfo {
        ticket_id: get("TicketID"),
        ticket_number: get("TicketNumber"),
        title: get("Title"),
        state: get("State"),
        state_type: get("StateType"),
        queue: get("Queue"),
        priority: get("Priority"),
        customer_user_id: get("CustomerUserID"),
    };
    for (value, name) in [(&info.ticket_id, "TicketID"), (&info.ticket_number, "TicketNumber")] {
        if value.is_empty() {
            return Err(SoapError::Malformed(format!("TicketGet without {name}")));
        }
    }
    Ok(info)
}

fn auth_fail() -> SoapError {
    SoapError::Operation {
        code: CODE_AUTH_FAIL.into(),
        message: "rpc.pl returned nothing: SOAP::User/SOAP::Password wrong or not set in OTRS".into(),
    }
}

/// Standard base64 (what SOAP::Lite sends non-ASCII text as); whitespace is
/// skipped. `None` when it is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otrs::error::ClientError;
    use crate::otrs::rpc_client::*;
    use crate::otrs::{Settings, TicketCreated};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::{self, Receiver};
    use std::thread;
    use std::time::Duration;
    use std::time::Instant;

    const XML: &str = "text/xml; charset=utf-8";
    const USER: &str = "rpcuser";
    const PASSWORD: &str = "RpcPass2024";

    /// (status, body) of a sample reply (tests/fixtures/otrs/rpc).
    fn reply(n: &str) -> (u16, Vec<u8>) {
        let name = otrs_fixtures::find("rpc", &format!("rpc-{n}-"), "-response.xml");
        let head = otrs_fixtures::read_string(&name.replace(".xml", ".headers.txt"));
        let status = head.split_whitespace().next().and_then(|s| s.parse().ok()).expect("status");
        (status, otrs_fixtures::read(&name))
    }

    fn request_sample(n: &str) -> (String, String) {
        let name = otrs_fixtures::find("rpc", &format!("rpc-{n}-"), "-request.xml");
        let head = otrs_fixtures::read_string(&name.replace(".xml", ".headers.txt"));
        (otrs_fixtures::read_string(&name), head)
    }

    fn rpc_ticket() -> NewTicket {
        NewTicket {
            title: "RPC: incoming call from 89161229624".into(),
            queue: "Raw".into(),
            state: "new".into(),
            priority: "3 normal".into(),
            customer_user: "ivanov".into(),
            subject: "RPC call note".into(),
            body: "Inbound call from 89161229624".into(),
            from: Some("ivanov@example.invalid".into()),
            ..NewTicket::default()
        }
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[test]
    fn requests_match_the_samples_byte_for_byte() {
        let t = rpc_ticket();
        let six = [
            ("TicketID", "40"),
            ("ChannelName", "Phone"),
            ("SenderType", "customer"),
            ("IsVisibleForCustomer", "1"),
            ("From", "ivanov@example.invalid"),
            ("Subject", "RPC call note"),
            ("Body", "Inbound call from 89161229624"),
            ("ContentType", "text/plain; charset=utf8"),
            ("HistoryType", "PhoneCallCustomer"),
            ("HistoryComment", "Inbound call"),
            ("UserID", "1"),
        ];
        let article_object = [
            ("TicketID", "40"),
            ("ChannelName", "Phone"),
            ("SenderType", "customer"),
            ("IsVisibleForCustomer", "1"),
            ("Subject", "x"),
            ("Body", "y"),
            ("ContentType", "text/plain; charset=utf8"),
            ("HistoryType", "PhoneCallCustomer"),
            ("HistoryComment", "z"),
            ("UserID", "1"),
        ];
        let none: [(&str, &str); 0] = [];
        let cases: Vec<(&str, String)> = vec![
            ("01", dispatch_request(USER, PASSWORD, "TicketObject", "TicketCreateNumber", &none, 3)),
            (
                "02",
                dispatch_request(
                    USER,
                    PASSWORD,
                    "TicketObject",
                    "TicketCreate",
                    &ticket_create_params(&t, Some("ACME"), None),
                    12,
                ),
            ),
            ("03", dispatch_request(USER, PASSWORD, "TicketObject", "ArticleCreate", &article_create_params("40", &t), 57)),
            ("04", dispatch_request(USER, PASSWORD, "TicketObject", "ArticleCreate", &six, 106)),
            ("05", dispatch_request(USER, PASSWORD, "ArticleObject", "ArticleCreate", &article_object, 159)),
            ("06", dispatch_request(USER, PASSWORD, "TicketObject", "TicketGet", &[("TicketID", "40"), ("UserID", "1")], 208)),
            ("07", dispatch_request(USER, "WRONG", "TicketObject", "TicketCreateNumber", &none, 225)),
            ("08", dispatch_request(USER, PASSWORD, "CustomerUserObject", "CustomerUserDataGet", &[("User", "ivanov")], 234)),
        ];
        for (n, built) in cases {
            let (want, head) = request_sample(n);
            assert_eq!(built, want, "sample {n}");
            assert_eq!(header(&head, "SOAPAction"), Some(SOAP_ACTION), "sample {n}");
            assert_eq!(header(&head, "Content-Length"), Some(built.len().to_string().as_str()));
        }
        // the client numbers every request from 3: sample 06 but for the names
        let client_06 =
            dispatch_request(USER, PASSWORD, "TicketObject", "TicketGet", &[("TicketID", "40"), ("UserID", SYSTEM_USER_ID)], 3);
        let (want, _) = request_sample("06");
        let renamed =
            (0..8).fold(want, |body, i| body.replace(&format!("c-gensym{}", 208 + 2 * i), &format!("c-gensym{}", 3 + 2 * i)));
        assert_eq!(client_06, renamed);
    }

    #[test]
    fn values_are_typed_and_escaped() {
        assert_eq!(xsd_type("1"), "xsd:int");
        assert_eq!(xsd_type("-2147483648"), "xsd:int");
        assert_eq!(xsd_type("2147483648"), "xsd:long");
        assert_eq!(xsd_type("2026112610000408"), "xsd:long");
        assert_eq!(xsd_type("99999999999999999999"), "xsd:string");
        assert_eq!(xsd_type("0"), "xsd:int");
        assert_eq!(xsd_type("007"), "xsd:string");
        assert_eq!(xsd_type("+7 916"), "xsd:string");
        assert_eq!(xsd_type(""), "xsd:string");
        assert_eq!(xsd_type("-"), "xsd:string");
        assert_eq!(xsd_type("true"), "xsd:string");
        let body = dispatch_request(
            "u",
            "p<&>\"'",
            "TicketObject",
            "TicketCreate",
            &[("Title", "a\r\nb\u{1}\u{7}c ]]> Ёж"), ("Empty", "")],
            3,
        );
        assert!(body.contains(">p&lt;&amp;&gt;\"'</c-gensym5>"), "{body}");
        assert!(body.contains(">a&#xd;\nbc ]]&gt; Ёж</c-gensym13>"), "{body}");
        assert!(body.contains("<c-gensym17 xsi:type=\"xsd:string\" />"), "{body}");
        // what we send parses back (the values, in order)
        let reply = body.replace("<Dispatch ", "<DispatchResponse ").replace("</Dispatch>", "</DispatchResponse>");
        let items = parse_dispatch_reply(200, XML, reply.as_bytes()).expect("parsed");
        assert_eq!(items.get(5), Some(&Item::Scalar("a\r\nbc ]]> Ёж".into())));
        assert_eq!(items.get(6), Some(&Item::Scalar("Empty".into())));
        assert_eq!(items.get(7), Some(&Item::Scalar(String::new())));
        assert_eq!(items.len(), 8);
    }

    #[test]
    fn ticket_create_params_carry_tn_type_and_customer_id() {
        let mut t = rpc_ticket();
        t.ticket_type = Some("Incident".into());
        let p = ticket_create_params(&t, None, Some("2026112610000408"));
        let keys: Vec<&str> = p.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["Title", "Queue", "Lock", "Priority", "State", "Type", "CustomerUser", "OwnerID", "UserID", "TN"]);
        assert_eq!(p.last().map(|(_, v)| v.as_str()), Some("2026112610000408"));
        t.from = None;
        let a = article_create_params("7", &t);
        assert!(a.iter().all(|(k, _)| *k != "From"));
        assert_eq!(a.first(), Some(&("TicketID", "7".to_string())));
    }

    #[test]
    fn replies_of_every_sample() {
        let (s, b) = reply("01");
        assert_eq!(parse_ticket_create_number(s, XML, &b), Ok("2026112610000408".into()));
        let (s, b) = reply("02");
        assert_eq!(parse_ticket_create(s, XML, &b), Ok("40".into()));
        for n in ["03", "04", "09"] {
            let (s, b) = reply(n);
            assert_eq!(s, 500);
            let err = parse_article_create(s, XML, &b).unwrap_err();
            assert!(is_missing_method(&err), "{n}: {err:?}");
            match &err {
                SoapError::Fault { code, message } => {
                    assert_eq!(code, "soap:Server");
                    assert!(
                        message.starts_with(
                            "Can't locate object method \"ArticleCreate\" via package \"Kernel::System::Ticket\" at "
                        ),
                        "{message}"
                    );
                    assert!(message.ends_with(".pl line 106.") || message.ends_with(".pl line 196."), "{message}");
                }
                other => panic!("{other:?}"),
            }
            assert!(!ClientError::Soap(err).maybe_delivered());
        }
        let (s, b) = reply("05");
        let err = parse_article_create(s, XML, &b).unwrap_err();
        assert_eq!(
            err,
            SoapError::Operation { code: CODE_NO_SUCH_OBJECT.into(), message: "No such Object ArticleObject!".into() }
        );
        let (s, b) = reply("06");
        let pairs = parse_pairs(s, XML, &b).expect("TicketGet");
        assert_eq!(pairs.len(), 36);
        assert_eq!(pairs.first(), Some(&("EscalationSolutionTime".to_string(), "0".to_string())));
        assert!(pairs.contains(&("SLAID".to_string(), String::new())));
        let info = ticket_info(&pairs).expect("info");
        assert_eq!(
            info,
            TicketInfo {
                ticket_id: "40".into(),
                ticket_number: "2026112610000417".into(),
                title: "RPC: incoming call from 89161229624".into(),
                state: "new".into(),
                state_type: "new".into(),
                queue: "Raw".into(),
                priority: "3 normal".into(),
                customer_user_id: "ivanov".into(),
            }
        );
        let (s, b) = reply("07");
        assert_eq!(parse_dispatch_reply(s, XML, &b), Ok(vec![]));
        let err = parse_ticket_create_number(s, XML, &b).unwrap_err();
        assert!(err.is_auth_fail(), "{err:?}");
        assert_eq!(
            ClientError::Soap(err).to_string(),
            "rpc.AuthFail: rpc.pl returned nothing: SOAP::User/SOAP::Password wrong or not set in OTRS"
        );
        assert!(
            matches!(parse_ticket_create(s, XML, &b), Err(SoapError::Operation { code, .. }) if code == CODE_TICKET_CREATE_FAILED)
        );
        assert!(matches!(parse_pairs(s, XML, &b), Err(SoapError::Operation { code, .. }) if code == CODE_NO_RESULT));
        assert_eq!(parse_ticket_id_lookup(s, XML, &b), Ok(None));
        let (s, b) = reply("08");
        let items = parse_dispatch_reply(s, XML, &b).expect("items");
        assert_eq!(items.len(), 94);
        assert_eq!(items.iter().filter(|i| **i == Item::Complex).count(), 3);
        assert_eq!(items.iter().filter(|i| **i == Item::Nil).count(), 3);
        let pairs = parse_pairs(s, XML, &b).expect("pairs");
        let get = |k: &str| pairs.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("UserPhone"), Some("89161229624"));
        assert_eq!(get("UserMobile"), Some(""));
        assert_eq!(get("UserCustomerID"), Some("ACME"));
        assert_eq!(get("UserMailString"), Some("\"Ivan Ivanov\" <ivanov@example.invalid>"));
        assert_eq!(get("Source"), Some("CustomerUser"));
        assert_eq!(get("CustomerCompanyZIP"), Some(""));
        assert!(get("Config").is_none() && get("CompanyConfig").is_none());
    }

    #[test]
    fn odd_replies() {
        let env = |inner: &str| {
            format!("{ENVELOPE_OPEN}<DispatchResponse xmlns=\"http://localhost/Core\">{inner}</DispatchResponse>{ENVELOPE_CLOSE}")
        };
        // base64 (how SOAP::Lite sends non-ASCII text) is decoded
        let b = env("<s-gensym3 xsi:type=\"xsd:base64Binary\">0KLQtdGB0YI=</s-gensym3>");
        assert_eq!(parse_dispatch_reply(200, XML, b.as_bytes()), Ok(vec![Item::Scalar("Тест".into())]));
        assert_eq!(base64_decode("YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode("YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode("Y=Q"), None);
        assert_eq!(base64_decode("*"), None);
        // a list where one value was expected
        let b = env("<a xsi:type=\"xsd:int\">1</a><b xsi:type=\"xsd:int\">2</b>");
        assert!(matches!(parse_ticket_create(200, XML, b.as_bytes()), Err(SoapError::Malformed(_))));
        // not a number
        let b = env("<a xsi:type=\"xsd:string\">forty</a>");
        assert!(matches!(parse_ticket_create(200, XML, b.as_bytes()), Err(SoapError::Malformed(_))));
        let b = env("<a xsi:type=\"xsd:string\"> 41 </a>");
        assert_eq!(parse_ticket_create(200, XML, b.as_bytes()), Ok("41".into()));
        // a reply element of something else
        let b = format!("{ENVELOPE_OPEN}<TicketCreateResponse><TicketID>1</TicketID></TicketCreateResponse>{ENVELOPE_CLOSE}");
        assert!(matches!(parse_ticket_create(200, XML, b.as_bytes()), Err(SoapError::Malformed(_))));
        // HTTP errors without an envelope
        let e = parse_ticket_create(404, "text/html", b"<html><head><title>404 Not Found</title></head></html>");
        assert_eq!(e, Err(SoapError::Http { status: 404, detail: "404 Not Found".into() }));
        let e = parse_ticket_create(500, "text/plain", b"\nSoftware error:\nboom\n");
        assert_eq!(e, Err(SoapError::Http { status: 500, detail: "Software error:".into() }));
        let ok = env("<a xsi:type=\"xsd:int\">1</a>");
        assert!(matches!(parse_ticket_create(503, XML, ok.as_bytes()), Err(SoapError::Http { status: 503, .. })));
        assert_eq!(parse_ticket_create(200, XML, b""), Err(SoapError::Malformed("empty body".into())));
        // a struct where a scalar was expected
        let b = env("<a><b>1</b></a>");
        assert!(matches!(parse_ticket_create(200, XML, b.as_bytes()), Err(SoapError::Malformed(_))));
        let b = env("<a href=\"#ref-1\" />");
        assert_eq!(parse_dispatch_reply(200, XML, b.as_bytes()), Ok(vec![Item::Complex]));
    }

    #[test]
    fn truncated_mutated_and_garbage_replies_never_panic() {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for n in ["01", "02", "03", "05", "06", "07", "08"] {
            bodies.push(reply(n).1);
        }
        bodies.push(
            format!("{ENVELOPE_OPEN}<DispatchResponse><a xsi:type=\"xsd:int\">1</a></DispatchResponse>{ENVELOPE_CLOSE}")
                .into_bytes(),
        );
        type Check = fn(u16, &str, &[u8]) -> bool;
        let parsers: [Check; 6] = [
            |s, c, b| parse_ticket_create_number(s, c, b).is_ok(),
            |s, c, b| parse_ticket_create(s, c, b).is_ok(),
            |s, c, b| parse_article_create(s, c, b).is_ok(),
            |s, c, b| parse_ticket_id_lookup(s, c, b).is_ok(),
            |s, c, b| parse_pairs(s, c, b).is_ok(),
            |s, c, b| parse_dispatch_reply(s, c, b).map_err(|e| e.to_string()).is_ok(),
        ];
        for full in &bodies {
            // every cut is an error, never a success
            let step = (full.len() / 400).max(1);
            for cut in (0..full.len()).step_by(step) {
                let part = full.get(..cut).unwrap_or_default();
                for p in parsers {
                    assert!(!p(200, XML, part), "cut {cut} parsed");
                    let _ = p(500, "text/plain", part);
                }
            }
            // random byte changes
            let mut seed: u32 = 0x2545_f491;
            for _ in 0..300 {
                let mut b = full.clone();
                for _ in 0..3 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let idx = (seed as usize >> 8) % b.len().max(1);
                    if let Some(byte) = b.get_mut(idx) {
                        *byte = (seed >> 24) as u8;
                    }
                }
                for p in parsers {
                    let _ = p(200, XML, &b);
                }
            }
        }
        let garbage: [&[u8]; 8] = [
            b"\xff\xfe\x00<",
            b"<a><b></a>",
            b"<<<<",
            b"hello",
            b"<Envelope><Body><DispatchResponse><x xsi:type=\"xsd:base64Binary\">@@@</x></DispatchResponse></Body></Envelope>",
            b"<Envelope>\xc3\x28</Envelope>",
            b"<Envelope><Body/></Envelope>",
            b"<Envelope><Body><Fault/></Body></Envelope>",
        ];
        for g in garbage {
            for p in parsers {
                let _ = p(200, "text/html", g);
                let _ = p(500, XML, g);
            }
        }
        let deep = "<a>".repeat(100_000);
        assert!(parse_dispatch_reply(200, XML, deep.as_bytes()).is_err());
        let many = format!(
            "{ENVELOPE_OPEN}<DispatchResponse>{}</DispatchResponse>{ENVELOPE_CLOSE}",
            "<k xsi:type=\"xsd:string\">k</k><v xsi:nil=\"true\" />".repeat(20_000)
        );
        assert_eq!(parse_pairs(200, XML, many.as_bytes()).map(|p| p.len()), Ok(20_000));
        let _ = parse_pairs(200, XML, &[0xff; 10_000]).map_err(|e| e.to_string());
    }

    #[test]
    fn password_is_never_printed() {
        let settings = Settings {
            url: "http://proxy:urlsecret@127.0.0.1:1/otrs/rpc.pl".into(),
            user: USER.into(),
            password: PASSWORD.into(),
            ..Settings::default()
        };
        let c = RpcClient::new(settings.clone());
        for text in [format!("{settings:?}"), format!("{c:?}")] {
            assert!(!text.contains(PASSWORD) && !text.contains("urlsecret"), "{text}");
            assert!(text.contains(USER));
        }
        let err = c.create_ticket(&rpc_ticket(), soon()).unwrap_err();
        assert!(!err.to_string().contains("urlsecret") && !format!("{err:?}").contains("urlsecret"));
        // https and junk URLs fail without I/O
        for bad in ["ftp://h/otrs/rpc.pl", "h/rpc.pl", "http://h/x\r\nX: 1"] {
            let c = RpcClient::new(Settings { url: bad.into(), ..Settings::default() });
            assert!(matches!(c.ticket_create_number(soon()), Err(ClientError::Connect(_))), "{bad}");
        }
    }

    // ------------------------------------------------------------------
    // The client against a scripted server

    enum Step {
        Reply(Vec<u8>),
        Hang(Duration),
    }

    #[derive(Debug)]
    struct Seen {
        head: String,
        body: String,
    }

    fn server(steps: Vec<Step>) -> (String, Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for step in steps {
                let Ok((mut stream, _)) = listener.accept() else { return };
                let Some(seen) = read_request(&stream) else { return };
                let _ = tx.send(seen);
                match step {
                    Step::Reply(bytes) => {
                        let _ = stream.write_all(&bytes);
                    }
                    Step::Hang(d) => thread::sleep(d),
                }
            }
        });
        (format!("http://127.0.0.1:{port}/otrs/rpc.pl"), rx)
    }

    fn read_request(stream: &TcpStream) -> Option<Seen> {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len: usize = header(&head, "Content-Length")?.parse().ok()?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        Some(Seen { head, body: String::from_utf8(body).ok()? })
    }

    fn http(status: &str, body: &[u8]) -> Step {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPServer: SOAP::Lite/Perl/1.17\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        Step::Reply(out)
    }

    fn scalar(ty: &str, value: &str) -> Vec<u8> {
        format!(
            "{ENVELOPE_OPEN}<DispatchResponse xmlns=\"http://localhost/Core\"><s-gensym3 xsi:type=\"{ty}\">{value}</s-gensym3></DispatchResponse>{ENVELOPE_CLOSE}"
        )
        .into_bytes()
    }

    fn nil() -> Vec<u8> {
        format!("{ENVELOPE_OPEN}<DispatchResponse xmlns=\"http://localhost/Core\" xsi:nil=\"true\" />{ENVELOPE_CLOSE}")
            .into_bytes()
    }

    fn no_article_fault() -> Vec<u8> {
        format!("{ENVELOPE_OPEN}<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Can't locate object method \"ArticleCreate\" via package \"Kernel::System::Ticket\" at /opt/otrs/bin/cgi-bin/rpc.pl line 106.\n</faultstring></soap:Fault>{ENVELOPE_CLOSE}").into_bytes()
    }

    fn client(url: &str) -> RpcClient {
        RpcClient::new(Settings { url: url.to_string(), user: USER.into(), password: PASSWORD.into(), ..Settings::default() })
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn method_of(body: &str) -> String {
        // the fourth argument is the method
        let parts: Vec<&str> = body.split("xsi:type=\"xsd:string\">").collect();
        parts.get(4).and_then(|p| p.split('<').next()).unwrap_or_default().to_string()
    }

    #[test]
    fn otrs6_ticket_without_article_and_no_retry_of_article_create() {
        let (url, seen) = server(vec![
            http("200 OK", &scalar("xsd:long", "2026112610000408")),
            http("200 OK", &scalar("xsd:int", "40")),
            http("500 Internal Server Error", &no_article_fault()),
            http("200 OK", &scalar("xsd:long", "2026112610000417")),
            http("200 OK", &scalar("xsd:int", "41")),
        ]);
        let c = client(&url);
        let t = rpc_ticket();
        let got = c.create_ticket_for(&t, Some("ACME"), soon()).expect("created");
        assert_eq!(
            got.ticket,
            TicketCreated { ticket_id: "40".into(), ticket_number: "2026112610000408".into(), article_id: String::new() }
        );
        assert_eq!(got.article_warning.as_deref(), Some(ARTICLE_UNSUPPORTED));
        assert!(c.articles_unsupported());
        let reqs: Vec<Seen> = seen.try_iter().collect();
        assert_eq!(reqs.len(), 3);
        for r in &reqs {
            assert!(r.head.starts_with("POST /otrs/rpc.pl HTTP/1.1\r\n"), "{}", r.head);
            assert_eq!(header(&r.head, "SOAPAction"), Some(SOAP_ACTION));
            assert_eq!(header(&r.head, "Content-Type"), Some("text/xml; charset=utf-8"));
        }
        let none: [(&str, &str); 0] = [];
        assert_eq!(reqs[0].body, dispatch_request(USER, PASSWORD, "TicketObject", "TicketCreateNumber", &none, 3));
        assert_eq!(
            reqs[1].body,
            dispatch_request(
                USER,
                PASSWORD,
                "TicketObject",
                "TicketCreate",
                &ticket_create_params(&t, Some("ACME"), Some("2026112610000408")),
                3
            )
        );
        assert!(
            reqs[1].body.contains(">TN</c-gensym47><c-gensym49 xsi:type=\"xsd:long\">2026112610000408</c-gensym49>"),
            "{}",
            reqs[1].body
        );
        assert_eq!(
            reqs[2].body,
            dispatch_request(USER, PASSWORD, "TicketObject", "ArticleCreate", &article_create_params("40", &t), 3)
        );
        // the next ticket does not try ArticleCreate again
        let got = c.create_ticket(&t, soon()).expect("second");
        assert_eq!(got.ticket.ticket_id, "41");
        assert_eq!(got.article_warning.as_deref(), Some(ARTICLE_UNSUPPORTED));
        let methods: Vec<String> = seen.try_iter().map(|s| method_of(&s.body)).collect();
        assert_eq!(methods, ["TicketCreateNumber", "TicketCreate"]);
    }

    #[test]
    fn otrs5_ticket_with_article() {
        let (url, seen) = server(vec![
            http("200 OK", &scalar("xsd:long", "2026112610000408")),
            http("200 OK", &scalar("xsd:int", "40")),
            http("200 OK", &scalar("xsd:int", "77")),
        ]);
        let got = client(&url).create_ticket(&rpc_ticket(), soon()).expect("created");
        assert_eq!(got.ticket.article_id, "77");
        assert_eq!(got.article_warning, None);
        assert_eq!(seen.try_iter().count(), 3);
    }

    #[test]
    fn wrong_password_is_auth_fail_and_nothing_else_is_sent() {
        let (url, seen) = server(vec![http("200 OK", &reply("07").1)]);
        let err = client(&url).create_ticket(&rpc_ticket(), soon()).unwrap_err();
        assert!(err.is_auth_fail() && !err.maybe_delivered(), "{err:?}");
        assert_eq!(seen.try_iter().count(), 1);
    }

    #[test]
    fn refused_ticket_create() {
        let (url, _seen) = server(vec![http("200 OK", &scalar("xsd:long", "2026112610000408")), http("200 OK", &nil())]);
        let err = client(&url).create_ticket(&rpc_ticket(), soon()).unwrap_err();
        assert!(matches!(&err, ClientError::Soap(SoapError::Operation { code, .. }) if code == CODE_TICKET_CREATE_FAILED));
        assert!(!err.maybe_delivered() && !err.is_auth_fail());
    }

    #[test]
    fn article_problems_do_not_fail_the_ticket() {
        // a nil ArticleCreate (OTRS 5 refusing the article), then a dead server
        let (url, _seen) = server(vec![
            http("200 OK", &scalar("xsd:long", "2026112610000408")),
            http("200 OK", &scalar("xsd:int", "40")),
            http("200 OK", &nil()),
            http("200 OK", &scalar("xsd:long", "2026112610000417")),
            http("200 OK", &scalar("xsd:int", "41")),
            Step::Reply(Vec::new()),
        ]);
        let c = client(&url);
        let got = c.create_ticket(&rpc_ticket(), soon()).expect("created");
        assert_eq!(got.ticket.article_id, "");
        assert!(got.article_warning.as_deref().is_some_and(|w| w.contains(CODE_ARTICLE_CREATE_FAILED)), "{got:?}");
        assert!(!c.articles_unsupported());
        let got = c.create_ticket(&rpc_ticket(), soon()).expect("created");
        assert_eq!(got.ticket.ticket_id, "41");
        let w = got.article_warning.unwrap_or_default();
        assert!(w.starts_with("ticket created without its article: connection to OTRS broken"), "{w}");
        assert!(!c.articles_unsupported());
    }

    #[test]
    fn lost_ticket_number_reply_is_not_maybe_delivered() {
        let (url, seen) = server(vec![Step::Hang(Duration::from_secs(3))]);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(400);
        let err = client(&url).create_ticket(&rpc_ticket(), deadline).unwrap_err();
        assert!(Instant::now() < deadline + Duration::from_millis(200), "late");
        assert!(start.elapsed() >= Duration::from_millis(390));
        assert!(
            matches!(&err, ClientError::Connect(why) if why.starts_with("TicketCreateNumber failed: OTRS did not answer in time")),
            "{err:?}"
        );
        assert!(!err.maybe_delivered());
        assert_eq!(seen.try_iter().count(), 1);
    }

    #[test]
    fn lost_ticket_create_reply_may_be_delivered() {
        let (url, _seen) =
            server(vec![http("200 OK", &scalar("xsd:long", "2026112610000408")), Step::Hang(Duration::from_secs(3))]);
        let deadline = Instant::now() + Duration::from_millis(500);
        let err = client(&url).create_ticket(&rpc_ticket(), deadline).unwrap_err();
        assert_eq!(err, ClientError::Timeout);
        assert!(err.maybe_delivered());
    }

    #[test]
    fn deadline_already_passed_sends_nothing() {
        let (url, seen) = server(vec![http("200 OK", &nil())]);
        let err = client(&url).create_ticket(&rpc_ticket(), Instant::now()).unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)) && !err.maybe_delivered());
        assert!(seen.recv_timeout(Duration::from_millis(100)).is_err());
    }

    #[test]
    fn reply_over_the_size_cap() {
        let (url, _seen) = server(vec![http("200 OK", &reply("08").1)]);
        let c = RpcClient::new(Settings { url, max_reply_bytes: 10_000, ..Settings::default() });
        assert_eq!(c.customer_user_data("ivanov", soon()), Err(ClientError::TooLarge));
    }

    #[test]
    fn lookups_and_ticket_get() {
        let (url, seen) = server(vec![
            http("200 OK", &scalar("xsd:int", "40")),
            http("200 OK", &nil()),
            http("200 OK", &reply("06").1),
            http("200 OK", &reply("08").1),
            http("200 OK", &reply("05").1),
        ]);
        let c = client(&url);
        assert_eq!(c.ticket_id_by_number("2026112610000408", soon()), Ok(Some("40".into())));
        assert_eq!(c.ticket_id_by_number("1", soon()), Ok(None));
        assert_eq!(c.get_ticket("40", soon()).map(|t| t.ticket_number), Ok("2026112610000417".into()));
        let data = c.customer_user_data("ivanov", soon()).expect("customer");
        assert!(data.contains(&("UserPhone".to_string(), "89161229624".to_string())));
        let err = c.dispatch("ArticleObject", "ArticleCreate", &[("TicketID", "40")], soon());
        assert_eq!(err, Ok(vec![Item::Scalar("No such Object ArticleObject!".into())]));
        let methods: Vec<String> = seen.try_iter().map(|s| method_of(&s.body)).collect();
        assert_eq!(methods, ["TicketIDLookup", "TicketIDLookup", "TicketGet", "CustomerUserDataGet", "ArticleCreate"]);
    }

    // The client against the stand-in program: otrs-standin/tests/rpc_client.rs
}
