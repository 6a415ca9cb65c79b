//! SOAP messages of Znuny/OTRS's GenericInterface ticket connector
//! (`GenericTicketConnectorSOAP`): request builders and reply parsers.
//!
//! Pure code, no I/O. The request layout follows the captured Znuny 6.5
//! samples (tests/fixtures/otrs/generic-interface) byte for byte, so that what we
//! send is exactly what is known to work.

use std::fmt;

use super::error::SoapError;
use super::xml::{escape_styled, reply_element, EscapeStyle, Node};
use super::{Article, NewTicket, TicketChange, TicketCreated, TicketInfo, TicketUpdated, ARTICLE_CONTENT_TYPE};

/// Namespace of the ticket connector of Znuny and OTRS; also the
/// SOAPAction prefix.
pub const NAMESPACE: &str = "http://www.otrs.org/TicketConnector/";
/// OTOBO's: the NameSpace of its stock SOAP web services and of its
/// GenericInterface SOAP tests (RotherOSS/otobo).
pub const OTOBO_NAMESPACE: &str = "http://www.otobo.org/TicketConnector/";

/// Value of the `SOAPAction` header for `op`, with the `#` separator.
/// The WSDL form without `#` is rejected by Znuny with HTTP 500 (sample 27).
pub fn soap_action(op: &str) -> String {
    soap_action_in(NAMESPACE, op)
}

/// [`soap_action`] in namespace `ns`.
pub fn soap_action_in(ns: &str, op: &str) -> String {
    format!("\"{ns}#{op}\"")
}

/// The namespace a server expects, read from its refusal of our
/// SOAPAction. OTOBO (Kernel/GenericInterface/Transport/HTTP/SOAP.pm,
/// ProviderProcessRequest) answers a Fault "SOAPAction '<ours>' does not
/// match expected result '<NameSpace>#<Operation>'"; Znuny (samples 27, 30)
/// "Namespace from SOAPAction '..' does not match namespace from
/// configuration '<NameSpace>'". `None` for any other reply.
pub fn expected_namespace(reply: &[u8], op: &str) -> Option<String> {
    let text = String::from_utf8_lossy(reply);
    let quoted = |marker: &str| -> Option<String> {
        let at = text.find(marker)? + marker.len();
        let rest = text.get(at..)?;
        Some(rest.get(..rest.find('\'')?)?.to_string())
    };
    let ns = match quoted("does not match expected result '") {
        Some(action) => {
            let action = action.strip_suffix(op).unwrap_or(&action).to_string();
            action.strip_suffix('#').map(str::to_string).unwrap_or(action)
        }
        None => quoted("does not match namespace from configuration '")?,
    };
    let usable = ns.starts_with("http") && !ns.contains(['"', '<', '>', '&']) && !ns.chars().any(char::is_whitespace);
    usable.then_some(ns)
}

/// Which family a namespace belongs to, for status.
pub fn family(ns: &str) -> &'static str {
    match ns {
        NAMESPACE => "Znuny/OTRS",
        OTOBO_NAMESPACE => "OTOBO",
        _ => "custom",
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// `UserLogin` + `Password` in the request itself.
    Login { user: &'a str, password: &'a str },
    /// `SessionID` obtained with `SessionCreate`.
    Session(&'a str),
}

// Hand-written so a password or session id never lands in a log.
impl fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Login { user, .. } => write!(f, "Auth::Login {{ user: {user:?}, password: *** }}"),
            Auth::Session(_) => f.write_str("Auth::Session(***)"),
        }
    }
}

/// Builds an envelope in the exact layout of the samples: two-space indent,
/// `tic:` prefix for the connector namespace, trailing newline.
struct Envelope {
    out: String,
    depth: usize,
}

impl Envelope {
    fn new(op: &str) -> Envelope {
        let mut out = String::with_capacity(1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tic=\"");
        out.push_str(NAMESPACE);
        out.push_str("\">\n  <soapenv:Header/>\n  <soapenv:Body>\n");
        let mut env = Envelope { out, depth: 2 };
        env.open(op);
        env
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// `name` is always one of our constants or a validated search key.
    fn open(&mut self, name: &str) {
        self.indent();
        self.out.push_str("<tic:");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</tic:");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.indent();
        self.out.push_str("<tic:");
        self.out.push_str(name);
        self.out.push('>');
        escape_into(&mut self.out, value);
        self.out.push_str("</tic:");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn auth(&mut self, auth: &Auth) {
        match auth {
            Auth::Login { user, password } => {
                self.leaf("UserLogin", user);
                self.leaf("Password", password);
            }
            Auth::Session(id) => self.leaf("SessionID", id),
        }
    }

    fn article(&mut self, a: &Article) {
        self.open("Article");
        self.leaf("CommunicationChannel", &a.communication_channel);
        self.leaf("SenderType", &a.sender_type);
        self.leaf("IsVisibleForCustomer", if a.visible_for_customer { "1" } else { "0" });
        if let Some(from) = &a.from {
            self.leaf("From", from);
        }
        self.leaf("Subject", &a.subject);
        self.leaf("Body", &a.body);
        self.leaf("ContentType", ARTICLE_CONTENT_TYPE);
        if let Some(units) = a.time_unit {
            self.leaf("TimeUnit", &units.to_string());
        }
        self.close("Article");
        // next to the article, as Znuny's connector takes them (sample 40)
        for file in &a.attachments {
            self.open("Attachment");
            self.indent();
            self.out.push_str("<tic:Content>");
            base64_into(&mut self.out, &file.content);
            self.out.push_str("</tic:Content>\n");
            self.leaf("ContentType", &file.content_type);
            self.leaf("Filename", &file.filename);
            self.close("Attachment");
        }
    }

    fn finish(mut self, op: &str) -> String {
        self.close(op);
        self.out.push_str("  </soapenv:Body>\n</soapenv:Envelope>\n");
        self.out
    }
}

/// Standard base64 with padding, no line breaks (what Znuny decodes).
pub fn base64_into(out: &mut String, data: &[u8]) {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ABC[(n >> 18) as usize & 63] as char);
        out.push(ABC[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { ABC[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { ABC[n as usize & 63] as char } else { '=' });
    }
}

fn escape_into(out: &mut String, value: &str) {
    escape_styled(out, value, EscapeStyle::Connector);
}

/// `SessionCreate` (sample 01).
pub fn session_create(user: &str, password: &str) -> String {
    let mut env = Envelope::new("SessionCreate");
    env.leaf("UserLogin", user);
    env.leaf("Password", password);
    env.finish("SessionCreate")
}

/// `TicketCreate` with one customer phone article (sample 03, sample 04
/// for `From`).
pub fn ticket_create(auth: &Auth, t: &NewTicket) -> String {
    let mut env = Envelope::new("TicketCreate");
    env.auth(auth);
    env.open("Ticket");
    env.leaf("Title", &t.title);
    env.leaf("Queue", &t.queue);
    if let Some(ty) = &t.ticket_type {
        env.leaf("Type", ty);
    }
    env.leaf("State", &t.state);
    env.leaf("Priority", &t.priority);
    env.leaf("CustomerUser", &t.customer_user);
    env.close("Ticket");
    let mut article = Article::phone("customer", &t.subject, &t.body);
    article.from = t.from.clone();
    env.article(&article);
    // TicketCreate.pm: DynamicField {Name, Value}, beside Ticket and Article
    for (name, value) in &t.dynamic_fields {
        env.open("DynamicField");
        env.leaf("Name", name);
        env.leaf("Value", value);
        env.close("DynamicField");
    }
    env.finish("TicketCreate")
}

/// `TicketSearch` with the given criteria, in order; a key may repeat
/// (several `StateType`s, sample 07b). Keys are element names and are
/// expected to be constants such as `CustomerUserLogin`; a key that is not
/// a plain ASCII name is skipped rather than allowed to break the XML.
pub fn ticket_search(auth: &Auth, criteria: &[(&str, &str)]) -> String {
    let mut env = Envelope::new("TicketSearch");
    env.auth(auth);
    for (key, value) in criteria {
        match key.split_once('/') {
            // a criterion with an operator: DynamicField_CallID/Equals is
            // <DynamicField_CallID><Equals>..</Equals></DynamicField_CallID>
            Some((outer, op)) if is_element_name(outer) && is_element_name(op) => {
                env.open(outer);
                env.leaf(op, value);
                env.close(outer);
            }
            None if is_element_name(key) => env.leaf(key, value),
            _ => {}
        }
    }
    env.finish("TicketSearch")
}

/// `TicketUpdate` (sample 08): optionally a new state and priority,
/// optionally an article.
pub fn ticket_update(auth: &Auth, ticket_id: &str, change: &TicketChange, article: Option<&Article>) -> String {
    let mut env = Envelope::new("TicketUpdate");
    env.auth(auth);
    env.leaf("TicketID", ticket_id);
    if change.state.is_some() || change.priority.is_some() || change.owner.is_some() || change.responsible.is_some() {
        env.open("Ticket");
        if let Some(state) = change.state {
            env.leaf("State", state);
        }
        if let Some(priority) = change.priority {
            env.leaf("Priority", priority);
        }
        if let Some(owner) = change.owner {
            env.leaf("Owner", owner);
        }
        if let Some(responsible) = change.responsible {
            env.leaf("Responsible", responsible);
        }
        env.close("Ticket");
    }
    if let Some(article) = article {
        env.article(article);
    }
    env.finish("TicketUpdate")
}

/// `TicketGet` by TicketID (samples 05, 13). Articles make the reply much
/// bigger; [`parse_ticket_get`] does not need them.
pub fn ticket_get(auth: &Auth, ticket_id: &str, all_articles: bool) -> String {
    let mut env = Envelope::new("TicketGet");
    env.auth(auth);
    env.leaf("TicketID", ticket_id);
    if all_articles {
        env.leaf("AllArticles", "1");
    }
    env.finish("TicketGet")
}

fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------
// Reply parsing
// ---------------------------------------------------------------------------

/// `SessionCreate` reply: the SessionID.
pub fn parse_session_create(status: u16, content_type: &str, body: &[u8]) -> Result<String, SoapError> {
    let reply = parse_reply("SessionCreate", status, content_type, body)?;
    required(&reply, "SessionID")
}

/// `TicketCreate` reply.
pub fn parse_ticket_create(status: u16, content_type: &str, body: &[u8]) -> Result<TicketCreated, SoapError> {
    let reply = parse_reply("TicketCreate", status, content_type, body)?;
    Ok(TicketCreated {
        ticket_id: required(&reply, "TicketID")?,
        ticket_number: required(&reply, "TicketNumber")?,
        article_id: required(&reply, "ArticleID")?,
    })
}

/// `TicketSearch` reply: the TicketIDs, newest first as Znuny sorts them.
/// No match is an empty (`xsi:nil`) reply element (sample 06): `Ok(vec![])`.
pub fn parse_ticket_search(status: u16, content_type: &str, body: &[u8]) -> Result<Vec<String>, SoapError> {
    let reply = parse_reply("TicketSearch", status, content_type, body)?;
    Ok(reply
        .children
        .iter()
        .filter(|c| c.name == "TicketID")
        .map(|c| c.text.trim().to_string())
        .filter(|id| !id.is_empty())
        .collect())
}

/// `TicketUpdate` reply.
pub fn parse_ticket_update(status: u16, content_type: &str, body: &[u8]) -> Result<TicketUpdated, SoapError> {
    let reply = parse_reply("TicketUpdate", status, content_type, body)?;
    Ok(TicketUpdated {
        ticket_id: required(&reply, "TicketID")?,
        ticket_number: required(&reply, "TicketNumber")?,
        article_id: reply.child_text("ArticleID").map(str::to_string).filter(|s| !s.is_empty()),
    })
}

/// `TicketGet` reply: the first `Ticket`. Only its direct children are
/// read, so an article's `TicketID` or `Subject` cannot be mistaken for the
/// ticket's.
pub fn parse_ticket_get(status: u16, content_type: &str, body: &[u8]) -> Result<TicketInfo, SoapError> {
    let reply = parse_reply("TicketGet", status, content_type, body)?;
    let ticket = reply.child("Ticket").ok_or_else(|| SoapError::Malformed("TicketGetResponse without Ticket".into()))?;
    let field = |name: &str| ticket.child_text(name).unwrap_or_default().to_string();
    Ok(TicketInfo {
        ticket_id: required(ticket, "TicketID")?,
        ticket_number: required(ticket, "TicketNumber")?,
        title: field("Title"),
        state: field("State"),
        state_type: field("StateType"),
        queue: field("Queue"),
        priority: field("Priority"),
        customer_user_id: field("CustomerUserID"),
    })
}

/// `TicketGet` with `AllArticles` reply: the articles' bodies, oldest first
/// (sample 42).
pub fn parse_article_bodies(status: u16, content_type: &str, body: &[u8]) -> Result<Vec<String>, SoapError> {
    let reply = parse_reply("TicketGet", status, content_type, body)?;
    let ticket = reply.child("Ticket").ok_or_else(|| SoapError::Malformed("TicketGetResponse without Ticket".into()))?;
    Ok(ticket
        .children
        .iter()
        .filter(|c| c.name == "Article")
        .map(|a| a.child_text("Body").unwrap_or_default().to_string())
        .collect())
}

/// Text of a required, non-empty child, trimmed (ids and numbers).
fn required(node: &Node, name: &str) -> Result<String, SoapError> {
    match node.child_text(name) {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(SoapError::Malformed(format!("{}Response without {name}", strip_response(&node.name)))),
    }
}

fn strip_response(name: &str) -> &str {
    name.strip_suffix("Response").unwrap_or(name)
}

/// Common part of all reply parsers: returns the `{op}Response` element or
/// the error the reply stands for.
fn parse_reply(op: &str, status: u16, content_type: &str, body: &[u8]) -> Result<Node, SoapError> {
    reply_element(status, content_type, body, &format!("{op}Response"), operation_error)
}

/// The `<Error>` a reply element carries (samples 02, 20-26).
fn operation_error(reply: &Node) -> Option<SoapError> {
    let error = reply.child("Error")?;
    Some(SoapError::Operation {
        code: error.child_text("ErrorCode").unwrap_or_default().to_string(),
        message: error.child_text("ErrorMessage").unwrap_or_default().to_string(),
    })
}

/// Reply bodies of the captured Znuny samples, shared with the client tests.
#[cfg(test)]
pub(crate) mod samples {
    /// SessionID of the samples.
    pub const SID: &str = "sgZ4snBxlE2EvDquEz35suMnGXWugGF3";
    const ENV_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>"#;
    const ENV_CLOSE: &str = "</soap:Body></soap:Envelope>";

    /// Znuny's reply envelope around `inner`.
    pub fn reply(inner: &str) -> Vec<u8> {
        format!("{ENV_OPEN}{inner}{ENV_CLOSE}").into_bytes()
    }

    /// Sample 01 (with any SessionID).
    pub fn session_created(sid: &str) -> Vec<u8> {
        reply(&format!(
            r#"<SessionCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><SessionID>{sid}</SessionID></SessionCreateResponse>"#
        ))
    }

    /// Sample 03.
    pub fn ticket_created() -> Vec<u8> {
        reply(
            r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>2</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketCreateResponse>"#,
        )
    }

    /// `<Error>` reply of `op` (samples 02, 20-26).
    pub fn op_error(op: &str, code: &str, message: &str) -> Vec<u8> {
        reply(&format!(
            r#"<{op}Response xmlns="http://www.otrs.org/TicketConnector/"><Error><ErrorCode>{op}.{code}</ErrorCode><ErrorMessage>{message}</ErrorMessage></Error></{op}Response>"#
        ))
    }

    /// Sample 27 body (sent with HTTP 500 and text/plain).
    pub fn fault_wsdl_action() -> Vec<u8> {
        reply(
            r#"<Fault xmlns="http://www.otrs.org/TicketConnector/"><faultcode>Server</faultcode><faultstring>Namespace from SOAPAction 'http://www.otrs.org/TicketConnector' does not match namespace from configuration 'http://www.otrs.org/TicketConnector/'</faultstring></Fault>"#,
        )
    }

    /// Sample 29 body (HTTP 500, text/plain, no envelope).
    pub const DESERIALIZE_ERROR: &[u8] = b"Error deserializing message:\nno element found at line 7, column 5, byte 300 at /usr/lib/x86_64-linux-gnu/perl5/5.36/XML/Parser.pm line 187.\n";

    /// Full HTTP reply as Znuny sends it (headers of the samples).
    pub fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otrs::error::MAX_REASON_CHARS;
    use crate::otrs::xml::{body_element, escape, parse_tree};
    use crate::text::one_line;

    // Sample 03 request, verbatim.
    const REQ_03: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tic="http://www.otrs.org/TicketConnector/">
  <soapenv:Header/>
  <soapenv:Body>
    <tic:TicketCreate>
      <tic:SessionID>sgZ4snBxlE2EvDquEz35suMnGXWugGF3</tic:SessionID>
      <tic:Ticket>
        <tic:Title>Incoming call from 89161229624</tic:Title>
        <tic:Queue>Raw</tic:Queue>
        <tic:State>new</tic:State>
        <tic:Priority>3 normal</tic:Priority>
        <tic:CustomerUser>ivanov</tic:CustomerUser>
      </tic:Ticket>
      <tic:Article>
        <tic:CommunicationChannel>Phone</tic:CommunicationChannel>
        <tic:SenderType>customer</tic:SenderType>
        <tic:IsVisibleForCustomer>1</tic:IsVisibleForCustomer>
        <tic:Subject>Call from 89161229624</tic:Subject>
        <tic:Body>Inbound call from 89161229624 (customer ivanov).
Call-ID: 1700000000.42, duration 00:02:15, answered by ext. 101.</tic:Body>
        <tic:ContentType>text/plain; charset=utf8</tic:ContentType>
      </tic:Article>
    </tic:TicketCreate>
  </soapenv:Body>
</soapenv:Envelope>
"#;

    use super::samples::{reply, SID};

    fn sample_ticket() -> NewTicket {
        NewTicket {
            title: "Incoming call from 89161229624".into(),
            queue: "Raw".into(),
            state: "new".into(),
            priority: "3 normal".into(),
            ticket_type: None,
            customer_user: "ivanov".into(),
            subject: "Call from 89161229624".into(),
            body: "Inbound call from 89161229624 (customer ivanov).\nCall-ID: 1700000000.42, duration 00:02:15, answered by ext. 101.".into(),
            from: None,
            dynamic_fields: Vec::new(),
        }
    }

    const XML: &str = "text/xml; charset=UTF-8";
    const PLAIN: &str = "text/plain; charset=UTF-8";

    #[test]
    fn the_servers_namespace_is_read_from_its_refusal() {
        // OTOBO 11, stock GenericTicketConnectorSOAP (the issue's report)
        let otobo = b"<Fault xmlns=\"http://www.otobo.org/TicketConnector/\"><faultcode>Server</faultcode><faultstring>SOAPAction 'http://www.otrs.org/TicketConnector/#SessionCreate' does not match expected result 'http://www.otobo.org/TicketConnector/#SessionCreate'</faultstring></Fault>";
        assert_eq!(expected_namespace(otobo, "SessionCreate").as_deref(), Some(OTOBO_NAMESPACE));
        let znuny = samples::fault_wsdl_action();
        assert_eq!(expected_namespace(&znuny, "TicketCreate").as_deref(), Some(NAMESPACE));
        assert_eq!(expected_namespace(b"<Fault><faultstring>Got no OperationType!</faultstring></Fault>", "X"), None);
        assert_eq!(expected_namespace(b"does not match expected result 'x\"><script>'", "X"), None);
        assert_eq!(family(OTOBO_NAMESPACE), "OTOBO");
        assert_eq!(soap_action_in(OTOBO_NAMESPACE, "TicketGet"), "\"http://www.otobo.org/TicketConnector/#TicketGet\"");
    }

    #[test]
    fn soap_action_has_hash() {
        assert_eq!(soap_action("TicketCreate"), "\"http://www.otrs.org/TicketConnector/#TicketCreate\"");
    }

    #[test]
    fn ticket_create_matches_sample_03_exactly() {
        let got = ticket_create(&Auth::Session(SID), &sample_ticket());
        assert_eq!(got, REQ_03);
    }

    #[test]
    fn ticket_create_login_type_and_from() {
        let mut t = sample_ticket();
        t.ticket_type = Some("Incident".into());
        t.from = Some("Ivan Ivanov <ivanov@example.invalid>".into());
        let got = ticket_create(&Auth::Login { user: "soapagent", password: "SoapAgent2024" }, &t);
        assert!(got.contains("      <tic:UserLogin>soapagent</tic:UserLogin>\n      <tic:Password>SoapAgent2024</tic:Password>\n      <tic:Ticket>\n"));
        assert!(got.contains("<tic:Queue>Raw</tic:Queue>\n        <tic:Type>Incident</tic:Type>\n        <tic:State>"));
        // position and escaping as in sample 04
        assert!(got.contains("<tic:IsVisibleForCustomer>1</tic:IsVisibleForCustomer>\n        <tic:From>Ivan Ivanov &lt;ivanov@example.invalid&gt;</tic:From>\n        <tic:Subject>"));
        assert!(!got.contains("SessionID"));
    }

    /// Compares builders with the recorded requests (tests/fixtures/otrs).
    #[test]
    fn builders_match_shared_samples() {
        let read = |name: &str| otrs_fixtures::read_string(&format!("generic-interface/{name}"));
        assert_eq!(session_create("soapagent", "SoapAgent2024"), read("01-SessionCreate-request.xml"));
        let sess = Auth::Session(SID);
        let mut t = sample_ticket();
        assert_eq!(ticket_create(&sess, &t), read("03-TicketCreate-request.xml"));
        t.title = "Звонок от 89161229624".into();
        t.subject = "Входящий звонок".into();
        t.body = "Клиент Иванов звонил с номера 89161229624.".into();
        t.from = Some("Ivan Ivanov <ivanov@example.invalid>".into());
        let login = Auth::Login { user: "soapagent", password: "SoapAgent2024" };
        assert_eq!(ticket_create(&login, &t), read("04-TicketCreate-userlogin-utf8-request.xml"));
        assert_eq!(
            ticket_search(&sess, &[("CustomerUserLogin", "ivanov"), ("StateType", "open")]),
            read("06-TicketSearch-StateType-open-request.xml")
        );
        let states = [
            ("CustomerUserLogin", "ivanov"),
            ("StateType", "new"),
            ("StateType", "open"),
            ("StateType", "pending reminder"),
            ("StateType", "pending auto"),
        ];
        assert_eq!(ticket_search(&sess, &states), read("07b-TicketSearch-StateType-list-request.xml"));
        assert_eq!(
            ticket_search(&sess, &[("TicketNumber", "2026112610000015")]),
            read("10-TicketSearch-by-TicketNumber-request.xml")
        );
        let article = Article::phone(
            "agent",
            "Call back to 89161229624",
            "Outbound call to 89161229624, duration 00:01:05. Issue explained.",
        );
        assert_eq!(
            ticket_update(&sess, "2", &TicketChange { state: Some("open"), ..TicketChange::default() }, Some(&article)),
            read("08-TicketUpdate-request.xml")
        );
        assert_eq!(ticket_get(&sess, "4", true), read("13-TicketGet-minimal-article-request.xml"));
        // a recording attached to an article (sample 40, the WAV it carried)
        let mut rec = Article::phone(
            "agent",
            "Call recording 1796147411.0",
            "Recording of call 1796147411.0 (84956693308), 1 s, attached.",
        );
        rec.visible_for_customer = false;
        rec.attachments.push(super::super::Attachment {
            filename: "call-1796147411.0.wav".into(),
            content_type: "audio/wav".into(),
            content: otrs_fixtures::read("rest/call-1796147411.0.wav"),
        });
        assert_eq!(
            ticket_update(&Auth::Session("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ"), "861", &TicketChange::default(), Some(&rec)),
            read("40-TicketUpdate-attachment-request.xml")
        );
        // the answering agent becomes the owner (recorded with another session)
        let owner = TicketChange { owner: Some("operator1"), ..TicketChange::default() };
        assert_eq!(
            ticket_update(&Auth::Session("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ"), "861", &owner, None),
            read("41-TicketUpdate-owner-request.xml")
        );
    }

    #[test]
    fn escaping_cannot_break_the_envelope() {
        let evil = "a&b<c>d\"e'f</tic:Title><tic:Queue>x]]>\u{0}\u{1}\u{8}\u{b}\u{c}\u{1f}\u{7f}\u{FFFE}\u{FFFF}\ttab\r\nend";
        assert_eq!(
            escape(evil),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&lt;/tic:Title&gt;&lt;tic:Queue&gt;x]]&gt;\u{7f}\ttab&#13;\nend"
        );
        let mut t = sample_ticket();
        t.title = evil.into();
        t.body = evil.into();
        t.from = Some(evil.into());
        let xml = ticket_create(&Auth::Login { user: evil, password: evil }, &t);
        // The envelope still parses, and the values come back intact minus
        // the characters XML cannot carry.
        let root = parse_tree(xml.as_bytes()).expect("well formed");
        let op = body_element(root).expect("body");
        let title = op.child("Ticket").and_then(|t| t.child("Title")).map(|n| n.text.clone());
        assert_eq!(title.as_deref(), Some("a&b<c>d\"e'f</tic:Title><tic:Queue>x]]>\u{7f}\ttab\r\nend"));
        assert_eq!(op.child("Ticket").map(|t| t.children.len()), Some(5));
    }

    #[test]
    fn search_skips_keys_that_are_not_names() {
        let xml = ticket_search(&Auth::Session("s"), &[("Bad><x", "1"), ("", "2"), ("1a", "3"), ("Title", "<t>")]);
        assert!(!xml.contains("Bad"));
        assert!(xml.contains("<tic:Title>&lt;t&gt;</tic:Title>"));
        assert!(parse_tree(xml.as_bytes()).is_ok());
    }

    #[test]
    fn the_call_key_goes_into_a_dynamic_field_and_its_search() {
        let t = NewTicket { dynamic_fields: vec![("CallID".into(), "pbx-a-1.2".into())], ..sample_ticket() };
        let xml = ticket_create(&Auth::Session("s"), &t);
        assert!(
            xml.contains("<tic:DynamicField>")
                && xml.contains("<tic:Name>CallID</tic:Name>")
                && xml.contains("<tic:Value>pbx-a-1.2</tic:Value>"),
            "{xml}"
        );
        assert!(!ticket_create(&Auth::Session("s"), &sample_ticket()).contains("DynamicField"));
        let xml = ticket_search(&Auth::Session("s"), &[("DynamicField_CallID/Equals", "pbx-a-1.2"), ("Bad/<x", "1")]);
        assert!(xml.contains("<tic:DynamicField_CallID>") && xml.contains("<tic:Equals>pbx-a-1.2</tic:Equals>"), "{xml}");
        assert!(!xml.contains("Bad"));
        assert!(parse_tree(xml.as_bytes()).is_ok());
    }

    #[test]
    fn base64_as_everyone_writes_it() {
        for (data, want) in
            [(&b""[..], ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"foob", "Zm9vYg=="), (b"\xff\xfe\x00", "//4A")]
        {
            let mut out = String::new();
            base64_into(&mut out, data);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn article_bodies_from_ticket_get_with_articles() {
        let xml = otrs_fixtures::read("generic-interface/42-TicketGet-attachments-response.xml");
        let bodies = parse_article_bodies(200, "text/xml; charset=UTF-8", &xml).unwrap();
        assert!(bodies.len() >= 2, "{bodies:?}");
        assert!(bodies[0].starts_with("Входящий звонок"), "{}", bodies[0]);
        assert!(bodies.iter().any(|b| b.contains("1796147411.0")), "{bodies:?}");
    }

    #[test]
    fn update_without_state_or_article() {
        let xml = ticket_update(&Auth::Session("s"), "7", &TicketChange::default(), None);
        assert!(xml.contains("<tic:TicketID>7</tic:TicketID>\n    </tic:TicketUpdate>"));
        assert!(!xml.contains("Article") && !xml.contains("<tic:Ticket>"));
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let s = format!("{:?} {:?}", Auth::Login { user: "u", password: "hunter2" }, Auth::Session("SECRETSID"));
        assert!(!s.contains("hunter2") && !s.contains("SECRETSID"));
    }

    // ---- replies (bodies are the samples' bytes) ----

    #[test]
    fn parses_session_create() {
        let body = super::samples::session_created(SID);
        assert_eq!(parse_session_create(200, XML, &body), Ok(SID.to_string()));
    }

    #[test]
    fn session_create_wrong_password_is_auth_fail() {
        let body = reply(
            r#"<SessionCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><Error><ErrorCode>SessionCreate.AuthFail</ErrorCode><ErrorMessage>SessionCreate: Authorization failing!</ErrorMessage></Error></SessionCreateResponse>"#,
        );
        let err = parse_session_create(200, XML, &body).unwrap_err();
        assert!(err.is_auth_fail());
        assert_eq!(err.to_string(), "SessionCreate.AuthFail: SessionCreate: Authorization failing!");
    }

    #[test]
    fn parses_ticket_create() {
        let body = reply(
            r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>2</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketCreateResponse>"#,
        );
        assert_eq!(
            parse_ticket_create(200, XML, &body),
            Ok(TicketCreated { ticket_id: "2".into(), ticket_number: "2026112610000015".into(), article_id: "2".into() })
        );
    }

    #[test]
    fn prefixes_and_whitespace_do_not_matter() {
        let body = b"<?xml version='1.0'?>\n<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'>\n <S:Body>\n  <t:TicketCreateResponse xmlns:t='http://www.otrs.org/TicketConnector/'>\n   <t:ArticleID> 9 </t:ArticleID>\n   <t:TicketID>\n8</t:TicketID>\n   <t:TicketNumber><![CDATA[0000000000000001]]></t:TicketNumber>\n  </t:TicketCreateResponse>\n </S:Body>\n</S:Envelope>\n";
        let got = parse_ticket_create(200, "", body).expect("parsed");
        assert_eq!((got.ticket_id.as_str(), got.ticket_number.as_str(), got.article_id.as_str()), ("8", "0000000000000001", "9"));
    }

    #[test]
    fn operation_errors_in_http_200() {
        let cases = [
            ("TicketCreate.AuthFail", "TicketCreate: User could not be authenticated!", true),
            (
                "TicketCreate.InvalidParameter",
                "TicketCreate: Ticket-&gt;QueueID or Ticket-&gt;Queue parameter is invalid!",
                false,
            ),
            ("TicketCreate.MissingParameter", "TicketCreate: Ticket-&gt;Title parameter is missing!", false),
        ];
        for (code, msg, auth) in cases {
            let body = reply(&format!(
                r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><Error><ErrorCode>{code}</ErrorCode><ErrorMessage>{msg}</ErrorMessage></Error></TicketCreateResponse>"#
            ));
            let err = parse_ticket_create(200, XML, &body).unwrap_err();
            assert_eq!(err.is_auth_fail(), auth, "{code}");
            match &err {
                SoapError::Operation { code: c, message } => {
                    assert_eq!(c, code);
                    assert_eq!(message, &msg.replace("&gt;", ">"));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn fault_in_http_500_text_plain() {
        let body = reply(
            r#"<Fault xmlns="http://www.otrs.org/TicketConnector/"><faultcode>Server</faultcode><faultstring>Got no OperationType!</faultstring></Fault>"#,
        );
        let err = parse_ticket_create(500, PLAIN, &body).unwrap_err();
        assert_eq!(err, SoapError::Fault { code: "Server".into(), message: "Got no OperationType!".into() });
        assert_eq!(err.to_string(), "SOAP fault Server: Got no OperationType!");
        assert!(!err.is_auth_fail());
        // a standard soap:Fault is read the same way
        let std = reply("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></soap:Fault>");
        assert_eq!(
            parse_ticket_get(500, XML, &std).unwrap_err(),
            SoapError::Fault { code: "soap:Client".into(), message: "bad".into() }
        );
    }

    #[test]
    fn plain_text_500_is_http_error() {
        let body = b"Error deserializing message:\nno element found at line 7, column 5, byte 300 at /usr/lib/x86_64-linux-gnu/perl5/5.36/XML/Parser.pm line 187.\n";
        let err = parse_ticket_create(500, PLAIN, body).unwrap_err();
        assert_eq!(err, SoapError::Http { status: 500, detail: "Error deserializing message:".into() });
        assert_eq!(err.to_string(), "HTTP 500: Error deserializing message:");
        let html = b"<html><head><title>404 Not Found</title></head><body>x</body></html>";
        assert_eq!(parse_ticket_create(404, "text/html", html).unwrap_err().to_string(), "HTTP 404: 404 Not Found");
        assert_eq!(parse_ticket_create(502, "", b"").unwrap_err().to_string(), "HTTP 502");
    }

    #[test]
    fn non_200_with_a_reply_element() {
        let error = super::samples::op_error("TicketCreate", "AuthFail", "no");
        assert!(parse_ticket_create(500, PLAIN, &error).unwrap_err().is_auth_fail());
        let created = super::samples::ticket_created();
        assert_eq!(
            parse_ticket_create(503, XML, &created),
            Err(SoapError::Http { status: 503, detail: "unexpected TicketCreateResponse element".into() })
        );
    }

    #[test]
    fn wrong_reply_element_is_rejected() {
        let body = reply(
            r#"<TicketUpdateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>4</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketUpdateResponse>"#,
        );
        let err = parse_ticket_create(200, XML, &body).unwrap_err();
        assert_eq!(err, SoapError::Malformed("expected TicketCreateResponse, got TicketUpdateResponse".into()));
        // a bare element without an envelope is not a reply either
        let bare = b"<TicketCreateResponse><TicketID>1</TicketID></TicketCreateResponse>";
        assert!(matches!(parse_ticket_create(200, XML, bare), Err(SoapError::Malformed(_))));
    }

    #[test]
    fn missing_fields_are_malformed() {
        let body = reply(
            r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>2</ArticleID><TicketID>2</TicketID><TicketNumber> </TicketNumber></TicketCreateResponse>"#,
        );
        assert_eq!(
            parse_ticket_create(200, XML, &body).unwrap_err(),
            SoapError::Malformed("TicketCreateResponse without TicketNumber".into())
        );
        let empty = reply(r#"<SessionCreateResponse xmlns="http://www.otrs.org/TicketConnector/" xsi:nil="true" />"#);
        assert!(matches!(parse_session_create(200, XML, &empty), Err(SoapError::Malformed(_))));
    }

    #[test]
    fn truncated_and_garbage_replies_are_malformed() {
        let full = reply(
            r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>2</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketCreateResponse>"#,
        );
        for cut in 0..full.len() {
            let err = parse_ticket_create(200, XML, &full[..cut]).unwrap_err();
            assert!(matches!(err, SoapError::Malformed(_)), "cut {cut}: {err:?}");
            assert!(!err.to_string().contains('\n'));
        }
        let garbage: [&[u8]; 6] =
            [b"\xff\xfe\x00<", b"<a><b></a>", b"<<<<", b"hello", b"<a/><b/>", b"<Envelope>\xc3\x28</Envelope>"];
        for g in garbage {
            assert!(matches!(parse_ticket_create(200, "text/html", g), Err(SoapError::Malformed(_))));
        }
        assert_eq!(
            parse_ticket_create(200, "text/html; charset=x", b"<html>").unwrap_err().to_string(),
            "malformed reply: not a SOAP reply (text/html): truncated (unclosed elements)"
        );
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let deep = "<a>".repeat(100_000);
        assert!(parse_ticket_create(200, XML, deep.as_bytes()).is_err());
        let huge = reply(&format!("<TicketSearchResponse>{}</TicketSearchResponse>", "<TicketID>1</TicketID>".repeat(50_000)));
        assert_eq!(parse_ticket_search(200, XML, &huge).map(|v| v.len()), Ok(50_000));
        let mut seed: u32 = 12345;
        let base = reply(
            r#"<TicketGetResponse><Ticket><TicketID>2</TicketID><TicketNumber>1</TicketNumber></Ticket></TicketGetResponse>"#,
        );
        for _ in 0..2000 {
            let mut b = base.clone();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let idx = (seed as usize >> 8) % b.len();
                if let Some(byte) = b.get_mut(idx) {
                    *byte = (seed >> 24) as u8;
                }
            }
            let _ = parse_ticket_get(200, XML, &b);
            let _ = parse_ticket_get(500, PLAIN, &b).map_err(|e| e.to_string());
        }
        let _ = parse_ticket_create(500, "text/html", &[0xff; 10_000]).map_err(|e| e.to_string());
    }

    #[test]
    fn parses_ticket_search() {
        let two = reply(
            r#"<TicketSearchResponse xmlns="http://www.otrs.org/TicketConnector/"><TicketID>3</TicketID><TicketID>2</TicketID></TicketSearchResponse>"#,
        );
        assert_eq!(parse_ticket_search(200, XML, &two), Ok(vec!["3".to_string(), "2".to_string()]));
        let none = reply(r#"<TicketSearchResponse xmlns="http://www.otrs.org/TicketConnector/" xsi:nil="true" />"#);
        assert_eq!(parse_ticket_search(200, XML, &none), Ok(vec![]));
    }

    #[test]
    fn parses_ticket_update() {
        let body = reply(
            r#"<TicketUpdateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>4</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketUpdateResponse>"#,
        );
        assert_eq!(
            parse_ticket_update(200, XML, &body),
            Ok(TicketUpdated { ticket_id: "2".into(), ticket_number: "2026112610000015".into(), article_id: Some("4".into()) })
        );
        let no_article = reply(
            r#"<TicketUpdateResponse><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketUpdateResponse>"#,
        );
        assert_eq!(parse_ticket_update(200, XML, &no_article).map(|u| u.article_id), Ok(None));
    }

    #[test]
    fn parses_ticket_get_top_level_fields_only() {
        // Sample 05 shape: the Article (first) has its own TicketID/Subject/...
        let body = reply(
            r#"<TicketGetResponse xmlns="http://www.otrs.org/TicketConnector/"><Ticket><Age>0</Age><Article><ArticleID>2</ArticleID><Body>x</Body><TicketID>999</TicketID><Title>wrong</Title></Article><CustomerID>ACME</CustomerID><CustomerUserID>ivanov</CustomerUserID><Priority>3 normal</Priority><Queue>Raw</Queue><SLAID /><State>new</State><StateID>1</StateID><StateType>new</StateType><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber><Title>Incoming call from 89161229624</Title></Ticket></TicketGetResponse>"#,
        );
        assert_eq!(
            parse_ticket_get(200, XML, &body),
            Ok(TicketInfo {
                ticket_id: "2".into(),
                ticket_number: "2026112610000015".into(),
                title: "Incoming call from 89161229624".into(),
                state: "new".into(),
                state_type: "new".into(),
                queue: "Raw".into(),
                priority: "3 normal".into(),
                customer_user_id: "ivanov".into(),
            })
        );
        let denied = reply(
            r#"<TicketGetResponse xmlns="http://www.otrs.org/TicketConnector/"><Error><ErrorCode>TicketGet.AccessDenied</ErrorCode><ErrorMessage>TicketGet: User does not have access to the ticket!</ErrorMessage></Error></TicketGetResponse>"#,
        );
        assert!(matches!(parse_ticket_get(200, XML, &denied), Err(SoapError::Operation { .. })));
    }

    /// Every shared sample reply parses to the expected kind of result.
    #[test]
    fn shared_sample_replies() {
        let read = |name: &str| otrs_fixtures::read(&format!("generic-interface/{name}-response.xml"));
        let r03 = read("03-TicketCreate");
        assert_eq!(parse_ticket_create(200, XML, &r03).map(|t| t.ticket_number), Ok("2026112610000015".into()));
        let ok_create = ["04-TicketCreate-userlogin-utf8", "12-TicketCreate-minimal-article"];
        for name in ok_create {
            assert!(parse_ticket_create(200, XML, &read(name)).is_ok(), "{name}");
        }
        for name in [
            "20-TicketCreate-wrong-password",
            "21-TicketCreate-unknown-queue",
            "22-TicketCreate-missing-title",
            "23-TicketCreate-unknown-customeruser",
            "24-TicketCreate-missing-contenttype",
        ] {
            let err = parse_ticket_create(200, XML, &read(name)).unwrap_err();
            assert!(matches!(err, SoapError::Operation { .. }), "{name}: {err:?}");
            assert_eq!(err.is_auth_fail(), name.starts_with("20"));
        }
        assert!(parse_session_create(200, XML, &read("02-SessionCreate-wrong-password")).unwrap_err().is_auth_fail());
        assert!(parse_ticket_get(200, XML, &read("25-TicketGet-invalid-session")).unwrap_err().is_auth_fail());
        assert_eq!(parse_ticket_get(200, XML, &read("05-TicketGet")).map(|t| t.ticket_id), Ok("2".into()));
        assert_eq!(parse_ticket_get(200, XML, &read("13-TicketGet-minimal-article")).map(|t| t.state_type), Ok("new".into()));
        assert_eq!(parse_ticket_search(200, XML, &read("07b-TicketSearch-StateType-list")).map(|v| v.len()), Ok(2));
        assert_eq!(parse_ticket_search(200, XML, &read("06-TicketSearch-StateType-open")), Ok(vec![]));
        assert!(parse_ticket_update(200, XML, &read("08-TicketUpdate")).is_ok());
        for name in ["27-Fault-WSDL-style-SOAPAction", "28-Fault-unknown-operation", "30-Fault-SOAPAction-body-mismatch"] {
            let err = parse_ticket_create(500, PLAIN, &read(name)).unwrap_err();
            assert!(matches!(err, SoapError::Fault { .. }), "{name}");
            assert!(err.to_string().chars().count() <= MAX_REASON_CHARS + 3);
        }
        let r29 = read("29-Fault-malformed-xml");
        assert!(matches!(parse_ticket_create(500, PLAIN, &r29), Err(SoapError::Http { status: 500, .. })));
    }

    #[test]
    fn display_is_one_short_line() {
        let e = SoapError::Operation { code: "X.Y".into(), message: format!("a\nb\r\tc {}", "z".repeat(500)) };
        let s = e.to_string();
        assert!(s.starts_with("X.Y: a b c zzz"));
        assert!(s.ends_with("..."));
        assert_eq!(s.chars().count(), MAX_REASON_CHARS + 3);
        assert!(!s.chars().any(|c| c.is_control()));
        assert_eq!(one_line("  a  b ", 10), "a b");
        assert_eq!(one_line("abc def", 3), "abc...");
        assert_eq!(one_line("abc def", 4), "abc...");
        assert_eq!(one_line("abc def", 5), "abc d...");
        assert_eq!(one_line("abc", 3), "abc");
    }
}
