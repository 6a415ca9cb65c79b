//! Blocking client for the GenericInterface SOAP ticket connector.
//!
//! Every call takes a deadline and finishes by it: DNS, connect, write and
//! read are all bounded by the time left, so a dialplan thread never waits
//! on OTRS longer than configured.

use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

use super::error::{redact_url, session_create_failed, session_reply_rejects, ClientError, SoapError};
use super::generic::{self as soap, Auth};
use super::session::Sessions;
use super::transport::{Conn, Reply, Transport};
use super::xml::escape;
use super::{Article, NewTicket, Settings, TicketApi, TicketChange, TicketCreated, TicketInfo, TicketUpdated};
use crate::runtime::lock;

/// `otrs set debug on`: log every SOAP request and reply, secrets masked.
static DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub fn debug() -> bool {
    DEBUG.load(std::sync::atomic::Ordering::Relaxed)
}

/// A request or reply fit for a log line: the password (as sent, XML
/// escaped) and every SessionID replaced by asterisks, cut at 8 KiB.
pub fn mask_secrets(text: &str, password: &str) -> String {
    let mut out = text.to_string();
    let escaped = escape(password);
    for p in [password, escaped.as_str()] {
        if !p.is_empty() {
            out = out.replace(p, "********");
        }
    }
    // <SessionID>..</SessionID> with any prefix and any attributes
    // (<SessionID xsi:type="xsd:string">)
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("SessionID") {
        let after = &rest[at + "SessionID".len()..];
        let in_tag = rest[..at].rfind('<').is_some_and(|lt| !rest[lt..at].contains('>'));
        let opening = rest[..at].rfind('<').is_some_and(|lt| !rest[lt..].starts_with("</"));
        let name_ends = after.starts_with(['>', ' ', '\t', '\n', '\r', '/']);
        let Some(gt) = after.find('>').filter(|_| in_tag && opening && name_ends) else {
            let (head, tail) = rest.split_at(at + "SessionID".len());
            masked.push_str(head);
            rest = tail;
            continue;
        };
        let (head, tail) = rest.split_at(at + "SessionID".len() + gt + 1);
        masked.push_str(head);
        // a self-closing tag has no value
        if head.ends_with("/>") {
            rest = tail;
            continue;
        }
        match tail.find('<') {
            Some(end) => {
                masked.push_str("********");
                rest = &tail[end..];
            }
            None => {
                masked.push_str("********");
                rest = "";
            }
        }
    }
    masked.push_str(rest);
    let mut cut: String = masked.chars().take(8192).collect();
    if cut.len() < masked.len() {
        cut.push_str(" [...]");
    }
    cut
}

type Parser<T> = fn(u16, &str, &[u8]) -> Result<T, SoapError>;

/// Client for one OTRS web service; share it between threads.
pub struct GenericClient {
    settings: Settings,
    /// Why `settings.url` is unusable; every call then fails without I/O.
    http: Transport,
    sessions: Sessions,
    /// The namespace of our SOAPAction and envelope: the configured one, or
    /// (auto) Znuny's until a server names another in its refusal.
    namespace: Mutex<String>,
    /// Whether the namespace is learnt from the server (`soap_namespace = auto`).
    learn: bool,
    /// Whether a server reply confirmed the namespace (for status).
    confirmed: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for GenericClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericClient")
            .field("settings", &self.settings)
            .field("has_session", &self.sessions.has_session())
            .finish()
    }
}

impl GenericClient {
    /// Never fails: with an unusable URL (see [`check_url`], which config
    /// validation should call first) every call returns
    /// [`ClientError::Connect`] without any I/O. A `max_reply_bytes` of 0
    /// means the default.
    pub fn new(settings: Settings) -> GenericClient {
        GenericClient {
            http: Transport::new(&settings.url, settings.max_reply_bytes),
            namespace: Mutex::new(settings.soap_namespace.clone().unwrap_or_else(|| soap::NAMESPACE.to_string())),
            learn: settings.soap_namespace.is_none(),
            settings,
            sessions: Sessions::default(),
            confirmed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs `op` with the configured authentication. With sessions, a
    /// cached SessionID that OTRS no longer accepts (expired, server
    /// restarted) is replaced once and the call retried once: an AuthFail
    /// means OTRS did nothing, so the retry cannot duplicate anything.
    fn call<T>(&self, op: &str, deadline: Instant, build: impl Fn(&Auth) -> String, parse: Parser<T>) -> Result<T, ClientError> {
        if !self.settings.use_session {
            let auth = Auth::Login { user: &self.settings.user, password: &self.settings.password };
            return self.request(op, &build(&auth), deadline, parse);
        }
        self.sessions.with_session(
            deadline,
            || self.session_create(deadline),
            |sid| self.request(op, &build(&Auth::Session(sid)), deadline, parse),
        )
    }

    /// `SessionCreate` (cached by `sessions`), alone on a fresh connection
    /// (see [`Conn::Alone`]); failures as [`session_create_failed`] says.
    fn session_create(&self, deadline: Instant) -> Result<String, ClientError> {
        let body = soap::session_create(&self.settings.user, &self.settings.password);
        self.request("SessionCreate", &body, deadline, parse_session_create).map_err(session_create_failed)
    }

    /// The namespace in use.
    pub fn namespace(&self) -> String {
        lock(&self.namespace).clone()
    }

    /// One request. With `soap_namespace = auto`, a refusal that names
    /// the namespace the server expects (OTOBO's, or a custom one) switches
    /// to it for good and sends the request once more: the SOAPAction is
    /// checked before any operation runs, so nothing was done.
    fn request<T>(&self, op: &str, body: &str, deadline: Instant, parse: Parser<T>) -> Result<T, ClientError> {
        let ns = self.namespace();
        let reply = self.post(op, &in_namespace(body, &ns), &ns, deadline)?;
        let result = parse(reply.status, &reply.content_type, &reply.body).map_err(ClientError::Soap);
        let learnt = match &result {
            Err(ClientError::Soap(SoapError::Fault { .. } | SoapError::Http { .. })) if self.learn => {
                soap::expected_namespace(&reply.body, op).filter(|n| *n != ns)
            }
            Err(ClientError::Soap(SoapError::Operation { .. })) | Ok(_) => {
                self.confirmed.store(true, std::sync::atomic::Ordering::Relaxed);
                None
            }
            _ => None,
        };
        let Some(new_ns) = learnt else {
            return result;
        };
        {
            let mut slot = lock(&self.namespace);
            if *slot == ns {
                crate::log_notice!(
                    "OTRS expects SOAP namespace {new_ns} ({}): using it from now on (set soap_namespace to skip this first refusal)",
                    soap::family(&new_ns)
                );
                *slot = new_ns.clone();
            }
        }
        let reply = self.post(op, &in_namespace(body, &new_ns), &new_ns, deadline)?;
        let result = parse(reply.status, &reply.content_type, &reply.body).map_err(ClientError::Soap);
        if matches!(result, Ok(_) | Err(ClientError::Soap(SoapError::Operation { .. }))) {
            self.confirmed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    /// One HTTP POST, all of it bounded by `deadline`; logged with
    /// secrets masked under `otrs set debug on`.
    fn post(&self, op: &str, body: &str, ns: &str, deadline: Instant) -> Result<Reply, ClientError> {
        let reply =
            self.http.post(&soap::soap_action_in(ns, op), "text/xml; charset=UTF-8", body, deadline, op, Conn::for_op(op));
        if debug() {
            let pw = &self.settings.password;
            crate::log_debug!("SOAP {op} request to {}: {}", redact_url(&self.settings.url), mask_secrets(body, pw));
            match &reply {
                Ok(r) => crate::log_debug!(
                    "SOAP {op} reply HTTP {} ({}): {}",
                    r.status,
                    r.content_type,
                    mask_secrets(&String::from_utf8_lossy(&r.body), pw)
                ),
                Err(e) => crate::log_debug!("SOAP {op} failed: {e}"),
            }
        }
        reply
    }
}

impl TicketApi for GenericClient {
    /// `TicketCreate`; the customer's company comes from the customer user.
    fn create(&self, t: &NewTicket, _customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        self.call("TicketCreate", deadline, |auth| soap::ticket_create(auth, t), soap::parse_ticket_create)
    }

    /// `TicketSearch`. See [`soap::ticket_search`].
    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError> {
        self.call("TicketSearch", deadline, |auth| soap::ticket_search(auth, criteria), soap::parse_ticket_search)
    }

    /// `TicketUpdate`: new state and/or priority and/or an added article.
    fn update(
        &self,
        ticket_id: &str,
        change: &TicketChange,
        article: Option<&Article>,
        deadline: Instant,
    ) -> Result<TicketUpdated, ClientError> {
        let build = |auth: &Auth| soap::ticket_update(auth, ticket_id, change, article);
        self.call("TicketUpdate", deadline, build, soap::parse_ticket_update)
    }

    /// `TicketGet` without articles.
    fn get(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError> {
        self.call("TicketGet", deadline, |auth| soap::ticket_get(auth, ticket_id, false), soap::parse_ticket_get)
    }

    fn article_bodies(&self, ticket_id: &str, deadline: Instant) -> Result<Vec<String>, ClientError> {
        self.call("TicketGet", deadline, |auth| soap::ticket_get(auth, ticket_id, true), soap::parse_article_bodies)
    }

    fn clear_session(&self) {
        self.sessions.clear();
    }

    fn protocol(&self) -> String {
        let ns = self.namespace();
        let how = match (self.learn, self.confirmed.load(std::sync::atomic::Ordering::Relaxed)) {
            (false, _) => "configured",
            (true, true) => "learnt from the server",
            (true, false) => "auto, not confirmed yet",
        };
        format!("SOAP GenericTicketConnector, {} namespace {ns} ({how})", soap::family(&ns))
    }
}

/// SessionCreate's reply; an empty 500 is OTOBO's wrong web service name.
fn parse_session_create(status: u16, content_type: &str, body: &[u8]) -> Result<String, SoapError> {
    match session_reply_rejects(status, body) {
        Some(e) => Err(e),
        None => soap::parse_session_create(status, content_type, body),
    }
}

/// `body` (built in Znuny's namespace) in namespace `ns`: only the
/// envelope's `xmlns:tic` names it.
fn in_namespace<'a>(body: &'a str, ns: &str) -> std::borrow::Cow<'a, str> {
    if ns == soap::NAMESPACE {
        return std::borrow::Cow::Borrowed(body);
    }
    std::borrow::Cow::Owned(body.replacen(&format!("xmlns:tic=\"{}\"", soap::NAMESPACE), &format!("xmlns:tic=\"{ns}\""), 1))
}

#[cfg(test)]
mod mask_tests {
    use super::mask_secrets;

    #[test]
    fn password_and_session_are_masked() {
        let body = "<tic:UserLogin>agent</tic:UserLogin><tic:Password>p&amp;ss</tic:Password><tic:SessionID>abc123</tic:SessionID>\n  <tic:Ticket/><SessionID>xyz</SessionID>";
        let m = mask_secrets(body, "p&ss");
        assert!(!m.contains("p&amp;ss") && !m.contains("abc123") && !m.contains("xyz"), "{m}");
        assert!(m.contains("<tic:UserLogin>agent</tic:UserLogin>"), "{m}");
        assert!(m.contains("</tic:SessionID>\n  <tic:Ticket/>"), "text after a closing tag kept: {m}");
        assert_eq!(m.matches("********").count(), 3, "{m}");
    }

    #[test]
    fn a_session_id_with_attributes_is_masked_too() {
        let body = r#"<SessionCreateResponse><SessionID xsi:type="xsd:string">Sess-Secret-1</SessionID></SessionCreateResponse><ns1:SessionID
 xmlns:ns1="x">Sess-Secret-2</ns1:SessionID><SessionIDs>kept</SessionIDs><SessionID/>"#;
        let m = mask_secrets(body, "");
        assert!(!m.contains("Sess-Secret"), "{m}");
        assert!(m.contains(r#"<SessionID xsi:type="xsd:string">********</SessionID>"#), "{m}");
        assert!(m.contains("<SessionIDs>kept</SessionIDs><SessionID/>"), "other elements kept: {m}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otrs::error::check_url;
    use crate::otrs::generic::samples::{self, SID};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::{self, Receiver};
    use std::thread;
    use std::time::Duration;

    /// What the test server does with one connection.
    enum Step {
        /// Read the request, write these bytes, close.
        Reply(Vec<u8>),
        /// Read the request, then stay silent for this long, then close.
        Hang(Duration),
    }

    /// A request as the server saw it.
    #[derive(Debug)]
    struct Seen {
        head: String,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }
    }

    /// Serves `steps` on one connection each, in order; returns the URL and
    /// a receiver of the requests seen.
    fn server(steps: Vec<Step>) -> (String, Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for step in steps {
                let Ok((stream, _)) = listener.accept() else { return };
                let Some(seen) = read_request(&stream) else { return };
                let _ = tx.send(seen);
                serve(stream, step);
            }
        });
        (format!("http://127.0.0.1:{port}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"), rx)
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
        let seen = Seen { head, body: String::new() };
        let len: usize = seen.header("Content-Length")?.parse().ok()?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        Some(Seen { body: String::from_utf8(body).ok()?, ..seen })
    }

    fn serve(mut stream: TcpStream, step: Step) {
        match step {
            Step::Reply(bytes) => {
                let _ = stream.write_all(&bytes);
            }
            Step::Hang(d) => thread::sleep(d),
        }
    }

    fn ok(body: &[u8]) -> Step {
        Step::Reply(samples::http("200 OK", "text/xml", body))
    }

    fn client(url: &str, use_session: bool) -> GenericClient {
        GenericClient::new(Settings {
            url: url.to_string(),
            user: "soapagent".into(),
            password: "SoapAgent2024".into(),
            use_session,
            ..Settings::default()
        })
    }

    fn ticket() -> NewTicket {
        NewTicket {
            title: "Incoming call from 89161229624".into(),
            queue: "Raw".into(),
            state: "new".into(),
            priority: "3 normal".into(),
            customer_user: "ivanov".into(),
            subject: "Call from 89161229624".into(),
            body: "Inbound call".into(),
            ..NewTicket::default()
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn created() -> TicketCreated {
        TicketCreated { ticket_id: "2".into(), ticket_number: "2026112610000015".into(), article_id: "2".into() }
    }

    /// A wrong web service name (SOAP sample 31): no reply at all; with
    /// `Connection: close` at once instead of after Apache's 5 s. No ticket
    /// request is sent; the failure is "rejects", nothing maybe done.
    #[test]
    fn a_wrong_web_service_name_rejects_at_once() {
        use crate::otrs::transport::unanswering_server;
        let (url, heads) = unanswering_server("GenericTicketConnectorSOAPX", Duration::from_secs(5), usize::MAX, b"");
        let started = Instant::now();
        let e = client(&url, true).create(&ticket(), None, soon()).unwrap_err();
        assert_eq!(e, ClientError::NoReply);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!((e.failure(), e.maybe_delivered()), (crate::otrs::error::Failure::Rejects, false));
        let heads = lock(&heads).clone();
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert!(heads.iter().all(|h| h.contains("#SessionCreate") && h.contains("Connection: close\r\n")), "{heads:?}");
    }

    #[test]
    fn concurrent_calls_share_one_session_create() {
        let (url, seen) = server(vec![
            ok(&samples::session_created(SID)),
            ok(&samples::ticket_created()),
            ok(&samples::ticket_created()),
            ok(&samples::ticket_created()),
            ok(&samples::ticket_created()),
        ]);
        let c = std::sync::Arc::new(client(&url, true));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || c.create(&ticket(), None, soon()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread"), Ok(created()));
        }
        let ops: Vec<String> = seen.try_iter().map(|s| s.header("SOAPAction").unwrap_or_default().to_string()).collect();
        assert_eq!(ops.iter().filter(|o| o.contains("#SessionCreate")).count(), 1, "{ops:?}");
        assert_eq!(ops.iter().filter(|o| o.contains("#TicketCreate")).count(), 4, "{ops:?}");
    }

    #[test]
    fn creates_ticket_with_session_and_reuses_it() {
        let (url, seen) =
            server(vec![ok(&samples::session_created(SID)), ok(&samples::ticket_created()), ok(&samples::ticket_created())]);
        let c = client(&url, true);
        assert_eq!(c.create(&ticket(), None, soon()), Ok(created()));
        let login = seen.recv().expect("SessionCreate");
        assert_eq!(login.header("SOAPAction"), Some("\"http://www.otrs.org/TicketConnector/#SessionCreate\""));
        assert_eq!(login.header("Content-Type"), Some("text/xml; charset=UTF-8"));
        assert!(login.head.starts_with("POST /otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP HTTP/1.1\r\n"));
        assert_eq!(login.body, soap::session_create("soapagent", "SoapAgent2024"));
        let create = seen.recv().expect("TicketCreate");
        assert_eq!(create.header("SOAPAction"), Some("\"http://www.otrs.org/TicketConnector/#TicketCreate\""));
        assert_eq!(create.body, soap::ticket_create(&Auth::Session(SID), &ticket()));
        // second ticket: cached session, no SessionCreate
        assert_eq!(c.create(&ticket(), None, soon()), Ok(created()));
        let again = seen.recv().expect("TicketCreate 2");
        assert!(again.body.contains(&format!("<tic:SessionID>{SID}</tic:SessionID>")));
        assert!(again.body.contains("<tic:TicketCreate>"));
    }

    #[test]
    fn renews_expired_session_once() {
        let fresh = "NEWSESSION0000000000000000000000";
        let (url, seen) = server(vec![
            ok(&samples::session_created(SID)),
            ok(&samples::ticket_created()),
            ok(&samples::op_error("TicketCreate", "AuthFail", "TicketCreate: User could not be authenticated!")),
            ok(&samples::session_created(fresh)),
            ok(&samples::ticket_created()),
        ]);
        let c = client(&url, true);
        assert_eq!(c.create(&ticket(), None, soon()), Ok(created()));
        assert_eq!(c.create(&ticket(), None, soon()), Ok(created()));
        let bodies: Vec<String> = seen.try_iter().map(|s| s.body).collect();
        assert_eq!(bodies.len(), 5);
        assert!(bodies[2].contains(SID), "refused TicketCreate used the old session");
        assert!(bodies[3].contains("<tic:SessionCreate>"));
        assert!(bodies[4].contains(&format!("<tic:SessionID>{fresh}</tic:SessionID>")));
        assert!(bodies[4].contains("<tic:TicketCreate>"));
    }

    #[test]
    fn fresh_session_refused_is_not_retried() {
        let auth_fail = samples::op_error("TicketCreate", "AuthFail", "TicketCreate: Authorization failing!");
        let (url, seen) = server(vec![ok(&samples::session_created(SID)), ok(&auth_fail)]);
        let c = client(&url, true);
        let err = c.create(&ticket(), None, soon()).unwrap_err();
        assert!(err.is_auth_fail() && !err.maybe_delivered());
        assert_eq!(seen.try_iter().count(), 2);
        assert!(!c.sessions.has_session(), "refused session is dropped");
    }

    #[test]
    fn wrong_password_at_session_create() {
        let (url, _seen) =
            server(vec![ok(&samples::op_error("SessionCreate", "AuthFail", "SessionCreate: Authorization failing!"))]);
        let err = client(&url, true).create(&ticket(), None, soon()).unwrap_err();
        assert!(err.is_auth_fail() && !err.maybe_delivered());
        assert_eq!(err.to_string(), "SessionCreate.AuthFail: SessionCreate: Authorization failing!");
    }

    #[test]
    fn login_in_every_call_without_session() {
        let (url, seen) = server(vec![ok(&samples::ticket_created())]);
        assert_eq!(client(&url, false).create(&ticket(), None, soon()), Ok(created()));
        let req = seen.recv().expect("request");
        let login = Auth::Login { user: "soapagent", password: "SoapAgent2024" };
        assert_eq!(req.body, soap::ticket_create(&login, &ticket()));
    }

    #[test]
    fn operation_error_in_http_200() {
        let body = samples::op_error(
            "TicketCreate",
            "InvalidParameter",
            "TicketCreate: Ticket-&gt;QueueID or Ticket-&gt;Queue parameter is invalid!",
        );
        let (url, _seen) = server(vec![ok(&body)]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(&err, ClientError::Soap(SoapError::Operation { code, .. }) if code == "TicketCreate.InvalidParameter"));
        assert!(!err.maybe_delivered() && !err.is_auth_fail());
        assert_eq!(
            err.to_string(),
            "TicketCreate.InvalidParameter: TicketCreate: Ticket->QueueID or Ticket->Queue parameter is invalid!"
        );
    }

    #[test]
    fn plain_text_500() {
        let reply = samples::http("500 Internal Server Error", "text/plain", samples::DESERIALIZE_ERROR);
        let (url, _seen) = server(vec![Step::Reply(reply)]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert_eq!(err, ClientError::Soap(SoapError::Http { status: 500, detail: "Error deserializing message:".into() }));
        assert_eq!(err.to_string(), "HTTP 500: Error deserializing message:");
    }

    #[test]
    fn fault_in_500() {
        let reply = samples::http("500 Internal Server Error", "text/plain", &samples::fault_wsdl_action());
        let (url, _seen) = server(vec![Step::Reply(reply)]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(&err, ClientError::Soap(SoapError::Fault { code, .. }) if code == "Server"));
        assert!(!err.maybe_delivered());
        assert!(err.to_string().starts_with("SOAP fault Server: Namespace from SOAPAction"));
    }

    #[test]
    fn silent_server_times_out_by_the_deadline() {
        let (url, _seen) = server(vec![Step::Hang(Duration::from_secs(3))]);
        let c = client(&url, false);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(400);
        let err = c.create(&ticket(), None, deadline).unwrap_err();
        let late = Instant::now().saturating_duration_since(deadline);
        assert_eq!(err, ClientError::Timeout);
        assert!(err.maybe_delivered());
        assert!(late < Duration::from_millis(200), "returned {late:?} after the deadline");
        assert!(start.elapsed() >= Duration::from_millis(390), "gave up early: {:?}", start.elapsed());
    }

    #[test]
    fn silent_server_during_session_create() {
        let (url, _seen) = server(vec![Step::Hang(Duration::from_secs(3))]);
        let deadline = Instant::now() + Duration::from_millis(300);
        let err = client(&url, true).create(&ticket(), None, deadline).unwrap_err();
        assert!(Instant::now() < deadline + Duration::from_millis(200));
        // the ticket request was never sent
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
        assert!(!err.maybe_delivered());
    }

    #[test]
    fn closed_without_reply_may_be_delivered() {
        // sample 31: the connection closes without any HTTP reply
        let (url, _seen) = server(vec![Step::Reply(Vec::new())]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(err, ClientError::Io(_)), "{err:?}");
        assert!(err.maybe_delivered());
    }

    #[test]
    fn connection_refused_fails_fast() {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let c = client(&format!("http://127.0.0.1:{port}/otrs"), true);
        let start = Instant::now();
        let err = c.create(&ticket(), None, soon()).unwrap_err();
        assert!(start.elapsed() < Duration::from_millis(500));
        assert!(matches!(&err, ClientError::Connect(why) if why.contains("refused")), "{err:?}");
        assert!(!err.maybe_delivered());
        assert!(!err.to_string().contains("127.0.0.1"), "no URL in the reason: {err}");
    }

    #[test]
    fn unresolvable_name_is_connect_error() {
        let c = client("http://nonexistent.invalid/otrs", false);
        let err = c.create(&ticket(), None, Instant::now() + Duration::from_secs(3)).unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
    }

    #[test]
    fn truncated_body() {
        let full = samples::http("200 OK", "text/xml", &samples::ticket_created());
        let cut = full.get(..full.len() - 100).unwrap_or_default().to_vec();
        let (url, _seen) = server(vec![Step::Reply(cut)]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(err, ClientError::Io(_)), "{err:?}");
        assert!(err.maybe_delivered());
        // without Content-Length the cut shows as unparseable XML
        let body = samples::ticket_created();
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n".to_vec();
        raw.extend_from_slice(body.get(..body.len() - 30).unwrap_or_default());
        let (url, _seen) = server(vec![Step::Reply(raw)]);
        let err = client(&url, false).create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(err, ClientError::Soap(SoapError::Malformed(_))), "{err:?}");
        assert!(err.maybe_delivered());
    }

    #[test]
    fn reply_over_the_size_cap() {
        let settings =
            |url: &str| Settings { url: url.to_string(), use_session: false, max_reply_bytes: 300, ..Settings::default() };
        // declared by Content-Length
        let (url, _seen) = server(vec![ok(&samples::ticket_created())]);
        let c = GenericClient::new(settings(&url));
        assert_eq!(c.create(&ticket(), None, soon()), Err(ClientError::TooLarge));
        // undeclared: read until close, stopped at the cap
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 100_000));
        let (url, _seen) = server(vec![Step::Reply(raw)]);
        let c = GenericClient::new(settings(&url));
        let err = c.create(&ticket(), None, soon()).unwrap_err();
        assert_eq!(err, ClientError::TooLarge);
        assert!(err.maybe_delivered());
    }

    #[test]
    fn deadline_already_passed_sends_nothing() {
        let (url, seen) = server(vec![ok(&samples::ticket_created())]);
        let err = client(&url, false).create(&ticket(), None, Instant::now()).unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)) && !err.maybe_delivered());
        assert!(seen.recv_timeout(Duration::from_millis(100)).is_err());
    }

    #[test]
    fn wrappers_search_update_get() {
        let search = samples::reply(
            r#"<TicketSearchResponse xmlns="http://www.otrs.org/TicketConnector/"><TicketID>3</TicketID><TicketID>2</TicketID></TicketSearchResponse>"#,
        );
        let update = samples::reply(
            r#"<TicketUpdateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>4</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketUpdateResponse>"#,
        );
        let get = samples::reply(
            r#"<TicketGetResponse xmlns="http://www.otrs.org/TicketConnector/"><Ticket><State>open</State><StateType>open</StateType><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></Ticket></TicketGetResponse>"#,
        );
        let (url, seen) = server(vec![ok(&samples::session_created(SID)), ok(&search), ok(&update), ok(&get)]);
        let c = client(&url, true);
        let ids = c.search(&[("CustomerUserLogin", "ivanov"), ("StateType", "new"), ("StateType", "open")], soon());
        assert_eq!(ids, Ok(vec!["3".to_string(), "2".to_string()]));
        let article = Article::phone("agent", "Call back", "Outbound call");
        let updated = c
            .update("2", &TicketChange { state: Some("open"), ..TicketChange::default() }, Some(&article), soon())
            .expect("update");
        assert_eq!(updated.article_id.as_deref(), Some("4"));
        assert_eq!(c.get("2", soon()).map(|t| t.state_type), Ok("open".to_string()));
        let actions: Vec<String> = seen.try_iter().filter_map(|s| s.header("SOAPAction").map(str::to_string)).collect();
        let ops: Vec<&str> = actions.iter().filter_map(|a| a.trim_matches('"').rsplit('#').next()).collect();
        assert_eq!(ops, ["SessionCreate", "TicketSearch", "TicketUpdate", "TicketGet"]);
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "ftp://h/x",
            "h/x",
            "http://",
            "http:///x",
            "http://h/x\r\nX-Evil: 1",
            "http://h/x\ny",
            "http://h /x",
            "https://",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "http://localhost/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP",
            "HTTP://10.0.0.1:8080/x",
            "http://[::1]/x",
            "http://u:p@h/x",
            "https://otrs.example.com/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP",
        ] {
            assert!(check_url(good).is_ok(), "{good:?} refused");
        }
        // a client with a bad URL fails every call at once, sending nothing
        let c = GenericClient::new(Settings { url: "http://h/x\r\nX-Evil: 1".into(), ..Settings::default() });
        let err = c.create(&ticket(), None, soon()).unwrap_err();
        assert!(matches!(&err, ClientError::Connect(why) if why.contains("control")), "{err:?}");
    }

    #[test]
    fn password_never_printed() {
        let settings = Settings {
            url: "http://proxyuser:urlsecret@127.0.0.1:1/otrs".into(),
            user: "soapagent".into(),
            password: "SoapAgent2024".into(),
            ..Settings::default()
        };
        let c = GenericClient::new(settings.clone());
        c.sessions.set(SID);
        for text in [format!("{settings:?}"), format!("{c:?}")] {
            assert!(!text.contains("SoapAgent2024") && !text.contains("urlsecret") && !text.contains(SID), "{text}");
            assert!(text.contains("soapagent"));
        }
        assert_eq!(redact_url("http://a:b@h:1/p@q"), "http://***@h:1/p@q");
        assert_eq!(redact_url("http://h/p@q"), "http://h/p@q");
        let err = c.create(&ticket(), None, soon()).unwrap_err();
        assert!(!err.to_string().contains("urlsecret") && !format!("{err:?}").contains("urlsecret"), "{err}");
    }
}

#[cfg(test)]
mod namespace_tests {
    use super::*;
    use crate::otrs::generic::samples;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    /// Answers like OTOBO: a SOAPAction outside its namespace gets the Fault
    /// of Kernel/GenericInterface/Transport/HTTP/SOAP.pm (ProviderProcessRequest
    /// via ProviderGenerateResponse: HTTP 500, text/plain, faultcode Server).
    fn otobo(requests: usize) -> (String, mpsc::Receiver<(String, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for _ in 0..requests {
                let Ok((mut stream, _)) = listener.accept() else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut action, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if lower.starts_with("soapaction:") {
                        action = line[11..].trim().trim_matches('"').to_string();
                    } else if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let op = action.rsplit('#').next().unwrap_or_default().to_string();
                let expected = format!("{}#{op}", soap::OTOBO_NAMESPACE);
                let reply = if action == expected {
                    samples::http("200 OK", "text/xml", &samples::session_created("OtoboSession1"))
                } else {
                    let fault = format!(
                        r#"<Fault xmlns="{}"><faultcode>Server</faultcode><faultstring>SOAPAction '{action}' does not match expected result '{expected}'</faultstring></Fault>"#,
                        soap::OTOBO_NAMESPACE
                    );
                    samples::http("500 Internal Server Error", "text/plain; charset=UTF-8", &samples::reply(&fault))
                };
                let _ = tx.send((action, String::from_utf8_lossy(&body).into_owned()));
                let _ = stream.write_all(&reply);
            }
        });
        (format!("http://127.0.0.1:{port}/otobo/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"), rx)
    }

    fn client(url: &str, ns: Option<&str>) -> GenericClient {
        GenericClient::new(Settings {
            url: url.into(),
            user: "agent".into(),
            password: "pw".into(),
            soap_namespace: ns.map(str::to_string),
            ..Settings::default()
        })
    }

    #[test]
    fn auto_learns_otobos_namespace_once_and_keeps_it() {
        let (url, seen) = otobo(3);
        let c = client(&url, None);
        assert!(c.protocol().contains("not confirmed"), "{}", c.protocol());
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(c.session_create(deadline).unwrap(), "OtoboSession1");
        let (first, _) = seen.recv().unwrap();
        let (second, body) = seen.recv().unwrap();
        assert_eq!(first, "http://www.otrs.org/TicketConnector/#SessionCreate");
        assert_eq!(second, "http://www.otobo.org/TicketConnector/#SessionCreate");
        assert!(body.contains(r#"xmlns:tic="http://www.otobo.org/TicketConnector/""#), "{body}");
        assert!(c.protocol().contains("OTOBO namespace http://www.otobo.org/TicketConnector/ (learnt"), "{}", c.protocol());
        // remembered: the next request goes straight to the right namespace
        c.session_create(deadline).unwrap();
        assert_eq!(seen.recv().unwrap().0, "http://www.otobo.org/TicketConnector/#SessionCreate");
    }

    #[test]
    fn a_configured_namespace_is_never_changed() {
        let (url, seen) = otobo(1);
        let c = client(&url, Some(soap::NAMESPACE));
        let e = c.session_create(Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, ClientError::Soap(SoapError::Fault { .. })), "{e:?}");
        assert_eq!(e.failure(), crate::otrs::error::Failure::Rejects);
        assert_eq!(seen.recv().unwrap().0, "http://www.otrs.org/TicketConnector/#SessionCreate");
        assert!(seen.recv_timeout(Duration::from_millis(200)).is_err(), "asked once");
        assert!(c.protocol().contains("(configured)"));
    }
}
