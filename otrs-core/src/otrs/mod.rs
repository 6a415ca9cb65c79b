//! Talking to OTRS: what a ticket is to this module, the one interface the
//! ticket flow and the spool worker use ([`TicketApi`]), and its two
//! implementations: the GenericInterface SOAP connector (`generic`,
//! `generic_client`) and the legacy rpc.pl (`rpc`, `rpc_client`), over one
//! HTTP transport. `xml` is the SOAP both speak; `error` why a request failed.

pub mod error;
#[cfg(test)]
pub(crate) mod fake;
pub mod generic;
pub mod generic_client;
pub mod rest;
pub mod rest_client;
pub mod rpc;
pub mod rpc_client;
mod session;
pub mod transport;
pub mod xml;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

pub use error::{check_url, redact_url, ClientError, SoapError};
// (SoapError is also used by TicketApi's default article_bodies)
use transport::DEFAULT_MAX_REPLY_BYTES;

/// What the ticket flow and the spool worker ask of OTRS. Every call
/// finishes by `deadline` (DNS, connect, send and reply all count); on an
/// error see [`ClientError::maybe_delivered`] before repeating a `create`.
/// Share it between threads.
pub trait TicketApi: Send + Sync {
    /// Opens a ticket with its first article (a customer phone article).
    /// `customer_id`: the customer's company; rpc.pl needs it, the
    /// GenericInterface derives it from the customer user.
    fn create(&self, t: &NewTicket, customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError>;

    /// TicketIDs matching `criteria` (`TicketSearch` keys, in order; a key
    /// may repeat), newest first.
    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError>;

    /// Changes state and/or priority and/or adds an article.
    fn update(
        &self,
        ticket_id: &str,
        change: &TicketChange,
        article: Option<&Article>,
        deadline: Instant,
    ) -> Result<TicketUpdated, ClientError>;

    /// The ticket's fields, without articles.
    fn get(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError>;

    /// The bodies of the ticket's articles, oldest first (without their
    /// attachments' contents): lets a retry see whether an article it sent
    /// is in already.
    fn article_bodies(&self, _ticket_id: &str, _deadline: Instant) -> Result<Vec<String>, ClientError> {
        Err(ClientError::Soap(SoapError::Operation {
            code: "TicketGet.NotSupported".into(),
            message: "this interface cannot list a ticket's articles".into(),
        }))
    }

    /// Whether `search` and `update` exist (not with rpc.pl): without them
    /// there are no repeat calls, no rechecks before a second create and no
    /// call outcomes.
    fn can_search(&self) -> bool {
        true
    }

    /// Whether `search` can at least find a ticket by its title's call
    /// marker (`Title` alone): what the spool worker's recheck needs for
    /// exactly one ticket per call. rpc.pl can, through TicketSearch.
    fn can_find_by_title(&self) -> bool {
        self.can_search()
    }

    /// Forgets a cached session (after a configuration reload).
    fn clear_session(&self) {}

    /// For `otrs show status`: the protocol and, once known, which server
    /// family answers (e.g. "SOAP, OTOBO namespace ...").
    fn protocol(&self) -> String {
        String::new()
    }
}

/// One client shared by several owners (the tests keep a handle on a fake).
impl<T: TicketApi + ?Sized> TicketApi for Arc<T> {
    fn create(&self, t: &NewTicket, customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        (**self).create(t, customer_id, deadline)
    }

    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError> {
        (**self).search(criteria, deadline)
    }

    fn update(
        &self,
        ticket_id: &str,
        change: &TicketChange,
        article: Option<&Article>,
        deadline: Instant,
    ) -> Result<TicketUpdated, ClientError> {
        (**self).update(ticket_id, change, article, deadline)
    }

    fn get(&self, ticket_id: &str, deadline: Instant) -> Result<TicketInfo, ClientError> {
        (**self).get(ticket_id, deadline)
    }

    fn article_bodies(&self, ticket_id: &str, deadline: Instant) -> Result<Vec<String>, ClientError> {
        (**self).article_bodies(ticket_id, deadline)
    }

    fn can_search(&self) -> bool {
        (**self).can_search()
    }

    fn can_find_by_title(&self) -> bool {
        (**self).can_find_by_title()
    }

    fn clear_session(&self) {
        (**self).clear_session()
    }

    fn protocol(&self) -> String {
        (**self).protocol()
    }
}

/// How to reach OTRS, for either client.
#[derive(Clone)]
pub struct Settings {
    /// `http://host/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP`,
    /// or `http://host/otrs/rpc.pl`.
    pub url: String,
    /// An agent login (GenericInterface), or OTRS's `SOAP::User` (rpc.pl).
    pub user: String,
    pub password: String,
    /// GenericInterface only: use a cached `SessionCreate` SessionID (saves
    /// ~10 ms per ticket) instead of sending login and password in every call.
    pub use_session: bool,
    /// Replies longer than this are refused with [`ClientError::TooLarge`].
    pub max_reply_bytes: usize,
    /// SOAP only: the web service's namespace; `None` learns it from the
    /// server (see [`generic_client`]).
    pub soap_namespace: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: String::new(),
            user: String::new(),
            password: String::new(),
            use_session: true,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            soap_namespace: None,
        }
    }
}

// Hand-written: the password (also one in the URL) must never be logged.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("url", &redact_url(&self.url))
            .field("user", &self.user)
            .field("password", &"***")
            .field("use_session", &self.use_session)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .field("soap_namespace", &self.soap_namespace)
            .finish()
    }
}

/// `ContentType` of every article we create (Znuny requires it, sample 24).
pub const ARTICLE_CONTENT_TYPE: &str = "text/plain; charset=utf8";

/// The ticket (and its first article) that `TicketCreate` opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTicket {
    pub title: String,
    pub queue: String,
    pub state: String,
    pub priority: String,
    /// `Type`; only sent when set (the ticket type feature may be disabled).
    pub ticket_type: Option<String>,
    /// Must be an existing customer login (sample 23).
    pub customer_user: String,
    pub subject: String,
    pub body: String,
    /// Article `From`; Znuny fills it from the customer user when absent.
    pub from: Option<String>,
    /// Ticket dynamic fields to set (name, value): the call key in
    /// `call_id_field`. GenericInterface only.
    pub dynamic_fields: Vec<(String, String)>,
}

/// An article added with `TicketUpdate` (sample 08).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// `Phone`, `Email`, `Internal`; Znuny defaults to `Internal` (sample 13).
    pub communication_channel: String,
    /// `agent`, `customer` or `system`; Znuny defaults to `agent`.
    pub sender_type: String,
    pub visible_for_customer: bool,
    pub from: Option<String>,
    pub subject: String,
    pub body: String,
    /// Time accounted for the article (`TimeUnit`), e.g. talk minutes.
    pub time_unit: Option<u32>,
    /// Files sent with it (`Attachment` next to `Article`, sample 40).
    pub attachments: Vec<Attachment>,
}

/// A file attached to an article: the call's recording, a voicemail.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// MIME type, e.g. `audio/wav`.
    pub content_type: String,
    pub content: Vec<u8>,
}

// By hand: megabytes of audio do not belong in a log line.
impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.content.len())
            .finish()
    }
}

/// Ticket fields a `TicketUpdate` changes; `None` leaves them as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketChange<'a> {
    pub state: Option<&'a str>,
    pub priority: Option<&'a str>,
    /// Agent logins (`Owner`, `Responsible`, sample 41). Znuny checks them
    /// before it adds an article: an unknown login fails the whole update.
    pub owner: Option<&'a str>,
    pub responsible: Option<&'a str>,
}

impl Article {
    /// A phone-channel article visible to the customer, as in samples 03/08.
    pub fn phone(sender_type: &str, subject: &str, body: &str) -> Article {
        Article {
            communication_channel: "Phone".to_string(),
            sender_type: sender_type.to_string(),
            visible_for_customer: true,
            from: None,
            subject: subject.to_string(),
            body: body.to_string(),
            time_unit: None,
            attachments: Vec::new(),
        }
    }
}

/// Result of `TicketCreate`. The number is 16 date-based digits: keep it text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketCreated {
    pub ticket_id: String,
    pub ticket_number: String,
    pub article_id: String,
}

/// Result of `TicketUpdate`; `article_id` only when an article was added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketUpdated {
    pub ticket_id: String,
    pub ticket_number: String,
    pub article_id: Option<String>,
}

/// The ticket fields we use from `TicketGet`; absent ones are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketInfo {
    pub ticket_id: String,
    pub ticket_number: String,
    pub title: String,
    pub state: String,
    pub state_type: String,
    pub queue: String,
    pub priority: String,
    pub customer_user_id: String,
}
