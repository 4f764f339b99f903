//! Listing resources (RFC 7644 §3.4.2): the ListResponse written to clients, the lenient
//! reading of one page from a server (Identity Center's cursor form included), the query
//! parameters, and the `attributes`/`excludedAttributes` projection.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::discovery::Returned;
use crate::discovery::standard::SchemaDef;
use crate::filter::{AttrPath, Filter, parse_filter};
use crate::{LIST_RESPONSE_SCHEMA, ResourceKind, ScimError};

/// A ListResponse as this crate writes it (RFC 7644 §3.4.2). `totalResults` is required;
/// every integer is written as a JSON integer, which Okta checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// `[LIST_RESPONSE_SCHEMA]`.
    pub schemas: Vec<String>,
    /// The number of results the query matched, across all pages.
    pub total_results: u64,
    /// The number of resources in this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_per_page: Option<u64>,
    /// The 1-based index of this page's first result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    /// The resources of this page. Always written, `[]` when empty: Okta reads an empty
    /// search result that way (`docs/okta-client.md` §2).
    #[serde(rename = "Resources", alias = "resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// One page: `itemsPerPage` is the number of `resources`.
    pub fn page(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        Self {
            schemas: vec![LIST_RESPONSE_SCHEMA.to_owned()],
            total_results,
            items_per_page: Some(resources.len() as u64),
            start_index: Some(start_index),
            resources,
        }
    }

    /// The page of `all` that `start_index` (1-based, as [`ListQuery`] normalizes it) and
    /// `count` select (RFC 7644 §3.4.2.4); `count: Some(0)` gives only the total.
    pub fn paginate(all: Vec<T>, start_index: u64, count: Option<u64>) -> Self {
        let total = all.len() as u64;
        let skip = usize::try_from(start_index.saturating_sub(1)).unwrap_or(usize::MAX);
        let take = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let page = all.into_iter().skip(skip).take(take).collect();
        Self::page(page, total, start_index.max(1))
    }
}

/// One page of a list as a server answered it, read leniently: the RFC form
/// (`totalResults`, `startIndex`) and Identity Center's cursor form (`nextCursor`, no
/// `totalResults`) both fit. Integers sent as strings are accepted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    /// The schema URNs, as sent.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The total, when the server gives one.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_results: Option<u64>,
    /// The number of resources in this page.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub items_per_page: Option<u64>,
    /// The 1-based index of this page's first result.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub start_index: Option<u64>,
    /// The cursor of the next page; absent on the last one (Identity Center).
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// The resources of this page.
    #[serde(rename = "Resources", alias = "resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a non-negative integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected a non-negative integer")),
        Some(_) => Err(serde::de::Error::custom("expected a non-negative integer")),
    }
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// `ascending`, the default when `sortBy` is given.
    #[default]
    Ascending,
    /// `descending`.
    Descending,
}

impl SortOrder {
    /// The keyword as written in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        }
    }
}

/// The query parameters of a list request (RFC 7644 §3.4.2), parsed with
/// [`ListQuery::from_pairs`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// `filter`, parsed.
    pub filter: Option<Filter>,
    /// `startIndex`, 1-based; values below 1 read as 1.
    pub start_index: u64,
    /// `count`; negative values read as 0. `None` leaves the page size to the server.
    pub count: Option<u64>,
    /// `attributes`: return only these (plus the always-returned ones).
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`: return everything but these.
    pub excluded_attributes: Vec<AttrPath>,
    /// `sortBy`.
    pub sort_by: Option<AttrPath>,
    /// `sortOrder`.
    pub sort_order: Option<SortOrder>,
    /// `cursor`, Identity Center's paging (`docs/identity-center-dialect.md` §4): `Some("")`
    /// asks for the first page of cursor paging, `Some(c)` for the page after `c`.
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            filter: None,
            start_index: 1,
            count: None,
            attributes: Vec::new(),
            excluded_attributes: Vec::new(),
            sort_by: None,
            sort_order: None,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// Parses already URL-decoded query pairs. Parameter names match case-insensitively;
    /// unknown ones are ignored. Errors (RFC 7644 §3.4.2, §3.12):
    /// - a filter that does not parse: `invalidFilter`;
    /// - `startIndex`/`count` that are not integers, an unknown `sortOrder`, a malformed
    ///   attribute path, or a parameter given twice: `invalidValue`.
    ///
    /// A blank `filter` reads as no filter: some clients send `filter=` on a plain listing.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ScimError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        const KNOWN: [&str; 8] = [
            "filter",
            "startIndex",
            "count",
            "attributes",
            "excludedAttributes",
            "sortBy",
            "sortOrder",
            "cursor",
        ];
        let mut seen = [false; KNOWN.len()];
        let mut query = Self::default();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            let Some(index) = KNOWN.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                // A repeated parameter is ambiguous, and a proxy and the gateway could
                // read it differently; refuse rather than pick one.
                return Err(ScimError::invalid_value(format!(
                    "query parameter `{}` is given more than once",
                    KNOWN[index]
                )));
            }
            match index {
                0 => {
                    query.filter = match value.trim() {
                        "" => None,
                        text => Some(
                            parse_filter(text)
                                .map_err(|e| ScimError::invalid_filter(e.to_string()))?,
                        ),
                    }
                }
                1 => query.start_index = parse_integer("startIndex", value)?.max(1).unsigned_abs(),
                2 => query.count = Some(parse_integer("count", value)?.max(0).unsigned_abs()),
                3 => query.attributes = parse_attr_list("attributes", value)?,
                4 => query.excluded_attributes = parse_attr_list("excludedAttributes", value)?,
                5 => query.sort_by = parse_attr_list("sortBy", value)?.into_iter().next(),
                6 => query.sort_order = Some(parse_sort_order(value)?),
                _ => query.cursor = Some(value.to_owned()),
            }
        }
        Ok(query)
    }

    /// The query as (name, value) pairs to send, without URL encoding: the inverse of
    /// [`ListQuery::from_pairs`]. Defaults (`startIndex=1`, empty lists) are left out.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let join = |paths: &[AttrPath]| {
            paths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut pairs = Vec::new();
        if let Some(filter) = &self.filter {
            pairs.push(("filter", filter.to_string()));
        }
        if self.start_index != 1 {
            pairs.push(("startIndex", self.start_index.to_string()));
        }
        if let Some(count) = self.count {
            pairs.push(("count", count.to_string()));
        }
        if !self.attributes.is_empty() {
            pairs.push(("attributes", join(&self.attributes)));
        }
        if !self.excluded_attributes.is_empty() {
            pairs.push(("excludedAttributes", join(&self.excluded_attributes)));
        }
        if let Some(sort_by) = &self.sort_by {
            pairs.push(("sortBy", sort_by.to_string()));
        }
        if let Some(order) = self.sort_order {
            pairs.push(("sortOrder", order.as_str().to_owned()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        pairs
    }
}

/// An integer in the range of `i64`, beyond it saturated: `startIndex=99999999999999999999`
/// is a (silly) integer, not a malformed one.
fn parse_integer(name: &str, text: &str) -> Result<i64, ScimError> {
    let text = text.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!(
            "`{name}` must be an integer"
        )));
    }
    Ok(text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

fn parse_sort_order(text: &str) -> Result<SortOrder, ScimError> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("ascending") => Ok(SortOrder::Ascending),
        t if t.eq_ignore_ascii_case("descending") => Ok(SortOrder::Descending),
        _ => Err(ScimError::invalid_value(
            "`sortOrder` must be `ascending` or `descending`",
        )),
    }
}

/// A comma-separated list of attribute paths (RFC 7644 §3.4.2.5); blank items are skipped.
fn parse_attr_list(name: &str, text: &str) -> Result<Vec<AttrPath>, ScimError> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            crate::filter::parser::parse_attr_path(item, 0).map_err(|e| {
                ScimError::invalid_value(format!("`{name}` holds a malformed attribute path: {e}"))
            })
        })
        .collect()
}

/// The attributes every response carries, whatever `attributes` and
/// `excludedAttributes` say:
/// - `schemas`, which RFC 7643 §3 makes REQUIRED in every representation;
/// - the `returned: always` attributes of the standard schemas, which is only `id`
///   (RFC 7643 §3.1).
///
/// `meta` and `userName` are `returned: default` (§8.7.1), so `attributes=displayName`
/// leaves them out. `returned: never` attributes (`password`) are never returned, and
/// `returned: request` ones only when named; both are read from the schema table.
pub const ALWAYS_RETURNED: &[&str] = &["schemas", "id"];

/// Applies `attributes` and `excludedAttributes` to a resource (RFC 7644 §3.4.2.5, §3.9)
/// and drops what is never returned. Names match case-insensitively; a path with a
/// schema URN looks inside that extension's object (or at the top for the core schema);
/// a sub-attribute path on a multi-valued attribute keeps that sub-attribute of every
/// value. With both lists given, `attributes` selects first and `excludedAttributes`
/// then removes.
pub fn project(resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(object) = resource else {
        return resource.clone();
    };
    let kind = ResourceKind::of(resource);
    let mut selected = if attributes.is_empty() {
        object.clone()
    } else {
        let mut tree = Selection::default();
        for path in attributes {
            if let Some(keys) = keys_of(path, kind, object) {
                tree.insert(&keys);
            }
        }
        tree.apply(object)
    };
    for path in excluded {
        if let Some(keys) = keys_of(path, kind, object) {
            remove_path(&mut selected, &keys);
        }
    }
    // Put back what exclusion may have taken: the always-returned attributes.
    for (key, value) in object {
        if is_always_returned(key) && !selected.contains_key(key) {
            selected.insert(key.clone(), value.clone());
        }
    }
    drop_unreturned(&mut selected, kind, attributes);
    Value::Object(reorder_like(selected, object))
}

fn is_always_returned(key: &str) -> bool {
    ALWAYS_RETURNED.iter().any(|a| a.eq_ignore_ascii_case(key))
}

/// The object keys a path walks through in this resource: `[extension key]`, the
/// attribute, then the sub-attribute. `None` when the path names a schema the resource
/// does not carry.
fn keys_of(
    path: &AttrPath,
    kind: Option<ResourceKind>,
    object: &Map<String, Value>,
) -> Option<Vec<String>> {
    let mut keys = Vec::with_capacity(3);
    if let Some(urn) = &path.urn {
        let is_core = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .filter(|k| kind.is_none_or(|kind| kind == *k))
            .any(|k| k.core().id.eq_ignore_ascii_case(urn));
        if !is_core {
            let key = object.keys().find(|k| k.eq_ignore_ascii_case(urn))?;
            keys.push(key.clone());
        }
    }
    if !path.name.is_empty() {
        keys.push(path.name.clone());
        keys.extend(path.sub_attr.clone());
    }
    Some(keys)
}

/// A tree of requested keys; a leaf selects the whole value below it.
#[derive(Debug, Default)]
struct Selection {
    all: bool,
    children: Vec<(String, Selection)>,
}

impl Selection {
    fn insert(&mut self, keys: &[String]) {
        let Some((first, rest)) = keys.split_first() else {
            self.all = true;
            return;
        };
        if self.all {
            return;
        }
        let position = self
            .children
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(first));
        let child = match position {
            Some(i) => &mut self.children[i].1,
            None => {
                self.children.push((first.clone(), Selection::default()));
                let last = self.children.len() - 1;
                &mut self.children[last].1
            }
        };
        child.insert(rest);
    }

    fn apply(&self, object: &Map<String, Value>) -> Map<String, Value> {
        if self.all {
            return object.clone();
        }
        let mut out = Map::new();
        for (key, value) in object {
            let Some((_, child)) = self
                .children
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
            else {
                continue;
            };
            if let Some(value) = child.apply_value(value) {
                out.insert(key.clone(), value);
            }
        }
        out
    }

    /// The selected part of a value, `None` when nothing of it is selected.
    fn apply_value(&self, value: &Value) -> Option<Value> {
        if self.all {
            return Some(value.clone());
        }
        match value {
            Value::Object(object) => {
                let out = self.apply(object);
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let out: Vec<Value> = items
                    .iter()
                    .filter_map(|item| self.apply_value(item))
                    .collect();
                (!out.is_empty()).then_some(Value::Array(out))
            }
            // A sub-attribute asked of a simple value selects nothing.
            _ => None,
        }
    }
}

fn remove_path(object: &mut Map<String, Value>, keys: &[String]) {
    let Some((first, rest)) = keys.split_first() else {
        // A whole core schema excluded: nothing sensible to remove.
        return;
    };
    let Some(key) = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(first))
        .cloned()
    else {
        return;
    };
    if rest.is_empty() {
        object.shift_remove(&key);
        return;
    }
    match object.get_mut(&key) {
        Some(Value::Object(inner)) => remove_path(inner, rest),
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item {
                    remove_path(inner, rest);
                }
            }
        }
        _ => {}
    }
}

/// Removes `returned: never` attributes, and `returned: request` ones not named in
/// `attributes`, at the top level and inside standard extension objects.
fn drop_unreturned(
    object: &mut Map<String, Value>,
    kind: Option<ResourceKind>,
    attributes: &[AttrPath],
) {
    let kinds: &[ResourceKind] = match kind {
        Some(ResourceKind::User) => &[ResourceKind::User],
        Some(ResourceKind::Group) => &[ResourceKind::Group],
        None => &[ResourceKind::User, ResourceKind::Group],
    };
    let requested = |urn: Option<&str>, name: &str| {
        attributes.iter().any(|a| {
            a.name.eq_ignore_ascii_case(name)
                && match (urn, a.urn.as_deref()) {
                    (Some(u), Some(a)) => u.eq_ignore_ascii_case(a),
                    (None, _) => true,
                    (Some(_), None) => false,
                }
        })
    };
    let keep = |def_returned: Returned, urn: Option<&str>, name: &str| match def_returned {
        Returned::Never => false,
        Returned::Request => requested(urn, name),
        Returned::Always | Returned::Default => true,
    };
    for &kind in kinds {
        object.retain(|key, _| match kind.attribute(None, key) {
            Some((def, _)) => keep(def.returned, None, key),
            None => true,
        });
        for extension in kind.extensions() {
            drop_in_extension(object, extension, &keep);
        }
    }
}

fn drop_in_extension(
    object: &mut Map<String, Value>,
    extension: &SchemaDef,
    keep: &impl Fn(Returned, Option<&str>, &str) -> bool,
) {
    let Some(Value::Object(inner)) = object
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(extension.id))
        .map(|(_, v)| v)
    else {
        return;
    };
    inner.retain(|key, _| match extension.attribute(key) {
        Some(def) => keep(def.returned, Some(extension.id), key),
        None => true,
    });
}

/// `selected` with its keys in the order they have in `original`, so that projection
/// never reorders a resource.
fn reorder_like(
    mut selected: Map<String, Value>,
    original: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(selected.len());
    for key in original.keys() {
        if let Some(value) = selected.shift_remove(key) {
            out.insert(key.clone(), value);
        }
    }
    out.extend(selected);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;
    use serde_json::json;

    type Pairs = &'static [(&'static str, &'static str)];

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, ScimError> {
        ListQuery::from_pairs(pairs.iter().copied())
    }

    fn paths(list: &str) -> Vec<AttrPath> {
        parse_attr_list("test", list).unwrap()
    }

    #[test]
    fn a_list_response_writes_integers_as_integers_and_always_writes_resources() {
        // Act
        let value = serde_json::to_value(ListResponse::<Value>::page(vec![], 0, 1)).unwrap();

        // Assert
        assert_eq!(
            value,
            json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": 0,
                "itemsPerPage": 0,
                "startIndex": 1,
                "Resources": []
            })
        );
    }

    #[test]
    fn paginate_selects_the_page_that_start_index_and_count_name() {
        let table: [(u64, Option<u64>, &[u32], u64); 5] = [
            (1, None, &[1, 2, 3, 4, 5], 1),
            (2, Some(2), &[2, 3], 2),
            (4, Some(10), &[4, 5], 4),
            (9, Some(2), &[], 9),
            (1, Some(0), &[], 1),
        ];
        for (start, count, expected, start_out) in table {
            // Act
            let page = ListResponse::paginate(vec![1, 2, 3, 4, 5], start, count);

            // Assert
            assert_eq!(page.resources, expected, "start {start} count {count:?}");
            assert_eq!(page.total_results, 5);
            assert_eq!(page.items_per_page, Some(expected.len() as u64));
            assert_eq!(page.start_index, Some(start_out));
        }
    }

    #[test]
    fn identity_centers_cursor_page_reads_without_total_results() {
        // Arrange
        let input = json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "itemsPerPage": 1,
            "nextCursor": "AAAB/abc=",
            "Resources": [{"id": "u1", "userName": "a"}]
        });

        // Act
        let page: ListPage<crate::User> = serde_json::from_value(input).unwrap();

        // Assert
        assert_eq!(page.total_results, None);
        assert_eq!(page.next_cursor.as_deref(), Some("AAAB/abc="));
        assert_eq!(page.resources[0].user_name, "a");
    }

    #[test]
    fn a_classic_page_reads_with_integers_given_as_strings() {
        // Act
        let page: ListPage<Value> = serde_json::from_value(json!({
            "totalResults": "2", "startIndex": 1, "itemsPerPage": 2, "resources": [{}, {}]
        }))
        .unwrap();

        // Assert
        assert_eq!(
            (page.total_results, page.start_index, page.resources.len()),
            (Some(2), Some(1), 2)
        );
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn list_query_parameters_follow_rfc7644_paging_rules() {
        let table: &[(Pairs, u64, Option<u64>)] = &[
            (&[], 1, None),
            (&[("startIndex", "1"), ("count", "100")], 1, Some(100)),
            (&[("startIndex", "0")], 1, None),
            (&[("startIndex", "-5")], 1, None),
            (&[("startIndex", "101")], 101, None),
            (&[("count", "-1")], 1, Some(0)),
            (&[("count", "0")], 1, Some(0)),
            (&[("STARTINDEX", " 3 "), ("Count", "+7")], 3, Some(7)),
            (
                &[("startIndex", "99999999999999999999")],
                i64::MAX.unsigned_abs(),
                None,
            ),
            (&[("unknown", "x"), ("startIndex", "2")], 2, None),
        ];
        for (pairs, start_index, count) in table {
            // Act
            let parsed = query(pairs).unwrap();

            // Assert
            assert_eq!(
                (parsed.start_index, parsed.count),
                (*start_index, *count),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn bad_list_query_values_are_refused_with_the_rfc_error_type() {
        let table: &[(Pairs, ScimType)] = &[
            (&[("startIndex", "one")], ScimType::InvalidValue),
            (&[("startIndex", "1.5")], ScimType::InvalidValue),
            (&[("startIndex", "")], ScimType::InvalidValue),
            (&[("count", "10e2")], ScimType::InvalidValue),
            (&[("count", "-")], ScimType::InvalidValue),
            (&[("sortOrder", "upwards")], ScimType::InvalidValue),
            (&[("attributes", "userName,1bad")], ScimType::InvalidValue),
            (&[("count", "1"), ("count", "2")], ScimType::InvalidValue),
            (&[("filter", "userName eq")], ScimType::InvalidFilter),
            (&[("filter", "userName xx \"a\"")], ScimType::InvalidFilter),
        ];
        for (pairs, expected) in table {
            // Act
            let error = query(pairs).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(*expected), "{pairs:?}");
            assert_eq!(error.status, 400);
        }
    }

    #[test]
    fn oktas_lookup_query_is_parsed_whole() {
        // Act
        let parsed = query(&[
            ("filter", "userName eq \"test.user@okta.local\""),
            ("startIndex", "1"),
            ("count", "100"),
        ])
        .unwrap();

        // Assert
        assert_eq!(
            parsed.filter,
            Some(parse_filter("userName eq \"test.user@okta.local\"").unwrap())
        );
        assert_eq!(parsed.count, Some(100));
    }

    #[test]
    fn attribute_lists_sorting_and_cursor_are_parsed() {
        // Act
        let parsed = query(&[
            ("attributes", "userName, name.givenName ,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            ("excludedAttributes", "emails"),
            ("sortBy", "meta.lastModified"),
            ("sortOrder", "Descending"),
            ("cursor", ""),
            ("filter", "  "),
        ])
        .unwrap();

        // Assert
        assert_eq!(parsed.attributes.len(), 3);
        assert_eq!(parsed.attributes[1].sub_attr.as_deref(), Some("givenName"));
        assert_eq!(
            parsed.attributes[2].urn.as_deref(),
            Some(crate::ENTERPRISE_USER_SCHEMA)
        );
        assert_eq!(parsed.excluded_attributes, [AttrPath::simple("emails")]);
        assert_eq!(
            parsed.sort_by.unwrap().sub_attr.as_deref(),
            Some("lastModified")
        );
        assert_eq!(parsed.sort_order, Some(SortOrder::Descending));
        assert_eq!(parsed.cursor.as_deref(), Some(""));
        assert_eq!(parsed.filter, None);
    }

    #[test]
    fn a_query_written_with_to_pairs_parses_back_to_itself() {
        // Arrange
        let original = query(&[
            ("filter", "userName eq \"a\" and active eq true"),
            ("startIndex", "3"),
            ("count", "5"),
            ("attributes", "userName,name.givenName"),
            ("sortBy", "userName"),
            ("sortOrder", "ascending"),
            ("cursor", "abc"),
        ])
        .unwrap();

        // Act
        let reparsed = ListQuery::from_pairs(original.to_pairs()).unwrap();

        // Assert
        assert_eq!(reparsed, original);
    }

    fn bjensen() -> Value {
        json!({
            "schemas": [crate::USER_SCHEMA, crate::ENTERPRISE_USER_SCHEMA],
            "id": "2819c223",
            "userName": "bjensen",
            "password": "t1meMa$heen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "m1", "displayName": "John Smith"}
            },
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    #[test]
    fn projection_without_lists_only_drops_the_password() {
        // Act
        let output = project(&bjensen(), &[], &[]);

        // Assert
        let mut expected = bjensen();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(output, expected);
    }

    #[test]
    fn attributes_select_case_insensitively_and_keep_schemas_and_id() {
        // Act
        let output = project(
            &bjensen(),
            &paths(
                "USERNAME,name.GIVENNAME,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value,password",
            ),
            &[],
        );

        // Assert
        assert_eq!(
            output,
            json!({
                "schemas": [crate::USER_SCHEMA, crate::ENTERPRISE_USER_SCHEMA],
                "id": "2819c223",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com"}, {"value": "babs@jensen.org"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m1"}}
            })
        );
    }

    #[test]
    fn excluded_attributes_remove_everything_named_but_schemas_and_id() {
        // Act
        let output = project(
            &bjensen(),
            &[],
            &paths(
                "emails.primary,name,id,schemas,meta,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ),
        );

        // Assert
        assert_eq!(
            output,
            json!({
                "schemas": [crate::USER_SCHEMA, crate::ENTERPRISE_USER_SCHEMA],
                "id": "2819c223",
                "userName": "bjensen",
                "emails": [
                    {"value": "b@example.com", "type": "work"},
                    {"value": "babs@jensen.org", "type": "home"}
                ]
            })
        );
    }

    #[test]
    fn a_whole_extension_or_a_core_urn_path_can_be_requested() {
        // Act
        let output = project(
            &bjensen(),
            &paths(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,urn:ietf:params:scim:schemas:core:2.0:User:userName",
            ),
            &[],
        );

        // Assert
        assert_eq!(output["userName"], "bjensen");
        assert_eq!(
            output[crate::ENTERPRISE_USER_SCHEMA]["employeeNumber"],
            "701984"
        );
        assert!(output.get("name").is_none());
    }

    #[test]
    fn the_always_returned_table_matches_the_schema_table() {
        use crate::discovery::standard::COMMON_ATTRIBUTES;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            for def in COMMON_ATTRIBUTES.iter().chain(kind.core().attributes) {
                assert_eq!(
                    def.returned == Returned::Always,
                    is_always_returned(def.name),
                    "{}",
                    def.name
                );
            }
        }
    }
}
