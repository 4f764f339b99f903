//! Fuzz target: any JSON body must read as a PatchOp or fail with a SCIM error, and a
//! PatchOp that was read must serialize to a body that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::patch::PatchOp;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(op) = PatchOp::parse(&body) else {
        return;
    };
    let written = serde_json::to_value(&op).unwrap_or_default();
    assert_eq!(PatchOp::parse(&written), Ok(op));
});
