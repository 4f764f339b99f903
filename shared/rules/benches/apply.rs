//! Rule evaluation benchmark: a 20-rule set (`twenty-rules.yaml`: conditions, skips,
//! every user action, every function but `concat`) applied to a typical Okta user, beside the identity set
//! (which only clones the user) and the cost of loading the set.
//!
//! Run with `cargo bench -p rules --bench apply`.

// `criterion_group!` expands to a public function it gives no doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rules::RuleSet;
use serde_json::{Value, json};

const TWENTY_RULES: &str = include_str!("twenty-rules.yaml");

/// Okta's `POST /Users` body (`docs/okta-client.md` §2) with the enterprise department,
/// a title and an Okta custom extension, as a typical Okta profile sends them.
fn okta_user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "userName": "Test.User@Okta.Local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "title": "  Senior Engineer ",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "4200 - Platform Engineering"
        },
        "urn:okta:custom:1.0:User": {"managerId": "00u1abcd2EFGH3ijk4l5"}
    })
}

fn apply(c: &mut Criterion) {
    let rules = match RuleSet::load(TWENTY_RULES) {
        Ok(loaded) => loaded.rule_set,
        Err(e) => {
            eprintln!("the bench rule set does not load: {e}");
            return;
        }
    };
    let user = okta_user();
    let outcome = rules.apply_user(&user);
    if outcome.fired.len() != 18 || outcome.is_skipped() {
        eprintln!("unexpected bench outcome: {outcome:?}");
    }
    c.bench_function("apply/20-rules/okta-user", |b| {
        b.iter(|| rules.apply_user(black_box(&user)))
    });
    let identity = RuleSet::identity();
    c.bench_function("apply/identity/okta-user", |b| {
        b.iter(|| identity.apply_user(black_box(&user)))
    });
    c.bench_function("load/20-rules", |b| {
        b.iter(|| RuleSet::load(black_box(TWENTY_RULES)))
    });
}

criterion_group!(benches, apply);
criterion_main!(benches);
