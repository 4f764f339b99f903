//! The seed document: an org's users, groups, memberships and app assignments in the
//! Okta API's own shapes, loaded whole in place of the emulator's org (and what
//! `state()` answers, so that a state saved as JSON loads back as a seed).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::store::{
    Assignment, GroupRecord, Store, UserRecord, UserStatus, group_json, is_time, now, user_json,
};

/// An org to load: `{"users": [Okta user objects], "groups": [Okta group objects],
/// "memberships": {"<group id>": ["<user id>", …]}, "apps": {"<app id>": ["<user id>", …]}}`.
///
/// Users need `id` and `profile.login` (unique without regard to case); `status` defaults
/// to `ACTIVE`, timestamps to the load time, `type` to the org's default type. Groups need
/// `id` and `profile.name`; `type` defaults to `OKTA_GROUP`. `_links` are ignored and
/// regenerated; a `credentials.password` is kept as `{}`, as Okta answers it. Ids are kept
/// as given: letters, digits, `-` and `_`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Users as `GET /api/v1/users/{id}` answers them.
    #[serde(default)]
    pub users: Vec<Value>,
    /// Groups as `GET /api/v1/groups/{id}` answers them.
    #[serde(default)]
    pub groups: Vec<Value>,
    /// Group id → the ids of its members.
    #[serde(default)]
    pub memberships: BTreeMap<String, Vec<String>>,
    /// App id → the ids of the users assigned to it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, Vec<String>>,
}

impl Seed {
    /// An ACTIVE user object with the profile Okta's default user type requires (`login`,
    /// `email`, `firstName`, `lastName`), for building seeds in tests.
    pub fn user_object(id: &str, login: &str) -> Value {
        let local = login.split('@').next().unwrap_or(login);
        json!({
            "id": id,
            "status": "ACTIVE",
            "profile": {
                "login": login,
                "email": login,
                "firstName": local,
                "lastName": "Seeded",
            },
        })
    }

    /// An `OKTA_GROUP` group object, for building seeds in tests.
    pub fn group_object(id: &str, name: &str) -> Value {
        json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": name}})
    }

    /// The user with this id, if the seed holds one.
    pub fn user(&self, id: &str) -> Option<&Value> {
        self.users.iter().find(|u| u["id"] == id)
    }

    /// The group with this id, if the seed holds one.
    pub fn group(&self, id: &str) -> Option<&Value> {
        self.groups.iter().find(|g| g["id"] == id)
    }

    /// The ids of a group's members (empty for an unknown group).
    pub fn members(&self, group_id: &str) -> &[String] {
        self.memberships
            .get(group_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Why a seed cannot be loaded. Nothing of it is loaded then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// A user object is not usable.
    #[error("okta-emulator: seed: users[{index}]: {problem}")]
    User {
        /// Its position in `users`.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A group object is not usable.
    #[error("okta-emulator: seed: groups[{index}]: {problem}")]
    Group {
        /// Its position in `groups`.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// `memberships` names a group the seed does not hold.
    #[error("okta-emulator: seed: memberships name group {group}, which is not in groups")]
    UnknownGroup {
        /// The group id.
        group: String,
    },
    /// `memberships` or `apps` names a user the seed does not hold.
    #[error("okta-emulator: seed: {place} names user {user}, which is not in users")]
    UnknownUser {
        /// Where: `memberships of group …` or `apps[…]`.
        place: String,
        /// The user id.
        user: String,
    },
    /// An app id is not usable in a path.
    #[error("okta-emulator: seed: app id {0:?} must be letters, digits, '-' and '_'")]
    AppId(String),
}

/// Whether `id` can be an emulator id: non-empty letters, digits, `-` and `_`, so that
/// it is one path segment as it stands.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Store {
    /// An org holding exactly `seed`, or why it cannot.
    pub(crate) fn from_seed(seed: &Seed, default_type: &Value) -> Result<Store, SeedError> {
        let mut store = Store::default();
        let stamp = now();
        let mut logins = HashSet::new();
        for (index, value) in seed.users.iter().enumerate() {
            let problem = |problem: String| SeedError::User { index, problem };
            let mut user = seeded_user(value, default_type, &stamp).map_err(problem)?;
            if store.id_taken(&user.id) {
                return Err(problem(format!("id {} is given twice", user.id)));
            }
            if !logins.insert(user.login().to_lowercase()) {
                return Err(problem(format!(
                    "login {} is given twice (compared without case)",
                    user.login()
                )));
            }
            user.seq = store.register(&user.id);
            store.users.insert(user.id.clone(), user);
        }
        let mut names = HashSet::new();
        for (index, value) in seed.groups.iter().enumerate() {
            let problem = |problem: String| SeedError::Group { index, problem };
            let mut group = seeded_group(value, &stamp).map_err(problem)?;
            if store.id_taken(&group.id) {
                return Err(problem(format!("id {} is given twice", group.id)));
            }
            if !names.insert(group.name().to_lowercase()) {
                return Err(problem(format!("name {} is given twice", group.name())));
            }
            group.seq = store.register(&group.id);
            store.groups.insert(group.id.clone(), group);
        }
        for (group_id, members) in &seed.memberships {
            let group = store
                .groups
                .get_mut(group_id)
                .ok_or_else(|| SeedError::UnknownGroup {
                    group: group_id.clone(),
                })?;
            for member in members {
                if !store.users.contains_key(member) {
                    return Err(SeedError::UnknownUser {
                        place: format!("memberships of group {group_id}"),
                        user: member.clone(),
                    });
                }
                group.members.insert(member.clone());
            }
        }
        for (app_id, assigned) in &seed.apps {
            if !is_valid_id(app_id) {
                return Err(SeedError::AppId(app_id.clone()));
            }
            for user in assigned {
                if !store.users.contains_key(user) {
                    return Err(SeedError::UnknownUser {
                        place: format!("apps[{app_id}]"),
                        user: user.clone(),
                    });
                }
                store.apps.entry(app_id.clone()).or_default().insert(
                    user.clone(),
                    Assignment {
                        created: stamp.clone(),
                    },
                );
            }
        }
        Ok(store)
    }

    /// The org as a seed, in creation order and without `_links`.
    pub(crate) fn to_seed(&self) -> Seed {
        let groups = self.groups_in_order();
        Seed {
            users: self
                .users_in_order()
                .into_iter()
                .map(|u| user_json(u, None))
                .collect(),
            groups: groups.iter().map(|g| group_json(g, None)).collect(),
            memberships: groups
                .iter()
                .map(|g| {
                    let members = self.members_of(g).iter().map(|u| u.id.clone()).collect();
                    (g.id.clone(), members)
                })
                .collect(),
            apps: self
                .apps
                .iter()
                .map(|(app, assigned)| {
                    let mut users: Vec<&UserRecord> = assigned
                        .keys()
                        .filter_map(|id| self.users.get(id))
                        .collect();
                    users.sort_by_key(|u| u.seq);
                    (app.clone(), users.iter().map(|u| u.id.clone()).collect())
                })
                .collect(),
        }
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{what} must be a JSON object"))
}

fn id_of(object: &Map<String, Value>) -> Result<String, String> {
    match object.get("id").and_then(Value::as_str) {
        Some(id) if is_valid_id(id) => Ok(id.to_owned()),
        Some(id) => Err(format!("id {id:?} must be letters, digits, '-' and '_'")),
        None => Err("id is missing".into()),
    }
}

/// An optional timestamp field: absent or null, or an RFC 3339 string.
fn time_field(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_time(s) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be an RFC 3339 time, not {other}")),
    }
}

fn seeded_user(value: &Value, default_type: &Value, stamp: &str) -> Result<UserRecord, String> {
    let object = object(value, "a user")?;
    let id = id_of(object)?;
    let status = match object.get("status") {
        None | Some(Value::Null) => UserStatus::Active,
        Some(Value::String(name)) => {
            UserStatus::parse(name).ok_or_else(|| format!("status {name} is not Okta's"))?
        }
        Some(other) => return Err(format!("status must be a string, not {other}")),
    };
    let profile = object
        .get("profile")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("profile must be a JSON object")?;
    match profile.get("login").and_then(Value::as_str) {
        Some(login) if !login.trim().is_empty() => {}
        _ => return Err("profile.login is missing or blank".into()),
    }
    let user_type = match object.get("type") {
        None | Some(Value::Null) => default_type.clone(),
        Some(t @ Value::Object(_)) => t.clone(),
        Some(other) => return Err(format!("type must be an object, not {other}")),
    };
    let created = time_field(object, "created")?.unwrap_or_else(|| stamp.to_owned());
    let activated = time_field(object, "activated")?;
    let activated = match (activated, status) {
        (None, s) if s != UserStatus::Staged => Some(created.clone()),
        (a, _) => a,
    };
    Ok(UserRecord {
        id,
        seq: 0,
        status,
        activated,
        status_changed: time_field(object, "statusChanged")?,
        last_login: time_field(object, "lastLogin")?,
        last_updated: time_field(object, "lastUpdated")?.unwrap_or_else(|| created.clone()),
        password_changed: time_field(object, "passwordChanged")?,
        created,
        user_type,
        profile,
        credentials: seeded_credentials(object.get("credentials")),
    })
}

/// The credentials to keep: the provider as given, a password only as `{}`.
fn seeded_credentials(given: Option<&Value>) -> Value {
    let mut credentials = Map::new();
    let given = given.and_then(Value::as_object);
    if given.is_some_and(|c| c.contains_key("password")) {
        credentials.insert("password".into(), json!({}));
    }
    let provider = given
        .and_then(|c| c.get("provider"))
        .filter(|p| p.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"type": "OKTA", "name": "OKTA"}));
    credentials.insert("provider".into(), provider);
    Value::Object(credentials)
}

fn seeded_group(value: &Value, stamp: &str) -> Result<GroupRecord, String> {
    let object = object(value, "a group")?;
    let id = id_of(object)?;
    let profile = object
        .get("profile")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("profile must be a JSON object")?;
    match profile.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => {}
        _ => return Err("profile.name is missing or blank".into()),
    }
    let group_type = match object.get("type") {
        None | Some(Value::Null) => "OKTA_GROUP".to_owned(),
        Some(Value::String(t)) if ["OKTA_GROUP", "APP_GROUP", "BUILT_IN"].contains(&t.as_str()) => {
            t.clone()
        }
        Some(other) => {
            return Err(format!(
                "type must be OKTA_GROUP, APP_GROUP or BUILT_IN, not {other}"
            ));
        }
    };
    let created = time_field(object, "created")?.unwrap_or_else(|| stamp.to_owned());
    let last_updated = time_field(object, "lastUpdated")?.unwrap_or_else(|| created.clone());
    Ok(GroupRecord {
        id,
        seq: 0,
        group_type,
        last_membership_updated: time_field(object, "lastMembershipUpdated")?
            .unwrap_or_else(|| last_updated.clone()),
        last_updated,
        created,
        object_class: object
            .get("objectClass")
            .filter(|c| c.is_array())
            .cloned()
            .unwrap_or_else(|| json!(["okta:user_group"])),
        profile,
        members: BTreeSet::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_type() -> Value {
        json!({"id": "oty0"})
    }

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../../tests/fixtures/okta-api/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn okta_s_own_user_and_group_objects_load_as_they_are() {
        // Arrange: the Users and Groups API reference examples, as answered by Okta.
        let user = fixture("api-user.json");
        let group = fixture("api-group.json");
        let seed = Seed {
            memberships: BTreeMap::from([(
                "00g1emaKYZTWRYYRRTSK".to_owned(),
                vec!["00ub0oNGTSWTBKOLGLNR".to_owned()],
            )]),
            users: vec![user.clone()],
            groups: vec![group.clone()],
            ..Seed::default()
        };

        // Act
        let store = Store::from_seed(&seed, &default_type()).unwrap();
        let back = store.to_seed();

        // Assert: ids, statuses, timestamps, profiles kept; no password value.
        let loaded = &back.users[0];
        for key in ["id", "status", "created", "lastLogin", "profile", "type"] {
            assert_eq!(loaded[key], user[key], "{key}");
        }
        assert_eq!(loaded["credentials"]["password"], json!({}));
        for key in [
            "id",
            "type",
            "profile",
            "lastMembershipUpdated",
            "objectClass",
        ] {
            assert_eq!(back.groups[0][key], group[key], "{key}");
        }
        assert_eq!(
            back.members("00g1emaKYZTWRYYRRTSK"),
            ["00ub0oNGTSWTBKOLGLNR"]
        );
    }

    #[test]
    fn memberships_naming_unknown_ids_are_refused_with_the_id() {
        let base = Seed {
            users: vec![Seed::user_object("u1", "u1@example.com")],
            groups: vec![Seed::group_object("g1", "G1")],
            ..Seed::default()
        };
        let unknown_group = Seed {
            memberships: BTreeMap::from([("g2".to_owned(), vec!["u1".to_owned()])]),
            ..base.clone()
        };
        let unknown_member = Seed {
            memberships: BTreeMap::from([("g1".to_owned(), vec!["u9".to_owned()])]),
            ..base.clone()
        };
        let unknown_assignee = Seed {
            apps: BTreeMap::from([("0oa1".to_owned(), vec!["u9".to_owned()])]),
            ..base
        };

        let e1 = Store::from_seed(&unknown_group, &default_type()).unwrap_err();
        let e2 = Store::from_seed(&unknown_member, &default_type()).unwrap_err();
        let e3 = Store::from_seed(&unknown_assignee, &default_type()).unwrap_err();

        assert_eq!(e1, SeedError::UnknownGroup { group: "g2".into() });
        assert!(
            e2.to_string()
                .contains("memberships of group g1 names user u9"),
            "{e2}"
        );
        assert!(e3.to_string().contains("apps[0oa1] names user u9"), "{e3}");
    }

    #[test]
    fn unusable_objects_are_refused_with_their_position() {
        let cases = [
            (json!({"profile": {"login": "a"}}), "id is missing"),
            (
                json!({"id": "a/b", "profile": {"login": "a"}}),
                "must be letters",
            ),
            (json!({"id": "u1", "profile": {}}), "profile.login"),
            (
                json!({"id": "u1", "status": "HAPPY", "profile": {"login": "a"}}),
                "not Okta's",
            ),
            (
                json!({"id": "u1", "created": "monday", "profile": {"login": "a"}}),
                "RFC 3339",
            ),
        ];
        for (user, expected) in cases {
            let seed = Seed {
                users: vec![Seed::user_object("u0", "first@example.com"), user],
                ..Seed::default()
            };
            let error = Store::from_seed(&seed, &default_type()).unwrap_err();
            assert!(
                matches!(&error, SeedError::User { index: 1, problem } if problem.contains(expected)),
                "{error}"
            );
        }
        let twice = Seed {
            users: vec![
                Seed::user_object("u1", "Same@example.com"),
                Seed::user_object("u2", "same@EXAMPLE.com"),
            ],
            ..Seed::default()
        };
        assert!(
            Store::from_seed(&twice, &default_type())
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
    }

    #[test]
    fn a_seed_document_refuses_unknown_top_level_keys() {
        assert!(serde_json::from_str::<Seed>(r#"{"users": [], "grups": []}"#).is_err());
        let minimal: Seed = serde_json::from_str(r#"{"users": []}"#).unwrap();
        assert!(minimal.apps.is_empty() && minimal.groups.is_empty());
    }
}
