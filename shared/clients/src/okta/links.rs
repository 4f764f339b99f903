//! Okta's paging links: the `rel="next"` target of `Link` headers (RFC 8288; Okta API
//! reference, "Pagination"), and the rule that decides whether the client may follow it.

use reqwest::Url;

/// The target of the first `rel="next"` link among `values` (each a `Link` header value,
/// which may itself hold several comma-separated links), as written.
pub(super) fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(split_links)
        .find_map(|(target, params)| has_rel(params, "next").then(|| target.to_owned()))
}

/// Splits a header value into `(target, parameters)` pairs, on the commas that are
/// outside `<…>` and outside quoted strings.
fn split_links(value: &str) -> Vec<(&str, &str)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        let target = rest[open + 1..close].trim();
        let after = &rest[close + 1..];
        let mut in_quotes = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                c == ',' && !in_quotes
            })
            .map_or(after.len(), |(i, _)| i);
        links.push((target, &after[..end]));
        rest = &after[end..];
    }
    links
}

/// Whether the parameters hold `rel` with `wanted` among its space-separated values.
fn has_rel(params: &str, wanted: &str) -> bool {
    params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case(wanted))
    })
}

/// Whether `next` may be followed from an org at `base`: the same scheme, host and port,
/// so that the API token is never sent to another server, whoever wrote the link.
pub(super) fn same_origin(base: &Url, next: &Url) -> bool {
    next.scheme() == base.scheme()
        && next.host_str() == base.host_str()
        && next.port_or_known_default() == base.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_okta_s_separate_link_headers() {
        // Okta API reference, "Pagination": one header per link.
        let values = [
            "<https://example.okta.com/api/v1/users?limit=200>; rel=\"self\"",
            "<https://example.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200>; rel=\"next\"",
        ];
        assert_eq!(
            next_link(values).as_deref(),
            Some("https://example.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200")
        );
        assert_eq!(next_link([values[0]]), None);
        assert_eq!(next_link([]), None);
    }

    #[test]
    fn links_joined_in_one_header_with_unquoted_or_multiple_rels_are_read() {
        let joined = "<https://o/a?x=1,2>; rel=\"self\"; title=\"a, b\", <https://o/b>; rel=next";
        assert_eq!(next_link([joined]).as_deref(), Some("https://o/b"));
        let several = "<https://o/c>; rel=\"last NEXT\"";
        assert_eq!(next_link([several]).as_deref(), Some("https://o/c"));
        assert_eq!(
            next_link(["garbage; rel=next", "<unclosed; rel=next"]),
            None
        );
    }

    #[test]
    fn only_links_to_the_same_scheme_host_and_port_may_be_followed() {
        let base = Url::parse("https://example.okta.com").unwrap();
        let ok = |u: &str| same_origin(&base, &Url::parse(u).unwrap());
        assert!(ok("https://example.okta.com/api/v1/users?after=x"));
        assert!(ok("https://EXAMPLE.okta.com:443/api/v1/users"));
        assert!(!ok("http://example.okta.com/api/v1/users"));
        assert!(!ok("https://example.okta.com:8443/api/v1/users"));
        assert!(!ok("https://evil.example/api/v1/users"));
        assert!(!ok("https://example.okta.com.evil.example/api/v1/users"));
        assert!(!ok("https://user@evil.example/api/v1/users"));
    }
}
