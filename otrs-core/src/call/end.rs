//! What happened on the call, as an article for its ticket: answered or
//! missed (from Dial's DIALSTATUS), who answered, waiting and talk time,
//! hangup cause. Pure: OTRSCallEnd() reads the channel, this writes text.

use crate::config::Profile;
use crate::otrs::{Article, TicketChange};
use crate::text::clean;

/// Dial()'s variables on the caller's channel, read by OTRSCallEnd().
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallEndInfo {
    pub dialstatus: String,
    pub peer_name: String,
    pub peer_number: String,
    /// DIALEDTIME: seconds from Dial() to the end.
    pub dialed_secs: Option<u64>,
    /// ANSWEREDTIME: seconds from answer to the end (talk time).
    pub answered_secs: Option<u64>,
    pub hangup_cause: String,
    /// The OTRS agent of the answering phone (`[agents]`), if known.
    pub agent: Option<String>,
    /// `set_responsible`: the agent becomes Responsible too.
    pub set_responsible: bool,
}

/// The outcome as it goes to OTRS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallEnd {
    pub answered: bool,
    pub subject: String,
    pub body: String,
    /// For missed calls: the profile's missed_state / missed_priority.
    pub state: Option<String>,
    pub priority: Option<String>,
    pub time_unit: Option<u32>,
    /// The agent who answered: the ticket's new Owner (and Responsible).
    pub owner: Option<String>,
    pub responsible: Option<String>,
    /// The recording or voicemail to attach (boxed: most outcomes have none,
    /// and spool tasks stay small).
    pub file: Option<Box<super::recording::FileRef>>,
}

impl CallEnd {
    pub fn article(&self) -> Article {
        let mut a = Article::phone("system", &self.subject, &self.body);
        a.time_unit = self.time_unit;
        a
    }

    /// What the outcome article's TicketUpdate changes.
    pub fn change(&self) -> TicketChange<'_> {
        TicketChange { state: self.state.as_deref(), priority: self.priority.as_deref(), ..TicketChange::default() }
    }

    /// The answering agent's TicketUpdate: owner (and responsible), state
    /// open. Sent on its own: Znuny refuses a whole update that names an
    /// agent it does not know, and the article must not go with it.
    pub fn owner_change(&self) -> Option<TicketChange<'_>> {
        let owner = self.owner.as_deref()?;
        Some(TicketChange {
            state: Some("open"),
            owner: Some(owner),
            responsible: self.responsible.as_deref(),
            ..TicketChange::default()
        })
    }
}

/// Q.850 causes an operator may meet, by number.
fn cause_name(code: &str) -> &'static str {
    match code.trim() {
        "16" => "normal clearing",
        "17" => "user busy",
        "18" => "no user responding",
        "19" => "no answer",
        "21" => "call rejected",
        "27" => "destination out of order",
        "31" => "normal, unspecified",
        "34" => "no circuit available",
        "38" => "network out of order",
        "41" => "temporary failure",
        "42" => "switching equipment congestion",
        _ => "",
    }
}

fn duration(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

pub fn parse_secs(v: &str) -> Option<u64> {
    v.trim().parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)
}

pub fn outcome(info: &CallEndInfo, profile: &Profile) -> CallEnd {
    let status = clean(&info.dialstatus).to_ascii_uppercase();
    let answered = status == "ANSWER";
    let who = match (clean(&info.peer_name), clean(&info.peer_number)) {
        (n, num) if !n.is_empty() && !num.is_empty() && n != num => format!("{n} ({num})"),
        (n, _) if !n.is_empty() => n,
        (_, num) if !num.is_empty() => num,
        _ => "the operator".to_string(),
    };
    let talk = if answered { info.answered_secs.unwrap_or(0) } else { 0 };
    let waited = info.dialed_secs.map(|d| d.saturating_sub(talk));
    let status_text = if status.is_empty() { "no Dial()".to_string() } else { status.clone() };
    let agent = info.agent.as_deref().map(clean).filter(|a| answered && !a.is_empty());
    let subject = match (&agent, answered) {
        (Some(a), _) => format!("Call answered by {a}"),
        (None, true) => format!("Call answered by {who}"),
        (None, false) => format!("Missed call ({status_text})"),
    };
    let mut body = String::new();
    if let Some(a) = &agent {
        body.push_str(&format!("Outcome: answered by agent {a} on {who}\n"));
    } else if answered {
        body.push_str(&format!("Outcome: answered by {who}\n"));
    } else {
        body.push_str(&format!("Outcome: missed, Dial() status {status_text}; the customer may need a call back\n"));
    }
    if let Some(w) = waited {
        body.push_str(&format!("Waiting time: {}\n", duration(w)));
    }
    if answered {
        body.push_str(&format!("Talk time: {}\n", duration(talk)));
    }
    let cause = clean(&info.hangup_cause);
    if !cause.is_empty() {
        match cause_name(&cause) {
            "" => body.push_str(&format!("Hangup cause: {cause}\n")),
            name => body.push_str(&format!("Hangup cause: {cause} ({name})\n")),
        }
    }
    let minutes = u32::try_from(talk.div_ceil(60)).unwrap_or(u32::MAX);
    CallEnd {
        answered,
        subject,
        body,
        state: (!answered).then(|| profile.missed_state.clone()).flatten(),
        priority: (!answered).then(|| profile.missed_priority.clone()).flatten(),
        time_unit: (profile.time_units && answered && talk > 0).then_some(minutes),
        responsible: agent.clone().filter(|_| info.set_responsible),
        owner: agent,
        file: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "default".into(),
            queue: "Raw".into(),
            missed_state: Some("open".into()),
            missed_priority: Some("4 high".into()),
            time_units: true,
            ..Profile::default()
        }
    }

    #[test]
    fn answered_call() {
        let info = CallEndInfo {
            dialstatus: "ANSWER".into(),
            peer_name: "PJSIP/4507-00000001".into(),
            peer_number: "4507".into(),
            dialed_secs: Some(75),
            answered_secs: Some(61),
            hangup_cause: "16".into(),
            ..Default::default()
        };
        let o = outcome(&info, &profile());
        assert!(o.answered);
        assert_eq!(o.subject, "Call answered by PJSIP/4507-00000001 (4507)");
        assert_eq!(
            o.body,
            "Outcome: answered by PJSIP/4507-00000001 (4507)\nWaiting time: 0:14\nTalk time: 1:01\nHangup cause: 16 (normal clearing)\n"
        );
        assert_eq!((o.state, o.priority, o.time_unit), (None, None, Some(2)));
        assert_eq!((o.owner, o.responsible), (None, None));
    }

    #[test]
    fn the_answering_agent_is_named_and_owns_the_ticket() {
        let info = CallEndInfo {
            dialstatus: "ANSWER".into(),
            peer_name: "PJSIP/4507-00000001".into(),
            peer_number: "4507".into(),
            answered_secs: Some(61),
            agent: Some("ivanova".into()),
            ..Default::default()
        };
        let o = outcome(&info, &profile());
        assert_eq!(o.subject, "Call answered by ivanova");
        assert!(o.body.starts_with("Outcome: answered by agent ivanova on PJSIP/4507-00000001 (4507)\n"), "{}", o.body);
        assert_eq!((o.owner.as_deref(), o.responsible.as_deref()), (Some("ivanova"), None));
        let c = o.owner_change().unwrap();
        assert_eq!((c.owner, c.responsible, c.state, c.priority), (Some("ivanova"), None, Some("open"), None));
        let o = outcome(&CallEndInfo { set_responsible: true, ..info.clone() }, &profile());
        assert_eq!(o.owner_change().unwrap().responsible, Some("ivanova"));
        // a missed call has nobody to own it, whatever the channel
        let o = outcome(&CallEndInfo { dialstatus: "NOANSWER".into(), ..info }, &profile());
        assert_eq!((o.owner.as_deref(), o.owner_change()), (None, None));
        assert!(!o.body.contains("ivanova"), "{}", o.body);
    }

    #[test]
    fn missed_call_reopens_with_priority() {
        let info =
            CallEndInfo { dialstatus: "NOANSWER".into(), dialed_secs: Some(30), hangup_cause: "19".into(), ..Default::default() };
        let o = outcome(&info, &profile());
        assert!(!o.answered);
        assert_eq!(o.subject, "Missed call (NOANSWER)");
        assert!(o.body.contains("Waiting time: 0:30\n") && !o.body.contains("Talk time"), "{}", o.body);
        assert_eq!((o.state.as_deref(), o.priority.as_deref(), o.time_unit), (Some("open"), Some("4 high"), None));
    }

    #[test]
    fn no_dial_and_hostile_values() {
        let info = CallEndInfo { peer_name: "evil\r\nX: y".into(), dialed_secs: None, ..Default::default() };
        let o = outcome(&info, &Profile::default());
        assert_eq!(o.subject, "Missed call (no Dial())");
        assert!(!o.body.contains('\r'));
        assert_eq!(o.time_unit, None);
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_secs("12"), Some(12));
        assert_eq!(parse_secs("12.7"), Some(12));
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs("x"), None);
    }
}
