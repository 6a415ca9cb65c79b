//! OTRSTicket() inside a real Asterisk 22 with the module just built, a
//! real MariaDB holding OTRS's customer_user table, and the OTRS stand-in.
//! Each test places real dialplan calls and checks both what the dialplan
//! saw after the app and the ticket OTRS (the stand-in) received.

mod common;

use common::*;
use std::time::Duration;

const CALL_WAIT: Duration = Duration::from_secs(10);

fn restore_default_config(w: &World) {
    let out = reconfigure(&otrs_conf(&w.standin.url(), "", ""));
    assert!(!out.contains("not reloaded"), "{out}");
}

#[test]
fn module_is_loaded_and_documented() {
    let _w = world();
    assert!(module_running(), "{}", cli("module show like otrsticket"));
    let doc = cli("core show application OTRSTicket");
    for needle in ["OTRSTicket(number[,profile])", "OTRSSTATUS", "CREATED", "FAILED", "OTRSTICKETNUMBER", "OTRSMATCHES"] {
        assert!(doc.contains(needle), "'{needle}' missing in:\n{doc}");
    }
}

#[test]
fn status_shows_settings_but_never_passwords() {
    let w = world();
    let out = cli("otrs show status");
    assert!(out.contains(&w.standin.url()), "{out}");
    assert!(out.contains("OTRS user:        soapagent"), "{out}");
    assert!(out.contains("127.0.0.1:3307") && out.contains("'otrs'"), "{out}");
    assert!(out.contains("Latency:"), "{out}");
    assert!(!out.contains(OTRS_PASSWORD) && !out.contains("otrs-test-pw"), "password shown:\n{out}");
    // a call moves the counters
    let before = counter(&out, "Tickets created:");
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED");
    let after = counter(&cli("otrs show status"), "Tickets created:");
    assert_eq!(after, before + 1);
}

/// The uniqueid the call's channel had, as the module put it in the title.
fn t_uniqueid(r: &CallResult) -> String {
    r.var("UNIQUEID").to_string()
}

fn counter(status: &str, label: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in:\n{status}"))
}

#[test]
fn known_customer_stored_in_another_format_gets_the_ticket() {
    let w = world();
    // petrov is stored as '+7 (916) 555-12-34'
    let call = place_call(b"89165551234");
    let r = wait_result(&call, CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    assert_eq!(r.var("ERROR"), "");
    assert_eq!(r.var("CUSTOMERUSER"), "petrov");
    assert_eq!(r.var("CUSTOMERID"), "ACME");
    assert_eq!(r.var("MATCHES"), "1");
    assert!(operator_reached(&call), "Dial() after OTRSTicket() did not reach the operator");

    let tickets = w.standin.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert_eq!(t["ticket_number"], r.var("TICKETNUMBER"));
    assert_eq!(t["ticket_id"], r.var("TICKETID"));
    assert_eq!(t["article_id"], r.var("ARTICLEID"));
    assert_eq!(t["customer_user"], "petrov");
    assert_eq!(t["title"], format!("Call from Petr Petrov (89165551234) [call:{}]", t_uniqueid(&r)));
    assert_eq!(t["subject"], "Phone call from 89165551234");
    assert!(t["body"].starts_with("Caller 89165551234\nCustomer Petr Petrov (petrov, ACME)\nCall "), "{}", t["body"]);
    assert_eq!(t["queue"], "Raw");
    assert_eq!(t["state"], "new");
    assert_eq!(t["priority"], "3 normal");
    assert_eq!(t["communication_channel"], "Phone");
    assert_eq!(t["sender_type"], "customer");
    assert_eq!(t["content_type"], "text/plain; charset=utf8");
}

#[test]
fn every_stored_format_of_one_number_matches() {
    let w = world();
    // caller formats of ivanov's 89161229624
    for caller in ["89161229624", "+79161229624", "9161229624", "0079161229624", "81079161229624"] {
        let r = wait_result(&place_call(caller.as_bytes()), CALL_WAIT);
        assert_eq!(r.var("STATUS"), "CREATED", "{caller}: {r:?}");
        assert_eq!(r.var("CUSTOMERUSER"), "ivanov", "{caller}");
    }
    // sidorova's mobile is stored as '+79165550000'; orlova has only a mobile
    let r = wait_result(&place_call(b"89165550000"), CALL_WAIT);
    assert_eq!(r.var("CUSTOMERUSER"), "sidorova");
    let r = wait_result(&place_call(b"+7 903 123-45-67"), CALL_WAIT);
    assert_eq!(r.var("CUSTOMERUSER"), "orlova");
    assert_eq!(w.standin.tickets().len(), 7);
}

#[test]
fn several_customers_with_one_number_pick_the_most_recently_changed() {
    let w = world();
    let r = wait_result(&place_call(b"84951234567"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED");
    assert_eq!(r.var("MATCHES"), "2");
    assert_eq!(r.var("CUSTOMERUSER"), "office2");
    assert_eq!(w.standin.tickets()[0]["customer_user"], "office2");
}

#[test]
fn invalid_customer_is_not_matched() {
    let _w = world();
    // kuznetsov has valid_id 2
    let r = wait_result(&place_call(b"89161112233"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED");
    assert_eq!(r.var("MATCHES"), "0");
    assert_eq!(r.var("CUSTOMERUSER"), "unknown");
}

#[test]
fn unknown_number_gets_a_ticket_for_the_placeholder_customer() {
    let w = world();
    let r = wait_result(&place_call(b"84951110000"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    assert_eq!(r.var("MATCHES"), "0");
    assert_eq!(r.var("CUSTOMERUSER"), "unknown");
    let t = &w.standin.tickets()[0];
    assert_eq!(t["customer_user"], "unknown");
    assert!(t["title"].starts_with("Call from unknown caller (84951110000) [call:"), "{}", t["title"]);
}

#[test]
fn anonymous_caller_gets_a_ticket() {
    let w = world();
    for caller in [&b""[..], b"anonymous"] {
        let call = place_call(caller);
        let r = wait_result(&call, CALL_WAIT);
        assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
        assert_eq!(r.var("CUSTOMERUSER"), "unknown");
        assert_eq!(r.var("MATCHES"), "0");
        assert!(operator_reached(&call));
    }
    let tickets = w.standin.tickets();
    assert_eq!(tickets.len(), 2);
    for t in &tickets {
        assert!(t["title"].starts_with("Call from unknown caller (anonymous) [call:"), "{}", t["title"]);
    }
}

#[test]
fn hostile_caller_id_is_neither_sql_nor_xml() {
    let w = world();
    let hostile = "0'); DELETE FROM customer_user; -- </tic:Title><tic:Queue>Junk</tic:Queue> & \"x\"";
    let call = place_call(hostile.as_bytes());
    let r = wait_result(&call, CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    assert_eq!(r.var("CUSTOMERUSER"), "unknown");
    let t = &w.standin.tickets()[0];
    assert_eq!(t["queue"], "Raw");
    let shown: String = hostile.chars().take(64).collect::<String>().trim().to_string();
    assert_eq!(t["title"], format!("Call from unknown caller ({shown}) [call:{}]", r.var("UNIQUEID")));
    assert!(operator_reached(&call));
    // the customer table is intact: a known caller is still found
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("CUSTOMERUSER"), "ivanov");
}

#[test]
fn otrs_error_reply_gives_failed_and_the_call_goes_on() {
    let w = world();
    w.standin.set_mode("error");
    let call = place_call(b"89161229624");
    let r = wait_result(&call, CALL_WAIT);
    assert_eq!(r.var("STATUS"), "FAILED", "{r:?}");
    assert!(r.var("ERROR").contains("InvalidParameter"), "{r:?}");
    assert_eq!(r.var("TICKETNUMBER"), "");
    assert!(operator_reached(&call));
    assert!(full_log().contains("no ticket"), "no log line about the failure");
}

#[test]
fn otrs_never_answering_costs_at_most_the_timeout() {
    let w = world();
    let out = reconfigure(&otrs_conf(&w.standin.url(), "timeout = 1000", ""));
    assert!(!out.contains("not reloaded"), "{out}");
    w.standin.set_mode("hang");
    let call = place_call(b"89161229624");
    let r = wait_result(&call, Duration::from_secs(10));
    w.standin.set_mode("normal");
    restore_default_config(&w);
    assert_eq!(r.var("STATUS"), "QUEUED", "{r:?}");
    assert!(r.var("ERROR").contains("did not answer in time"), "{r:?}");
    assert!(r.elapsed < Duration::from_millis(2000), "call waited {:?}", r.elapsed);
    assert!(r.elapsed >= Duration::from_millis(900), "did not wait for OTRS at all: {:?}", r.elapsed);
    assert!(operator_reached(&call));
    // the queued ticket arrives once OTRS answers, exactly once
    drain_spool();
    let tickets = w.standin.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["customer_user"], "ivanov");
}

#[test]
fn reload_with_a_changed_queue_takes_effect() {
    let w = world();
    let out = reconfigure(&otrs_conf(&w.standin.url(), "", "queue = Postmaster"));
    assert!(!out.contains("not reloaded"), "{out}");
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    restore_default_config(&w);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    assert_eq!(w.standin.tickets()[0]["queue"], "Postmaster");
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED");
    assert_eq!(w.standin.tickets()[1]["queue"], "Raw");
}

#[test]
fn config_without_url_declines_the_load_with_a_clear_message() {
    let w = world();
    let out = cli("module unload app_otrsticket.so");
    assert!(!out.contains("failed") && !out.contains("Unable"), "{out}");
    let conf: String = otrs_conf(&w.standin.url(), "", "")
        .lines()
        .filter(|l| !l.starts_with("url"))
        .map(|l| format!("{l}\n"))
        .collect();
    write_etc("otrs.conf", &conf);
    let _ = cli("module load app_otrsticket.so");
    let loaded = module_running();
    write_etc("otrs.conf", &otrs_conf(&w.standin.url(), "", ""));
    let out = cli("module load app_otrsticket.so");
    let log = full_log();
    assert!(log.contains("missing required option 'url' in [general] of otrs.conf"), "no clear message in the log");
    assert!(!loaded, "loaded without url");
    assert!(module_running(), "{out}");
    wait_customers_loaded();
}

#[test]
fn unload_and_load_again_after_calls() {
    let w = world();
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED");
    let out = cli("module unload app_otrsticket.so");
    assert!(!module_running(), "unload: {out}");
    let out = cli("module load app_otrsticket.so");
    assert!(module_running(), "load: {out}");
    wait_customers_loaded();
    let r = wait_result(&place_call(b"89161229624"), CALL_WAIT);
    assert_eq!(r.var("STATUS"), "CREATED", "{r:?}");
    assert_eq!(w.standin.tickets().len(), 2);
}
