//! The emulator's in-memory org: users, groups, memberships and app assignments in
//! creation order, and the JSON each is answered as, in the shapes of Okta's Users and
//! Groups API references (fixtures `api-user.json`, `api-group.json`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A user's status (Users API, "User status"). The emulator moves users between STAGED,
/// ACTIVE, SUSPENDED and DEPROVISIONED; the others can only be seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Staged => "STAGED",
            Self::Provisioned => "PROVISIONED",
            Self::Active => "ACTIVE",
            Self::Recovery => "RECOVERY",
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::LockedOut => "LOCKED_OUT",
            Self::Suspended => "SUSPENDED",
            Self::Deprovisioned => "DEPROVISIONED",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(Value::String(name.to_owned())).ok()
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) status: UserStatus,
    pub(crate) created: String,
    pub(crate) activated: Option<String>,
    pub(crate) status_changed: Option<String>,
    pub(crate) last_login: Option<String>,
    pub(crate) last_updated: String,
    pub(crate) password_changed: Option<String>,
    /// `{"id": "oty…"}`.
    pub(crate) user_type: Value,
    pub(crate) profile: Map<String, Value>,
    /// Never a password: Okta answers `"password": {}` whatever was set.
    pub(crate) credentials: Value,
}

impl UserRecord {
    pub(crate) fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Moves the user to `status`, stamping `statusChanged` and `lastUpdated`.
    pub(crate) fn set_status(&mut self, status: UserStatus, now: &str) {
        if status == UserStatus::Active && self.activated.is_none() {
            self.activated = Some(now.to_owned());
        }
        self.status = status;
        self.status_changed = Some(now.to_owned());
        self.last_updated = now.to_owned();
    }
}

/// A stored group.
#[derive(Debug, Clone)]
pub(crate) struct GroupRecord {
    pub(crate) id: String,
    pub(crate) seq: u64,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    pub(crate) group_type: String,
    pub(crate) created: String,
    pub(crate) last_updated: String,
    pub(crate) last_membership_updated: String,
    pub(crate) object_class: Value,
    /// `name`, `description`, and whatever else a seed gave.
    pub(crate) profile: Map<String, Value>,
    pub(crate) members: BTreeSet<String>,
}

impl GroupRecord {
    pub(crate) fn name(&self) -> &str {
        self.profile
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A user's assignment to an app.
#[derive(Debug, Clone)]
pub(crate) struct Assignment {
    pub(crate) created: String,
}

/// The org.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_seq: u64,
    pub(crate) users: HashMap<String, UserRecord>,
    pub(crate) groups: HashMap<String, GroupRecord>,
    /// App id → user id → assignment.
    pub(crate) apps: BTreeMap<String, BTreeMap<String, Assignment>>,
    /// The sequence number of every id handed out, deleted ones included, so that an
    /// `after` cursor naming a resource deleted since still finds its place.
    seqs: HashMap<String, u64>,
}

impl Store {
    /// The next creation-order number, registered for `id`.
    pub(crate) fn register(&mut self, id: &str) -> u64 {
        self.next_seq += 1;
        self.seqs.insert(id.to_owned(), self.next_seq);
        self.next_seq
    }

    /// Where `id` stands in creation order, if it was ever handed out.
    pub(crate) fn seq_of(&self, id: &str) -> Option<u64> {
        self.seqs.get(id).copied()
    }

    /// Whether `id` was ever handed out (a new id must not repeat a deleted one either).
    pub(crate) fn id_taken(&self, id: &str) -> bool {
        self.seqs.contains_key(id)
    }

    /// A user by id, else by `login` without regard to case (Users API, "Get user": the
    /// path takes an id or a login).
    pub(crate) fn find_user(&self, key: &str) -> Option<&UserRecord> {
        self.users.get(key).or_else(|| {
            self.users
                .values()
                .find(|u| u.login().eq_ignore_ascii_case(key))
        })
    }

    /// The id of the user [`Store::find_user`] finds.
    pub(crate) fn find_user_id(&self, key: &str) -> Option<String> {
        self.find_user(key).map(|u| u.id.clone())
    }

    /// Whether another user than `except` has this login, compared without regard to case.
    pub(crate) fn login_taken(&self, login: &str, except: Option<&str>) -> bool {
        self.users
            .values()
            .any(|u| Some(u.id.as_str()) != except && u.login().eq_ignore_ascii_case(login))
    }

    /// Whether another group than `except` has this name, compared without regard to case.
    pub(crate) fn group_name_taken(&self, name: &str, except: Option<&str>) -> bool {
        self.groups
            .values()
            .any(|g| Some(g.id.as_str()) != except && g.name().eq_ignore_ascii_case(name))
    }

    /// Every user in creation order.
    pub(crate) fn users_in_order(&self) -> Vec<&UserRecord> {
        let mut users: Vec<&UserRecord> = self.users.values().collect();
        users.sort_by_key(|u| u.seq);
        users
    }

    /// Every group in creation order.
    pub(crate) fn groups_in_order(&self) -> Vec<&GroupRecord> {
        let mut groups: Vec<&GroupRecord> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        groups
    }

    /// The members of a group, in user creation order.
    pub(crate) fn members_of(&self, group: &GroupRecord) -> Vec<&UserRecord> {
        let mut users: Vec<&UserRecord> = group
            .members
            .iter()
            .filter_map(|id| self.users.get(id))
            .collect();
        users.sort_by_key(|u| u.seq);
        users
    }

    /// The groups a user belongs to, in group creation order.
    pub(crate) fn groups_of(&self, user_id: &str) -> Vec<&GroupRecord> {
        self.groups_in_order()
            .into_iter()
            .filter(|g| g.members.contains(user_id))
            .collect()
    }

    /// Deletes a user with its memberships and app assignments.
    pub(crate) fn remove_user(&mut self, id: &str) -> Option<UserRecord> {
        let user = self.users.remove(id)?;
        for group in self.groups.values_mut() {
            group.members.remove(id);
        }
        for assigned in self.apps.values_mut() {
            assigned.remove(id);
        }
        self.apps.retain(|_, assigned| !assigned.is_empty());
        Some(user)
    }
}

/// A time as Okta writes it: `2013-06-24T16:39:18.000Z`.
pub(crate) fn okta_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default()
}

/// Now, as Okta writes it.
pub(crate) fn now() -> String {
    okta_time(OffsetDateTime::now_utc())
}

/// Whether `text` is an RFC 3339 time (what a seed's timestamps must be).
pub(crate) fn is_time(text: &str) -> bool {
    OffsetDateTime::parse(text, &Rfc3339).is_ok()
}

fn link(href: String) -> Value {
    json!({ "href": href })
}

fn post_link(href: String) -> Value {
    json!({ "href": href, "method": "POST" })
}

/// A user as `GET /api/v1/users/{id}` answers it; `_links` only when `org` is given.
pub(crate) fn user_json(user: &UserRecord, org: Option<&str>) -> Value {
    let mut value = json!({
        "id": user.id,
        "status": user.status.name(),
        "created": user.created,
        "activated": user.activated,
        "statusChanged": user.status_changed,
        "lastLogin": user.last_login,
        "lastUpdated": user.last_updated,
        "passwordChanged": user.password_changed,
        "type": user.user_type,
        "profile": user.profile,
        "credentials": user.credentials,
    });
    if let Some(org) = org {
        value["_links"] = user_links(user, org);
    }
    value
}

/// The `_links` of a user: itself, and the lifecycle operations its status allows.
fn user_links(user: &UserRecord, org: &str) -> Value {
    let own = format!("{org}/api/v1/users/{}", user.id);
    let mut links = Map::new();
    links.insert("self".into(), link(own.clone()));
    let operations: &[&str] = match user.status {
        UserStatus::Staged => &["activate", "deactivate"],
        UserStatus::Provisioned => &["reactivate", "deactivate"],
        UserStatus::Suspended => &["unsuspend", "deactivate"],
        UserStatus::Deprovisioned => &["activate"],
        _ => &["suspend", "deactivate"],
    };
    for op in operations {
        links.insert((*op).to_owned(), post_link(format!("{own}/lifecycle/{op}")));
    }
    Value::Object(links)
}

/// A group as `GET /api/v1/groups/{id}` answers it; `_links` only when `org` is given.
pub(crate) fn group_json(group: &GroupRecord, org: Option<&str>) -> Value {
    let mut value = json!({
        "id": group.id,
        "created": group.created,
        "lastUpdated": group.last_updated,
        "lastMembershipUpdated": group.last_membership_updated,
        "objectClass": group.object_class,
        "type": group.group_type,
        "profile": group.profile,
    });
    if let Some(org) = org {
        let own = format!("{org}/api/v1/groups/{}", group.id);
        value["_links"] = json!({
            "users": link(format!("{own}/users")),
            "apps": link(format!("{own}/apps")),
        });
    }
    value
}

/// A user's assignment as `GET /api/v1/apps/{appId}/users/{userId}` answers it (Apps
/// API, "Application User object"), for an app without provisioning.
pub(crate) fn app_user_json(
    app_id: &str,
    user: &UserRecord,
    assignment: &Assignment,
    org: &str,
) -> Value {
    json!({
        "id": user.id,
        "externalId": null,
        "created": assignment.created,
        "lastUpdated": assignment.created,
        "scope": "USER",
        "status": "ACTIVE",
        "statusChanged": assignment.created,
        "passwordChanged": null,
        "syncState": "DISABLED",
        "credentials": {"userName": user.login()},
        "profile": {},
        "_links": {
            "app": link(format!("{org}/api/v1/apps/{app_id}")),
            "user": link(format!("{org}/api/v1/users/{}", user.id)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, login: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            seq: 0,
            status: UserStatus::Active,
            created: now(),
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: now(),
            password_changed: None,
            user_type: json!({"id": "oty1"}),
            profile: json!({"login": login}).as_object().unwrap().clone(),
            credentials: json!({}),
        }
    }

    #[test]
    fn a_user_renders_with_the_keys_of_okta_s_user_object() {
        // Arrange: fixture api-user.json (Users API reference, User object).
        let fixture: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/okta-api/api-user.json"
        )))
        .unwrap();

        // Act
        let rendered = user_json(&user("00u1", "a@example.com"), Some("https://o.example"));

        // Assert
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&rendered), keys(&fixture));
        assert_eq!(
            rendered["_links"]["self"]["href"],
            "https://o.example/api/v1/users/00u1"
        );
        assert_eq!(rendered["_links"]["deactivate"]["method"], "POST");
    }

    #[test]
    fn okta_times_have_milliseconds_and_a_z() {
        let at = OffsetDateTime::from_unix_timestamp(1_372_091_958).unwrap();
        assert_eq!(okta_time(at), "2013-06-24T16:39:18.000Z");
        assert!(is_time("2013-06-24T16:39:18.000Z"));
        assert!(!is_time("yesterday"));
    }

    #[test]
    fn a_user_is_found_by_id_or_by_login_in_any_case() {
        let mut store = Store::default();
        let mut ada = user("00u1", "Ada@Example.com");
        ada.seq = store.register("00u1");
        store.users.insert(ada.id.clone(), ada);
        assert!(store.find_user("00u1").is_some());
        assert_eq!(
            store.find_user_id("ada@example.COM").as_deref(),
            Some("00u1")
        );
        assert!(store.find_user("nobody").is_none());
        assert!(store.login_taken("ADA@example.com", None));
        assert!(!store.login_taken("ada@example.com", Some("00u1")));
    }
}
