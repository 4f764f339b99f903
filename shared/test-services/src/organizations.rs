//! An AWS organization in moto for the entitlements tests: created, with OUs and
//! accounts placed in them. Test support: every call must succeed, or the test fails.

#![allow(clippy::unwrap_used)]

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{OrganizationFeatureSet, Tag};

/// Creates the caller's organization (all features) and answers its root's id.
pub async fn create_organization(client: &Client) -> String {
    client
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned()
}

/// A new OU `name` under `parent`: its id.
pub async fn create_ou(client: &Client, parent: &str, name: &str) -> String {
    client
        .create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .unwrap()
        .organizational_unit()
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

/// A new account `name` (mail `<name>@example.com`), tagged with `tags`, moved from
/// the root `root` under `parent`: its id.
pub async fn create_account(
    client: &Client,
    root: &str,
    name: &str,
    parent: &str,
    tags: &[(&str, &str)],
) -> String {
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    let id = client
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap()
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_owned();
    if parent != root {
        move_account(client, &id, root, parent).await;
    }
    id
}

/// Moves account `id` from `from` to `to`.
pub async fn move_account(client: &Client, id: &str, from: &str, to: &str) {
    client
        .move_account()
        .account_id(id)
        .source_parent_id(from)
        .destination_parent_id(to)
        .send()
        .await
        .unwrap();
}
