//! OTRS's replies are read off the network: no body, whatever the status or
//! content type, may panic the parser, and every error must read as one log
//! line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otrs_core::otrs::{generic as soap, SoapError};

fn check<T>(r: Result<T, SoapError>) {
    if let Err(e) = r {
        let line = e.to_string();
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        let _ = e.is_auth_fail();
    }
}

fuzz_target!(|body: &[u8]| {
    // Every parser on what Znuny sends: 200 for replies, 500 for faults.
    for status in [200, 500] {
        let ct = "text/xml; charset=UTF-8";
        check(soap::parse_session_create(status, ct, body));
        check(soap::parse_ticket_create(status, ct, body));
        check(soap::parse_ticket_search(status, ct, body));
        check(soap::parse_ticket_update(status, ct, body));
        check(soap::parse_ticket_get(status, ct, body));
    }
    // What proxies and broken setups send instead.
    for (status, ct) in [(200, "text/html"), (502, "text/html; charset=iso-8859-1"), (404, ""), (200, "application/json")] {
        check(soap::parse_ticket_create(status, ct, body));
    }
});
