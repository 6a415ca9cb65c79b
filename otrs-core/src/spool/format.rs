//! The text of a job file.
//!
//! UTF-8 text, LF line ends. The first line is exactly `otrs-spool-job 1`
//! (the format's version), then one `name=value` per line, then a last line
//! `end`, which tells a complete file from a truncated one. Values are
//! escaped so that one always fits on its line: `\` becomes `\\`, LF `\n`,
//! CR `\r`, TAB `\t`; NUL is dropped (no field can carry it, and a NUL in a
//! file is a sign of a torn write). Names the reader does not know are
//! ignored, so a newer module may add fields; a missing required field, a
//! bad number, a duplicate name, a bad escape, a raw NUL, a line without `=`,
//! anything after `end`, invalid UTF-8 or more than [`MAX_JOB_BYTES`] is
//! [`SpoolError::Corrupt`], naming the field where there is one.
//!
//! ```text
//! otrs-spool-job 1
//! key=1700000000.42
//! created_ms=1700000000123
//! attempts=0
//! maybe_delivered=0
//! last_error=
//! call.caller=+7 (916) 122-96-24
//! call.channel=PJSIP/trunk-00000001
//! call.uniqueid=1700000000.42
//! call.linkedid=1700000000.42
//! call.exten=100
//! call.context=from-trunk
//! profile.name=default
//! profile.queue=Raw
//! profile.state=new
//! profile.priority=3 normal
//! profile.ticket_type=Incident
//! profile.title=Call from ${caller_name} (${caller})
//! profile.subject=Phone call from ${caller}
//! profile.body=Incoming call from ${caller}.\nCustomer: ${customer_name}.
//! customer=1
//! customer.login=ivanov
//! customer.customer_id=ACME
//! customer.first_name=Иван
//! customer.last_name=Иванов
//! customer.email=ivanov@example.com
//! matches=1
//! end
//! ```
//!
//! `profile.ticket_type` and `matches` are absent when `None`; the
//! `customer.*` fields are present (and required) only with `customer=1`.
//!
//!
//! A ticket job may carry the call's outcome (`end.*`), and `call.node`
//! (the PBX, absent in jobs of older versions). An update job (only the
//! outcome is left to add to an existing ticket) has `update_only=1`,
//! `ticket_id` when known, and `end.*`; it still has the `call.*` and
//! `profile.*` lines (empty but `call.uniqueid`, the key) that older
//! versions require, so a downgrade reads it too. An outcome may name the
//! answering agent (`end.owner`, `end.responsible`) and a file to attach
//! (`end.file.path`, `.name`, `.type`, `.label`, `.detail`, `.marker`, and
//! `.copied=1` and `.original` for the spool's own copy); older versions
//! ignore them.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use super::job::{Job, NewTicketJob, Task};
use super::{corrupt, SpoolError, MAX_JOB_BYTES};
use crate::call::end::CallEnd;
use crate::call::CallInfo;
use crate::config::Profile;
use crate::customers::Customer;

/// The first line of every job file: the format and its version.
pub const HEADER: &str = "otrs-spool-job 1";

/// The last line of every job file; its absence means the file is truncated.
const TRAILER: &str = "end";

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => {}
            c => out.push(c),
        }
    }
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => return Err(format!("unknown escape '\\{}'", other.escape_default())),
                None => return Err("truncated escape (a lone '\\' at the end)".to_string()),
            },
            '\0' => return Err("a NUL character".to_string()),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn put(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    escape_into(out, value);
    out.push('\n');
}

/// The job as the text of its file (see the module's doc). The id is not in
/// it: the file name is the id.
pub fn encode(job: &Job) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str(HEADER);
    out.push('\n');
    let created_ms =
        job.created.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0);
    put(&mut out, "key", &job.key);
    put(&mut out, "created_ms", &created_ms.to_string());
    put(&mut out, "attempts", &job.attempts.to_string());
    put(&mut out, "maybe_delivered", if job.maybe_delivered { "1" } else { "0" });
    put(&mut out, "last_error", &job.last_error);
    // what versions before update jobs had a kind of their own wrote (and
    // still require): an empty call and profile
    let none = NewTicketJob {
        call: CallInfo { uniqueid: job.key.clone(), ..CallInfo::default() },
        profile: Profile::default(),
        customer: None,
        matches: None,
        end: None,
    };
    let (t, ticket_id) = match &job.task {
        Task::Create(t) => (t.as_ref(), None),
        Task::Update { ticket_id, .. } => (&none, Some(ticket_id)),
    };
    let c = &t.call;
    put(&mut out, "call.caller", &c.caller);
    put(&mut out, "call.channel", &c.channel);
    put(&mut out, "call.uniqueid", &c.uniqueid);
    put(&mut out, "call.linkedid", &c.linkedid);
    put(&mut out, "call.exten", &c.exten);
    put(&mut out, "call.context", &c.context);
    if !c.node.is_empty() {
        put(&mut out, "call.node", &c.node);
    }
    let p = &t.profile;
    put(&mut out, "profile.name", &p.name);
    put(&mut out, "profile.queue", &p.queue);
    put(&mut out, "profile.state", &p.state);
    put(&mut out, "profile.priority", &p.priority);
    if let Some(t) = &p.ticket_type {
        put(&mut out, "profile.ticket_type", t);
    }
    put(&mut out, "profile.title", &p.title);
    put(&mut out, "profile.subject", &p.subject);
    put(&mut out, "profile.body", &p.body);
    match &t.customer {
        None => put(&mut out, "customer", "0"),
        Some(cu) => {
            put(&mut out, "customer", "1");
            put(&mut out, "customer.login", cu.login());
            put(&mut out, "customer.customer_id", cu.customer_id());
            put(&mut out, "customer.first_name", cu.first_name());
            put(&mut out, "customer.last_name", cu.last_name());
            put(&mut out, "customer.email", cu.email());
        }
    }
    if let Some(m) = t.matches {
        put(&mut out, "matches", &m.to_string());
    }
    if let Some(ticket_id) = ticket_id {
        put(&mut out, "update_only", "1");
        if let Some(id) = ticket_id {
            put(&mut out, "ticket_id", id);
        }
    }
    if let Some(e) = job.end() {
        put(&mut out, "end.answered", if e.answered { "1" } else { "0" });
        put(&mut out, "end.subject", &e.subject);
        put(&mut out, "end.body", &e.body);
        if let Some(v) = &e.state {
            put(&mut out, "end.state", v);
        }
        if let Some(v) = &e.priority {
            put(&mut out, "end.priority", v);
        }
        if let Some(v) = e.time_unit {
            put(&mut out, "end.time_unit", &v.to_string());
        }
        if let Some(v) = &e.owner {
            put(&mut out, "end.owner", v);
        }
        if let Some(v) = &e.responsible {
            put(&mut out, "end.responsible", v);
        }
        if let Some(f) = &e.file {
            put(&mut out, "end.file.path", &f.path);
            put(&mut out, "end.file.name", &f.filename);
            put(&mut out, "end.file.type", &f.content_type);
            put(&mut out, "end.file.label", &f.label);
            put(&mut out, "end.file.detail", &f.detail);
            put(&mut out, "end.file.marker", &f.marker);
            if f.copied {
                put(&mut out, "end.file.copied", "1");
                put(&mut out, "end.file.original", &f.original);
            }
        }
    }
    out.push_str(TRAILER);
    out.push('\n');
    out
}

/// The fields of a job file, taken out one by one.
struct Fields<'a>(HashMap<&'a str, String>);

impl Fields<'_> {
    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    fn required(&mut self, name: &str) -> Result<String, SpoolError> {
        self.take(name).ok_or_else(|| corrupt(format!("the required field '{name}' is missing")))
    }

    fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, SpoolError> {
        let shown: String = value.chars().take(40).collect();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(corrupt(format!("field '{name}': {shown:?} is not a number")));
        }
        value.parse().map_err(|_| corrupt(format!("field '{name}': {shown:?} is out of range")))
    }

    fn required_number<T: std::str::FromStr>(&mut self, name: &str) -> Result<T, SpoolError> {
        let value = self.required(name)?;
        Self::number(name, &value)
    }

    fn required_flag(&mut self, name: &str) -> Result<bool, SpoolError> {
        match self.required(name)?.as_str() {
            "0" => Ok(false),
            "1" => Ok(true),
            other => {
                let shown: String = other.chars().take(40).collect();
                Err(corrupt(format!("field '{name}': {shown:?} is neither 0 nor 1")))
            }
        }
    }
}

/// Parses the text of a job file (see the module's doc); `id` becomes the
/// job's id. Any input gives a job or `Corrupt`, never a panic.
pub fn decode(id: &str, bytes: &[u8]) -> Result<Job, SpoolError> {
    if bytes.len() as u64 > MAX_JOB_BYTES {
        return Err(corrupt(format!("{} bytes, more than the limit of {MAX_JOB_BYTES}", bytes.len())));
    }
    if bytes.is_empty() {
        return Err(corrupt("an empty file"));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|e| corrupt(format!("not UTF-8 text (bad byte at offset {})", e.valid_up_to())))?;
    let Some(text) = text.strip_suffix('\n') else {
        return Err(corrupt("truncated (the last line has no line end)"));
    };
    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or_default();
    if header != HEADER {
        if let Some(version) = header.strip_prefix("otrs-spool-job ") {
            let shown: String = version.chars().take(20).collect();
            return Err(corrupt(format!("format version {shown:?} is not supported (only 1)")));
        }
        return Err(corrupt(format!("not a spool job (the first line is not '{HEADER}')")));
    }
    let mut fields = HashMap::new();
    let mut ended = false;
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        if ended {
            return Err(corrupt(format!("line {line_no}: text after the '{TRAILER}' line")));
        }
        if line == TRAILER {
            ended = true;
            continue;
        }
        let Some((name, raw)) = line.split_once('=') else {
            return Err(corrupt(format!("line {line_no}: no '=' (not a name=value line)")));
        };
        let shown_name: String = name.chars().take(40).collect();
        let value = unescape(raw).map_err(|why| corrupt(format!("field {shown_name:?}: {why}")))?;
        if fields.insert(name, value).is_some() {
            return Err(corrupt(format!("field {shown_name:?} appears twice")));
        }
    }
    if !ended {
        return Err(corrupt(format!("truncated (no '{TRAILER}' line)")));
    }
    let mut f = Fields(fields);
    let created_ms: u64 = f.required_number("created_ms")?;
    let created =
        UNIX_EPOCH.checked_add(Duration::from_millis(created_ms)).ok_or_else(|| corrupt("field 'created_ms': out of range"))?;
    let end = match f.take("end.answered") {
        None => None,
        Some(a) => Some(CallEnd {
            answered: a == "1",
            subject: f.required("end.subject")?,
            body: f.required("end.body")?,
            state: f.take("end.state"),
            priority: f.take("end.priority"),
            time_unit: match f.take("end.time_unit") {
                None => None,
                Some(v) => Some(Fields::number("end.time_unit", &v)?),
            },
            owner: f.take("end.owner"),
            responsible: f.take("end.responsible"),
            file: match f.take("end.file.path") {
                None => None,
                Some(path) => Some(Box::new(crate::call::recording::FileRef {
                    path,
                    filename: f.required("end.file.name")?,
                    content_type: f.take("end.file.type").unwrap_or_default(),
                    label: f.take("end.file.label").unwrap_or_default(),
                    detail: f.take("end.file.detail").unwrap_or_default(),
                    marker: f.take("end.file.marker").unwrap_or_default(),
                    copied: f.take("end.file.copied").as_deref() == Some("1"),
                    original: f.take("end.file.original").unwrap_or_default(),
                })),
            },
        }),
    };
    let task = if f.take("update_only").as_deref() == Some("1") {
        // the call and profile lines are only there for older versions
        let end = end.ok_or_else(|| corrupt("an update job without the call's outcome (end.*)"))?;
        Task::Update { ticket_id: f.take("ticket_id"), end }
    } else {
        Task::Create(Box::new(ticket_job(&mut f, end)?))
    };
    Ok(Job {
        id: id.to_string(),
        key: f.required("key")?,
        created,
        attempts: f.required_number("attempts")?,
        maybe_delivered: f.required_flag("maybe_delivered")?,
        last_error: f.required("last_error")?,
        task,
    })
}

fn ticket_job(f: &mut Fields, end: Option<CallEnd>) -> Result<NewTicketJob, SpoolError> {
    let has_customer = f.required_flag("customer")?;
    let customer = if has_customer {
        Some(Customer::new(
            &f.required("customer.login")?,
            &f.required("customer.customer_id")?,
            &f.required("customer.first_name")?,
            &f.required("customer.last_name")?,
            &f.required("customer.email")?,
        ))
    } else {
        None
    };
    let matches = match f.take("matches") {
        None => None,
        Some(v) => Some(Fields::number("matches", &v)?),
    };
    Ok(NewTicketJob {
        call: CallInfo {
            caller: f.required("call.caller")?,
            channel: f.required("call.channel")?,
            uniqueid: f.required("call.uniqueid")?,
            linkedid: f.required("call.linkedid")?,
            exten: f.required("call.exten")?,
            context: f.required("call.context")?,
            node: f.take("call.node").unwrap_or_default(),
        },
        profile: Profile {
            name: f.required("profile.name")?,
            queue: f.required("profile.queue")?,
            state: f.required("profile.state")?,
            priority: f.required("profile.priority")?,
            ticket_type: f.take("profile.ticket_type"),
            title: f.required("profile.title")?,
            subject: f.required("profile.subject")?,
            body: f.required("profile.body")?,
            // repeat_window and display only matter while the call waits
            ..Profile::default()
        },
        customer,
        matches,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallInfo;

    /// Job files as the version before jobs had two kinds wrote them (its
    /// `encode`, run on these jobs): a ticket job with a call outcome
    /// attached, and two outcome-only ("update_only") jobs.
    const TICKET_JOB_V0: &str = r#"otrs-spool-job 1
key=1700000000.42
created_ms=1700000000123
attempts=2
maybe_delivered=1
last_error=OTRS did not answer in time
call.caller=+7 (916) 122-96-24
call.channel=PJSIP/trunk-00000001
call.uniqueid=1700000000.42
call.linkedid=1700000000.42
call.exten=100
call.context=from-trunk
profile.name=default
profile.queue=Raw
profile.state=new
profile.priority=3 normal
profile.ticket_type=Incident
profile.title=Call from ${caller_name} (${caller})
profile.subject=Phone call from ${caller}
profile.body=Incoming call from ${caller}.\\nCustomer: ${customer_name}.
customer=1
customer.login=ivanov
customer.customer_id=ACME
customer.first_name=Иван
customer.last_name=Иванов
customer.email=ivanov@example.com
matches=1
end.answered=0
end.subject=Missed call (NOANSWER)
end.body=Outcome: missed\nWaiting time: 0:30\n
end.state=open
end.priority=4 high
end
"#;
    const UPDATE_JOB_V0: &str = r#"otrs-spool-job 1
key=1700000000.43
created_ms=1700000000123
attempts=0
maybe_delivered=0
last_error=OTRS did not answer in time
call.caller=
call.channel=
call.uniqueid=1700000000.43
call.linkedid=
call.exten=
call.context=
profile.name=
profile.queue=
profile.state=
profile.priority=
profile.title=
profile.subject=
profile.body=
customer=0
update_only=1
ticket_id=77
end.answered=1
end.subject=Call answered by 4507
end.body=Talk time: 1:01\n
end.time_unit=2
end
"#;
    const UPDATE_JOB_BY_MARKER_V0: &str = r#"otrs-spool-job 1
key=1700000000.44
created_ms=1700000000123
attempts=0
maybe_delivered=0
last_error=ticket created from the spool meanwhile
call.caller=
call.channel=
call.uniqueid=1700000000.44
call.linkedid=
call.exten=
call.context=
profile.name=
profile.queue=
profile.state=
profile.priority=
profile.title=
profile.subject=
profile.body=
customer=0
update_only=1
end.answered=0
end.subject=Missed call (NOANSWER)
end.body=Outcome: missed\nWaiting time: 0:30\n
end.state=open
end.priority=4 high
end
"#;

    const ID: &str = "1700000000123-1700000000.42-abcd";

    #[test]
    fn ticket_jobs_of_the_previous_version_read_and_write_back_the_same() {
        let job = decode(ID, TICKET_JOB_V0.as_bytes()).expect("reads");
        assert_eq!((job.key.as_str(), job.attempts, job.maybe_delivered), ("1700000000.42", 2, true));
        assert_eq!(job.created, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        let Task::Create(t) = &job.task else { panic!("{job:?}") };
        // no node: keyed by the bare uniqueid, as its ticket's title marker
        assert_eq!(t.call.node, "");
        assert_eq!(t.call.key(), job.key);
        assert_eq!(t.call.caller, "+7 (916) 122-96-24");
        assert_eq!(t.profile.body, "Incoming call from ${caller}.\\nCustomer: ${customer_name}.");
        assert_eq!(t.customer.as_ref().map(|c| c.full_name()).as_deref(), Some("Иван Иванов"));
        assert_eq!(t.matches, Some(1));
        let end = t.end.as_ref().expect("the attached outcome");
        assert_eq!((end.answered, end.state.as_deref(), end.time_unit), (false, Some("open"), None));
        assert_eq!(encode(&job), TICKET_JOB_V0, "the same file format");
    }

    #[test]
    fn the_owner_and_the_file_of_an_outcome_round_trip() {
        let file = crate::call::recording::FileRef {
            path: "/var/spool/asterisk/monitor/call=1\n.wav".into(),
            filename: "call=1\n.wav".into(),
            content_type: "audio/wav".into(),
            label: "Voicemail".into(),
            detail: "0:05, ".into(),
            marker: "Outcome-ID: pbx-a-1700000000.42".into(),
            copied: true,
            original: "/var/spool/asterisk/monitor/call-1.wav".into(),
        };
        let end = CallEnd {
            answered: true,
            subject: "Call answered by ivanova".into(),
            owner: Some("ivanova".into()),
            responsible: Some("ivanova".into()),
            file: Some(Box::new(file)),
            ..CallEnd::default()
        };
        let job = Job::update("pbx-a-1700000000.42", Some("7"), end.clone(), "x");
        let text = encode(&job);
        assert!(text.contains("end.owner=ivanova\n") && text.contains("end.file.copied=1\n"), "{text}");
        let back = decode(ID, text.as_bytes()).unwrap();
        assert_eq!(back.end(), Some(&end));
        // a plain outcome has none of them
        let plain = Job::update("k", None, CallEnd { subject: "s".into(), ..CallEnd::default() }, "x");
        let text = encode(&plain);
        assert!(!text.contains("end.owner") && !text.contains("end.file"), "{text}");
        assert_eq!(decode(ID, text.as_bytes()).unwrap().end().unwrap().file, None);
    }

    #[test]
    fn update_jobs_of_the_previous_version_read_and_write_back_the_same() {
        let job = decode(ID, UPDATE_JOB_V0.as_bytes()).expect("reads");
        let Task::Update { ticket_id, end } = &job.task else { panic!("{job:?}") };
        assert_eq!((job.key.as_str(), ticket_id.as_deref()), ("1700000000.43", Some("77")));
        assert_eq!((end.answered, end.subject.as_str(), end.time_unit), (true, "Call answered by 4507", Some(2)));
        assert_eq!(job.last_error, "OTRS did not answer in time");
        assert_eq!(encode(&job), UPDATE_JOB_V0);
        let job = decode(ID, UPDATE_JOB_BY_MARKER_V0.as_bytes()).expect("reads");
        let Task::Update { ticket_id: None, end } = &job.task else { panic!("{job:?}") };
        assert_eq!(end.priority.as_deref(), Some("4 high"));
        assert_eq!(encode(&job), UPDATE_JOB_BY_MARKER_V0);
        // an outcome-only job must have the outcome
        let no_end: String = UPDATE_JOB_V0.lines().filter(|l| !l.starts_with("end.")).map(|l| format!("{l}\n")).collect();
        assert!(matches!(decode(ID, no_end.as_bytes()), Err(SpoolError::Corrupt(why)) if why.contains("outcome")));
    }

    #[test]
    fn the_node_round_trips_and_older_versions_ignore_it() {
        let call = CallInfo { uniqueid: "1700000000.42".into(), node: "pbx-a".into(), ..CallInfo::default() };
        let job = Job::new_ticket(UNIX_EPOCH, call, Profile::default(), None, Some(0));
        assert_eq!(job.key, "pbx-a-1700000000.42");
        let text = encode(&job);
        assert!(text.contains("\ncall.node=pbx-a\n"), "{text}");
        let back = decode(ID, text.as_bytes()).unwrap();
        let Task::Create(t) = &back.task else { panic!() };
        assert_eq!((t.call.node.as_str(), back.key.as_str()), ("pbx-a", "pbx-a-1700000000.42"));
    }
}
