//! What ends up on the ticket besides the call, through the real Asterisk
//! with the module and the OTRS stand-in: numbers that never make tickets.

mod common;

use common::*;
use std::time::Duration;

const CALL_WAIT: Duration = Duration::from_secs(10);

fn counter(status: &str, label: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in:\n{status}"))
}

#[test]
#[ignore = "needs root, the Asterisk sandbox and MariaDB: run scripts/test.sh"]
fn an_ignored_number_creates_nothing() {
    let w = world();
    let out = reconfigure(&otrs_conf(&w.standin.url(), "ignore_numbers = 4500-4599, +7495*, anonymous\n", ""));
    assert!(!out.contains("reload failure"), "{out}");
    let before = counter(&cli("otrs show status"), "Ignored:");
    let requests_before = w.standin.requests();
    for (caller, rule) in [("4507", "4500-4599"), ("8 (495) 111-00-00", "+7495*"), ("anonymous", "anonymous")] {
        let r = wait_result(&place_call(caller.as_bytes()), CALL_WAIT);
        assert_eq!(r.var("STATUS"), "IGNORED", "{caller}: {r:?}");
        assert_eq!(r.var("ERROR"), format!("ignore_numbers: {rule}"), "{caller}");
        assert_eq!(r.var("TICKETID"), "");
    }
    let status = cli("otrs show status");
    assert_eq!(counter(&status, "Ignored:"), before + 3, "{status}");
    assert!(status_line(&status, "Spool:").starts_with("0 queued"), "{status}");
    assert!(w.standin.tickets().is_empty(), "{:?}", w.standin.tickets());
    assert_eq!(w.standin.requests(), requests_before, "an ignored call asked OTRS something");
    // a number outside the rules gets its ticket as ever
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    let out = reconfigure(&otrs_conf(&w.standin.url(), "", ""));
    assert!(!out.contains("reload failure"), "{out}");
}
