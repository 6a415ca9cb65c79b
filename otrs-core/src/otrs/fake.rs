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
    pub dynamic_fields: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    tickets: Vec<FakeTicket>,
    /// (operation, error, whether OTRS did the operation before failing)
    faults: Vec<(Op, ClientError, bool)>,
    calls: Vec<Op>,
    /// How long a TicketSearch takes (None: at once).
    search_takes: Option<std::time::Duration>,
    /// Agent logins Owner and Responsible may name.
    agents: Vec<String>,
}

pub(crate) struct FakeOtrs {
    state: Mutex<State>,
    /// false: behaves as rpc.pl (no search, no update).
    searchable: bool,
    /// Whether TicketSearch honours CustomerUserLoginRaw (Znuny's GI
    /// TicketSearch drops it: false by default).
    raw_login_search: bool,
    /// The ticket dynamic fields this OTRS has; a search on another one
    /// ignores that criterion, as Znuny's GI does.
    dynamic_fields: Vec<String>,
}

/// TicketSearch's pattern match of a value: `*` is any text, no case.
fn like(value: &str, pattern: &str) -> bool {
    let (value, pattern) = (value.to_lowercase(), pattern.to_lowercase());
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = value.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

impl FakeOtrs {
    /// A GenericInterface OTRS.
    pub fn new() -> FakeOtrs {
        FakeOtrs { state: Mutex::new(State::default()), searchable: true, raw_login_search: false, dynamic_fields: Vec::new() }
    }

    /// A GenericInterface OTRS whose TicketSearch honours
    /// CustomerUserLoginRaw or not.
    pub fn with_raw_login_search(raw_login_search: bool) -> FakeOtrs {
        FakeOtrs { raw_login_search, ..FakeOtrs::new() }
    }

    /// A GenericInterface OTRS with these ticket dynamic fields.
    pub fn with_dynamic_fields(fields: &[&str]) -> FakeOtrs {
        FakeOtrs { dynamic_fields: fields.iter().map(|f| f.to_string()).collect(), ..FakeOtrs::new() }
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

    /// Every TicketSearch takes `d`; one that would end past its deadline
    /// times out at the deadline, as the real clients do.
    pub fn slow_search(&self, d: std::time::Duration) {
        lock(&self.state).search_takes = Some(d);
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

    /// An agent renames a ticket.
    pub fn rename(&self, ticket_id: &str, title: &str) {
        let mut s = lock(&self.state);
        if let Some(t) = s.tickets.iter_mut().find(|t| t.id == ticket_id) {
            t.title = title.to_string();
        }
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
        dynamic_fields: Vec::new(),
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
    fn create(&self, t: &NewTicket, _customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        // as the transport: nothing is sent without time left
        if Instant::now() >= deadline {
            lock(&self.state).calls.push(Op::Create);
            return Err(ClientError::Connect("no time left to send TicketCreate".into()));
        }
        // Znuny refuses a field it does not have (DynamicField->Name
        // invalid); checked before any injected fault is used up
        if let Some((name, _)) = t.dynamic_fields.iter().find(|(n, _)| !self.dynamic_fields.contains(n)) {
            lock(&self.state).calls.push(Op::Create);
            return Err(ClientError::Soap(SoapError::Operation {
                code: "TicketCreate.InvalidParameter".into(),
                message: format!("TicketCreate: DynamicField->Name parameter is invalid! ({name})"),
            }));
        }
        let fault = self.enter(Op::Create);
        with_fault(fault, || {
            let mut s = lock(&self.state);
            // Znuny's TicketCreate keeps 255 characters of the title
            let title: String = t.title.chars().take(255).collect();
            let mut ticket = new_ticket(s.tickets.len(), &title, &t.customer_user);
            ticket.state = t.state.clone();
            ticket.priority = t.priority.clone();
            ticket.articles.push(Article::phone("customer", &t.subject, &t.body));
            ticket.dynamic_fields = t.dynamic_fields.clone();
            let created = TicketCreated {
                ticket_id: ticket.id.clone(),
                ticket_number: ticket.number.clone(),
                article_id: format!("{}01", ticket.id),
            };
            s.tickets.push(ticket);
            Ok(created)
        })
    }

    fn search(&self, criteria: &[(&str, &str)], deadline: Instant) -> Result<Vec<String>, ClientError> {
        let fault = self.enter(Op::Search);
        let takes = lock(&self.state).search_takes;
        if let Some(d) = takes {
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(d.min(left));
            if d > left {
                return Err(ClientError::Timeout);
            }
        }
        // rpc.pl: the search by title only (RpcClient::search)
        if !self.searchable && !matches!(criteria, [("Title", _)]) {
            return Err(refused("TicketSearch", "rpc.pl searches by title only"));
        }
        with_fault(fault, || {
            let s = lock(&self.state);
            let raw_login = self.raw_login_search && criteria.iter().any(|(k, _)| *k == "CustomerUserLoginRaw");
            let state_types: Vec<&str> = criteria.iter().filter(|(k, _)| *k == "StateType").map(|(_, v)| *v).collect();
            let matches = |t: &FakeTicket| {
                criteria.iter().all(|(k, v)| match *k {
                    // Znuny's wildcard: only a leading `*` is sent
                    "Title" => v.strip_prefix('*').map_or(t.title == *v, |end| t.title.ends_with(end)),
                    k if k.starts_with("DynamicField_") => match k.trim_start_matches("DynamicField_").split_once('/') {
                        Some((name, "Equals")) if self.dynamic_fields.iter().any(|f| f == name) => {
                            t.dynamic_fields.iter().any(|(n, x)| n == name && x == v)
                        }
                        _ => true,
                    },
                    // Znuny: a pattern (`*` any text, no case), unless
                    // CustomerUserLoginRaw is given, which is compared as is
                    "CustomerUserLogin" if !raw_login => like(&t.customer_user, v),
                    "CustomerUserLoginRaw" if self.raw_login_search => t.customer_user.to_lowercase() == v.to_lowercase(),
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

    fn can_find_by_title(&self) -> bool {
        true
    }
}
