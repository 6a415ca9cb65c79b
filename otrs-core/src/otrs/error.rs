//! Why a request to OTRS failed, and what the URL may be: shared by both
//! clients and the configuration.

use std::fmt;

use crate::text::one_line;

/// Longest `Display` text of an error (log line / channel variable).
pub(crate) const MAX_REASON_CHARS: usize = 200;

/// Why a reply did not carry the expected result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapError {
    /// `<Error>` inside a normal reply with HTTP 200 (e.g. `TicketCreate.AuthFail`).
    Operation { code: String, message: String },
    /// `<Fault>` envelope, HTTP 500 from Znuny (samples 27, 28, 30).
    Fault { code: String, message: String },
    /// Non-200 status without a SOAP envelope (sample 29, proxies, 404...).
    Http { status: u16, detail: String },
    /// Not XML, truncated, wrong reply element or missing fields.
    Malformed(String),
}

impl SoapError {
    /// The credentials or the session were refused (`*.AuthFail`).
    pub fn is_auth_fail(&self) -> bool {
        matches!(self, SoapError::Operation { code, .. } if code.ends_with(".AuthFail"))
    }
}

impl fmt::Display for SoapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SoapError::Operation { code, message } => format!("{code}: {message}"),
            SoapError::Fault { code, message } => format!("SOAP fault {code}: {message}"),
            SoapError::Http { status, detail } if detail.is_empty() => format!("HTTP {status}"),
            SoapError::Http { status, detail } => format!("HTTP {status}: {detail}"),
            SoapError::Malformed(why) => format!("malformed reply: {why}"),
        };
        f.write_str(&one_line(&text, MAX_REASON_CHARS))
    }
}

impl std::error::Error for SoapError {}

/// Why a call failed. `Display` is one short line without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The deadline passed after the request may have been (partly) sent.
    Timeout,
    /// Nothing that could change data reached OTRS: DNS failure, refused or
    /// timed-out connect, no time left before sending, or no session could
    /// be obtained (`SessionCreate` itself failed; its AuthFail is reported
    /// as `Soap` so that [`ClientError::is_auth_fail`] sees it).
    Connect(String),
    /// OTRS answered with an error, a fault, a non-200 status or garbage.
    Soap(SoapError),
    /// The connection broke after the request was sent (reset, reply cut short).
    Io(String),
    /// The reply exceeded `max_reply_bytes`.
    TooLarge,
    /// `SessionCreate`, sent alone on a fresh connection with `Connection:
    /// close`, twice, had the connection closed without one reply byte:
    /// Znuny's answer to a wrong web service name in the url (samples
    /// rest/29, SOAP 31: the NPH script prints nothing). Only for requests
    /// that change nothing; a ticket request that got no reply is [`Io`](ClientError::Io).
    NoReply,
}

impl ClientError {
    /// Whether OTRS may have executed the request. When true, retrying a
    /// `TicketCreate` could create a second ticket: search for it first.
    pub fn maybe_delivered(&self) -> bool {
        match self {
            ClientError::Timeout | ClientError::Io(_) | ClientError::TooLarge => true,
            ClientError::Connect(_) | ClientError::NoReply => false,
            // the operation ran and failed halfway (rest/32c: the article made)
            ClientError::Soap(e) if e.is_operation_failure() => true,
            ClientError::Soap(e) => match e {
                // OTRS said what it refused: nothing was done
                SoapError::Operation { .. } | SoapError::Fault { .. } => false,
                // a 5xx without envelope can come from a crash mid-operation
                // or from a proxy that forwarded the request
                SoapError::Http { status, .. } => *status >= 500 && !e.rejects_every_request(),
                // a 200 we cannot read may well report a created ticket
                SoapError::Malformed(_) => true,
            },
        }
    }

    /// The credentials (or a fresh session) were refused.
    pub fn is_auth_fail(&self) -> bool {
        matches!(self, ClientError::Soap(e) if e.is_auth_fail())
    }

    /// OTRS refused the request itself (unknown queue, missing field):
    /// trying again would only be refused again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ClientError::Soap(SoapError::Operation { .. })) && !self.is_auth_fail()
    }

    /// OTRS did not work (as opposed to refusing one request): the next
    /// calls should not wait for it. A [`Failure::Rejects`] is one too
    /// (every request would fail the same way), reported apart.
    pub fn is_outage(&self) -> bool {
        !self.is_permanent() && !self.is_auth_fail()
    }

    /// What this failure says about OTRS: see [`Failure`].
    pub fn failure(&self) -> Failure {
        match self {
            _ if self.is_permanent() => Failure::RefusesTicket,
            // OTRS works; this request failed inside it (retried, rechecked)
            ClientError::Soap(e) if e.is_operation_failure() => Failure::RefusesTicket,
            ClientError::Soap(e) if e.rejects_every_request() => Failure::Rejects,
            // a crashing server closes a connection unanswered too, but not
            // twice in a row at once on fresh connections to a login
            ClientError::NoReply => Failure::Rejects,
            _ if self.is_auth_fail() => Failure::Rejects,
            _ => Failure::Down,
        }
    }
}

/// The three ways a request fails, as the module reacts to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// OTRS (or the way to it) does not work: connect refused, timeout, a
    /// 5xx from a proxy. Queue, retry soon with backoff.
    Down,
    /// OTRS works but refuses every request of ours: a configuration error
    /// (url, SOAP namespace, web service name, route, credentials). Queue
    /// (created once the admin fixes it), retry at the long interval, and
    /// say so instead of "down".
    Rejects,
    /// OTRS refuses this one ticket (unknown queue or customer): FAILED.
    RefusesTicket,
}

impl SoapError {
    /// Whether this answer would come back for any request we send: the
    /// web service or the way we address it is wrong, not the ticket.
    /// Every SOAP fault of the Znuny samples (27, 28, 30: SOAPAction,
    /// namespace, unknown operation) and OTOBO's SOAPAction mismatch are
    /// of this kind; so are 401/403/404/405 and REST's "determine
    /// Operation" 500 (rest sample 25/26), and a 500 that names no
    /// operation of an unknown web service.
    pub fn rejects_every_request(&self) -> bool {
        match self {
            SoapError::Fault { .. } => !self.is_operation_failure(),
            SoapError::Http { status: 401 | 403 | 404 | 405, .. } => true,
            SoapError::Http { status: 500, detail } => REJECTION_TEXTS.iter().any(|t| detail.contains(t)),
            _ => false,
        }
    }
}

impl SoapError {
    /// The operation ran and failed inside OTRS, maybe after it changed
    /// data: Znuny's "Ticket/Article/Attachment could not be created, please
    /// contact the system administrator" (Kernel/GenericInterface/Operation/
    /// Ticket/TicketCreate.pm, TicketUpdate.pm: returned after TicketCreate /
    /// ArticleCreate), OTOBO's "… please contact system administrator!", as
    /// a SOAP Fault or a REST text/plain 500 (rest/32c: the article was made
    /// without its file). Not a rejection, not an outage: maybe done, so a
    /// retry searches first.
    pub fn is_operation_failure(&self) -> bool {
        match self {
            SoapError::Fault { message, .. } => message.contains("system administrator"),
            SoapError::Http { status: 500, detail } => detail.contains("system administrator"),
            _ => false,
        }
    }
}

/// Texts of a plain 500 that say the request can never be served: Znuny's
/// REST routing (rest samples 25, 26), the SOAP transport's SOAPAction
/// check (Kernel/GenericInterface/Transport/HTTP/SOAP.pm, ProviderProcessRequest:
/// "SOAPAction ... does not match expected result", "Namespace from
/// SOAPAction"), and an unknown web service (Kernel/GenericInterface/Provider.pm,
/// Run: "Could not load web service configuration").
const REJECTION_TEXTS: &[&str] = &[
    NO_WEBSERVICE_500,
    "determine Operation",
    "does not match expected result",
    "does not match namespace",
    "Namespace from SOAPAction",
    "Could not determine WebserviceID",
    "Could not load web service",
    "Could not read input data",
];

/// OTOBO's answer to a login at a web service name it does not have: HTTP
/// 500 with an empty body (RotherOSS/otobo Kernel/GenericInterface/Provider.pm,
/// Content: "Could not find valid web service" -> _ThrowWebException, a
/// Plack 500 with content ''). Znuny sends nothing at all instead
/// ([`ClientError::NoReply`]).
const NO_WEBSERVICE_500: &str = "empty reply to SessionCreate (OTOBO: no such web service)";

/// SessionCreate's reply seen before it is parsed: an empty 500 is OTOBO
/// saying the web service name is wrong. Only for SessionCreate: a ticket
/// request's empty 500 (a proxy, a crash) stays ambiguous.
pub(crate) fn session_reply_rejects(status: u16, body: &[u8]) -> Option<SoapError> {
    (status == 500 && body.iter().all(u8::is_ascii_whitespace))
        .then(|| SoapError::Http { status, detail: NO_WEBSERVICE_500.into() })
}

/// A failed SessionCreate as the call sees it: refusals stay what they are
/// (AuthFail, a fault, a wrong route or web service: rejects); anything
/// else becomes [`ClientError::Connect`], since the ticket's own request
/// was never sent. Both clients' one rule.
pub(crate) fn session_create_failed(e: ClientError) -> ClientError {
    match e {
        ClientError::Soap(SoapError::Operation { .. } | SoapError::Fault { .. }) => e,
        ClientError::Soap(ref s) if s.rejects_every_request() => e,
        ClientError::Connect(_) | ClientError::NoReply => e,
        e => ClientError::Connect(format!("SessionCreate failed: {e}")),
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ClientError::Timeout => "OTRS did not answer in time".to_string(),
            ClientError::Connect(why) => format!("cannot reach OTRS: {why}"),
            ClientError::Soap(e) => e.to_string(),
            ClientError::Io(why) => format!("connection to OTRS broken: {why}"),
            ClientError::TooLarge => "OTRS reply too large".to_string(),
            ClientError::NoReply => {
                "OTRS closed the connection without any reply to SessionCreate (a wrong web service name in url?)".to_string()
            }
        };
        f.write_str(&one_line(&text, MAX_REASON_CHARS))
    }
}

impl std::error::Error for ClientError {}

impl From<SoapError> for ClientError {
    fn from(e: SoapError) -> Self {
        ClientError::Soap(e)
    }
}

/// Whether `url` can be used: `http(s)://host...`, no whitespace or control
/// characters (a CR/LF would inject headers), a host. `https` is checked
/// against the system's CA store (ureq with rustls and native-certs).
/// Returns a one-line reason. The one rule for otrs.conf and the clients.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("OTRS url must not contain spaces or control characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("http://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else {
        return Err("OTRS url must start with http:// or https://".into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("OTRS url has no host".into());
    }
    Ok(())
}

/// `http://user:secret@host/x?Password=y` -> `http://***@host/x?Password=***`,
/// for status and logs: the user info and every query value (a password put
/// there would show otherwise) are masked.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = match rest.get(..end).and_then(|auth| auth.rfind('@')) {
        Some(at) => format!("{scheme}://***{}", rest.get(at..).unwrap_or_default()),
        None => url.to_string(),
    };
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let (query, fragment) = match query.find('#') {
            Some(h) => query.split_at(h),
            None => (query, ""),
        };
        let masked: Vec<String> = query
            .split(['&', ';'])
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None if kv.is_empty() => String::new(),
                None => "***".to_string(),
            })
            .collect();
        out = format!("{head}{}{}", masked.join("&"), if fragment.is_empty() { "" } else { "#***" });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_one_short_line() {
        let errors = [
            ClientError::Timeout,
            ClientError::Connect("a\nb".into()),
            ClientError::Io("x".repeat(1000)),
            ClientError::TooLarge,
            ClientError::NoReply,
            ClientError::Soap(SoapError::Malformed("m\r\n".into())),
        ];
        for e in errors {
            let s = e.to_string();
            assert!(!s.is_empty() && s.chars().count() <= MAX_REASON_CHARS + 3 && !s.contains(['\n', '\r']), "{s}");
        }
    }

    #[test]
    fn permanent_and_outage_errors() {
        let refused =
            ClientError::Soap(SoapError::Operation { code: "TicketCreate.InvalidParameter".into(), message: "x".into() });
        let auth = ClientError::Soap(SoapError::Operation { code: "TicketCreate.AuthFail".into(), message: "x".into() });
        assert!(refused.is_permanent() && !refused.is_outage());
        assert!(!auth.is_permanent() && !auth.is_outage());
        assert!(!ClientError::Timeout.is_permanent() && ClientError::Timeout.is_outage());
        assert!(ClientError::Connect("refused".into()).is_outage());
    }

    #[test]
    fn a_rejection_is_told_from_an_outage_and_a_refused_ticket() {
        let fault = |m: &str| ClientError::Soap(SoapError::Fault { code: "Server".into(), message: m.into() });
        let http = |status, d: &str| ClientError::Soap(SoapError::Http { status, detail: d.into() });
        let op = |c: &str| ClientError::Soap(SoapError::Operation { code: c.into(), message: "x".into() });
        for rejects in [
            fault("Got no OperationType!"),
            http(500, "SOAPAction 'http://www.otrs.org/TicketConnector/#SessionCreate' does not match expected result 'http://www.otobo.org/TicketConnector/#SessionCreate'"),
            http(500, "HTTP::REST Error while determine Operation for request URI '/TicketSearch'."),
            http(404, ""),
            http(403, "Forbidden"),
            op("TicketCreate.AuthFail"),
            ClientError::NoReply,
        ] {
            assert_eq!(rejects.failure(), Failure::Rejects, "{rejects}");
            assert!(!rejects.maybe_delivered(), "{rejects}: nothing was done");
        }
        for down in [
            ClientError::Timeout,
            ClientError::Connect("connection refused".into()),
            ClientError::Io("reset".into()),
            http(502, "Bad Gateway"),
            http(503, ""),
            http(500, "Internal Server Error"),
        ] {
            assert_eq!(down.failure(), Failure::Down, "{down}");
        }
        assert_eq!(op("TicketCreate.InvalidParameter").failure(), Failure::RefusesTicket);
        // a failure inside the operation (rest/32c, or its SOAP fault): OTRS
        // works, and the request may be half done
        for half_done in [
            fault("Attachment could not be created, please contact the system administrator"),
            http(500, "Server: Attachment could not be created, please contact the system administrator"),
            fault("Article could not be created, please contact system administrator!"),
        ] {
            assert_eq!(half_done.failure(), Failure::RefusesTicket, "{half_done}");
            assert!(half_done.maybe_delivered() && !half_done.is_permanent(), "{half_done}: retried after a search");
        }
    }

    #[test]
    fn a_url_is_shown_without_its_secrets() {
        assert_eq!(redact_url("http://a:b@h:1/p@q"), "http://***@h:1/p@q");
        assert_eq!(
            redact_url("https://h/otrs/nph-genericinterface.pl/Webservice/X?UserLogin=agent&Password=Url-Secret-9"),
            "https://h/otrs/nph-genericinterface.pl/Webservice/X?UserLogin=***&Password=***"
        );
        assert_eq!(redact_url("http://u:p@h/x?Secret-7#frag"), "http://***@h/x?***#***");
        assert_eq!(redact_url("http://h/rpc.pl"), "http://h/rpc.pl");
    }

    #[test]
    fn a_url_needs_http_and_a_host() {
        for bad in [
            "",
            "ftp://h/x",
            "h/x",
            "http://",
            "http:///x",
            "https://",
            "http://:80/x",
            "http://u:p@/x",
            "http://h/x\r\nX: 1",
            "http://h /x",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["http://h", "HTTPS://h:8443/otrs/rpc.pl", "http://[::1]/x", "http://u:p@h/x"] {
            assert!(check_url(good).is_ok(), "{good:?} refused");
        }
    }
}
