//! `startIndex`/`count` paging (RFC 7644 §3.4.2.4) and sorting (§3.4.2.3) over the
//! complete listing, which the gateway holds because the target pages by cursor only.
//!
//! Order: by the target's `id`, compared as strings, so that the same listing gives the
//! same pages on every request (Okta advances `startIndex` by 100 and needs that, per
//! `docs/okta-client.md` §3). The id is the only attribute every target returns on every
//! resource; creation time is not always there. With `sortBy`, resources are ordered by
//! that attribute, ties by id; resources without a value go last when ascending and
//! first when descending (§3.4.2.3).

use std::cmp::Ordering;

use scim_core::ListResponse;
use scim_core::discovery::standard::case_exact;
use scim_core::filter::AttrPath;
use scim_core::list::SortOrder;
use serde_json::Value;

use super::{ResourceKind, same};

/// The most resources one page holds, whatever `count` asks (RFC 7644 §3.4.2.4 lets
/// the server cap it); also the page size when `count` is absent. The gateway's
/// ServiceProviderConfig advertises it as `filter.maxResults`.
pub const MAX_RESULTS: u64 = 1000;

/// Puts `resources` in the gateway's order (see the module docs).
pub fn order(
    resources: &mut Vec<Value>,
    kind: ResourceKind,
    sort_by: Option<&AttrPath>,
    sort_order: Option<SortOrder>,
) {
    let Some(path) = sort_by else {
        resources.sort_by(|a, b| id_of(a).cmp(id_of(b)));
        return;
    };
    let case_exact = case_exact(Some(kind), path).unwrap_or(false);
    let descending = sort_order == Some(SortOrder::Descending);
    let mut keyed: Vec<(SortKey, Value)> = resources
        .drain(..)
        .map(|r| (SortKey::of(&r, path, case_exact), r))
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let by_key = if descending { kb.cmp(ka) } else { ka.cmp(kb) };
        by_key.then_with(|| id_of(a).cmp(id_of(b)))
    });
    resources.extend(keyed.into_iter().map(|(_, r)| r));
}

/// The page `start_index` (1-based) and `count` select, with `totalResults` over all of
/// `resources`; `count` is capped at [`MAX_RESULTS`], `count = 0` gives only the total.
pub fn page(resources: Vec<Value>, start_index: u64, count: Option<u64>) -> ListResponse<Value> {
    let count = count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    ListResponse::paginate(resources, start_index.max(1), Some(count))
}

fn id_of(resource: &Value) -> &str {
    resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn member<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key)
        .or_else(|| map.iter().find(|(k, _)| same(k, key)).map(|(_, v)| v))
}

/// A comparable sort value: present values before missing ones, then by type, then by
/// value.
#[derive(Debug, Clone)]
enum SortKey {
    Bool(bool),
    Number(f64),
    Text(String),
    Missing,
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::Text(_) => 2,
            SortKey::Missing => 3,
        }
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

impl SortKey {
    fn of(resource: &Value, path: &AttrPath, case_exact: bool) -> Self {
        let scope = match path.urn.as_deref() {
            Some(urn)
                if !same(urn, scim_core::USER_SCHEMA) && !same(urn, scim_core::GROUP_SCHEMA) =>
            {
                member(resource, urn)
            }
            _ => Some(resource),
        };
        let mut value = scope.and_then(|s| member(s, &path.name));
        // A multi-valued attribute sorts by its primary value, else its first (RFC 7644 §3.4.2.3).
        if let Some(Value::Array(items)) = value {
            value = items
                .iter()
                .find(|i| member(i, "primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first());
            if path.sub_attr.is_none() && value.is_some_and(Value::is_object) {
                value = value.and_then(|v| member(v, "value"));
            }
        }
        if let Some(sub) = &path.sub_attr {
            value = value.and_then(|v| member(v, sub));
        }
        match value {
            Some(Value::Bool(b)) => SortKey::Bool(*b),
            Some(Value::Number(n)) => n.as_f64().map_or(SortKey::Missing, SortKey::Number),
            Some(Value::String(s)) if case_exact => SortKey::Text(s.clone()),
            Some(Value::String(s)) => SortKey::Text(s.to_lowercase()),
            _ => SortKey::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn users(n: usize) -> Vec<Value> {
        // Ids deliberately out of order.
        (0..n)
            .rev()
            .map(|i| json!({"id": format!("u{i:04}"), "userName": format!("user{i}")}))
            .collect()
    }

    fn ids(page: &[Value]) -> Vec<&str> {
        page.iter().map(id_of).collect()
    }

    #[test]
    fn paging_250_users_by_100_gives_three_stable_pages_with_integer_totals() {
        // Arrange
        let mut all = users(250);
        order(&mut all, ResourceKind::User, None, None);

        // Act
        let pages: Vec<ListResponse<Value>> = [1, 101, 201]
            .iter()
            .map(|s| page(all.clone(), *s, Some(100)))
            .collect();

        // Assert
        assert_eq!(
            pages.iter().map(|p| p.resources.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert!(pages.iter().all(|p| p.total_results == 250));
        assert_eq!(pages[2].start_index, Some(201));
        assert_eq!(pages[2].items_per_page, Some(50));
        assert_eq!(ids(&pages[0].resources)[0], "u0000");
        assert_eq!(ids(&pages[2].resources)[49], "u0249");
        let value = serde_json::to_value(&pages[0]).unwrap();
        assert!(
            value["totalResults"].is_u64()
                && value["itemsPerPage"].is_u64()
                && value["startIndex"].is_u64()
        );
    }

    #[test]
    fn count_zero_gives_only_the_total_and_large_counts_are_capped() {
        // Act
        let totals = page(users(5), 1, Some(0));
        let capped = page(users(1500), 1, Some(5000));
        let default = page(users(1500), 1, None);

        // Assert
        assert_eq!((totals.total_results, totals.resources.len()), (5, 0));
        assert_eq!(capped.resources.len() as u64, MAX_RESULTS);
        assert_eq!(default.resources.len() as u64, MAX_RESULTS);
        assert_eq!(capped.total_results, 1500);
    }

    #[test]
    fn a_start_index_past_the_end_gives_an_empty_page_with_the_total() {
        let page = page(users(3), 10, Some(5));
        assert_eq!(
            (page.total_results, page.resources.len(), page.start_index),
            (3, 0, Some(10))
        );
    }

    #[test]
    fn sort_by_orders_case_insensitively_with_missing_values_last_then_first_when_descending() {
        // Arrange
        let mut all = vec![
            json!({"id": "3", "name": {"familyName": "beta"}}),
            json!({"id": "1"}),
            json!({"id": "2", "name": {"familyName": "Alpha"}}),
            json!({"id": "4", "name": {"familyName": "alpha"}}),
        ];
        let path = AttrPath {
            urn: None,
            name: "name".into(),
            sub_attr: Some("familyName".into()),
        };

        // Act
        order(&mut all, ResourceKind::User, Some(&path), None);
        let ascending: Vec<String> = ids(&all).into_iter().map(str::to_owned).collect();
        order(
            &mut all,
            ResourceKind::User,
            Some(&path),
            Some(SortOrder::Descending),
        );

        // Assert
        assert_eq!(ascending, ["2", "4", "3", "1"]);
        assert_eq!(ids(&all), ["1", "3", "2", "4"]);
    }

    #[test]
    fn a_multi_valued_attribute_sorts_by_its_primary_value() {
        let mut all = vec![
            json!({"id": "1", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
            json!({"id": "2", "emails": [{"value": "m@x"}]}),
        ];
        order(
            &mut all,
            ResourceKind::User,
            Some(&AttrPath::simple("emails")),
            None,
        );
        assert_eq!(ids(&all), ["1", "2"]);
    }
}
