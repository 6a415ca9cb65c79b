//! One call's ticket: what the app knows of the call ([`CallInfo`]), the
//! flow that finds the caller and talks to OTRS (`flow`), what came of it
//! ([`Outcome`]), the tickets of recent calls for repeat calls (`recent`),
//! OTRSTicket()'s arguments (`args`) and the call's end (`end`).

pub mod answered;
pub mod args;
pub mod end;
pub mod flow;
pub mod recent;
pub mod recording;
#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;
use std::time::Duration;

use crate::customers::Customer;
use crate::otrs::TicketCreated;
use crate::runtime::stats::Stats;

/// What the app knows about the call, copied off the channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallInfo {
    /// The number as the dialplan passed it: untrusted (a SIP From header).
    pub caller: String,
    pub channel: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub exten: String,
    pub context: String,
    /// The PBX that took the call (see [`call_key`]); empty in spool jobs
    /// written before nodes were told apart.
    pub node: String,
}

impl CallInfo {
    /// The key that identifies this call's ticket in OTRS (see
    /// [`flow::call_marker`]) and its spool jobs.
    pub fn key(&self) -> String {
        call_key(&self.node, &self.uniqueid)
    }
}

/// The key of call `uniqueid` on PBX `node`: `{node}-{uniqueid}`. Asterisk's
/// uniqueid is unique on one node only (`1700000000.42` comes again on every
/// PBX whose clock and call count meet), so two PBXes that share an OTRS
/// must not find each other's tickets by it. Asterisk itself starts the
/// uniqueid with `{systemname}-` when systemname is set: then it already
/// is the key. Without a node (old spool jobs) the key is the bare uniqueid.
pub fn call_key(node: &str, uniqueid: &str) -> String {
    if node.is_empty() || uniqueid.is_empty() || uniqueid.strip_prefix(node).is_some_and(|r| r.starts_with('-')) {
        uniqueid.to_string()
    } else {
        format!("{node}-{uniqueid}")
    }
}

/// At most this many characters of a node's name go into call keys: with
/// a uniqueid the key stays within [`flow::call_marker`]'s 80.
pub const MAX_NODE_CHARS: usize = 40;

/// This PBX's name in call keys: Asterisk's `systemname` when set, else the
/// host's name, else Asterisk's entity ID (`aa:bb:cc:dd:ee:ff`, which comes
/// from a MAC address, so it differs between machines too). Only
/// `[A-Za-z0-9._-]` is kept (the rest could not go into a title marker or a
/// file name anyway), at most [`MAX_NODE_CHARS`] of it.
pub fn node_name(systemname: &str, hostname: &str, entity_id: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(MAX_NODE_CHARS).collect()
    };
    [systemname, hostname, entity_id].into_iter().map(safe).find(|n| !n.is_empty()).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The ticket exists in OTRS.
    Created,
    /// A repeat call: a phone article was added to the customer's open ticket.
    Appended,
    /// OTRS could not take it now; it is in the spool and will be created.
    Queued,
    /// No ticket, and none will come (OTRS refused it, or the spool failed).
    Failed,
    /// The caller is in `ignore_numbers`: nothing was asked of OTRS.
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::Appended => "APPENDED",
            Status::Queued => "QUEUED",
            Status::Failed => "FAILED",
            Status::Ignored => "IGNORED",
        }
    }
}

/// What came of the call's ticket: a ticket, or the reason there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum TicketResult {
    /// The ticket exists in OTRS.
    Created(TicketCreated),
    /// A repeat call, added to this open ticket.
    Appended(TicketCreated),
    /// In the spool, to be created later; why OTRS could not take it now.
    Queued(String),
    /// No ticket, and none will come; why.
    Failed(String),
    /// No ticket by configuration: the `ignore_numbers` rule, as written.
    Ignored(String),
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub result: TicketResult,
    pub customer_user: String,
    pub customer_id: String,
    /// Customer rows that matched; 0 = unknown caller. None when the
    /// customer database could not be asked (the job looks again later).
    pub matches: Option<usize>,
    /// The caller as shown in the ticket ("anonymous" when withheld).
    pub caller: String,
    /// The matched customer, if any.
    pub customer: Option<Arc<Customer>>,
    /// How long finding the caller in the customer index took (None for a
    /// withheld number: nothing to look up).
    pub lookup_time: Option<Duration>,
}

impl Outcome {
    /// No ticket and no caller: the app could not run the flow at all.
    pub fn failed(reason: &str) -> Outcome {
        Outcome {
            result: TicketResult::Failed(reason.to_string()),
            customer_user: String::new(),
            customer_id: String::new(),
            matches: None,
            caller: String::new(),
            customer: None,
            lookup_time: None,
        }
    }

    pub fn status(&self) -> Status {
        match self.result {
            TicketResult::Created(_) => Status::Created,
            TicketResult::Appended(_) => Status::Appended,
            TicketResult::Queued(_) => Status::Queued,
            TicketResult::Failed(_) => Status::Failed,
            TicketResult::Ignored(_) => Status::Ignored,
        }
    }

    /// The ticket, when created or appended to.
    pub fn ticket(&self) -> Option<&TicketCreated> {
        match &self.result {
            TicketResult::Created(t) | TicketResult::Appended(t) => Some(t),
            TicketResult::Queued(_) | TicketResult::Failed(_) | TicketResult::Ignored(_) => None,
        }
    }

    /// Short reason when not created; empty otherwise.
    pub fn error(&self) -> &str {
        match &self.result {
            TicketResult::Queued(why) | TicketResult::Failed(why) | TicketResult::Ignored(why) => why,
            TicketResult::Created(_) | TicketResult::Appended(_) => "",
        }
    }

    /// Counts what the flow ended in: created, added to an open ticket,
    /// queued or failed (its error becomes the last error), and an unknown
    /// caller. Calls and `otrs test ticket` count the same way, so the
    /// spool's depth, `Queued` and `Last error` tell one story.
    pub fn count_in(&self, stats: &Stats) {
        match &self.result {
            TicketResult::Created(_) => Stats::count(&stats.created),
            TicketResult::Appended(_) => Stats::count(&stats.appended),
            TicketResult::Queued(why) => {
                Stats::count(&stats.queued);
                stats.record_error(why);
            }
            TicketResult::Failed(why) => {
                Stats::count(&stats.failed);
                stats.record_error(why);
            }
            // not an error: no last error, not an unknown caller
            TicketResult::Ignored(_) => {
                Stats::count(&stats.ignored);
                return;
            }
        }
        if self.matches == Some(0) {
            Stats::count(&stats.unknown_callers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: TicketResult, matches: Option<usize>) -> Outcome {
        Outcome { matches, ..Outcome::failed("") }.with(result)
    }

    impl Outcome {
        fn with(mut self, result: TicketResult) -> Outcome {
            self.result = result;
            self
        }
    }

    #[test]
    fn outcomes_move_their_counter_and_the_last_error() {
        let t = TicketCreated { ticket_id: "1".into(), ticket_number: "2".into(), article_id: "3".into() };
        let s = Stats::default();
        outcome(TicketResult::Created(t.clone()), Some(1)).count_in(&s);
        outcome(TicketResult::Appended(t), Some(2)).count_in(&s);
        outcome(TicketResult::Queued("OTRS down (connection refused)".into()), Some(0)).count_in(&s);
        let snap = s.snapshot();
        assert_eq!((snap.created, snap.appended, snap.queued, snap.failed, snap.unknown_callers), (1, 1, 1, 0, 1));
        assert_eq!(snap.last_error.map(|e| e.1).as_deref(), Some("OTRS down (connection refused)"));
        outcome(TicketResult::Failed("TicketCreate.InvalidParameter".into()), None).count_in(&s);
        let snap = s.snapshot();
        assert_eq!((snap.failed, snap.unknown_callers), (1, 1));
        assert_eq!(snap.last_error.map(|e| e.1).as_deref(), Some("TicketCreate.InvalidParameter"));
        outcome(TicketResult::Ignored("4500-4599".into()), Some(0)).count_in(&s);
        let snap = s.snapshot();
        assert_eq!((snap.ignored, snap.unknown_callers, snap.failed), (1, 1, 1));
        assert_eq!(snap.last_error.map(|e| e.1).as_deref(), Some("TicketCreate.InvalidParameter"));
    }

    #[test]
    fn call_keys_carry_the_node() {
        assert_eq!(call_key("pbx-a", "1700000000.42"), "pbx-a-1700000000.42");
        assert_ne!(call_key("pbx-a", "1700000000.42"), call_key("pbx-b", "1700000000.42"));
        // Asterisk with systemname set: already in the uniqueid
        assert_eq!(call_key("pbx-a", "pbx-a-1700000000.42"), "pbx-a-1700000000.42");
        // spool jobs of before: the bare uniqueid
        assert_eq!(call_key("", "1700000000.42"), "1700000000.42");
        assert_eq!(call_key("pbx-a", ""), "");
    }

    #[test]
    fn the_node_is_the_systemname_else_the_host_else_the_entity_id() {
        assert_eq!(node_name("pbx-a", "host1", "00:11:22:33:44:55"), "pbx-a");
        assert_eq!(node_name("", "host1.example.com", "00:11:22:33:44:55"), "host1.example.com");
        assert_eq!(node_name("", "", "00:11:22:33:44:55"), "001122334455");
        assert_eq!(node_name(" \r\n", "", ""), "");
        assert_eq!(node_name("PBX one/two", "h", "e"), "PBXonetwo");
        assert_eq!(node_name(&"n".repeat(100), "", "").len(), MAX_NODE_CHARS);
    }
}
