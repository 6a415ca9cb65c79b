//! JSON messages of the GenericInterface ticket connector over REST
//! (`GenericTicketConnectorREST`): routes, request builders and reply
//! parsers. Pure code, no I/O.
//!
//! Requests follow the captured Znuny 6.5 samples (tests/fixtures/otrs/rest)
//! byte for byte: pretty JSON, two spaces, the samples' key order (which a
//! map would sort away, so they are written by hand). Replies are read with
//! serde_json, accepting the samples' surprises: IDs as strings or numbers
//! (03 vs 09), `{}` for a search without hit (07b), errors as HTTP 200 with
//! an `Error` key (02, 20-27), text/plain 500s for a wrong route (25, 26).

use serde_json::Value;

use super::error::SoapError;
use super::generic::base64_into;
use super::{Article, NewTicket, TicketChange, TicketCreated, TicketInfo, TicketUpdated, ARTICLE_CONTENT_TYPE};

/// How a request authenticates (in the body; GETs use headers, see the client).
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Login { user: &'a str, password: &'a str },
    Session(&'a str),
}

/// A JSON value in the order it is written.
enum J {
    S(String),
    N(u64),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

fn s(v: &str) -> J {
    J::S(v.to_string())
}

fn write(out: &mut String, v: &J, depth: usize) {
    let pad = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
    match v {
        J::S(text) => out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())),
        J::N(n) => out.push_str(&n.to_string()),
        J::A(items) if items.is_empty() => out.push_str("[]"),
        J::O(items) if items.is_empty() => out.push_str("{}"),
        J::A(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, depth + 1);
                write(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push(']');
        }
        J::O(items) => {
            out.push_str("{\n");
            for (i, (key, item)) in items.iter().enumerate() {
                pad(out, depth + 1);
                out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into()));
                out.push_str(": ");
                write(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push('}');
        }
    }
}

fn document(fields: Vec<(String, J)>) -> String {
    let mut out = String::new();
    write(&mut out, &J::O(fields), 0);
    out.push('\n');
    out
}

fn auth_fields(auth: &Auth) -> Vec<(String, J)> {
    match auth {
        Auth::Login { user, password } => vec![("UserLogin".into(), s(user)), ("Password".into(), s(password))],
        Auth::Session(id) => vec![("SessionID".into(), s(id))],
    }
}

/// `POST /Session` (sample 01).
pub fn session_create(user: &str, password: &str) -> String {
    document(auth_fields(&Auth::Login { user, password }))
}

fn article_fields(a: &Article) -> J {
    let mut f = vec![
        ("CommunicationChannel".into(), s(&a.communication_channel)),
        ("SenderType".into(), s(&a.sender_type)),
        ("IsVisibleForCustomer".into(), J::N(u64::from(a.visible_for_customer))),
    ];
    if let Some(from) = &a.from {
        f.push(("From".into(), s(from)));
    }
    f.push(("Subject".into(), s(&a.subject)));
    f.push(("Body".into(), s(&a.body)));
    f.push(("ContentType".into(), s(ARTICLE_CONTENT_TYPE)));
    if let Some(units) = a.time_unit {
        f.push(("TimeUnit".into(), J::N(u64::from(units))));
    }
    J::O(f)
}

/// The files of an article, top-level `Attachment` list (sample 30).
fn attachments(a: &Article) -> Option<J> {
    if a.attachments.is_empty() {
        return None;
    }
    Some(J::A(
        a.attachments
            .iter()
            .map(|file| {
                let mut content = String::new();
                base64_into(&mut content, &file.content);
                J::O(vec![
                    ("Content".into(), J::S(content)),
                    ("ContentType".into(), s(&file.content_type)),
                    ("Filename".into(), s(&file.filename)),
                ])
            })
            .collect(),
    ))
}

/// `POST /Ticket` (samples 03, 04, 05).
pub fn ticket_create(auth: &Auth, t: &NewTicket) -> String {
    let mut fields = auth_fields(auth);
    let mut ticket = vec![("Title".into(), s(&t.title)), ("Queue".into(), s(&t.queue))];
    if let Some(ty) = &t.ticket_type {
        ticket.push(("Type".into(), s(ty)));
    }
    ticket.push(("State".into(), s(&t.state)));
    ticket.push(("Priority".into(), s(&t.priority)));
    ticket.push(("CustomerUser".into(), s(&t.customer_user)));
    fields.push(("Ticket".into(), J::O(ticket)));
    let mut article = Article::phone("customer", &t.subject, &t.body);
    article.from = t.from.clone();
    fields.push(("Article".into(), article_fields(&article)));
    // TicketCreate.pm: DynamicField {Name, Value} (a list), beside Ticket and Article
    if !t.dynamic_fields.is_empty() {
        let list = t.dynamic_fields.iter().map(|(n, v)| J::O(vec![("Name".into(), s(n)), ("Value".into(), s(v))])).collect();
        fields.push(("DynamicField".into(), J::A(list)));
    }
    document(fields)
}

/// Criteria Znuny's TicketSearch reads as numbers (sample 07).
fn numeric_criterion(key: &str) -> bool {
    key.ends_with("Minutes") || key.ends_with("Seconds") || key == "Limit"
}

/// `POST /Ticket/Search` (samples 07, 08): criteria in order, a repeated
/// key becomes a list (`StateType`, 07), `Outer/Op` an object
/// (`DynamicField_CallID: {Equals: ..}`).
pub fn ticket_search(auth: &Auth, criteria: &[(&str, &str)]) -> String {
    let mut fields = auth_fields(auth);
    let mut seen: Vec<(String, Vec<J>)> = Vec::new();
    for (key, value) in criteria {
        let value = match key.split_once('/') {
            Some((_, op)) => J::O(vec![(op.to_string(), s(value))]),
            None if numeric_criterion(key) && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                J::N(value.parse().unwrap_or(0))
            }
            None => s(value),
        };
        let name = key.split('/').next().unwrap_or(key);
        match seen.iter_mut().find(|(k, _)| k == name) {
            Some((_, values)) => values.push(value),
            None => seen.push((name.to_string(), vec![value])),
        }
    }
    for (key, mut values) in seen {
        let value = if values.len() == 1 { values.remove(0) } else { J::A(values) };
        fields.push((key, value));
    }
    document(fields)
}

/// `PATCH /Ticket/{id}` (samples 09, 10, 30): a ticket change and/or an
/// article with its files.
pub fn ticket_update(auth: &Auth, change: &TicketChange, article: Option<&Article>) -> String {
    let mut fields = auth_fields(auth);
    let mut ticket = Vec::new();
    for (name, value) in
        [("State", change.state), ("Priority", change.priority), ("Owner", change.owner), ("Responsible", change.responsible)]
    {
        if let Some(v) = value {
            ticket.push((name.to_string(), s(v)));
        }
    }
    if !ticket.is_empty() {
        // the sample's order: Owner before State (10)
        ticket.sort_by_key(|(k, _)| match k.as_str() {
            "Owner" => 0,
            "Responsible" => 1,
            "State" => 2,
            _ => 3,
        });
        fields.push(("Ticket".into(), J::O(ticket)));
    }
    if let Some(a) = article {
        fields.push(("Article".into(), article_fields(a)));
        if let Some(files) = attachments(a) {
            fields.push(("Attachment".into(), files));
        }
    }
    document(fields)
}

/// Route of TicketGet: `/Ticket/{id}`, articles on request (06, 31).
/// The id is sent only if it is digits: anything else would be another
/// route or a path trick (`/Ticket/Search`, 25b).
pub fn ticket_get_path(ticket_id: &str, all_articles: bool) -> Option<String> {
    if ticket_id.is_empty() || !ticket_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match all_articles {
        true => format!("/Ticket/{ticket_id}?AllArticles=1"),
        false => format!("/Ticket/{ticket_id}"),
    })
}

/// The JSON object of a reply, or the error it stands for.
fn reply_object(status: u16, body: &[u8]) -> Result<serde_json::Map<String, Value>, SoapError> {
    let text = String::from_utf8_lossy(body);
    if status != 200 {
        // text/plain one-liners (24-28), or a JSON fault in a 500 (32c)
        let detail = match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.get("faultstring").is_some() => {
                format!("{}: {}", v["faultcode"].as_str().unwrap_or("Server"), v["faultstring"].as_str().unwrap_or_default())
            }
            _ => text.trim().to_string(),
        };
        return Err(SoapError::Http { status, detail });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| SoapError::Malformed(format!("not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(SoapError::Malformed("reply is not a JSON object".into()));
    };
    if let Some(error) = map.get("Error") {
        return Err(SoapError::Operation {
            code: error.get("ErrorCode").and_then(Value::as_str).unwrap_or_default().to_string(),
            message: error.get("ErrorMessage").and_then(Value::as_str).unwrap_or_default().to_string(),
        });
    }
    Ok(map)
}

/// An ID as text, whether the reply sent a string or a number (03 vs 09).
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(map: &serde_json::Map<String, Value>, key: &str, op: &str) -> Result<String, SoapError> {
    id_text(map.get(key)).ok_or_else(|| SoapError::Malformed(format!("{op} reply without {key}")))
}

pub fn parse_session_create(status: u16, body: &[u8]) -> Result<String, SoapError> {
    required(&reply_object(status, body)?, "SessionID", "SessionCreate")
}

pub fn parse_ticket_create(status: u16, body: &[u8]) -> Result<TicketCreated, SoapError> {
    let map = reply_object(status, body)?;
    Ok(TicketCreated {
        ticket_id: required(&map, "TicketID", "TicketCreate")?,
        ticket_number: required(&map, "TicketNumber", "TicketCreate")?,
        article_id: required(&map, "ArticleID", "TicketCreate")?,
    })
}

/// `{"TicketID":["862","860"]}`, `{}` for none (07b, 08c).
pub fn parse_ticket_search(status: u16, body: &[u8]) -> Result<Vec<String>, SoapError> {
    let map = reply_object(status, body)?;
    Ok(match map.get("TicketID") {
        None => Vec::new(),
        Some(Value::Array(ids)) => ids.iter().filter_map(|v| id_text(Some(v))).collect(),
        Some(one) => id_text(Some(one)).into_iter().collect(),
    })
}

/// `ArticleID` only when an article was added (10 has none).
pub fn parse_ticket_update(status: u16, body: &[u8]) -> Result<TicketUpdated, SoapError> {
    let map = reply_object(status, body)?;
    Ok(TicketUpdated {
        ticket_id: required(&map, "TicketID", "TicketUpdate")?,
        ticket_number: required(&map, "TicketNumber", "TicketUpdate")?,
        article_id: id_text(map.get("ArticleID")),
    })
}

/// The first ticket of `{"Ticket":[{...}]}` (always a list, 06).
fn first_ticket(status: u16, body: &[u8]) -> Result<serde_json::Map<String, Value>, SoapError> {
    let mut map = reply_object(status, body)?;
    let ticket = match map.remove("Ticket") {
        Some(Value::Array(mut list)) if !list.is_empty() => list.swap_remove(0),
        Some(one @ Value::Object(_)) => one,
        _ => return Err(SoapError::Malformed("TicketGet reply without Ticket".into())),
    };
    match ticket {
        Value::Object(t) => Ok(t),
        _ => Err(SoapError::Malformed("TicketGet reply: Ticket is not an object".into())),
    }
}

pub fn parse_ticket_get(status: u16, body: &[u8]) -> Result<TicketInfo, SoapError> {
    let t = first_ticket(status, body)?;
    let field = |k: &str| id_text(t.get(k)).unwrap_or_default();
    Ok(TicketInfo {
        ticket_id: required(&t, "TicketID", "TicketGet")?,
        ticket_number: required(&t, "TicketNumber", "TicketGet")?,
        title: field("Title"),
        state: field("State"),
        state_type: field("StateType"),
        queue: field("Queue"),
        priority: field("Priority"),
        customer_user_id: field("CustomerUserID"),
    })
}

/// The articles' bodies, oldest first (06, 31).
pub fn parse_article_bodies(status: u16, body: &[u8]) -> Result<Vec<String>, SoapError> {
    let t = first_ticket(status, body)?;
    Ok(match t.get("Article") {
        Some(Value::Array(list)) => {
            list.iter().map(|a| a.get("Body").and_then(Value::as_str).unwrap_or_default().to_string()).collect()
        }
        Some(one @ Value::Object(_)) => vec![one.get("Body").and_then(Value::as_str).unwrap_or_default().to_string()],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests;
