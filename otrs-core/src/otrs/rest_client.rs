//! Blocking client for the GenericInterface ticket connector over REST
//! (`api = rest`, `url = .../nph-genericinterface.pl/Webservice/GenericTicketConnectorREST`).
//!
//! Same deadlines, session handling and errors as the SOAP client, on the
//! same transport. Znuny's REST replies keep the connection alive (rest
//! samples: `Connection: Keep-Alive`), so a burst of calls saves a TCP
//! connect per ticket. GETs carry the session in the
//! `X-OTRS-Header-SessionID` header (sample 06b), never in the URL.

use std::fmt;
use std::time::Instant;

use super::error::{redact_url, session_create_failed, session_reply_rejects, ClientError, SoapError};
use super::generic_client::{debug, mask_secrets};
use super::rest::{self, Auth};
use super::session::Sessions;
use super::transport::{Conn, Reply, Transport};
use super::{Article, NewTicket, Settings, TicketApi, TicketChange, TicketCreated, TicketInfo, TicketUpdated};

const JSON: &str = "application/json; charset=utf-8";

type Parser<T> = fn(u16, &[u8]) -> Result<T, SoapError>;

/// What one request is: method, route, body (None: a GET, auth in headers).
struct Call<'a> {
    op: &'a str,
    method: &'a str,
    path: String,
}

pub struct RestClient {
    settings: Settings,
    http: Transport,
    sessions: Sessions,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient").field("settings", &self.settings).field("has_session", &self.sessions.has_session()).finish()
    }
}

impl RestClient {
    /// Never fails; an unusable URL makes every call a [`ClientError::Connect`].
    pub fn new(settings: Settings) -> RestClient {
        RestClient {
            http: Transport::new(settings.url.trim_end_matches('/'), settings.max_reply_bytes),
            settings,
            sessions: Sessions::default(),
        }
    }

    /// Runs a request with the configured authentication; a cached session
    /// OTRS no longer takes (AuthFail: expired, server restarted, 20b) is
    /// replaced once and the request sent once more (an AuthFail did nothing).
    fn call<T>(
        &self,
        c: &Call,
        deadline: Instant,
        body: impl Fn(&Auth) -> Option<String>,
        parse: Parser<T>,
    ) -> Result<T, ClientError> {
        if !self.settings.use_session {
            let auth = Auth::Login { user: &self.settings.user, password: &self.settings.password };
            return self.request(c, &auth, body(&auth), deadline, parse);
        }
        self.sessions.with_session(
            deadline,
            || self.session_create(deadline),
            |sid| self.request(c, &Auth::Session(sid), body(&Auth::Session(sid)), deadline, parse),
        )
    }

    /// `POST /Session` (cached by `sessions`).
    fn session_create(&self, deadline: Instant) -> Result<String, ClientError> {
        let c = Call { op: "SessionCreate", method: "POST", path: "/Session".into() };
        let body = rest::session_create(&self.settings.user, &self.settings.password);
        let login = Auth::Login { user: &self.settings.user, password: &self.settings.password };
        self.request(&c, &login, Some(body), deadline, parse_session_create).map_err(session_create_failed)
    }

    fn request<T>(
        &self,
        c: &Call,
        auth: &Auth,
        body: Option<String>,
        deadline: Instant,
        parse: Parser<T>,
    ) -> Result<T, ClientError> {
        let reply = self.send(c, auth, body.as_deref(), deadline)?;
        parse(reply.status, &reply.body).map_err(ClientError::Soap)
    }

    fn send(&self, c: &Call, auth: &Auth, body: Option<&str>, deadline: Instant) -> Result<Reply, ClientError> {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        match body {
            Some(_) => headers.push(("Content-Type", JSON)),
            // the body of a GET is never read (26b): auth in headers (06b)
            None => match auth {
                Auth::Session(sid) => headers.push(("X-OTRS-Header-SessionID", sid)),
                Auth::Login { user, password } => {
                    headers.push(("X-OTRS-Header-UserLogin", user));
                    headers.push(("X-OTRS-Header-Password", password));
                }
            },
        }
        let reply = self.http.send(c.method, &c.path, &headers, body.map(str::as_bytes), deadline, c.op, Conn::for_op(c.op));
        if debug() {
            let pw = &self.settings.password;
            // the password as JSON writes it (a quote or backslash escaped)
            let json_pw = serde_json::to_string(pw).unwrap_or_default();
            let json_pw = json_pw.trim_matches('"');
            let masked = |t: &str| {
                let t = if json_pw.is_empty() { t.to_string() } else { t.replace(json_pw, "********") };
                mask_json(&mask_secrets(&t, pw))
            };
            crate::log_debug!(
                "REST {} {} {}{}: {}",
                c.op,
                c.method,
                redact_url(&self.settings.url),
                c.path,
                masked(body.unwrap_or(""))
            );
            match &reply {
                Ok(r) => {
                    crate::log_debug!("REST {} reply HTTP {}: {}", c.op, r.status, masked(&String::from_utf8_lossy(&r.body)))
                }
                Err(e) => crate::log_debug!("REST {} failed: {e}", c.op),
            }
        }
        reply
    }
}

/// SessionCreate's reply; an empty 500 is OTOBO's wrong web service name.
fn parse_session_create(status: u16, body: &[u8]) -> Result<String, SoapError> {
    match session_reply_rejects(status, body) {
        Some(e) => Err(e),
        None => rest::parse_session_create(status, body),
    }
}

/// `"SessionID": "..."` values masked (mask_secrets knows XML only).
fn mask_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\"SessionID\"") {
        let (head, tail) = rest.split_at(at + "\"SessionID\"".len());
        out.push_str(head);
        let value_start = tail.find('"').filter(|&q| tail[..q].trim_start().trim_start_matches(':').trim().is_empty());
        match value_start.and_then(|q| tail[q + 1..].find('"').map(|end| (q, q + 1 + end))) {
            Some((q, end)) => {
                out.push_str(&tail[..=q]);
                out.push_str("********");
                rest = &tail[end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

impl TicketApi for RestClient {
    fn create(&self, t: &NewTicket, _customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        let c = Call { op: "TicketCreate", method: "POST", path: "/Ticket".into() };
        self.call(&c, deadline, |auth| Some(rest::ticket_create(auth, t)), rest::parse_ticket_create)
    }

    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError> {
        let c = Call { op: "TicketSearch", method: "POST", path: "/Ticket/Search".into() };
        self.call(&c, deadline, |auth| Some(rest::ticket_search(auth, criteria)), rest::parse_ticket_search)
    }

    fn update(
        &self,
        ticket_id: &str,
        change: &TicketChange,
        article: Option<&Article>,
        deadline: Instant,
    ) -> Result<TicketUpdated, ClientError> {
        let path = rest::ticket_get_path(ticket_id, false).ok_or_else(|| bad_id(ticket_id))?;
        let c = Call { op: "TicketUpdate", method: "PATCH", path };
        self.call(&c, deadline, |auth| Some(rest::ticket_update(auth, change, article)), rest::parse_ticket_update)
    }

    fn get(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError> {
        let path = rest::ticket_get_path(ticket_id, false).ok_or_else(|| bad_id(ticket_id))?;
        let c = Call { op: "TicketGet", method: "GET", path };
        self.call(&c, deadline, |_| None, rest::parse_ticket_get)
    }

    fn article_bodies(&self, ticket_id: &str, deadline: Instant) -> Result<Vec<String>, ClientError> {
        let path = rest::ticket_get_path(ticket_id, true).ok_or_else(|| bad_id(ticket_id))?;
        let c = Call { op: "TicketGet", method: "GET", path };
        self.call(&c, deadline, |_| None, rest::parse_article_bodies)
    }

    fn clear_session(&self) {
        self.sessions.clear();
    }

    fn protocol(&self) -> String {
        "REST GenericTicketConnectorREST (JSON, keep-alive)".to_string()
    }
}

/// A TicketID that is not digits never goes into a route (25b): OTRS
/// would answer AccessDenied for it anyway (27).
fn bad_id(ticket_id: &str) -> ClientError {
    ClientError::Soap(SoapError::Operation {
        code: "TicketGet.AccessDenied".into(),
        message: format!("not a TicketID: {}", crate::text::one_line(ticket_id, 40)),
    })
}

#[cfg(test)]
mod tests;
