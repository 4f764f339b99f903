//! Fuzz target: any input must parse as a PATCH path or fail cleanly, and a parsed path
//! must print to text that parses back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::filter::{FilterErrorKind, MAX_FILTER_LEN};
use scim_core::parse_patch_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = parse_patch_path(text) else {
        return;
    };
    // As for filters, canonical text may outgrow the length cap (see the filter target).
    let printed = path.to_string();
    match parse_patch_path(&printed) {
        Ok(reparsed) => assert_eq!(reparsed, path, "reparse of {printed:?}"),
        Err(e) => assert!(
            e.kind() == FilterErrorKind::TooLong && printed.len() > MAX_FILTER_LEN,
            "reparse of {printed:?} failed: {e}"
        ),
    }
});
