//! [`InMemoryMirror`]: the mirror of Identity Center kept in the process, for
//! `scimgw dev`, the tests, and any deployment without a state table (where it still
//! saves the reads of a warm Lambda instance).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use scim_core::Resource as _;

pub use crate::ports::mirror::{Mirror, MirrorError, MirroredGroup, MirroredUser};

/// Users and groups by id, in memory, with the ids by `externalId` and the users' ids by
/// lowercased `userName` (so no look-up reads every entry).
#[derive(Debug, Default)]
pub struct InMemoryMirror {
    users: Mutex<HashMap<String, MirroredUser>>,
    groups: Mutex<HashMap<String, MirroredGroup>>,
    user_ids: Mutex<HashMap<String, String>>,
    group_ids: Mutex<HashMap<String, String>>,
    user_names: Mutex<HashMap<String, String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl InMemoryMirror {
    /// An empty mirror.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops `user_name`'s entry in `names` if it still leads to `id` (renamed or gone).
    fn unname(&self, names: &mut HashMap<String, String>, user_name: &str, id: &str) {
        let key = user_name.to_lowercase();
        if names.get(&key).is_some_and(|named| named == id) {
            names.remove(&key);
        }
    }

    /// How many users and groups it holds.
    pub fn len(&self) -> (usize, usize) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner()).len();
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner()).len();
        (users, groups)
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

#[async_trait]
impl Mirror for InMemoryMirror {
    async fn user(&self, id: &str) -> Result<Option<MirroredUser>, MirrorError> {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        Ok(users.get(id).cloned())
    }

    async fn put_user(&self, entry: MirroredUser) -> Result<(), MirrorError> {
        if let Some(id) = entry.user.id().map(str::to_owned) {
            if let Some(external_id) = entry.user.external_id() {
                lock(&self.user_ids).insert(external_id.to_owned(), id.clone());
            }
            let name = entry.user.user_name.to_lowercase();
            let previous = lock(&self.users).insert(id.clone(), entry);
            let mut names = lock(&self.user_names);
            if let Some(previous) = previous {
                self.unname(&mut names, &previous.user.user_name, &id);
            }
            names.insert(name, id);
        }
        Ok(())
    }

    async fn user_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError> {
        Ok(lock(&self.user_ids).get(external_id).cloned())
    }

    async fn forget_user(&self, id: &str) -> Result<(), MirrorError> {
        if let Some(previous) = lock(&self.users).remove(id) {
            self.unname(&mut lock(&self.user_names), &previous.user.user_name, id);
        }
        Ok(())
    }

    async fn user_id_by_name(&self, user_name: &str) -> Result<Option<String>, MirrorError> {
        Ok(lock(&self.user_names)
            .get(&user_name.to_lowercase())
            .cloned())
    }

    async fn group(&self, id: &str) -> Result<Option<MirroredGroup>, MirrorError> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        Ok(groups.get(id).cloned())
    }

    async fn put_group(&self, mut entry: MirroredGroup) -> Result<(), MirrorError> {
        entry.group.members = None;
        if let Some(id) = entry.group.id().map(str::to_owned) {
            if let Some(external_id) = entry.group.external_id() {
                lock(&self.group_ids).insert(external_id.to_owned(), id.clone());
            }
            lock(&self.groups).insert(id, entry);
        }
        Ok(())
    }

    async fn group_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError> {
        Ok(lock(&self.group_ids).get(external_id).cloned())
    }

    async fn forget_group(&self, id: &str) -> Result<(), MirrorError> {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, user_name: &str) -> MirroredUser {
        let user = serde_json::json!({
            "schemas": [scim_core::USER_SCHEMA], "id": id, "userName": user_name,
            "externalId": format!("00u-{id}")
        });
        MirroredUser {
            user: scim_core::User::from_value(user).unwrap(),
            created_at: None,
        }
    }

    #[tokio::test]
    async fn users_are_found_by_name_in_any_case_by_their_current_name_only() {
        // Arrange
        let mirror = InMemoryMirror::new();
        mirror
            .put_user(user("u-1", "Ada@Example.com"))
            .await
            .unwrap();
        mirror
            .put_user(user("u-2", "grace@example.com"))
            .await
            .unwrap();

        // Act: u-1 renamed, u-2 forgotten.
        mirror
            .put_user(user("u-1", "ada.l@example.com"))
            .await
            .unwrap();
        mirror.forget_user("u-2").await.unwrap();

        // Assert
        let by = |name: &'static str| mirror.user_id_by_name(name);
        assert_eq!(
            by("ADA.L@example.com").await.unwrap().as_deref(),
            Some("u-1")
        );
        assert_eq!(by("ada@example.com").await.unwrap(), None);
        assert_eq!(by("grace@example.com").await.unwrap(), None);
        assert_eq!(
            mirror
                .user_id_by_external_id("00u-u-1")
                .await
                .unwrap()
                .as_deref(),
            Some("u-1")
        );
    }
}
