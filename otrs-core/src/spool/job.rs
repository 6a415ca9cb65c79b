//! What a spool job is: a ticket still to be created, or the outcome of a
//! call still to be added to its ticket.

use std::time::SystemTime;

use super::new_job_id;
use crate::call::end::CallEnd;
use crate::call::CallInfo;
use crate::config::Profile;
use crate::customers::Customer;

/// Work the spool worker still has to do for one call.
#[derive(Clone, Debug)]
pub struct Job {
    /// The file stem, unique and sortable by creation:
    /// `{created_unix_ms:013}-{key_sanitised}-{4 hex}` (see [`new_job_id`]).
    /// Not stored in the file: [`Spool::read`](super::Spool::read) sets it
    /// from the file name.
    pub id: String,
    /// The call's key ([`CallInfo::key`], e.g. `pbx-a-1700000000.42`; the
    /// bare uniqueid in jobs of older versions): how a ticket already
    /// created for this call is found again.
    pub key: String,
    /// When the call came in (for an update job: when it was queued).
    /// Stored to the millisecond.
    pub created: SystemTime,
    /// Attempts so far.
    pub attempts: u32,
    /// A request may have reached OTRS (it timed out after being sent):
    /// search for the ticket before creating it again.
    pub maybe_delivered: bool,
    /// Why the last attempt failed, for the logs and the CLI.
    pub last_error: String,
    pub task: Task,
}

/// The two kinds of job.
#[derive(Clone, Debug)]
pub enum Task {
    /// The call's ticket is still to be created.
    Create(Box<NewTicketJob>),
    /// The ticket exists: only the call's outcome is left to add to it.
    /// `ticket_id` None: it is found by the call marker.
    Update { ticket_id: Option<String>, end: CallEnd },
}

/// Everything needed to create a call's ticket later, without the call
/// (which is long gone by then).
#[derive(Clone, Debug)]
pub struct NewTicketJob {
    pub call: CallInfo,
    /// The profile as it was at call time: a reload must not change the
    /// ticket of a call already taken.
    pub profile: Profile,
    /// `None`: look the caller up again at retry (the index was not ready).
    pub customer: Option<Customer>,
    pub matches: Option<usize>,
    /// The call's outcome (OTRSCallEnd), added as an article once the
    /// ticket exists.
    pub end: Option<CallEnd>,
}

impl Job {
    /// The ticket job of a call (no attempt yet), keyed by the call's key,
    /// with a fresh id.
    pub fn new_ticket(
        created: SystemTime,
        call: CallInfo,
        profile: Profile,
        customer: Option<Customer>,
        matches: Option<usize>,
    ) -> Job {
        let key = call.key();
        let task = Task::Create(Box::new(NewTicketJob { call, profile, customer, matches, end: None }));
        Job::fresh(key, created, task)
    }

    /// A job that only adds a call's outcome to the ticket of call `key`.
    pub fn update(key: &str, ticket_id: Option<&str>, end: CallEnd, why: &str) -> Job {
        let task = Task::Update { ticket_id: ticket_id.map(str::to_string), end };
        let mut job = Job::fresh(key.to_string(), SystemTime::now(), task);
        job.last_error = why.to_string();
        job
    }

    fn fresh(key: String, created: SystemTime, task: Task) -> Job {
        Job { id: new_job_id(&key, created), key, created, attempts: 0, maybe_delivered: false, last_error: String::new(), task }
    }

    /// The call's outcome, if one is attached (always for an update job).
    pub fn end(&self) -> Option<&CallEnd> {
        match &self.task {
            Task::Create(t) => t.end.as_ref(),
            Task::Update { end, .. } => Some(end),
        }
    }

    /// Whether the call's ticket is still to be created.
    pub fn creates_ticket(&self) -> bool {
        matches!(self.task, Task::Create(_))
    }

    /// The ticket job of call `key`.
    pub fn creates_ticket_of(&self, key: &str) -> bool {
        self.creates_ticket() && self.key == key
    }

    /// The ticket of a job now exists: the attached outcome, if any, is what
    /// is left to do. None: nothing is.
    pub fn into_update(self, ticket_id: &str) -> Option<Job> {
        let end = match self.task {
            Task::Create(t) => t.end?,
            Task::Update { end, .. } => end,
        };
        let task = Task::Update { ticket_id: Some(ticket_id.to_string()), end };
        Some(Job { maybe_delivered: false, task, ..self })
    }
}
