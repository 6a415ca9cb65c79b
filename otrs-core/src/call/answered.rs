//! OTRSAnswered(): the agent who answered owns the ticket from the moment
//! they answer. Run on the answered channel (Dial's `U()` subroutine), so
//! the agent finds the ticket as theirs while still talking; OTRSCallEnd()
//! repeats it at hangup (the same owner again changes nothing) and carries
//! it through the spool when the ticket was only queued.

use std::time::Instant;

use super::flow::Services;
use crate::otrs::TicketChange;

/// What OTRSAnswered() did; `as_str` is its OTRSANSWERSTATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The agent (login) owns the ticket now.
    Owner(String),
    /// `[agents]` names no agent for this channel: nothing done.
    NoAgent,
    /// The ticket is only queued: OTRSCallEnd() hands the owner on with it.
    Queued(String),
    /// No ticket for this call (or api = rpc); why.
    Skipped(String),
    /// OTRS refused the agent (not an agent it knows); the ticket is as it was.
    Refused(String),
    /// OTRS did not answer; OTRSCallEnd() tries again at hangup.
    Failed(String),
}

impl Answered {
    pub fn as_str(&self) -> &'static str {
        match self {
            Answered::Owner(_) => "OWNER",
            Answered::NoAgent => "NOAGENT",
            Answered::Queued(_) => "QUEUED",
            Answered::Skipped(_) => "SKIPPED",
            Answered::Refused(_) => "REFUSED",
            Answered::Failed(_) => "FAILED",
        }
    }

    /// For OTRSERROR: why the agent does not own the ticket (empty when they do).
    pub fn error(&self) -> &str {
        match self {
            Answered::Refused(why) | Answered::Failed(why) => why,
            _ => "",
        }
    }
}

/// Gives the ticket of a call (`status`, `ticket_id`: OTRSTicket()'s
/// variables) to the agent of `channel`, the answering channel.
pub fn on_answer(svc: &Services, channel: &str, status: &str, ticket_id: &str, deadline: Instant) -> Answered {
    let Some(agent) = svc.config.agents.agent_for(channel) else {
        return Answered::NoAgent;
    };
    if !svc.otrs.can_search() {
        return Answered::Skipped("api = rpc cannot change a ticket's owner".into());
    }
    match status {
        "CREATED" | "APPENDED" if !ticket_id.is_empty() => {}
        "QUEUED" => return Answered::Queued(agent.to_string()),
        "" => return Answered::Skipped("OTRSTicket() did not run for this call (use its option i)".into()),
        other => return Answered::Skipped(format!("OTRSSTATUS is {other}")),
    }
    let responsible = svc.config.general.set_responsible.then_some(agent);
    let change = TicketChange { state: Some("open"), owner: Some(agent), responsible, ..TicketChange::default() };
    match svc.otrs.update(ticket_id, &change, None, deadline) {
        Ok(_) => Answered::Owner(agent.to_string()),
        Err(e) if e.is_permanent() => {
            crate::log_warning!("ticket id {ticket_id}: OTRS refused agent '{agent}' of {channel} as the owner ({e}): check [agents] in otrs.conf");
            Answered::Refused(format!("owner {agent} refused: {e}"))
        }
        Err(e) => Answered::Failed(format!("owner {agent} not set: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Agents;
    use crate::call::testing::world;
    use crate::otrs::fake::Op;
    use crate::otrs::ClientError;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(3)
    }

    fn with_agents(w: &mut crate::call::testing::World) {
        let entries = [("PJSIP/4507", "ivanova"), ("Local/45XX@agents", "duty"), ("PJSIP/4599", "ghost")];
        w.svc.config.agents = Agents::from_entries(&entries.map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        w.otrs.set_agents(&["ivanova", "duty"]);
    }

    #[test]
    fn the_agent_owns_the_ticket_at_answer() {
        let mut w = world("answered");
        with_agents(&mut w);
        w.svc.config.general.set_responsible = true;
        let id = w.otrs.add_ticket("Call from x", "ivanov", "new");
        let a = on_answer(&w.svc, "Local/4510@agents-0000000a;1", "CREATED", &id, soon());
        assert_eq!(a, Answered::Owner("duty".into()));
        assert_eq!((a.as_str(), a.error()), ("OWNER", ""));
        let t = &w.otrs.tickets()[0];
        assert_eq!((t.owner.as_str(), t.responsible.as_str(), t.state.as_str(), t.articles.len()), ("duty", "duty", "open", 0));
    }

    #[test]
    fn unknown_agents_queued_tickets_and_outages() {
        let mut w = world("answered-not");
        with_agents(&mut w);
        let id = w.otrs.add_ticket("Call from x", "ivanov", "new");
        assert_eq!(on_answer(&w.svc, "PJSIP/4600-00000001", "CREATED", &id, soon()), Answered::NoAgent);
        let a = on_answer(&w.svc, "PJSIP/4599-00000001", "CREATED", &id, soon());
        assert!(matches!(&a, Answered::Refused(why) if why.contains("ghost")), "{a:?}");
        assert!(a.error().contains("ghost"));
        assert_eq!(w.otrs.tickets()[0].owner, "", "the ticket is left as it was");
        assert_eq!(on_answer(&w.svc, "PJSIP/4507-00000001", "QUEUED", "", soon()), Answered::Queued("ivanova".into()));
        assert!(matches!(on_answer(&w.svc, "PJSIP/4507-00000001", "IGNORED", "", soon()), Answered::Skipped(_)));
        assert!(matches!(on_answer(&w.svc, "PJSIP/4507-00000001", "", "", soon()), Answered::Skipped(_)));
        w.otrs.fail(Op::Update, ClientError::Timeout);
        assert!(matches!(on_answer(&w.svc, "PJSIP/4507-00000001", "CREATED", &id, soon()), Answered::Failed(_)));
        assert_eq!(w.otrs.tickets()[0].owner, "");
        // no request for a channel without an agent, or a call without a ticket
        assert_eq!(w.otrs.count(Op::Update), 2);
    }
}
