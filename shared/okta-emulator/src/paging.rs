//! Okta's cursor paging (Okta API reference, "Pagination"): `limit` and an opaque `after`
//! cursor, given back only in `Link` headers, one `rel="self"` and, unless this is the
//! last page, one `rel="next"`:
//!
//! ```text
//! link: <https://example.okta.com/api/v1/users?limit=200>; rel="self"
//! link: <https://example.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200>; rel="next"
//! ```
//!
//! As Okta's, the emulator's cursor is the id of the page's last item. It keeps its place
//! when that item is deleted before the next page is asked for, because the store
//! remembers the creation order of every id it handed out.

use axum::Json;
use axum::http::header::LINK;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::store::Store;

/// The query of a listing.
#[derive(Debug, Clone)]
pub(crate) struct PageQuery {
    /// The items a page may hold, within the endpoint's maximum.
    pub(crate) limit: usize,
    after: Option<String>,
    /// The other parameters, repeated in the next link.
    others: Vec<(String, String)>,
    path: String,
    raw: Option<String>,
}

impl PageQuery {
    /// Reads `limit` (default `default`, capped at `max`; below 1 is a 400) and `after`.
    pub(crate) fn parse(uri: &Uri, default: usize, max: usize) -> Result<Self, ApiError> {
        let mut limit = default;
        let mut after = None;
        let mut others = Vec::new();
        for (key, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    limit = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| {
                            ApiError::validation("limit", "limit: must be a number of at least 1")
                        })?
                        .min(max);
                }
                "after" => after = Some(value.into_owned()),
                _ => others.push((key.into_owned(), value.into_owned())),
            }
        }
        Ok(Self {
            limit,
            after,
            others,
            path: uri.path().to_owned(),
            raw: uri.query().map(str::to_owned),
        })
    }

    /// Another parameter's value (the last one given).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.others
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn self_link(&self, org: &str) -> String {
        match &self.raw {
            Some(query) if !query.is_empty() => format!("{org}{}?{query}", self.path),
            _ => format!("{org}{}", self.path),
        }
    }

    fn next_link(&self, org: &str, after: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("after", after);
        query.append_pair("limit", &self.limit.to_string());
        for (key, value) in &self.others {
            query.append_pair(key, value);
        }
        format!("{org}{}?{}", self.path, query.finish())
    }
}

/// One page of `items` (creation order number, id, JSON), in that order, at most
/// `query.limit` long and at most `page_limit` when the knob sets one, with its links.
pub(crate) fn page(
    store: &Store,
    org: &str,
    query: &PageQuery,
    page_limit: Option<u32>,
    items: Vec<(u64, String, Value)>,
) -> Result<Response, ApiError> {
    let after = match &query.after {
        None => 0,
        Some(cursor) => store
            .seq_of(cursor)
            .ok_or_else(|| ApiError::validation("after", "after: not a cursor of this listing"))?,
    };
    let size = page_limit.map_or(query.limit, |cap| query.limit.min(cap as usize));
    let mut rest = items.into_iter().filter(|(seq, _, _)| *seq > after);
    let mut body = Vec::new();
    let mut last = None;
    for (_, id, value) in rest.by_ref().take(size) {
        body.push(value);
        last = Some(id);
    }
    let mut response = (StatusCode::OK, Json(Value::Array(body))).into_response();
    let headers = response.headers_mut();
    let link = |href: String, rel: &str| HeaderValue::from_str(&format!("<{href}>; rel=\"{rel}\""));
    if let Ok(value) = link(query.self_link(org), "self") {
        headers.append(LINK, value);
    }
    if let (Some(last), Some(_)) = (last, rest.next())
        && let Ok(value) = link(query.next_link(org, &last), "next")
    {
        headers.append(LINK, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(response: &Response) -> Vec<String> {
        response
            .headers()
            .get_all(LINK)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn store_with(ids: &[&str]) -> (Store, Vec<(u64, String, Value)>) {
        let mut store = Store::default();
        let items = ids
            .iter()
            .map(|id| (store.register(id), (*id).to_owned(), Value::from(*id)))
            .collect();
        (store, items)
    }

    #[test]
    fn pages_carry_self_and_next_links_in_okta_s_form_until_the_last() {
        // Arrange
        let (store, items) = store_with(&["a", "b", "c"]);
        let org = "https://example.okta.com";
        let first: Uri = "/api/v1/users?limit=2".parse().unwrap();
        let second: Uri = "/api/v1/users?after=b&limit=2".parse().unwrap();

        // Act
        let one = page(
            &store,
            org,
            &PageQuery::parse(&first, 200, 200).unwrap(),
            None,
            items.clone(),
        )
        .unwrap();
        let two = page(
            &store,
            org,
            &PageQuery::parse(&second, 200, 200).unwrap(),
            None,
            items,
        )
        .unwrap();

        // Assert
        assert_eq!(
            links(&one),
            [
                "<https://example.okta.com/api/v1/users?limit=2>; rel=\"self\"",
                "<https://example.okta.com/api/v1/users?after=b&limit=2>; rel=\"next\"",
            ]
        );
        assert_eq!(
            links(&two),
            ["<https://example.okta.com/api/v1/users?after=b&limit=2>; rel=\"self\""]
        );
    }

    #[test]
    fn a_limit_above_the_maximum_is_capped_and_one_below_one_is_refused() {
        let capped = PageQuery::parse(&"/x?limit=5000".parse().unwrap(), 200, 200).unwrap();
        assert_eq!(capped.limit, 200);
        let default = PageQuery::parse(&"/x".parse().unwrap(), 50, 500).unwrap();
        assert_eq!(default.limit, 50);
        for bad in ["/x?limit=0", "/x?limit=-1", "/x?limit=ten"] {
            assert!(
                PageQuery::parse(&bad.parse().unwrap(), 200, 200).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_parameters_are_repeated_in_the_next_link_and_the_page_limit_knob_shortens_pages() {
        let (store, items) = store_with(&["a", "b", "c"]);
        let uri: Uri = "/api/v1/groups?q=Eng%20team".parse().unwrap();
        let query = PageQuery::parse(&uri, 10_000, 10_000).unwrap();
        let response = page(&store, "http://h:1", &query, Some(1), items).unwrap();
        assert_eq!(
            links(&response)[1],
            "<http://h:1/api/v1/groups?after=a&limit=10000&q=Eng+team>; rel=\"next\""
        );
        assert_eq!(query.param("q"), Some("Eng team"));
    }

    #[test]
    fn an_after_cursor_that_was_never_handed_out_is_a_400() {
        let (store, items) = store_with(&["a"]);
        let query = PageQuery::parse(&"/x?after=zzz".parse().unwrap(), 200, 200).unwrap();
        let error = page(&store, "http://h", &query, None, items).unwrap_err();
        assert_eq!(error.code, "E0000001");
    }
}
