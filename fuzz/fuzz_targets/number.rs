//! Caller IDs are untrusted (a SIP From header) and customer numbers are free
//! text typed by agents: the normaliser must never panic, and must keep the
//! promises in its doc comments whatever it is given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otrs_core::number::{self, NumberPlan};

fn plan(cc: &str, national: &str, international: &[&str], len: Option<usize>) -> NumberPlan {
    NumberPlan {
        country_code: cc.to_string(),
        national_prefix: national.to_string(),
        international_prefixes: international.iter().map(|s| s.to_string()).collect(),
        national_number_length: len,
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let plans = [
        NumberPlan::default(),
        plan("7", "8", &["00", "810"], Some(10)),
        plan("49", "0", &["00"], None),
        plan("1", "1", &["011"], Some(10)),
        plan("", "", &[], None),
        plan("44", "0", &["00", "0"], Some(15)),
    ];
    for p in &plans {
        if let Some(key) = number::canonical(&raw, p) {
            // "" or a lone "+" would make unrelated numbers equal.
            let digits = key.strip_prefix('+').unwrap_or(&key);
            assert!(!digits.is_empty(), "{raw:?} -> {key:?}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{raw:?} -> {key:?}");
            assert!(digits.len() <= number::MAX_DIGITS, "{raw:?} -> {key:?}");
        }
    }
    let clean = number::sanitize_caller(&raw);
    assert!(!clean.chars().any(char::is_control), "{clean:?}");
    assert_eq!(clean, clean.trim(), "{raw:?}");
    assert_eq!(number::sanitize_caller(&clean), clean, "not idempotent for {raw:?}");
    assert_eq!(number::is_anonymous(&raw), number::is_anonymous(&clean), "{raw:?}");
});
