//! otrs-core's rpc.pl client against this stand-in, run as the program the
//! demo and the Asterisk tests start (OTRS 6 without ArticleCreate, OTRS 5
//! with it). Cargo builds the binary for this test, so it always runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otrs_core::otrs::rpc_client::RpcClient;
use otrs_core::otrs::NewTicket;
use otrs_core::otrs::Settings;

struct StandIn {
    child: Child,
    addr: String,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn standin(args: &[&str]) -> StandIn {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otrs-standin"))
        .args(["--listen", "127.0.0.1:0", "--customers", "ivanov:ACME:ivanov@example.invalid:Ivan Ivanov"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start otrs-standin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("banner");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected banner {line:?}")).to_string();
    StandIn { child, addr }
}

fn control(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("control");
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn rpc_ticket() -> NewTicket {
    NewTicket {
        title: "RPC: incoming call from 89161229624".into(),
        queue: "Raw".into(),
        state: "new".into(),
        priority: "3 normal".into(),
        customer_user: "ivanov".into(),
        subject: "RPC call note".into(),
        body: "Inbound call from 89161229624".into(),
        from: Some("ivanov@example.invalid".into()),
        ..NewTicket::default()
    }
}

#[test]
fn rpc_client_against_the_standin_binary() {
    for (version, article) in [("6", false), ("5", true)] {
        let s = standin(&["--otrs-version", version]);
        let c = RpcClient::new(Settings {
            url: format!("http://{}/otrs/rpc.pl", s.addr),
            user: "rpcuser".into(),
            password: "RpcPass2024".into(),
            ..Settings::default()
        });
        let t = rpc_ticket();
        let got = c.create_ticket_for(&t, Some("ACME"), soon()).expect("created");
        assert_eq!(got.article_warning.is_none(), article, "{version}: {got:?}");
        assert_eq!(got.ticket.article_id.is_empty(), !article);
        let info = c.get_ticket(&got.ticket.ticket_id, soon()).expect("get");
        assert_eq!(info.ticket_number, got.ticket.ticket_number);
        assert_eq!(info.title, t.title);
        assert_eq!(c.ticket_id_by_number(&got.ticket.ticket_number, soon()), Ok(Some(got.ticket.ticket_id.clone())));
        // the worker's recheck: a search by the title's end (TicketSearch through rpc.pl)
        use otrs_core::otrs::TicketApi;
        assert!(c.can_find_by_title() && !c.can_search());
        assert_eq!(c.search(&[("Title", "*from 89161229624")], soon()), Ok(vec![got.ticket.ticket_id.clone()]));
        assert_eq!(c.search(&[("Title", "*[call:nobody]")], soon()), Ok(vec![]));
        let tickets = control(&s.addr, "/control/tickets");
        let line = tickets.lines().next().unwrap_or_default();
        assert!(line.contains("\tapi=rpc"), "{line}");
        assert!(line.contains(&format!("ticket_number={}\t", got.ticket.ticket_number)), "{line}");
        assert_eq!(line.contains("\tsubject=RPC call note\t"), article, "{line}");
        let requests = control(&s.addr, "/control/requests");
        assert!(requests.contains("rpc.TicketObject.TicketCreate=1\n"), "{requests}");
        let bad = RpcClient::new(Settings { password: "WRONG".into(), ..c.settings().clone() });
        assert!(bad.create_ticket(&t, soon()).unwrap_err().is_auth_fail());
    }
}
