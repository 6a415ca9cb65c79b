//! Replays every request sample of shared/otrs/generic-interface through the
//! transport and the operations, in the order they were recorded, with the
//! clock set to the recording time, and compares the whole HTTP reply
//! (status line, headers, body) byte for byte. Only the random SessionID of
//! sample 01 differs.

use crate::http::{self, Reply, Request};
use crate::{db, store, Config, Mode, Shared};
use std::path::PathBuf;

const SESSION: &str = "sgZ4snBxlE2EvDquEz35suMnGXWugGF3";
/// 2026-11-26 08:28:38 UTC, when samples 01-07b were recorded
const T0: i64 = 1795681718;

fn samples_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for c in [here.join("../shared/otrs/generic-interface"), PathBuf::from("/work/shared/otrs/generic-interface")] {
        if c.join("INDEX.txt").exists() {
            return c;
        }
    }
    panic!("samples not found")
}

fn shared() -> Shared {
    let cfg = Config {
        listen: "127.0.0.1:0".into(),
        control_listen: None,
        user: "soapagent".into(),
        password: "SoapAgent2024".into(),
        webservice: "GenericTicketConnectorSOAP".into(),
        agent_name: "SOAP Agent".into(),
        queues: store::queue_table(&["Raw".into(), "Postmaster".into(), "Misc".into(), "Helpdesk".into()]),
        delay_ms: 0,
        wrong_ws_delay_ms: 10,
    };
    let customers = db::Customers::from_list("ivanov:ACME:ivanov@example.invalid:Ivan Ivanov,petrov:ACME");
    Shared::new(cfg, customers, Mode::Normal, None)
}

/// SOAPAction of each sample as INDEX.txt records it (None: no header).
fn soapactions() -> Vec<(String, Option<String>)> {
    let idx = std::fs::read_to_string(samples_dir().join("INDEX.txt")).unwrap();
    let mut out = Vec::new();
    for l in idx.lines() {
        let name = l.split_whitespace().next().unwrap_or("").to_string();
        if let Some(p) = l.find("SOAPAction: ") {
            let rest = &l[p + 12..];
            let sa = if rest.starts_with("NONE") {
                None
            } else {
                // the quoted value
                let end = rest[1..].find('"').map(|e| e + 2).unwrap_or(rest.len());
                Some(rest[..end].to_string())
            };
            out.push((name, sa));
        }
    }
    out
}

fn request(sample: &str, soapaction: Option<&str>, ws: &str) -> Request {
    let body = std::fs::read(samples_dir().join(format!("{}-request.xml", sample))).unwrap();
    let mut headers = vec![
        ("Host".to_string(), "127.0.0.1".to_string()),
        ("Content-Type".to_string(), "text/xml; charset=utf-8".to_string()),
        ("Content-Length".to_string(), body.len().to_string()),
    ];
    if let Some(sa) = soapaction {
        headers.push(("SOAPAction".to_string(), sa.to_string()));
    }
    Request {
        method: "POST".into(),
        target: format!("/otrs/nph-genericinterface.pl/Webservice/{}", ws),
        version: "HTTP/1.1".into(),
        headers,
        length: body.len(),
        body,
    }
}

fn wire(reply: &Reply) -> Vec<u8> {
    match reply {
        Reply::Http { status, content_type, body } => {
            let mut v = http::head("HTTP/1.1", *status, content_type, body.len()).into_bytes();
            v.extend_from_slice(body);
            v
        }
        Reply::Silence => Vec::new(),
    }
}

fn expected(sample: &str) -> Vec<u8> {
    let d = samples_dir();
    let mut v = std::fs::read(d.join(format!("{}-response.headers.txt", sample))).unwrap();
    v.extend(std::fs::read(d.join(format!("{}-response.xml", sample))).unwrap());
    v
}

#[test]
fn every_sample_replays_byte_for_byte() {
    let sh = shared();
    let sas = soapactions();
    let mut checked = 0;
    let mut files: Vec<String> = std::fs::read_dir(samples_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| n.ends_with("-request.xml"))
        .map(|n| n.trim_end_matches("-request.xml").to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 26, "{:?}", files);
    for sample in &files {
        let num: String = sample.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let t = if ["01", "02", "03", "04", "05", "06", "07", "07b"].contains(&num.as_str()) { T0 } else { T0 + 1 };
        *crate::lock(&sh.fixed_now_ms) = Some(t * 1000 + 123);
        let sa = sas.iter().find(|(n, _)| n == sample).map(|(_, s)| s.clone()).unwrap_or(None);
        let ws = if num == "31" { "GenericTicketConnectorSOAPX" } else { "GenericTicketConnectorSOAP" };
        let req = request(sample, sa.as_deref(), ws);
        let reply = http::process_soap(&sh, &req, false);
        let mut got = wire(&reply);
        let want = expected(sample);
        if num == "01" {
            // the new session is random: take it, then use the sample's one
            let text = String::from_utf8(got.clone()).unwrap();
            let a = text.find("<SessionID>").unwrap() + 11;
            let id = text[a..a + 32].to_string();
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(crate::lock(&sh.store).sessions.contains_key(&id));
            got = text.replace(&id, SESSION).into_bytes();
            let s = crate::lock(&sh.store).sessions.get(&id).cloned().unwrap();
            crate::lock(&sh.store).sessions.insert(SESSION.into(), s);
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "sample {} differs",
            sample
        );
        checked += 1;
    }
    assert_eq!(checked, files.len());
    // the control lines: 3 tickets and the article of TicketUpdate
    let st = crate::lock(&sh.store);
    assert_eq!(st.lines.len(), 4);
    assert!(st.lines[0].starts_with("ticket_id=2\tticket_number=2026112610000015\tarticle_id=2\ttitle=Incoming call from 89161229624\tqueue=Raw\tstate=new\tpriority=3 normal\ttype=Unclassified\tcustomer_user=ivanov\tcustomer_id=ACME\tcommunication_channel=Phone\tsender_type=customer\tis_visible_for_customer=1\tsubject=Call from 89161229624\tbody=Inbound call from 89161229624 (customer ivanov).\\nCall-ID: 1700000000.42, duration 00:02:15, answered by ext. 101.\tcontent_type=text/plain; charset=utf8\tfrom=\"Ivan Ivanov\" <ivanov@example.invalid>\tauth=session\tsoapaction=\"http://www.otrs.org/TicketConnector/#TicketCreate\"\treceived_at=1795681718123"), "{}", st.lines[0]);
    assert!(st.lines[1].contains("\tauth=login\tsoapaction=\treceived_at="), "{}", st.lines[1]);
    assert!(st.lines[1].contains("\tfrom=Ivan Ivanov <ivanov@example.invalid>\t"));
    assert!(st.lines[2].starts_with("article\tticket_id=2\tticket_number=2026112610000015\tarticle_id=4\tsubject=Call back to 89161229624\t"), "{}", st.lines[2]);
    assert!(st.lines[2].contains("\tstate=open\t"));
    assert!(st.lines[3].starts_with("ticket_id=4\t"));
    assert!(st.lines[3].contains("\tcommunication_channel=Internal\tsender_type=agent\t"));
}

fn soap(sh: &Shared, op: &str, inner: &str) -> (u16, String) {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tic=\"http://www.otrs.org/TicketConnector/\"><soapenv:Body><tic:{op}>{inner}</tic:{op}></soapenv:Body></soapenv:Envelope>"
    );
    let req = Request {
        method: "POST".into(),
        target: "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP".into(),
        version: "HTTP/1.1".into(),
        headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())],
        length: body.len(),
        body: body.into_bytes(),
    };
    match http::process_soap(sh, &req, false) {
        Reply::Http { status, body, .. } => (status, String::from_utf8(body).unwrap()),
        Reply::Silence => (0, String::new()),
    }
}

const AUTH: &str = "<tic:UserLogin>soapagent</tic:UserLogin><tic:Password>SoapAgent2024</tic:Password>";

fn create(sh: &Shared, title: &str, state: &str, cu: &str, subject: &str, body: &str) -> String {
    let (st, r) = soap(
        sh,
        "TicketCreate",
        &format!(
            "{AUTH}<tic:Ticket><tic:Title>{title}</tic:Title><tic:Queue>Raw</tic:Queue><tic:State>{state}</tic:State><tic:Priority>3 normal</tic:Priority><tic:CustomerUser>{cu}</tic:CustomerUser></tic:Ticket><tic:Article><tic:CommunicationChannel>Phone</tic:CommunicationChannel><tic:SenderType>customer</tic:SenderType><tic:Subject>{subject}</tic:Subject><tic:Body>{body}</tic:Body><tic:ContentType>text/plain; charset=utf8</tic:ContentType></tic:Article>"
        ),
    );
    assert_eq!(st, 200, "{}", r);
    let a = r.find("<TicketID>").unwrap() + 10;
    r[a..a + r[a..].find('<').unwrap()].to_string()
}

fn search(sh: &Shared, inner: &str) -> Vec<String> {
    let (st, r) = soap(sh, "TicketSearch", &format!("{AUTH}{inner}"));
    assert_eq!(st, 200, "{}", r);
    r.split("<TicketID>").skip(1).map(|p| p[..p.find('<').unwrap()].to_string()).collect()
}

#[test]
fn search_semantics() {
    let sh = shared();
    let a = create(&sh, "Incoming call from 89161229624", "new", "ivanov", "Call from 89161229624", "Inbound call from 89161229624, please call back");
    let b = create(&sh, "Missed call from 84951234567", "open", "petrov", "Missed call", "Nobody answered");
    let c = create(&sh, "Incoming call from 84951234567", "closed successful", "ivanov@example.invalid", "Call", "Done");
    // newest first
    assert_eq!(search(&sh, ""), vec![c.clone(), b.clone(), a.clone()]);
    assert_eq!(search(&sh, "<tic:CustomerUserLogin>ivanov</tic:CustomerUserLogin>"), vec![c.clone(), a.clone()]);
    assert_eq!(search(&sh, "<tic:CustomerUserLogin>IVAN*</tic:CustomerUserLogin>"), vec![c.clone(), a.clone()]);
    assert_eq!(search(&sh, "<tic:StateType>open</tic:StateType>"), vec![b.clone()]);
    // MariaDB compares the state type names without regard to case
    assert_eq!(search(&sh, "<tic:StateType>Open</tic:StateType>"), vec![b.clone()]);
    assert!(search(&sh, "<tic:StateType>viewable</tic:StateType>").is_empty());
    assert_eq!(search(&sh, "<tic:StateType>new</tic:StateType><tic:StateType>open</tic:StateType>"), vec![b.clone(), a.clone()]);
    assert_eq!(search(&sh, "<tic:Title>Incoming call*</tic:Title>"), vec![c.clone(), a.clone()]);
    assert!(search(&sh, "<tic:Title>Incoming call</tic:Title>").is_empty());
    assert_eq!(search(&sh, "<tic:Title>*84951234567</tic:Title>"), vec![c.clone(), b.clone()]);
    assert_eq!(search(&sh, "<tic:MIMEBase_Body>89161229624</tic:MIMEBase_Body>"), vec![a.clone()]);
    // the index keeps each word once: "call back" is gone, "please back" is there
    assert!(search(&sh, "<tic:MIMEBase_Body>CALL BACK</tic:MIMEBase_Body>").is_empty());
    assert_eq!(search(&sh, "<tic:MIMEBase_Body>PLEASE BACK</tic:MIMEBase_Body>"), vec![a.clone()]);
    // "from" is a stop word: not in the index
    assert!(search(&sh, "<tic:MIMEBase_Body>call from</tic:MIMEBase_Body>").is_empty());
    assert_eq!(search(&sh, "<tic:MIMEBase_Subject>missed</tic:MIMEBase_Subject>"), vec![b.clone()]);
    assert_eq!(search(&sh, "<tic:Fulltext>84951234567</tic:Fulltext>"), vec![c.clone(), b.clone()]);
    assert_eq!(search(&sh, "<tic:Queues>Raw</tic:Queues><tic:OrderBy>Up</tic:OrderBy>"), vec![a.clone(), b.clone(), c.clone()]);
    assert!(search(&sh, "<tic:Queues>Nope</tic:Queues>").is_empty());
    assert_eq!(search(&sh, "<tic:Limit>1</tic:Limit>"), vec![c.clone()]);
    // the e-mail address resolved to the customer login
    let (_, g) = soap(&sh, "TicketGet", &format!("{AUTH}<tic:TicketID>{c}</tic:TicketID>"));
    assert!(g.contains("<CustomerUserID>ivanov</CustomerUserID>"), "{}", g);
    assert!(!g.contains("<Article>"));
}

#[test]
fn ticket_create_checks_in_znuny_order() {
    let sh = shared();
    let cases: &[(&str, &str)] = &[
        ("<tic:Ticket><tic:Title>x</tic:Title></tic:Ticket>", "TicketCreate: Article parameter is missing or not valid!"),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>new</tic:State><tic:Priority>9 ultra</tic:Priority></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject></tic:Article>",
            "TicketCreate: Ticket-&gt;PriorityID or Ticket-&gt;Priority parameter is invalid!",
        ),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>bogus</tic:State></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject></tic:Article>",
            "TicketCreate: Ticket-&gt;StateID or Ticket-&gt;State parameter is invalid!",
        ),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>new</tic:State><tic:Priority>3 normal</tic:Priority><tic:Type>Bogus</tic:Type></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject></tic:Article>",
            "TicketCreate: Ticket-&gt;TypeID or Ticket-&gt;Type parameter is invalid!",
        ),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>new</tic:State><tic:Priority>3 normal</tic:Priority></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject></tic:Article>",
            "TicketCreate: Article-&gt;Body parameter is missing!",
        ),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>new</tic:State><tic:Priority>3 normal</tic:Priority></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject><tic:Body>b</tic:Body><tic:CommunicationChannel>Chat</tic:CommunicationChannel><tic:ContentType>text/plain; charset=utf8</tic:ContentType></tic:Article>",
            "TicketCreate: Article-&gt;CommunicationChannel or Article-&gt;CommunicationChannelID parameter is invalid or not supported!",
        ),
        (
            "<tic:Ticket><tic:Title>x</tic:Title><tic:CustomerUser>ivanov</tic:CustomerUser><tic:Queue>Raw</tic:Queue><tic:State>new</tic:State><tic:Priority>3 normal</tic:Priority></tic:Ticket><tic:Article><tic:Subject>s</tic:Subject><tic:Body>b</tic:Body><tic:ContentType>text/plain</tic:ContentType></tic:Article>",
            "TicketCreate: Article-&gt;ContentType is invalid!",
        ),
    ];
    for (inner, msg) in cases {
        let (st, r) = soap(&sh, "TicketCreate", &format!("{AUTH}{inner}"));
        assert_eq!(st, 200);
        assert!(r.contains(msg), "{} -> {}", inner, r);
    }
    let (_, r) = soap(&sh, "TicketCreate", "<tic:Ticket/>");
    assert!(r.contains("TicketCreate: UserLogin, CustomerUserLogin or SessionID is required!"));
    let (_, r) = soap(&sh, "TicketCreate", "<tic:UserLogin>soapagent</tic:UserLogin>");
    assert!(r.contains("TicketCreate: Password or SessionID is required!"));
    assert!(crate::lock(&sh.store).tickets.is_empty());
    // error mode
    let (st, r) = soap(&sh, "SessionCreate", AUTH);
    assert_eq!(st, 200);
    assert!(r.contains("<SessionID>"));
}

#[test]
fn update_pending_and_history() {
    let sh = shared();
    let id = create(&sh, "t", "new", "ivanov", "s", "b");
    let (_, r) = soap(&sh, "TicketUpdate", &format!("{AUTH}<tic:TicketID>{id}</tic:TicketID><tic:Ticket><tic:State>pending reminder</tic:State></tic:Ticket>"));
    assert!(r.contains("Can't set a ticket on a pending state without pendig time!"), "{}", r);
    let (_, r) = soap(&sh, "TicketUpdate", &format!("{AUTH}<tic:TicketID>{id}</tic:TicketID><tic:Ticket><tic:State>pending reminder</tic:State><tic:PendingTime><tic:Diff>60</tic:Diff></tic:PendingTime><tic:Priority>5 very high</tic:Priority></tic:Ticket>"));
    assert!(r.contains("<TicketID>2</TicketID><TicketNumber>"), "{}", r);
    assert!(!r.contains("ArticleID"));
    let (_, r) = soap(&sh, "TicketGet", &format!("{AUTH}<tic:TicketID>{id}</tic:TicketID>"));
    assert!(r.contains("<State>pending reminder</State>") && r.contains("<Priority>5 very high</Priority>"), "{}", r);
    let (_, r) = soap(&sh, "TicketUpdate", &format!("{AUTH}<tic:TicketNumber>123</tic:TicketNumber>"));
    assert!(r.contains("TicketUpdate.AccessDenied"));
    let (_, r) = soap(&sh, "TicketHistoryGet", &format!("{AUTH}<tic:TicketID>{id}</tic:TicketID>"));
    assert!(r.contains("<HistoryType>PriorityUpdate</HistoryType>") && r.contains("%%3 normal%%3%%5 very high%%5"), "{}", r);
}

#[test]
fn transport_edge_cases() {
    let sh = shared();
    let mut req = request("01-SessionCreate", None, "GenericTicketConnectorSOAP");
    req.length = 0;
    req.body.clear();
    assert_eq!(wire(&http::process_soap(&sh, &req, false)), http::head("HTTP/1.1", 411, "text/plain", 15).into_bytes().into_iter().chain(b"Length Required".iter().copied()).collect::<Vec<u8>>());
    let mut req = request("01-SessionCreate", Some("\"\""), "GenericTicketConnectorSOAP");
    req.headers.retain(|(k, _)| k != "Content-Type");
    req.headers.push(("Content-Type".into(), "text/xml".into()));
    match http::process_soap(&sh, &req, false) {
        Reply::Http { status, content_type, .. } => {
            assert_eq!(status, 200);
            assert_eq!(content_type, "text/xml");
        }
        _ => panic!(),
    }
    let req = request("01-SessionCreate", Some("\"SessionCreate\""), "GenericTicketConnectorSOAP");
    match http::process_soap(&sh, &req, false) {
        Reply::Http { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(String::from_utf8_lossy(&body).contains("SOAPAction 'SessionCreate' does not match expected result 'http://www.otrs.org/TicketConnector/#SessionCreate'"));
        }
        _ => panic!(),
    }
    let mut req = request("01-SessionCreate", None, "GenericTicketConnectorSOAP");
    req.body = b"<a/>".to_vec();
    req.length = 4;
    match http::process_soap(&sh, &req, false) {
        Reply::Http { status, body, .. } => {
            assert_eq!(status, 500);
            assert_eq!(body, b"Got no result body from deserialized content");
        }
        _ => panic!(),
    }
    let req = request("01-SessionCreate", None, "Other");
    assert_eq!(http::process_soap(&sh, &req, false), Reply::Silence);
    // absurd nesting is refused, not a crash
    let mut req = request("01-SessionCreate", None, "GenericTicketConnectorSOAP");
    req.body = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)).into_bytes();
    req.length = req.body.len();
    match http::process_soap(&sh, &req, false) {
        Reply::Http { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(String::from_utf8_lossy(&body).starts_with("Error deserializing message:\nexcessive element nesting at line 1"));
        }
        _ => panic!(),
    }
}

#[test]
fn modes_parse_and_control() {
    for m in ["normal", "error", "fault", "garbage", "truncated", "huge", "hang", "refuse", "close", "slow:200", "down_for:3"] {
        assert_eq!(Mode::parse(m).unwrap().to_string(), m);
    }
    assert!(Mode::parse("slow").is_err());
    assert!(Mode::parse("bogus").is_err());
    let sh = shared();
    let req = |m: &str, p: &str, b: &str| Request {
        method: m.into(),
        target: p.into(),
        version: "HTTP/1.1".into(),
        headers: vec![],
        body: b.as_bytes().to_vec(),
        length: b.len(),
    };
    assert_eq!(http::control(&sh, &req("POST", "/control/mode", "slow:250\n")), (200, "slow:250\n".into()));
    assert_eq!(sh.mode().0, Mode::Slow(250));
    assert_eq!(http::control(&sh, &req("POST", "/control/mode", "nonsense")).0, 400);
    create(&sh, "a\tb", "new", "ivanov", "s\\x", "line1\r\nline2");
    let (_, t) = http::control(&sh, &req("GET", "/control/tickets", ""));
    assert!(t.contains("title=a\\tb\t") && t.contains("subject=s\\\\x\t") && t.contains("body=line1\\nline2\t"), "{}", t);
    let (_, r) = http::control(&sh, &req("GET", "/control/requests", ""));
    // requests are counted by the connection handler, not here
    assert_eq!(r, "total=0\n");
    assert_eq!(http::control(&sh, &req("POST", "/control/reset", "")).0, 200);
    assert_eq!(http::control(&sh, &req("GET", "/control/tickets", "")).1, "");
}
