//! An OTRS in memory for the tests of the ticket flow and the spool worker:
//! tickets with titles, customers, states and articles; `TicketSearch` on
//! the criteria the module sends; and faults injected per operation, before
//! OTRS does anything or after it did (a reply lost on the way back).

use std::sync::Mutex;
use std::time::Instant;

use super::{Article, ClientError, NewTicket, SoapError, TicketApi, TicketChange, TicketCreated, TicketInfo, TicketUpdated};
use crate::runtime::lock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Search,
    Update,
    Get,
}

#[derive(Clone, Debug)]
pub(crate) struct FakeTicket {
    pub id: String,
    pub number: String,
    pub title: String,
    pub customer_user: String,
    pub state: String,
    pub state_type: String,
    pub priority: String,
    /// Agent logins; empty: nobody (Znuny's root@localhost).
    pub owner: String,
    pub responsible: String,
    /// The first one is the ticket's own (from `create`).
    pub articles: Vec<Article>,
}

#[derive(Default)]
struct State {
    tickets: Vec<FakeTicket>,
    /// (operation, error, whether OTRS did the operation before failing)
    faults: Vec<(Op, ClientError, bool)>,
    calls: Vec<Op>,
    /// Agent logins Owner and Responsible may name.
    agents: Vec<String>,
}

pub(crate) struct FakeOtrs {
    state: Mutex<State>,
    /// false: behaves as rpc.pl (no search, no update).
    searchable: bool,
}

impl FakeOtrs {
    /// A GenericInterface OTRS.
    pub fn new() -> FakeOtrs {
        FakeOtrs { state: Mutex::new(State::default()), searchable: true }
    }

    /// An rpc.pl OTRS: tickets can be created and read only.
    pub fn rpc() -> FakeOtrs {
        FakeOtrs { searchable: false, ..FakeOtrs::new() }
    }

    /// The next `op` fails with `e` before OTRS does anything.
    pub fn fail(&self, op: Op, e: ClientError) {
        lock(&self.state).faults.push((op, e, false));
    }

    /// The next `op` is done by OTRS, but its reply is lost: the caller
    /// sees `e`.
    pub fn fail_after(&self, op: Op, e: ClientError) {
        lock(&self.state).faults.push((op, e, true));
    }

    /// Every following `op` fails with `e` (until [`Self::heal`]).
    pub fn fail_always(&self, op: Op, e: ClientError) {
        for _ in 0..1000 {
            self.fail(op, e.clone());
        }
    }

    /// The agents OTRS knows (for Owner, Responsible).
    pub fn set_agents(&self, logins: &[&str]) {
        lock(&self.state).agents = logins.iter().map(|l| l.to_string()).collect();
    }

    pub fn heal(&self) {
        lock(&self.state).faults.clear();
    }

    pub fn tickets(&self) -> Vec<FakeTicket> {
        lock(&self.state).tickets.clone()
    }

    /// How often `op` was asked for (failed or not).
    pub fn count(&self, op: Op) -> usize {
        lock(&self.state).calls.iter().filter(|c| **c == op).count()
    }

    /// A ticket made in OTRS by someone else (an agent, another PBX).
    pub fn add_ticket(&self, title: &str, customer_user: &str, state_type: &str) -> String {
        let mut s = lock(&self.state);
        let t = new_ticket(s.tickets.len(), title, customer_user);
        let id = t.id.clone();
        s.tickets.push(FakeTicket { state_type: state_type.to_string(), ..t });
        id
    }

    /// Changes a ticket's state type (an agent closed it...).
    pub fn set_state_type(&self, ticket_id: &str, state_type: &str) {
        let mut s = lock(&self.state);
        if let Some(t) = s.tickets.iter_mut().find(|t| t.id == ticket_id) {
            t.state_type = state_type.to_string();
        }
    }

    /// Records the call; the injected fault for `op`, if any.
    fn enter(&self, op: Op) -> Option<(ClientError, bool)> {
        let mut s = lock(&self.state);
        s.calls.push(op);
        let at = s.faults.iter().position(|(o, _, _)| *o == op)?;
        let (_, e, after) = s.faults.remove(at);
        Some((e, after))
    }
}

fn new_ticket(n: usize, title: &str, customer_user: &str) -> FakeTicket {
    let id = (n + 1).to_string();
    FakeTicket {
        number: format!("2026112610{:06}", n + 1),
        id,
        title: title.to_string(),
        customer_user: customer_user.to_string(),
        state: "new".into(),
        state_type: "new".into(),
        priority: "3 normal".into(),
        owner: String::new(),
        responsible: String::new(),
        articles: Vec::new(),
    }
}

fn refused(op: &str, what: &str) -> ClientError {
    ClientError::Soap(SoapError::Operation { code: format!("{op}.AccessDenied"), message: what.to_string() })
}

/// Runs `work` unless a fault says otherwise.
fn with_fault<T>(fault: Option<(ClientError, bool)>, work: impl FnOnce() -> Result<T, ClientError>) -> Result<T, ClientError> {
    match fault {
        None => work(),
        Some((e, false)) => Err(e),
        Some((e, true)) => {
            let _ = work();
            Err(e)
        }
    }
}

impl TicketApi for FakeOtrs {
    fn create(&self, t: &NewTicket, _customer_id: Option<&str>, _deadline: Instant) -> Result<TicketCreated, ClientError> {
        let fault = self.enter(Op::Create);
        with_fault(fault, || {
            let mut s = lock(&self.state);
            let mut ticket = new_ticket(s.tickets.len(), &t.title, &t.customer_user);
            ticket.state = t.state.clone();
            ticket.priority = t.priority.clone();
            ticket.articles.push(Article::phone("customer", &t.subject, &t.body));
            let created = TicketCreated {
                ticket_id: ticket.id.clone(),
                ticket_number: ticket.number.clone(),
                article_id: format!("{}01", ticket.id),
            };
            s.tickets.push(ticket);
            Ok(created)
        })
    }

    fn search(&self, criteria: &[(&str, &str)], _deadline: Instant) -> Result<Vec<String>, ClientError> {
        let fault = self.enter(Op::Search);
        if !self.searchable {
            return Err(refused("TicketSearch", "rpc.pl has no TicketSearch"));
        }
        with_fault(fault, || {
            let s = lock(&self.state);
            let state_types: Vec<&str> = criteria.iter().filter(|(k, _)| *k == "StateType").map(|(_, v)| *v).collect();
            let matches = |t: &FakeTicket| {
                criteria.iter().all(|(k, v)| match *k {
                    // Znuny's wildcard: only a leading `*` is sent
                    "Title" => v.strip_prefix('*').map_or(t.title == *v, |end| t.title.ends_with(end)),
                    "CustomerUserLogin" => t.customer_user == *v,
                    _ => true,
                }) && (state_types.is_empty() || state_types.contains(&t.state_type.as_str()))
            };
            // newest first, as Znuny sorts them
            Ok(s.tickets.iter().rev().filter(|t| matches(t)).map(|t| t.id.clone()).collect())
        })
    }

    fn update(
        &self,
        ticket_id: &str,
        change: &TicketChange,
        article: Option<&Article>,
        _deadline: Instant,
    ) -> Result<TicketUpdated, ClientError> {
        let fault = self.enter(Op::Update);
        if !self.searchable {
            return Err(refused("TicketUpdate", "rpc.pl has no TicketUpdate"));
        }
        with_fault(fault, || {
            let mut s = lock(&self.state);
            // as Znuny: the ticket's fields are checked before anything is done
            for login in [change.owner, change.responsible].into_iter().flatten() {
                if !s.agents.iter().any(|a| a == login) {
                    return Err(ClientError::Soap(SoapError::Operation {
                        code: "TicketUpdate.InvalidParameter".into(),
                        message: "TicketUpdate: Ticket->OwnerID or Ticket->Owner parameter is invalid!".into(),
                    }));
                }
            }
            let t = s.tickets.iter_mut().find(|t| t.id == ticket_id).ok_or_else(|| refused("TicketUpdate", "no such ticket"))?;
            if let Some(owner) = change.owner {
                t.owner = owner.to_string();
            }
            if let Some(responsible) = change.responsible {
                t.responsible = responsible.to_string();
            }
            if let Some(state) = change.state {
                t.state = state.to_string();
            }
            if let Some(priority) = change.priority {
                t.priority = priority.to_string();
            }
            t.articles.extend(article.cloned());
            Ok(TicketUpdated {
                ticket_id: t.id.clone(),
                ticket_number: t.number.clone(),
                article_id: article.map(|_| format!("{}{:02}", t.id, t.articles.len())),
            })
        })
    }

    fn article_bodies(&self, ticket_id: &str, _deadline: Instant) -> Result<Vec<String>, ClientError> {
        let fault = self.enter(Op::Get);
        with_fault(fault, || {
            let s = lock(&self.state);
            let t = s.tickets.iter().find(|t| t.id == ticket_id).ok_or_else(|| refused("TicketGet", "no such ticket"))?;
            Ok(t.articles.iter().map(|a| a.body.clone()).collect())
        })
    }

    fn get(&self, ticket_id: &str, _deadline: Instant) -> Result<TicketInfo, ClientError> {
        let fault = self.enter(Op::Get);
        with_fault(fault, || {
            let s = lock(&self.state);
            let t = s.tickets.iter().find(|t| t.id == ticket_id).ok_or_else(|| refused("TicketGet", "no such ticket"))?;
            Ok(TicketInfo {
                ticket_id: t.id.clone(),
                ticket_number: t.number.clone(),
                title: t.title.clone(),
                state: t.state.clone(),
                state_type: t.state_type.clone(),
                priority: t.priority.clone(),
                customer_user_id: t.customer_user.clone(),
                ..TicketInfo::default()
            })
        })
    }

    fn can_search(&self) -> bool {
        self.searchable
    }
}
