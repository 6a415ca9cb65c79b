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
    // curl asked for a 100 Continue (32, 32b, 32c: Expect: 100-continue);
    // this client never does, so Apache sends none
    let head = match head.strip_prefix("HTTP/1.1 100 Continue") {
        Some(rest) => rest.trim_start().to_string(),
        None => head,
    };
    let body = otrs_fixtures::read(&format!("rest/{name}-response.json"));
    // the recorded head, its Content-Length as recorded (it is the body's)
    let mut out = head.replace("\r\n", "\n").trim_end().replace('\n', "\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&body);
    out
}

/// (method, path, headers, body) of each request seen.
type Seen = (String, String, String, String);

/// Serves the replies of `names` in order, all on kept-alive connections
/// (each served on its own thread: the login comes on a connection of its
/// own while the tickets' one stays open).
fn server(names: &[&str]) -> (String, mpsc::Receiver<Seen>, mpsc::Receiver<usize>) {
    let replies: Vec<Vec<u8>> = names.iter().map(|n| reply_of(n)).collect();
    let replies = std::sync::Arc::new(std::sync::Mutex::new(replies.into_iter()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let (conn_tx, conn_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut connections = 0;
        while let Ok((stream, _)) = listener.accept() {
            connections += 1;
            let _ = conn_tx.send(connections);
            let (tx, replies) = (tx.clone(), replies.clone());
            thread::spawn(move || serve_connection(stream, &tx, &replies));
        }
    });
    (format!("http://127.0.0.1:{port}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"), rx, conn_rx)
}

/// The requests of one connection, each answered with the next reply; the
/// connection closed when none is left.
fn serve_connection(
    stream: std::net::TcpStream,
    tx: &mpsc::Sender<Seen>,
    replies: &std::sync::Mutex<std::vec::IntoIter<Vec<u8>>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
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
        let Some(reply) = replies.lock().unwrap().next() else { return };
        if writer.write_all(&reply).is_err() {
            return;
        }
    }
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
    // the login alone (`Connection: close`, see Conn::Alone), then one
    // kept-alive connection for all the rest
    assert!(requests[0].2.contains("Connection: close\r\n"), "{:?}", requests[0]);
    assert!(requests[1..].iter().all(|r| !r.2.contains("Connection: close")), "{requests:?}");
    assert_eq!(conns.try_iter().count(), 2, "Znuny's REST keeps the connection: one connect for all tickets");
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

/// A wrong web service name (rest/29): no reply at all, at once since the
/// login says `Connection: close`. The ticket's request is never sent, so
/// nothing can be doubled; after the fix (a new client: `module reload`)
/// the ticket is created once.
#[test]
fn a_wrong_web_service_name_rejects_without_waiting_and_sends_no_ticket() {
    use crate::otrs::transport::unanswering_server;
    let (url, heads) = unanswering_server("GenericTicketConnectorRESTX", Duration::from_secs(15), usize::MAX, b"");
    let started = Instant::now();
    let e = client(&url).create(&ticket(), None, soon()).unwrap_err();
    assert_eq!(e, ClientError::NoReply);
    assert!(started.elapsed() < Duration::from_secs(2), "not the 15 s KeepAliveTimeout: {:?}", started.elapsed());
    assert_eq!((e.failure(), e.maybe_delivered()), (Failure::Rejects, false));
    let heads = crate::runtime::lock(&heads).clone();
    assert!(
        heads.len() == 2
            && heads
                .iter()
                .all(|h| h.starts_with("POST /otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorRESTX/Session ")),
        "{heads:?}"
    );
    // the url fixed
    let (url, seen, _) = server(&["01-SessionCreate", "03-TicketCreate"]);
    assert_eq!(client(&url).create(&ticket(), None, soon()).unwrap().ticket_id, "860");
    assert_eq!(seen.try_iter().filter(|r| r.1.ends_with("/Ticket")).count(), 1);
}

/// OTOBO answers a wrong web service name with an empty 500 (its
/// Provider.pm, _ThrowWebException): rejects too, for the login only.
#[test]
fn otobos_empty_500_to_the_login_rejects_and_to_a_ticket_stays_ambiguous() {
    use crate::otrs::transport::unanswering_server;
    const EMPTY_500: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (url, heads) = unanswering_server("GenericTicketConnectorRESTX", Duration::from_secs(15), 0, EMPTY_500);
    let e = client(&url).create(&ticket(), None, soon()).unwrap_err();
    assert_eq!((e.failure(), e.maybe_delivered()), (Failure::Rejects, false), "{e}");
    assert!(e.to_string().contains("no such web service"), "{e}");
    assert_eq!(crate::runtime::lock(&heads).len(), 1);
    // the same reply to a ticket request (a proxy, a crash): it may be done
    let e = ClientError::Soap(rest::parse_ticket_create(500, b"").unwrap_err());
    assert!(e.maybe_delivered() && e.failure() == Failure::Down, "{e}");
}

/// A ticket request that got no reply (the session cached, the server gone
/// mid-request) stays maybe-delivered: the worker searches before it
/// creates again.
#[test]
fn a_ticket_request_without_reply_may_have_been_done() {
    // the server answers the login, then closes at the ticket's request
    let (url, seen, _) = server(&["01-SessionCreate"]);
    let e = client(&url).create(&ticket(), None, soon()).unwrap_err();
    assert!(matches!(e, ClientError::Io(_)), "{e:?}");
    assert!(e.maybe_delivered() && e.failure() == Failure::Down, "{e}");
    assert_eq!(seen.try_iter().count(), 2);
}

/// rest/32c: Znuny made the article, then failed on the file (HTTP 500,
/// text/plain, a JSON fault). Maybe done, so the worker's retry first reads
/// the ticket's articles, finds the outcome's marker, and sends no second
/// article. The article list is the recorded TicketGet (31) with the
/// article 32c made added, as Znuny would list it.
#[test]
fn an_attachment_znuny_failed_on_after_making_the_article_is_not_sent_twice() {
    let dir = std::env::temp_dir().join(format!("otrs-rest-32c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("call-1700000032.1.wav");
    std::fs::write(&wav, otrs_fixtures::read("rest/call-1796147411.0.wav")).unwrap();
    let key = "pbx-a-1700000032.1";
    let mut end = crate::call::end::CallEnd {
        answered: true,
        subject: "Call recording (large)".into(),
        body: "Answered.\n".into(),
        ..Default::default()
    };
    end.file = Some(Box::new(crate::call::recording::file_ref(wav.to_str().unwrap(), "Recording", "", key)));
    let marker = end.file.as_ref().unwrap().marker.clone();
    // TicketGet 31 with one more article: the one 32c left without its file
    let mut listed: serde_json::Value =
        serde_json::from_slice(&otrs_fixtures::read("rest/31-TicketGet-attachments-response.json")).unwrap();
    let articles = listed["Ticket"][0]["Article"].as_array_mut().unwrap();
    let mut made = articles[0].clone();
    made["Body"] =
        serde_json::Value::String(format!("Answered.\nRecording: call-1700000032.1.wav (16 KB), attached.\n{marker}\n"));
    made.as_object_mut().unwrap().remove("Attachment");
    articles.push(made);
    let listed = serde_json::to_vec(&listed).unwrap();
    let head = otrs_fixtures::read_string("rest/31-TicketGet-attachments-response.headers.txt");
    let head = head.replace("\r\n", "\n");
    let head: Vec<&str> = head.trim_end().lines().filter(|l| !l.to_ascii_lowercase().starts_with("content-length:")).collect();
    let mut get_reply = format!("{}\r\nContent-Length: {}\r\n\r\n", head.join("\r\n"), listed.len()).into_bytes();
    get_reply.extend_from_slice(&listed);

    let (url, seen, _) = server(&["01-SessionCreate", "32c-TicketUpdate-attachment-70MB"]);
    let c = client(&url);
    let general = crate::call::testing::config().general;
    let e = crate::call::flow::write_end(&c, &general, "1526", &end, soon(), false).unwrap_err();
    assert!(e.to_string().contains("Attachment could not be created"), "{e}");
    assert!(e.maybe_delivered() && !e.is_permanent(), "the article may be in: {e}");
    let patches = seen.try_iter().filter(|r| r.0 == "PATCH").count();
    assert_eq!(patches, 1);

    // the worker's retry (a new server: the same session, a GET that lists it)
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, requests) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut w = stream;
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut h = String::new();
            while r.read_line(&mut h).unwrap_or(0) > 0 && h != "\r\n" {
                h.clear();
            }
            let _ = tx.send(line.clone());
            if line.starts_with("GET ") {
                let _ = w.write_all(&get_reply);
            }
        }
    });
    let again = RestClient::new(Settings {
        url: format!("http://127.0.0.1:{port}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"),
        ..c.settings.clone()
    });
    again.sessions.set("Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ");
    assert_eq!(crate::call::flow::write_end(&again, &general, "1526", &end, soon(), true), Ok(None));
    let sent: Vec<String> = requests.try_iter().collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].starts_with("GET /otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket/1526?AllArticles=1 "),
        "{sent:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
