//! Ticket events for screen-pop and CTI tools. Every created or appended
//! ticket (at call time or later from the spool) is reported here; the
//! module forwards them as the AMI event `OTRSTicket`.

use std::sync::RwLock;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketEvent {
    /// CREATED, APPENDED, or CREATED for a queued ticket created later.
    pub status: String,
    pub channel: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub caller: String,
    pub customer_user: String,
    pub customer_id: String,
    pub ticket_id: String,
    pub ticket_number: String,
    pub url: String,
    pub source: Source,
}

/// Where a ticket event comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// Raised while the call waits in OTRSTicket().
    #[default]
    Call,
    /// A queued ticket, created later by the spool worker.
    Spool,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Call => "call",
            Source::Spool => "spool",
        }
    }
}

impl TicketEvent {
    /// `Key: Value` lines as AMI carries them. Values lose CR/LF so a
    /// caller ID cannot forge extra headers.
    pub fn ami_body(&self) -> String {
        let fields = [
            ("Status", &self.status),
            ("Channel", &self.channel),
            ("Uniqueid", &self.uniqueid),
            ("Linkedid", &self.linkedid),
            ("CallerIDNum", &self.caller),
            ("CustomerUser", &self.customer_user),
            ("CustomerID", &self.customer_id),
            ("TicketID", &self.ticket_id),
            ("TicketNumber", &self.ticket_number),
            ("TicketURL", &self.url),
        ];
        let mut out = String::new();
        for (k, v) in fields {
            let v: String = v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            out.push_str(k);
            out.push_str(": ");
            out.push_str(&v);
            out.push_str("\r\n");
        }
        out.push_str("Source: ");
        out.push_str(self.source.as_str());
        out.push_str("\r\n");
        out
    }
}

pub type Sink = fn(&TicketEvent);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

pub fn set_sink(sink: Option<Sink>) {
    if let Ok(mut s) = SINK.write() {
        *s = sink;
    }
}

pub fn emit(e: &TicketEvent) {
    let sink = SINK.read().ok().and_then(|s| *s);
    if let Some(f) = sink {
        f(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_body_has_no_forged_lines() {
        let e = TicketEvent { caller: "123\r\nEvent: Fake".into(), source: Source::Call, ..Default::default() };
        let body = e.ami_body();
        assert!(body.contains("CallerIDNum: 123  Event: Fake\r\n"), "{body}");
        assert_eq!(body.matches("\r\n").count(), 11);
    }
}
