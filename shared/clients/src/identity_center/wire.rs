//! The HTTP shapes the client sends and reads: URLs and query strings, list pages in
//! both paging styles, and membership PATCH bodies.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// Identity Center's limit on membership changes in one PatchGroup, and on results per
/// list page (`docs/identity-center-dialect.md` §5 and §4).
pub(crate) const MAX_PER_REQUEST: usize = 100;

/// Everything but RFC 3986's unreserved characters is escaped, so that filters (spaces,
/// quotes) and cursors (`+`, `=`, `/`) survive the query string unchanged.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// `?k=v&…`, encoded; empty values are kept (`cursor=` starts cursor paging).
pub(crate) fn query_string(pairs: &[(&str, String)]) -> String {
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if joined.is_empty() {
        String::new()
    } else {
        format!("?{}", joined.join("&"))
    }
}

/// An `attr eq "value"` filter; the value is written as a JSON string, which is what a
/// SCIM `compValue` string is (RFC 7644 §3.4.2.2), so quotes and backslashes are escaped.
pub(crate) fn eq_filter(attr: &str, value: &str) -> String {
    format!("{attr} eq {}", Value::String(value.to_owned()))
}

/// Membership PATCH bodies, at most [`MAX_PER_REQUEST`] changes each. Members are sent
/// as `{"value": id}` only: Identity Center rejects `display` in members (§1.6).
pub(crate) fn add_member_bodies(user_ids: &[String]) -> Vec<Value> {
    user_ids
        .chunks(MAX_PER_REQUEST)
        .map(|chunk| {
            patch_body(vec![
                json!({"op": "add", "path": "members", "value": member_values(chunk)}),
            ])
        })
        .collect()
}

/// Removal as Identity Center documents it: one `remove` of `members` with a value
/// list. Never called with an empty chunk, because an empty or missing value list
/// removes every member (§1.5).
pub(crate) fn remove_member_bodies_as_value_list(user_ids: &[String]) -> Vec<Value> {
    user_ids
        .chunks(MAX_PER_REQUEST)
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            patch_body(vec![
                json!({"op": "remove", "path": "members", "value": member_values(chunk)}),
            ])
        })
        .collect()
}

/// Removal as RFC 7644 §3.5.2.2 defines it: one `remove` per member, addressed by a
/// value filter, since a `remove` with a value list is not standard.
pub(crate) fn remove_member_bodies_as_value_paths(user_ids: &[String]) -> Vec<Value> {
    user_ids
        .chunks(MAX_PER_REQUEST)
        .map(|chunk| {
            patch_body(
                chunk
                    .iter()
                    .map(|id| json!({"op": "remove", "path": format!("members[{}]", eq_filter("value", id))}))
                    .collect(),
            )
        })
        .collect()
}

/// The PATCH bodies of one group change, in order: each carries at most
/// [`MAX_PER_REQUEST`] member changes, removals before additions (so a partial failure
/// leaves less access), and the first also carries the attribute operations (a rename
/// rides with the first members rather than costing a request of its own). Removals
/// are written as the dialect wants them (see the two functions above).
pub(crate) fn group_change_bodies(
    remove_as_value_list: bool,
    attributes: Vec<Value>,
    remove: &[String],
    add: &[String],
) -> Vec<Value> {
    let changes: Vec<(bool, &String)> = remove
        .iter()
        .map(|id| (false, id))
        .chain(add.iter().map(|id| (true, id)))
        .collect();
    let mut bodies = Vec::new();
    let mut attributes = Some(attributes);
    for chunk in changes.chunks(MAX_PER_REQUEST) {
        let mut operations = attributes.take().unwrap_or_default();
        let removed: Vec<String> = chunk
            .iter()
            .filter(|(add, _)| !add)
            .map(|(_, id)| (*id).clone())
            .collect();
        let added: Vec<String> = chunk
            .iter()
            .filter(|(add, _)| *add)
            .map(|(_, id)| (*id).clone())
            .collect();
        if !removed.is_empty() {
            if remove_as_value_list {
                operations.push(
                    json!({"op": "remove", "path": "members", "value": member_values(&removed)}),
                );
            } else {
                operations.extend(removed.iter().map(|id| {
                    json!({"op": "remove", "path": format!("members[{}]", eq_filter("value", id))})
                }));
            }
        }
        if !added.is_empty() {
            operations
                .push(json!({"op": "add", "path": "members", "value": member_values(&added)}));
        }
        bodies.push(patch_body(operations));
    }
    if let Some(attributes) = attributes.filter(|a| !a.is_empty()) {
        bodies.push(patch_body(attributes));
    }
    bodies
}

fn member_values(ids: &[String]) -> Vec<Value> {
    ids.iter().map(|id| json!({"value": id})).collect()
}

fn patch_body(operations: Vec<Value>) -> Value {
    json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_change_carries_the_rename_with_the_first_hundred_member_changes() {
        // Arrange
        let ids: Vec<String> = (0..150).map(|i| format!("u{i}")).collect();
        let rename = vec![json!({"op": "replace", "path": "displayName", "value": "G"})];

        // Act
        let bodies = group_change_bodies(true, rename, &ids[..30], &ids[30..]);
        let alone = group_change_bodies(
            true,
            vec![json!({"op": "replace", "path": "displayName", "value": "G"})],
            &[],
            &[],
        );

        // Assert
        assert_eq!(bodies.len(), 2);
        let first = bodies[0]["Operations"].as_array().unwrap();
        assert_eq!(first[0]["path"], "displayName");
        assert_eq!(first[1]["op"], "remove");
        assert_eq!(first[1]["value"].as_array().unwrap().len(), 30);
        assert_eq!(first[2]["value"].as_array().unwrap().len(), 70);
        let second = bodies[1]["Operations"].as_array().unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0]["value"].as_array().unwrap().len(), 50);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0]["Operations"][0]["path"], "displayName");
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("user-{i}")).collect()
    }

    fn changes(body: &Value) -> usize {
        body["Operations"]
            .as_array()
            .map(|ops| {
                ops.iter()
                    .map(|op| op["value"].as_array().map_or(1, Vec::len))
                    .sum()
            })
            .unwrap_or(0)
    }

    #[test]
    fn two_hundred_and_fifty_additions_become_three_patches_of_at_most_a_hundred() {
        let bodies = add_member_bodies(&ids(250));
        assert_eq!(
            bodies.iter().map(changes).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
    }

    #[test]
    fn members_are_sent_as_value_only() {
        let bodies = add_member_bodies(&ids(1));
        assert_eq!(
            bodies[0],
            json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                   "Operations": [{"op": "add", "path": "members", "value": [{"value": "user-0"}]}]})
        );
    }

    #[test]
    fn no_removal_body_is_made_for_no_members_because_an_empty_list_empties_the_group() {
        assert!(remove_member_bodies_as_value_list(&[]).is_empty());
        assert!(remove_member_bodies_as_value_paths(&[]).is_empty());
        assert!(add_member_bodies(&[]).is_empty());
    }

    #[test]
    fn rfc_removals_address_each_member_by_a_value_filter_a_hundred_per_request() {
        let bodies = remove_member_bodies_as_value_paths(&ids(150));
        assert_eq!(
            bodies.iter().map(changes).collect::<Vec<_>>(),
            vec![100, 50]
        );
        assert_eq!(
            bodies[0]["Operations"][0]["path"],
            json!("members[value eq \"user-0\"]")
        );
    }

    #[test]
    fn filters_and_cursors_are_escaped_for_the_query_string() {
        assert_eq!(eq_filter("userName", "a\"b"), r#"userName eq "a\"b""#);
        assert_eq!(
            query_string(&[
                ("filter", eq_filter("userName", "x y")),
                ("cursor", "a+b/c=".into())
            ]),
            "?filter=userName%20eq%20%22x%20y%22&cursor=a%2Bb%2Fc%3D"
        );
        assert_eq!(query_string(&[("cursor", String::new())]), "?cursor=");
    }
}
