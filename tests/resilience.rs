mod common;

use common::*;
use std::time::Duration;

#[test]
fn scratch_hostile() {
    let w = world();
    let mark = log_mark();
    let mut big = Vec::new();
    while big.len() < 10 * 1024 { big.extend_from_slice(b"1234567890"); }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("sql", b"1' OR '1'='1'; DROP TABLE customer_user; --".to_vec()),
        ("xml", b"<tic:Queue>Junk</tic:Queue>]]>&amp;&lt;\"'".to_vec()),
        ("crlf", b"8916\r\n1229624\r\nX-Injected: yes".to_vec()),
        ("nul", b"8916122\x009624".to_vec()),
        ("big", big.clone()),
        ("invalid", b"89\xff\xfe16\xc3\x28122\x80".to_vec()),
        ("emoji", "☎️📞 8916😀".as_bytes().to_vec()),
        ("anonymous", b"anonymous".to_vec()),
        ("empty", b"".to_vec()),
        ("lead", b"  \t 123 ,vip".to_vec()),
    ];
    for (name, bytes) in &cases {
        let call = place_call(bytes);
        let r = wait_result(&call, Duration::from_secs(10));
        let t = w.standin.tickets();
        let last = t.last().unwrap();
        println!("{name}: status={} err={} title={:?} queue={} body={:?}", r.var("STATUS"), r.var("ERROR"), last["title"], last["queue"], last["body"]);
        println!("  op reached {}", operator_reached(&call));
    }
    let log = log_since(mark);
    for l in log.lines().filter(|l| l.contains("Executing [4509@otrs:1]") || l.contains("app_otrsticket")) {
        println!("{}", l.chars().take(300).collect::<String>());
    }
}
