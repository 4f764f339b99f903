//! Fuzz target: any input must parse or fail cleanly, and a parsed filter must print to
//! text that parses back to the same tree (and evaluate without panicking).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::filter::{FilterErrorKind, MAX_FILTER_LEN, matches, parse_filter};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = parse_filter(text) else {
        return;
    };
    // Canonical text can be longer than the input (`1e15` prints as `1000000000000000.0`),
    // so near the length cap the reparse may only fail, and only with TooLong.
    let printed = filter.to_string();
    match parse_filter(&printed) {
        Ok(reparsed) => assert_eq!(reparsed, filter, "reparse of {printed:?}"),
        Err(e) => assert!(
            e.kind == FilterErrorKind::TooLong && printed.len() > MAX_FILTER_LEN,
            "reparse of {printed:?} failed: {e}"
        ),
    }
    let resource = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223", "userName": "bjensen", "active": true,
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "meta": {"created": "2011-08-01T18:29:49.793Z", "version": "W/\"a330bc54f0671c9\""},
    });
    let _ = matches(&filter, &resource);
});
