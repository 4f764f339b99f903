//! Parsing benchmarks for the inputs the gateway reads on every Okta request: the
//! `POST /Users` body into a typed [`User`], and the `userName eq` look-up filter plus a
//! complex filter.
//!
//! Run with `cargo bench -p scim-core --bench parse`.

// `criterion_group!` expands to a public function it gives no doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::filter::parse_filter;
use scim_core::{Resource, User};

/// Okta's `POST /Users` body (`docs/okta-client.md` §2), shared with the unit tests.
const OKTA_CREATE_USER: &str = include_str!("../tests/fixtures/okta/create-user.json");

const LOOKUP_FILTER: &str = r#"userName eq "test.user@okta.local""#;

const COMPLEX_FILTER: &str = concat!(
    r#"(userName sw "test" or name.familyName co "user")"#,
    r#" and emails[type eq "work" and value ew "@okta.local"]"#,
    r#" and not (active eq false) and meta.lastModified gt "2024-01-01T00:00:00Z""#,
);

fn parse_user(c: &mut Criterion) {
    c.bench_function("user/okta-post-body-from-str", |b| {
        b.iter(|| serde_json::from_str::<User>(black_box(OKTA_CREATE_USER)));
    });
    let value: serde_json::Value = serde_json::from_str(OKTA_CREATE_USER).unwrap_or_default();
    if let Err(e) = User::from_value(value.clone()) {
        eprintln!("bench input does not parse as a User: {e}");
    }
    c.bench_function("user/okta-post-body-from-value", |b| {
        b.iter(|| User::from_value(black_box(value.clone())));
    });
}

fn parse_filters(c: &mut Criterion) {
    // A filter that fails early would measure the error path, not the parser.
    for filter in [LOOKUP_FILTER, COMPLEX_FILTER] {
        if let Err(e) = parse_filter(filter) {
            eprintln!("bench input does not parse ({e}): {filter}");
        }
    }
    c.bench_function("filter/username-eq", |b| {
        b.iter(|| parse_filter(black_box(LOOKUP_FILTER)))
    });
    c.bench_function("filter/complex", |b| {
        b.iter(|| parse_filter(black_box(COMPLEX_FILTER)))
    });
}

criterion_group!(benches, parse_user, parse_filters);
criterion_main!(benches);
