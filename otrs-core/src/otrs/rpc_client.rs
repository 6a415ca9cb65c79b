//! The client of rpc.pl (see [`super::rpc`] for the protocol): a ticket
//! with its number drawn first, its article where OTRS 5 still has one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::error::{ClientError, SoapError};
use super::rpc::*;
use super::transport::{Conn, Reply, Transport};
use super::{Article, NewTicket, Settings, TicketApi, TicketChange, TicketCreated, TicketInfo, TicketUpdated};
use crate::text::one_line;

/// What [`RpcClient::create_ticket`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcCreated {
    /// `article_id` is empty when the ticket has no article.
    pub ticket: TicketCreated,
    /// Why the ticket has no article (the ticket itself exists). One line.
    pub article_warning: Option<String>,
}

type Parser<T> = fn(u16, &str, &[u8]) -> Result<T, SoapError>;

/// Client for one rpc.pl; share it between threads.
pub struct RpcClient {
    settings: Settings,
    http: Transport,
    /// Set once OTRS said it has no `TicketObject->ArticleCreate` (6+).
    no_article_create: AtomicBool,
    /// Whether the missing article was logged (once per client: a reload
    /// builds a new one).
    warned: AtomicBool,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("settings", &self.settings)
            .field("no_article_create", &self.no_article_create.load(Ordering::Relaxed))
            .finish()
    }
}

impl RpcClient {
    /// Never fails: with an unusable URL (see [`check_url`]) every call
    /// returns [`ClientError::Connect`] without I/O. A `max_reply_bytes` of 0
    /// means the default.
    pub fn new(settings: Settings) -> RpcClient {
        RpcClient {
            http: Transport::new(&settings.url, settings.max_reply_bytes),
            settings,
            no_article_create: AtomicBool::new(false),
            warned: AtomicBool::new(false),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether this OTRS turned out to have no `ArticleCreate` in rpc.pl
    /// (OTRS 6+): tickets are then created without their article.
    pub fn articles_unsupported(&self) -> bool {
        self.no_article_create.load(Ordering::Relaxed)
    }

    /// [`create_ticket_for`](Self::create_ticket_for) without a CustomerID
    /// (the ticket's CustomerID stays empty).
    pub fn create_ticket(&self, t: &NewTicket, deadline: Instant) -> Result<RpcCreated, ClientError> {
        self.create_ticket_for(t, None, deadline)
    }

    /// `TicketCreateNumber`, `TicketCreate` with that number as `TN`, then
    /// the article with `ArticleCreate`. Once the ticket exists the result
    /// is `Ok`: an article that could not be added (OTRS 6+, a fault, the
    /// deadline) is reported in [`RpcCreated::article_warning`].
    ///
    /// Errors before `TicketCreate` was sent never claim
    /// [`ClientError::maybe_delivered`] (only a ticket number was drawn);
    /// wrong credentials are `rpc.AuthFail` ([`ClientError::is_auth_fail`]).
    /// To make retries after a lost `TicketCreate` reply safe, use
    /// [`ticket_create_number`](Self::ticket_create_number), keep the number,
    /// and look it up with [`ticket_id_by_number`](Self::ticket_id_by_number)
    /// before trying [`ticket_create_numbered`](Self::ticket_create_numbered)
    /// again.
    pub fn create_ticket_for(
        &self,
        t: &NewTicket,
        customer_id: Option<&str>,
        deadline: Instant,
    ) -> Result<RpcCreated, ClientError> {
        let tn = self.ticket_create_number(deadline).map_err(|e| {
            if e.maybe_delivered() {
                ClientError::Connect(one_line(&format!("TicketCreateNumber failed: {e}"), 160))
            } else {
                e
            }
        })?;
        let ticket_id = self.ticket_create_numbered(t, customer_id, &tn, deadline)?;
        let (article_id, article_warning) = self.add_first_article(&ticket_id, t, deadline);
        Ok(RpcCreated { ticket: TicketCreated { ticket_id, ticket_number: tn, article_id }, article_warning })
    }

    fn add_first_article(&self, ticket_id: &str, t: &NewTicket, deadline: Instant) -> (String, Option<String>) {
        if self.articles_unsupported() {
            return (String::new(), Some(ARTICLE_UNSUPPORTED.to_string()));
        }
        match self.article_create(ticket_id, t, deadline) {
            Ok(id) => (id, None),
            Err(ClientError::Soap(e)) if is_missing_method(&e) => {
                self.no_article_create.store(true, Ordering::Relaxed);
                (String::new(), Some(ARTICLE_UNSUPPORTED.to_string()))
            }
            Err(e) => (String::new(), Some(one_line(&format!("ticket created without its article: {e}"), 200))),
        }
    }

    /// `TicketObject->TicketCreateNumber`: draws the next ticket number
    /// (OTRS's counter moves on even if it is never used).
    pub fn ticket_create_number(&self, deadline: Instant) -> Result<String, ClientError> {
        self.call::<_, &str, &str>("TicketObject", "TicketCreateNumber", &[], deadline, parse_ticket_create_number)
    }

    /// `TicketObject->TicketCreate` with the given ticket number; returns
    /// the TicketID. OTRS refuses a number already used (nothing is
    /// created: [`CODE_TICKET_CREATE_FAILED`]).
    pub fn ticket_create_numbered(
        &self,
        t: &NewTicket,
        customer_id: Option<&str>,
        tn: &str,
        deadline: Instant,
    ) -> Result<String, ClientError> {
        let params = ticket_create_params(t, customer_id, Some(tn));
        self.call("TicketObject", "TicketCreate", &params, deadline, parse_ticket_create)
    }

    /// `TicketObject->ArticleCreate` (OTRS 5 and older): the ticket's
    /// customer phone article; returns the ArticleID.
    pub fn article_create(&self, ticket_id: &str, t: &NewTicket, deadline: Instant) -> Result<String, ClientError> {
        let params = article_create_params(ticket_id, t);
        self.call("TicketObject", "ArticleCreate", &params, deadline, parse_article_create)
    }

    /// `TicketObject->TicketIDLookup(TicketNumber)`: whether a ticket with
    /// this number exists (e.g. after a `TicketCreate` whose reply was lost).
    pub fn ticket_id_by_number(&self, tn: &str, deadline: Instant) -> Result<Option<String>, ClientError> {
        let params = [("TicketNumber", tn), ("UserID", SYSTEM_USER_ID)];
        self.call("TicketObject", "TicketIDLookup", &params, deadline, parse_ticket_id_lookup)
    }

    /// `TicketObject->TicketGet`: all fields as sent (sample 06).
    pub fn ticket_get(&self, ticket_id: &str, deadline: Instant) -> Result<Vec<(String, String)>, ClientError> {
        let params = [("TicketID", ticket_id), ("UserID", SYSTEM_USER_ID)];
        self.call("TicketObject", "TicketGet", &params, deadline, parse_pairs)
    }

    /// `TicketGet` reduced to the fields of [`TicketInfo`], as
    /// [`GenericClient::get`](super::generic_client::GenericClient) returns them.
    pub fn get_ticket(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError> {
        let pairs = self.ticket_get(ticket_id, deadline)?;
        ticket_info(&pairs).map_err(ClientError::Soap)
    }

    /// `CustomerUserObject->CustomerUserDataGet(User => login)` (sample 08):
    /// the company's then the user's fields (`UserPhone`, `UserMobile`,
    /// `UserCustomerID`...). An unknown login is [`CODE_NO_RESULT`].
    pub fn customer_user_data(&self, login: &str, deadline: Instant) -> Result<Vec<(String, String)>, ClientError> {
        let params = [("User", login)];
        self.call("CustomerUserObject", "CustomerUserDataGet", &params, deadline, parse_pairs)
    }

    /// Any `Dispatch(Object, Method, %Params)` call; the raw values.
    pub fn dispatch<K: AsRef<str>, V: AsRef<str>>(
        &self,
        object: &str,
        method: &str,
        params: &[(K, V)],
        deadline: Instant,
    ) -> Result<Vec<Item>, ClientError> {
        self.call(object, method, params, deadline, parse_dispatch_reply)
    }

    fn call<T, K: AsRef<str>, V: AsRef<str>>(
        &self,
        object: &str,
        method: &str,
        params: &[(K, V)],
        deadline: Instant,
        parse: Parser<T>,
    ) -> Result<T, ClientError> {
        let body = dispatch_request(&self.settings.user, &self.settings.password, object, method, params, 3);
        let reply = self.post(method, &body, deadline)?;
        parse(reply.status, &reply.content_type, &reply.body).map_err(|e| ClientError::Soap(no_rpc_pl(e)))
    }

    /// One HTTP POST, all of it bounded by `deadline`.
    fn post(&self, method: &str, body: &str, deadline: Instant) -> Result<Reply, ClientError> {
        self.http.post(SOAP_ACTION, "text/xml; charset=utf-8", body, deadline, method, Conn::Pooled)
    }
}

/// A 404 (or 405) for rpc.pl: the server has none. OTOBO removed rpc.pl in
/// 2021 (10.1); one error says what to configure instead. As a 404 it is a
/// rejection: status and one ERROR line show it, the tickets queue.
fn no_rpc_pl(e: SoapError) -> SoapError {
    match e {
        SoapError::Http { status: status @ (404 | 405), .. } => SoapError::Http { status, detail: NO_RPC_PL.into() },
        other => other,
    }
}

/// What a missing rpc.pl says.
pub const NO_RPC_PL: &str = "this server has no rpc.pl (OTOBO removed it, Znuny may not serve it): set api = generic \
(GenericTicketConnectorSOAP) or api = rest (GenericTicketConnectorREST) and url to that web service";

/// Why tickets have no article on OTRS 6+ (samples 03/04).
pub const ARTICLE_UNSUPPORTED: &str = "ticket created without its article: this OTRS (6 or newer) has no \
ArticleCreate in rpc.pl; set api = generic to get the article";

/// rpc.pl creates tickets only: no search, no update (see
/// [`TicketApi::can_search`]).
impl TicketApi for RpcClient {
    fn create(&self, t: &NewTicket, customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        let created = self.create_ticket_for(t, customer_id, deadline)?;
        if let Some(w) = created.article_warning {
            if !self.warned.swap(true, Ordering::Relaxed) {
                crate::log_warning!(
                    "api = rpc: tickets are created without their article ({w}); OTRS 6 and later need api = generic"
                );
            }
        }
        Ok(created.ticket)
    }

    /// Only the search by title (the worker's recheck for a call marker):
    /// rpc.pl hands the params to Kernel::System::Ticket::TicketSearch as
    /// they are.
    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError> {
        let [("Title", title)] = criteria else {
            return Err(unsupported("TicketSearch"));
        };
        let params = [("Title", *title), ("Result", "ARRAY"), ("UserID", SYSTEM_USER_ID)];
        let items = self.dispatch("TicketObject", "TicketSearch", &params, deadline)?;
        Ok(items
            .into_iter()
            .filter_map(|i| match i {
                Item::Scalar(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Some(id),
                _ => None,
            })
            .collect())
    }

    fn update(
        &self,
        _ticket_id: &str,
        _change: &TicketChange,
        _article: Option<&Article>,
        _deadline: Instant,
    ) -> Result<TicketUpdated, ClientError> {
        Err(unsupported("TicketUpdate"))
    }

    fn get(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError> {
        self.get_ticket(ticket_id, deadline)
    }

    fn can_search(&self) -> bool {
        false
    }

    fn can_find_by_title(&self) -> bool {
        true
    }
}

/// What the flow never asks of rpc.pl (it checks `can_search` first).
fn unsupported(op: &str) -> ClientError {
    ClientError::Soap(SoapError::Operation {
        code: format!("rpc.{op}Unsupported"),
        message: format!("rpc.pl has no {op}; it needs api = generic"),
    })
}

#[cfg(test)]
mod no_rpc_tests {
    use super::*;

    #[test]
    fn a_server_without_rpc_pl_names_the_fix() {
        let e = ClientError::Soap(no_rpc_pl(SoapError::Http { status: 404, detail: "Not Found".into() }));
        assert!(e.to_string().contains("set api = generic") && e.to_string().contains("api = rest"), "{e}");
        assert_eq!(e.failure(), crate::otrs::error::Failure::Rejects);
        let other = no_rpc_pl(SoapError::Http { status: 502, detail: "Bad Gateway".into() });
        assert_eq!(other.to_string(), "HTTP 502: Bad Gateway");
    }
}
