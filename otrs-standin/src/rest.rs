//! The REST web service (`GenericTicketConnectorREST`) beside the SOAP one:
//! the same operations (ops.rs), reached by route, JSON in and out, as the
//! Znuny 6.5 recordings in tests/fixtures/otrs/rest show (see their
//! README): routes tried in operation-name order, `:Param` = `[^/]+`; path,
//! query and `X-OTRS-Header-*` values over body keys; errors as HTTP 200 +
//! `Error`; a wrong route or unreadable body as a text/plain 500; canonical
//! (sorted) compact JSON replies; `Connection: Keep-Alive`. OTOBO answers
//! the same (RotherOSS/otobo Kernel/GenericInterface/Transport/HTTP/REST.pm,
//! ProviderProcessRequest: operations tried in sorted order, `:Param` as
//! `[^/]+`, no body read for GET, the same "determine Operation", "Could not
//! read input data" and "Error while decoding request content." texts;
//! ProviderGenerateResponse: a Fault as JSON in a 500), so `--flavour otobo`
//! changes nothing here.

use serde_json::Value;

use crate::http::{Reply, Request};
use crate::ops::{self, Ctx, Outcome};
use crate::soap::{Hash, Val};
use crate::Shared;

/// The routes of the stock YAML, in the order Znuny tries them.
const ROUTES: &[(&str, &str, &str)] = &[
    ("SessionCreate", "POST", "/Session"),
    ("TicketCreate", "POST", "/Ticket"),
    ("TicketGet", "GET", "/Ticket/:TicketID"),
    ("TicketHistoryGet", "GET", "/Ticket/History/:TicketID"),
    ("TicketSearch", "POST", "/Ticket/Search"),
    ("TicketUpdate", "PATCH", "/Ticket/:TicketID"),
];

/// The route after `.../Webservice/<name>`.
fn route(req: &Request) -> String {
    let path = req.path();
    let Some(at) = path.find("/Webservice/") else { return String::new() };
    let rest = &path[at + "/Webservice/".len()..];
    match rest.find('/') {
        Some(slash) => rest[slash..].to_string(),
        None => String::new(),
    }
}

/// Operation and path parameters of a route, as REST.pm's ProviderProcessRequest.
fn operation(method: &str, route: &str) -> Option<(&'static str, Vec<(String, String)>)> {
    let parts: Vec<&str> = route.trim_end_matches('/').split('/').collect();
    for (op, m, pattern) in ROUTES {
        if *m != method {
            continue;
        }
        let want: Vec<&str> = pattern.split('/').collect();
        if want.len() != parts.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = want.iter().zip(&parts).all(|(w, p)| match w.strip_prefix(':') {
            Some(name) if !p.is_empty() => {
                params.push((name.to_string(), p.to_string()));
                true
            }
            _ => w == p,
        });
        if matched {
            return Some((op, params));
        }
    }
    None
}

/// For the request counters.
pub fn op_name(req: &Request) -> String {
    operation(&req.method, &route(req)).map(|(op, _)| op.to_string()).unwrap_or_else(|| "_no_route".into())
}

fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Undef,
        Value::Bool(b) => Val::s(if *b { "1" } else { "" }),
        Value::Number(n) => Val::s(n.to_string()),
        Value::String(s) => Val::s(s.clone()),
        Value::Array(a) => Val::Array(a.iter().map(to_val).collect()),
        Value::Object(o) => Val::Hash(o.iter().map(|(k, v)| (k.clone(), to_val(v))).collect()),
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply::Http { status, content_type: "text/plain".into(), body: body.as_bytes().to_vec() }
}

pub fn process(shared: &Shared, req: &Request, error_mode: bool) -> Reply {
    let route = route(req);
    let Some((op, params)) = operation(&req.method, &route) else {
        return text(500, &format!("HTTP::REST Error while determine Operation for request URI '{route}'."));
    };
    let mut data = Hash::new();
    // the body of a GET is never read (26b)
    if req.method != "GET" {
        let json = req.header("Content-Type").is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
        if !json || req.body.is_empty() {
            return text(500, "Could not read input data");
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(o)) => data.extend(o.iter().map(|(k, v)| (k.clone(), to_val(v)))),
            _ => return text(500, "Error while decoding request content."),
        }
    }
    if let Some(q) = req.target.split_once('?').map(|(_, q)| q) {
        for kv in q.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                data.insert(k.to_string(), Val::s(v.replace('+', " ")));
            }
        }
    }
    for (k, v) in &req.headers {
        if let Some(name) = k.strip_prefix("X-OTRS-Header-").or_else(|| k.strip_prefix("x-otrs-header-")) {
            data.insert(name.to_string(), Val::s(v.clone()));
        }
    }
    for (k, v) in params {
        data.insert(k, Val::s(v));
    }
    let now_ms = shared.now_ms();
    let ctx = Ctx {
        user: &shared.cfg.user,
        password: &shared.cfg.password,
        agent_name: &shared.cfg.agent_name,
        queues: &shared.cfg.queues,
        store: &shared.store,
        customers: &shared.customers,
        now: now_ms.div_euclid(1000),
        now_ms,
        soapaction: "",
        error_mode,
        agents: &shared.cfg.agents,
        max_file: shared.cfg.max_file_bytes,
        dynamic_fields: &shared.cfg.dynamic_fields,
    };
    let Some(result) = ops::run(op, &Val::Hash(data), &ctx) else {
        return text(500, &format!("HTTP::REST Error while determine Operation for request URI '{route}'."));
    };
    for line in &result.ticket_lines {
        shared.record(line);
    }
    match result.outcome {
        // a failure inside the operation: JSON labelled text/plain (32c)
        Outcome::Fault(msg) => {
            let mut h = Hash::new();
            h.insert("faultcode".into(), Val::s("Server"));
            h.insert("faultstring".into(), Val::s(msg));
            let mut out = String::new();
            write_json(&mut out, &Val::Hash(h), "", op);
            text(500, &out)
        }
        Outcome::Data(h) => {
            let mut out = String::new();
            write_json(&mut out, &Val::Hash(h), "", op);
            Reply::Http { status: 200, content_type: "application/json".into(), body: out.into_bytes() }
        }
    }
}

/// Keys that are always lists over REST, even with one element (06, 07, 31).
fn always_list(key: &str, op: &str) -> bool {
    matches!((op, key), ("TicketSearch", "TicketID") | (_, "Ticket") | (_, "Article") | (_, "Attachment") | (_, "TicketHistory"))
}

/// Whether `key`'s digits are a JSON number in `op`'s reply: TicketCreate
/// sends strings (03), TicketUpdate's ArticleID is a number (09), TicketGet
/// numbers except SenderTypeID and FilesizeRaw (06, 31).
fn as_number(key: &str, op: &str, value: &str) -> bool {
    let digits = !value.is_empty() && value.len() < 16 && value.bytes().all(|b| b.is_ascii_digit());
    digits
        && match op {
            "TicketUpdate" => key == "ArticleID",
            "TicketGet" => !matches!(key, "SenderTypeID" | "FilesizeRaw" | "TicketNumber" | "FileID" | "Content"),
            _ => false,
        }
}

/// Canonical compact JSON, as Znuny's Kernel::System::JSON (sorted keys).
fn write_json(out: &mut String, v: &Val, key: &str, op: &str) {
    match v {
        Val::Undef => out.push_str("\"\""),
        Val::Str(s) if as_number(key, op, s) => out.push_str(s),
        Val::Str(s) if always_list(key, op) => {
            out.push('[');
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
            out.push(']');
        }
        Val::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Val::Hash(_) if always_list(key, op) => {
            out.push('[');
            write_json(out, v, "", op);
            out.push(']');
        }
        Val::Hash(h) => {
            out.push('{');
            for (i, (k, item)) in h.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_json(out, item, k, op);
            }
            out.push('}');
        }
        Val::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, "", op);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_as_znuny_tries_them() {
        assert_eq!(operation("POST", "/Ticket/Search").map(|r| r.0), Some("TicketSearch"));
        assert_eq!(operation("GET", "/Ticket/Search").unwrap(), ("TicketGet", vec![("TicketID".into(), "Search".into())]));
        assert_eq!(operation("PATCH", "/Ticket/860").map(|r| r.0), Some("TicketUpdate"));
        assert!(operation("PUT", "/Ticket/860").is_none(), "26");
        assert!(operation("POST", "/TicketSearch").is_none(), "25");
    }
}

/// The recorded REST exchanges sent to the stand-in: each answers as Znuny did.
#[cfg(test)]
mod replay {
    use super::*;

    fn recorded(name: &str) -> (String, String, Vec<u8>, Vec<u8>) {
        let head = otrs_fixtures::read_string(&format!("rest/{name}-request.txt"));
        let first = head.lines().next().unwrap_or_default().to_string();
        let mut parts = first.split_whitespace();
        let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
        let body = std::fs::read(otrs_fixtures::root().join(format!("rest/{name}-request.json"))).unwrap_or_default();
        (method, target, body, otrs_fixtures::read(&format!("rest/{name}-response.json")))
    }

    fn send(sh: &Shared, name: &str, sid: &str) -> (u16, String, String) {
        let (method, target, body, _) = recorded(name);
        let body = String::from_utf8_lossy(&body).replace("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ", sid).into_bytes();
        let target = target.replace("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ", sid);
        let head = otrs_fixtures::read_string(&format!("rest/{name}-request.txt"));
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.replace("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ", sid)))
            .collect();
        let req = Request { method, target, version: "HTTP/1.1".into(), length: body.len(), headers, body };
        match process(sh, &req, false) {
            Reply::Http { status, content_type, body } => (status, content_type, String::from_utf8(body).unwrap()),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_recorded_requests_get_the_recorded_kind_of_reply() {
        let sh = crate::tests::shared();
        let (st, ct, body) = send(&sh, "01-SessionCreate", "");
        assert_eq!((st, ct.as_str()), (200, "application/json"));
        let sid = serde_json::from_str::<Value>(&body).unwrap()["SessionID"].as_str().unwrap().to_string();
        assert_eq!(sid.len(), 32);
        // errors and refusals: the recorded bodies exactly
        for name in [
            "02-SessionCreate-wrong-password",
            "21-TicketCreate-unknown-queue",
            "22-TicketCreate-missing-title",
            "23-TicketCreate-unknown-customeruser",
            "24-TicketCreate-malformed-json",
            "25-TicketSearch-unknown-route",
            "26-TicketUpdate-wrong-method-PUT",
            "26b-TicketGet-body-on-GET-ignored",
            "27-TicketGet-unknown-ticketid",
            "28-TicketCreate-form-urlencoded",
            "07b-TicketSearch-StateType-Open",
            "08c-TicketSearch-Title-no-wildcard",
        ] {
            let (_, _, _, want) = recorded(name);
            let (st, _, body) = send(&sh, name, &sid);
            assert_eq!(body.as_bytes(), want.as_slice(), "{name} (HTTP {st})");
        }
        // a created ticket: strings, as 03; found with a wildcard as a list (08)
        let (_, _, body) = send(&sh, "03-TicketCreate", &sid);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["TicketID"].is_string() && v["ArticleID"].is_string() && v["TicketNumber"].is_string(), "{body}");
        let id = v["TicketID"].as_str().unwrap().to_string();
        let search = Request {
            method: "POST".into(),
            target: "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket/Search".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: format!(r#"{{"SessionID":"{sid}","Title":"%[call:1700000003.1]%"}}"#).into_bytes(),
            length: 0,
        };
        let Reply::Http { body, .. } = process(&sh, &search, false) else { panic!() };
        assert_eq!(String::from_utf8(body).unwrap(), format!(r#"{{"TicketID":["{id}"]}}"#), "one hit is a list");
        let get = Request {
            method: "GET".into(),
            target: format!("/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket/{id}"),
            version: "HTTP/1.1".into(),
            headers: vec![("X-OTRS-Header-SessionID".into(), sid.clone())],
            body: Vec::new(),
            length: 0,
        };
        let Reply::Http { status, body, .. } = process(&sh, &get, false) else { panic!() };
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200);
        assert!(v["Ticket"].is_array() && v["Ticket"][0]["TicketID"].is_number(), "{v}");
    }

    /// rest/32c in small: a file over what the database takes fails after
    /// its article was made, answered with the recorded text/plain 500.
    #[test]
    fn a_file_too_big_for_the_database_gets_32c_after_its_article_is_made() {
        let mut sh = crate::tests::shared();
        sh.cfg.max_file_bytes = 1000;
        let (_, _, body) = send(&sh, "01-SessionCreate", "");
        let sid = serde_json::from_str::<Value>(&body).unwrap()["SessionID"].as_str().unwrap().to_string();
        let (_, _, body) = send(&sh, "03-TicketCreate", &sid);
        let id = serde_json::from_str::<Value>(&body).unwrap()["TicketID"].as_str().unwrap().to_string();
        let articles = |sh: &Shared| crate::lock(&sh.store).ticket(id.parse().unwrap()).unwrap().articles.clone();
        let before = articles(&sh).len();
        let wav = otrs_fixtures::read("rest/call-1796147411.0.wav");
        let body = serde_json::json!({
            "SessionID": sid,
            "Article": {"CommunicationChannel": "Phone", "SenderType": "agent", "IsVisibleForCustomer": 0,
                        "Subject": "Call recording (large)", "Body": "Recording attached.", "ContentType": "text/plain; charset=utf8"},
            "Attachment": [{"Content": crate::rpc::base64(&wav[..1001]), "ContentType": "audio/wav", "Filename": "call-1700000032.1-70MB.wav"}]
        })
        .to_string()
        .into_bytes();
        let req = Request {
            method: "PATCH".into(),
            target: format!("/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket/{id}"),
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            length: body.len(),
            body,
        };
        let Reply::Http { status, content_type, body } = process(&sh, &req, false) else { panic!() };
        assert_eq!((status, content_type.as_str()), (500, "text/plain"));
        assert_eq!(body, otrs_fixtures::read("rest/32c-TicketUpdate-attachment-70MB-response.json"));
        let after = articles(&sh);
        assert_eq!(after.len(), before + 1, "the article was made");
        assert!(after.last().unwrap().attachments.is_empty(), "without its file");
    }
}
