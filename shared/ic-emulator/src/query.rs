//! ListUsers and ListGroups query parameters (AWS-DG listusers, listgroups;
//! `docs/identity-center-dialect.md` §3–4): the few `eq` filters Identity Center
//! supports, `count`, and cursors.
//!
//! `startIndex`, `attributes` and `excludedAttributes` are "not supported" (AWS-DG
//! listusers). The emulator *ignores* them rather than refusing them: Okta always sends
//! `startIndex=1&count=100` (OKTA-SCIM20) and Identity Center's own Okta integration
//! works, and ssosync #1 reports `startIndex` silently ignored, so a 400 would be wrong.

use scim_core::filter::parse_filter;
use scim_core::{AttrPath, CompValue, CompareOp, Filter};

use crate::error::ApiError;

/// Identity Center's page size cap and default (AWS-DG listusers: count 1–100, default 100).
pub(crate) const MAX_COUNT: usize = 100;

/// A supported ListUsers filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserFilter {
    All,
    /// `userName eq "…"`, compared without regard to case (RFC 7643 §4.1.1: caseExact false).
    UserName(String),
    /// `externalId eq "…"`, case-exact.
    ExternalId(String),
    /// `groups.value eq "<group id>"`: the members of a group.
    Group(String),
    /// `id eq "…"`: valid though AWS-DG says to prefer GetUser.
    Id(String),
    /// `id eq "…" and manager eq "…"`, either order.
    IdAndManager {
        id: String,
        manager: String,
    },
}

/// A supported ListGroups filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupFilter {
    All,
    /// `displayName eq "…"`, compared without regard to case.
    DisplayName(String),
    /// `externalId eq "…"`, case-exact.
    ExternalId(String),
    /// `members.value eq "<user id>"`: the groups a user belongs to.
    Member(String),
    /// `id eq "…"`.
    Id(String),
    /// `id eq "…" and members eq "…"`, either order.
    IdAndMember {
        id: String,
        member: String,
    },
}

/// The parsed query of a list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// The raw filter text, for the cursor's filter check.
    pub(crate) filter: Option<String>,
    /// Page size, 1–100.
    pub(crate) count: usize,
    /// `None`: the classic one-page answer. `Some("")`: the first cursor page.
    pub(crate) cursor: Option<String>,
}

fn unsupported_filter() -> ApiError {
    ApiError::validation("the filter is not supported")
}

/// Reads `filter`, `count` and `cursor` from the decoded query pairs; other parameters
/// are ignored (see the module comment).
pub(crate) fn list_query(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        filter: None,
        count: MAX_COUNT,
        cursor: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "filter" => query.filter = Some(value.clone()),
            "cursor" => query.cursor = Some(value.clone()),
            "count" => {
                query.count = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| ApiError::validation("count must be between 1 and 100"))?;
            }
            _ => {}
        }
    }
    Ok(query)
}

fn is(path: &AttrPath, name: &str, sub: Option<&str>) -> bool {
    path.urn.is_none()
        && path.name.eq_ignore_ascii_case(name)
        && match (&path.sub_attr, sub) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
}

/// `attr eq "string"`, the only comparison form Identity Center documents.
fn eq_string(filter: &Filter) -> Option<(&AttrPath, &str)> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } => Some((path, s.as_str())),
        _ => None,
    }
}

fn parse(raw: &str) -> Result<Filter, ApiError> {
    parse_filter(raw).map_err(|_| ApiError::validation("the filter cannot be parsed"))
}

/// Two `eq` comparisons joined by `and`, in either order: returns (id, other) where
/// `other` is one of `other_names` (`(name, sub)` pairs).
fn id_and(filter: &Filter, other_names: &[(&str, Option<&str>)]) -> Option<(String, String)> {
    let Filter::And(a, b) = filter else {
        return None;
    };
    let (pa, va) = eq_string(a)?;
    let (pb, vb) = eq_string(b)?;
    let other = |p: &AttrPath| other_names.iter().any(|(n, s)| is(p, n, *s));
    if is(pa, "id", None) && other(pb) {
        Some((va.to_owned(), vb.to_owned()))
    } else if other(pa) && is(pb, "id", None) {
        Some((vb.to_owned(), va.to_owned()))
    } else {
        None
    }
}

/// Recognises the ListUsers filters of AWS-DG listusers: `userName`, `externalId`,
/// `groups.value`, `id and manager`, `manager and id` (and `id` alone, "valid" per the
/// same page). `manager` may be written `manager` or `manager.value`.
pub(crate) fn user_filter(raw: Option<&str>) -> Result<UserFilter, ApiError> {
    let Some(raw) = raw else {
        return Ok(UserFilter::All);
    };
    let filter = parse(raw)?;
    if let Some((id, manager)) = id_and(&filter, &[("manager", None), ("manager", Some("value"))]) {
        return Ok(UserFilter::IdAndManager { id, manager });
    }
    let (path, value) = eq_string(&filter).ok_or_else(unsupported_filter)?;
    let value = value.to_owned();
    if is(path, "userName", None) {
        Ok(UserFilter::UserName(value))
    } else if is(path, "externalId", None) {
        Ok(UserFilter::ExternalId(value))
    } else if is(path, "groups", Some("value")) {
        Ok(UserFilter::Group(value))
    } else if is(path, "id", None) {
        Ok(UserFilter::Id(value))
    } else {
        Err(unsupported_filter())
    }
}

/// Recognises the ListGroups filters of AWS-DG listgroups: `displayName`, `externalId`,
/// `members.value`, `id and member`, `member and id` (and `id` alone). The member side of
/// the pair may be written `members`, `member` or `members.value`.
pub(crate) fn group_filter(raw: Option<&str>) -> Result<GroupFilter, ApiError> {
    let Some(raw) = raw else {
        return Ok(GroupFilter::All);
    };
    let filter = parse(raw)?;
    let member_names = [
        ("members", None),
        ("member", None),
        ("members", Some("value")),
    ];
    if let Some((id, member)) = id_and(&filter, &member_names) {
        return Ok(GroupFilter::IdAndMember { id, member });
    }
    let (path, value) = eq_string(&filter).ok_or_else(unsupported_filter)?;
    let value = value.to_owned();
    if is(path, "displayName", None) {
        Ok(GroupFilter::DisplayName(value))
    } else if is(path, "externalId", None) {
        Ok(GroupFilter::ExternalId(value))
    } else if is(path, "members", Some("value")) {
        Ok(GroupFilter::Member(value))
    } else if is(path, "id", None) {
        Ok(GroupFilter::Id(value))
    } else {
        Err(unsupported_filter())
    }
}

/// A position in a listing: the sequence number of the last item returned, bound to the
/// resource type and filter it was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) after_seq: u64,
    pub(crate) filter_hash: u64,
}

/// Cursors start with these bytes so that every encoded cursor begins with `+/`: a client
/// that forgets to percent-encode the cursor (a `+` in a query string reads as a space)
/// fails against the emulator instead of only against AWS.
const CURSOR_MAGIC: [u8; 2] = [0xfb, 0xff];

/// FNV-1a over the resource type and the raw filter text.
pub(crate) fn filter_hash(resource: &str, filter: Option<&str>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = resource
        .bytes()
        .chain([0u8])
        .chain(filter.unwrap_or_default().bytes());
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The pattern AWS-DG gives for cursors: `[-a-zA-Z0-9+=/:_]*`.
pub(crate) fn cursor_pattern_ok(cursor: &str) -> bool {
    cursor
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-+=/:_".contains(c))
}

impl Cursor {
    /// The cursor as it goes on the wire (standard base64, matching the AWS pattern).
    pub(crate) fn encode(self) -> String {
        let mut bytes = CURSOR_MAGIC.to_vec();
        bytes.extend_from_slice(&self.after_seq.to_be_bytes());
        bytes.extend_from_slice(&self.filter_hash.to_be_bytes());
        base64_encode(&bytes)
    }

    /// Reads a cursor this emulator issued.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let bytes = base64_decode(text)?;
        let rest = bytes.strip_prefix(&CURSOR_MAGIC)?;
        let (seq, hash) = rest.split_at_checked(8)?;
        Some(Self {
            after_seq: u64::from_be_bytes(seq.try_into().ok()?),
            filter_hash: u64::from_be_bytes(hash.try_into().ok()?),
        })
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = BASE64.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn count_defaults_to_100_and_must_be_1_to_100() {
        // AWS-DG listusers: "Valid Range: Minimum value of 1. Maximum value of 100. Default: 100"
        assert_eq!(list_query(&[]).unwrap().count, 100);
        assert_eq!(list_query(&pairs(&[("count", "1")])).unwrap().count, 1);
        for bad in ["0", "101", "-1", "ten"] {
            assert!(list_query(&pairs(&[("count", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_index_attributes_and_excluded_attributes_are_ignored() {
        // AWS-DG listusers: not supported; ignored (see module comment for why not 400).
        let q = list_query(&pairs(&[
            ("startIndex", "51"),
            ("attributes", "userName"),
            ("excludedAttributes", "emails"),
        ]))
        .unwrap();
        assert_eq!(
            q,
            ListQuery {
                filter: None,
                count: 100,
                cursor: None
            }
        );
    }

    #[test]
    fn empty_cursor_parameter_starts_cursor_paging() {
        assert_eq!(
            list_query(&pairs(&[("cursor", "")])).unwrap().cursor,
            Some(String::new())
        );
    }

    #[test]
    fn cursor_round_trips_and_matches_the_documented_pattern() {
        let cursor = Cursor {
            after_seq: 12345,
            filter_hash: filter_hash("Users", Some("x")),
        };
        let text = cursor.encode();
        assert!(cursor_pattern_ok(&text), "{text}");
        assert!(text.starts_with("+/"));
        assert_eq!(Cursor::decode(&text), Some(cursor));
        assert_eq!(Cursor::decode("garbage"), None);
        assert!(!cursor_pattern_ok("a b"));
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
    }

    #[test]
    fn filter_hash_depends_on_resource_and_filter() {
        assert_ne!(filter_hash("Users", None), filter_hash("Groups", None));
        assert_ne!(
            filter_hash("Users", Some("a")),
            filter_hash("Users", Some("b"))
        );
    }

    #[test]
    fn manager_and_member_accept_their_documented_spellings() {
        // AWS-DG listusers "(id and manager)", listgroups "(id and member)".
        let user = user_filter(Some("manager.value eq \"m\" and id eq \"u\"")).unwrap();
        assert_eq!(
            user,
            UserFilter::IdAndManager {
                id: "u".into(),
                manager: "m".into()
            }
        );
        for member in ["member", "members", "members.value"] {
            let text = format!("id eq \"g\" and {member} eq \"u\"");
            let group = group_filter(Some(&text)).unwrap();
            assert_eq!(
                group,
                GroupFilter::IdAndMember {
                    id: "g".into(),
                    member: "u".into()
                }
            );
        }
    }

    #[test]
    fn filter_attribute_names_ignore_case() {
        // RFC 7644 §3.4.2.2: attribute names and operators are case-insensitive.
        assert_eq!(
            user_filter(Some("USERNAME EQ \"a\"")).unwrap(),
            UserFilter::UserName("a".into())
        );
        assert_eq!(
            group_filter(Some("Members.Value eq \"u\"")).unwrap(),
            GroupFilter::Member("u".into())
        );
    }
}
