//! The REST client against a server answering with the recorded replies
//! (tests/fixtures/otrs/rest), on one kept-alive connection.

use super::*;
use crate::otrs::error::Failure;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

fn reply_of(name: &str) -> Vec<u8> {
    let head = otrs_fixtures::read_string(&format!("rest/{name}-response.headers.txt"));
    let body = otrs_fixtures::read(&format!("rest/{name}-response.json"));
    // the recorded head, its Content-Length as recorded (it is the body's)
    let mut out = head.replace("\r\n", "\n").trim_end().replace('\n', "\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&body);
    out
}

/// (method, path, headers, body) of each request seen.
type Seen = (String, String, String, String);

/// Serves the replies of `names` in order, all on kept-alive connections.
fn server(names: &[&str]) -> (String, mpsc::Receiver<Seen>, mpsc::Receiver<usize>) {
    let replies: Vec<Vec<u8>> = names.iter().map(|n| reply_of(n)).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let (conn_tx, conn_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut replies = replies.into_iter();
        let mut connections = 0;
        while let Ok((stream, _)) = listener.accept() {
            connections += 1;
            let _ = conn_tx.send(connections);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                let (mut head, mut len) = (String::new(), 0usize);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&h);
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let _ = tx.send((method, path, head, String::from_utf8_lossy(&body).into_owned()));
                let Some(reply) = replies.next() else { return };
                if writer.write_all(&reply).is_err() {
                    break;
                }
            }
        }
    });
    (format!("http://127.0.0.1:{port}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"), rx, conn_rx)
}

fn client(url: &str) -> RestClient {
    RestClient::new(Settings {
        url: url.into(),
        user: "soapagent".into(),
        password: "SoapAgent2024".into(),
        ..Settings::default()
    })
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn ticket() -> NewTicket {
    NewTicket {
        title: "Call from Ivan Ivanov (89161229624) [call:1700000003.1]".into(),
        queue: "Raw".into(),
        state: "new".into(),
        priority: "3 normal".into(),
        customer_user: "ivanov".into(),
        subject: "Call from 89161229624".into(),
        body: "x".into(),
        ..NewTicket::default()
    }
}

#[test]
fn a_session_then_tickets_search_update_and_get_on_one_connection() {
    let (url, seen, conns) = server(&[
        "01-SessionCreate",
        "03-TicketCreate",
        "07b-TicketSearch-StateType-Open",
        "08-TicketSearch-Title-percent",
        "09-TicketUpdate-article",
        "06b-TicketGet-session-in-header",
    ]);
    let c = client(&url);
    let t = c.create(&ticket(), None, soon()).unwrap();
    assert_eq!((t.ticket_id.as_str(), t.ticket_number.as_str()), ("860", "2026120110011111"));
    assert!(c.search(&[("Title", "x")], soon()).unwrap().is_empty());
    assert_eq!(c.search(&[("Title", "%[call:1796147411.0]%")], soon()).unwrap(), ["854"]);
    let a = Article::phone("agent", "s", "b");
    assert_eq!(c.update("860", &TicketChange::default(), Some(&a), soon()).unwrap().article_id.as_deref(), Some("621"));
    assert_eq!(c.get("860", soon()).unwrap().ticket_id, "860");
    let requests: Vec<Seen> = seen.try_iter().collect();
    let routes: Vec<(&str, &str)> = requests.iter().map(|(m, p, _, _)| (m.as_str(), p.as_str())).collect();
    let base = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST";
    assert_eq!(
        routes,
        [
            ("POST", format!("{base}/Session").as_str()),
            ("POST", format!("{base}/Ticket").as_str()),
            ("POST", format!("{base}/Ticket/Search").as_str()),
            ("POST", format!("{base}/Ticket/Search").as_str()),
            ("PATCH", format!("{base}/Ticket/860").as_str()),
            ("GET", format!("{base}/Ticket/860").as_str()),
        ]
    );
    assert!(requests[1].3.contains("\"SessionID\": \"Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ\""), "session in the body");
    let get = &requests[5];
    assert!(get.2.contains("X-OTRS-Header-SessionID: Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ") && !get.1.contains("Session"), "{get:?}");
    assert!(requests.iter().all(|r| r.2.to_ascii_lowercase().contains("content-type: application/json") || r.0 == "GET"));
    assert_eq!(conns.try_iter().count(), 1, "Znuny's REST keeps the connection: one connect for all");
}

#[test]
fn an_expired_session_is_renewed_once() {
    let (url, seen, _) = server(&[
        "01-SessionCreate",
        "03-TicketCreate",
        "20b-TicketCreate-invalid-session",
        "01-SessionCreate",
        "03-TicketCreate",
    ]);
    let c = client(&url);
    c.create(&ticket(), None, soon()).unwrap();
    assert_eq!(c.create(&ticket(), None, soon()).unwrap().ticket_id, "860");
    assert_eq!(seen.try_iter().count(), 5);
}

#[test]
fn refusals_are_told_apart() {
    let (url, _, _) = server(&["02-SessionCreate-wrong-password"]);
    let e = client(&url).create(&ticket(), None, soon()).unwrap_err();
    assert!(e.is_auth_fail() && e.failure() == Failure::Rejects, "{e:?}");

    let (url, _, _) = server(&["01-SessionCreate", "21-TicketCreate-unknown-queue"]);
    let e = client(&url).create(&ticket(), None, soon()).unwrap_err();
    assert_eq!(e.failure(), Failure::RefusesTicket, "{e}");

    let (url, _, _) = server(&["01-SessionCreate", "25-TicketSearch-unknown-route"]);
    let e = client(&url).search(&[("Title", "x")], soon()).unwrap_err();
    assert_eq!(e.failure(), Failure::Rejects, "{e}");
    assert!(!e.maybe_delivered());

    let (url, _, _) = server(&["01-SessionCreate", "27-TicketGet-unknown-ticketid"]);
    let e = client(&url).get("999999", soon()).unwrap_err();
    assert!(e.is_permanent() && e.to_string().contains("AccessDenied"), "{e}");
    // an id that is not one never reaches a route
    let e = client("http://127.0.0.1:9/x").get("Search", soon()).unwrap_err();
    assert!(e.is_permanent(), "{e}");
}

#[test]
fn the_session_never_reaches_a_debug_line() {
    let masked = mask_json(r#"{"SessionID":"Sess-Secret-1","x":1} {"SessionID": "Sess-Secret-2"}"#);
    assert!(!masked.contains("Sess-Secret"), "{masked}");
    assert!(masked.contains(r#""x":1"#));
}
