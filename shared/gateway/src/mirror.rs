//! [`InMemoryMirror`]: the mirror of Identity Center kept in the process, for
//! `scimgw dev`, the tests, and any deployment without a state table (where it still
//! saves the reads of a warm Lambda instance).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use scim_core::Resource as _;

pub use crate::ports::mirror::{Mirror, MirrorError, MirroredGroup, MirroredUser};

/// Users and groups by id, in memory.
#[derive(Debug, Default)]
pub struct InMemoryMirror {
    users: Mutex<HashMap<String, MirroredUser>>,
    groups: Mutex<HashMap<String, MirroredGroup>>,
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
            let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
            users.insert(id, entry);
        }
        Ok(())
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
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups.insert(id, entry);
        }
        Ok(())
    }

    async fn forget_group(&self, id: &str) -> Result<(), MirrorError> {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }
}
