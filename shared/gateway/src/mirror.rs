//! [`InMemoryMirror`]: the mirror of Identity Center kept in the process, for
//! `scimgw dev`, the tests, and any deployment without a state table (where it still
//! saves the reads of a warm Lambda instance).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use scim_core::Resource as _;

pub use crate::ports::mirror::{Mirror, MirrorError, MirroredGroup, MirroredUser};

/// Users and groups by id, in memory, with the ids by `externalId`.
#[derive(Debug, Default)]
pub struct InMemoryMirror {
    users: Mutex<HashMap<String, MirroredUser>>,
    groups: Mutex<HashMap<String, MirroredGroup>>,
    user_ids: Mutex<HashMap<String, String>>,
    group_ids: Mutex<HashMap<String, String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl InMemoryMirror {
    /// An empty mirror.
    pub fn new() -> Self {
        Self::default()
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
            lock(&self.users).insert(id, entry);
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
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }

    async fn user_id_by_name(&self, user_name: &str) -> Result<Option<String>, MirrorError> {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        Ok(users
            .iter()
            .find(|(_, e)| e.user.user_name.to_lowercase() == user_name.to_lowercase())
            .map(|(id, _)| id.clone()))
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
