//! The Okta directory port on the client: single reads, and listings that follow every
//! `next` link that stays on the org's own server.

use std::collections::HashSet;

use async_trait::async_trait;
use gateway::ports::okta::{OktaDirectory, OktaError, OktaGroup, OktaUser};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::OktaClient;
use super::engine::CallBudget;
use super::links::{next_link, same_origin};

/// Users API: at most 200 users a page.
const USERS_LIMIT: usize = 200;
/// Groups API, "List all member users": at most 1 000 a page.
const MEMBERS_LIMIT: usize = 1_000;
/// Apps API, "List all assigned users": at most 500 a page.
const APP_USERS_LIMIT: usize = 500;

/// What stays unescaped in an id put in a path: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An app user, narrowed to the user's id.
#[derive(Deserialize)]
struct AppUser {
    id: String,
}

/// `id` as one path segment, or `None` when it cannot name anything: empty, or a dot
/// segment that URL parsing would resolve into another path.
fn segment(id: &str) -> Option<String> {
    if id.is_empty() || id == "." || id == ".." || id.len() > 512 {
        return None;
    }
    Some(utf8_percent_encode(id, SEGMENT).to_string())
}

fn unexpected_json(path: &str, error: &serde_json::Error) -> OktaError {
    OktaError::Rejected {
        status: 200,
        message: format!(
            "{path}: the answer is not the expected JSON (line {}, column {})",
            error.line(),
            error.column()
        ),
    }
}

impl OktaClient {
    /// The URL of an API path (which starts with `/api/v1`), with a `limit` when given.
    fn api_url(&self, path: &str, limit: Option<usize>) -> Result<Url, OktaError> {
        let query = limit.map(|l| format!("?limit={l}")).unwrap_or_default();
        Url::parse(&format!("{}{path}{query}", self.org_url())).map_err(|_| OktaError::Rejected {
            status: 0,
            message: format!("{path}: not a valid URL"),
        })
    }

    /// GETs one resource: `None` on a 404.
    async fn read_one<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, OktaError> {
        let url = self.api_url(path, None)?;
        let Some(reply) = self.get(&url, &mut CallBudget::default()).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&reply.body)
            .map(Some)
            .map_err(|e| unexpected_json(path, &e))
    }

    /// Every page of a listing: `None` when a page is 404 (the parent does not exist, or
    /// was deleted during the walk).
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: Option<usize>,
    ) -> Result<Option<Vec<T>>, OktaError> {
        let mut url = self.api_url(path, limit)?;
        let mut budget = CallBudget::default();
        let mut items = Vec::new();
        let mut visited = HashSet::new();
        for _ in 0..self.max_pages {
            let Some(reply) = self.get(&url, &mut budget).await? else {
                return Ok(None);
            };
            let page: Vec<T> =
                serde_json::from_slice(&reply.body).map_err(|e| unexpected_json(path, &e))?;
            items.extend(page);
            let Some(next) = next_link(reply.links.iter().map(String::as_str)) else {
                return Ok(Some(items));
            };
            visited.insert(url);
            url = self.followable(path, &next)?;
            if visited.contains(&url) {
                return Err(OktaError::Rejected {
                    status: 200,
                    message: format!("{path}: the next link leads back to a page already read"),
                });
            }
        }
        Err(OktaError::Rejected {
            status: 200,
            message: format!("{path}: more than {} pages", self.max_pages),
        })
    }

    /// A `next` link the client may follow: an absolute URL on the org's own scheme, host
    /// and port. Anything else ends the listing with an error rather than a partial list,
    /// which the worker would take for the whole.
    fn followable(&self, path: &str, next: &str) -> Result<Url, OktaError> {
        let refused = |why: String| OktaError::Rejected {
            status: 200,
            message: format!("{path}: the next link {why}; not followed"),
        };
        let url = Url::parse(next).map_err(|_| refused("is not an absolute URL".into()))?;
        if !same_origin(&self.org, &url) {
            let elsewhere = format!(
                "{}://{}:{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port_or_known_default().unwrap_or_default()
            );
            tracing::warn!(path, elsewhere, "okta: a next link leads to another server");
            return Err(refused(format!("leads to another server ({elsewhere})")));
        }
        Ok(url)
    }

    /// Every page of a listing whose path has no parent that could be missing: a 404 is
    /// an error (an app id that names no app must not read as "nobody is assigned").
    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: Option<usize>,
    ) -> Result<Vec<T>, OktaError> {
        self.list(path, limit)
            .await?
            .ok_or_else(|| OktaError::Rejected {
                status: 404,
                message: format!("{path}: not found"),
            })
    }
}

#[async_trait]
impl OktaDirectory for OktaClient {
    async fn user(&self, id: &str) -> Result<Option<OktaUser>, OktaError> {
        let Some(id) = segment(id) else {
            return Ok(None);
        };
        self.read_one(&format!("/api/v1/users/{id}")).await
    }

    async fn group(&self, id: &str) -> Result<Option<OktaGroup>, OktaError> {
        let Some(id) = segment(id) else {
            return Ok(None);
        };
        self.read_one(&format!("/api/v1/groups/{id}")).await
    }

    async fn user_groups(&self, user_id: &str) -> Result<Option<Vec<OktaGroup>>, OktaError> {
        let Some(id) = segment(user_id) else {
            return Ok(None);
        };
        self.list(&format!("/api/v1/users/{id}/groups"), None).await
    }

    async fn group_members(&self, group_id: &str) -> Result<Option<Vec<OktaUser>>, OktaError> {
        let Some(id) = segment(group_id) else {
            return Ok(None);
        };
        self.list(&format!("/api/v1/groups/{id}/users"), Some(MEMBERS_LIMIT))
            .await
    }

    async fn users(&self) -> Result<Vec<OktaUser>, OktaError> {
        self.list_all("/api/v1/users", Some(USERS_LIMIT)).await
    }

    async fn groups(&self) -> Result<Vec<OktaGroup>, OktaError> {
        self.list_all("/api/v1/groups", None).await
    }

    async fn is_assigned_to_app(&self, app_id: &str, user_id: &str) -> Result<bool, OktaError> {
        let app = app_segment(app_id)?;
        let Some(user) = segment(user_id) else {
            return Ok(false);
        };
        let assignment: Option<AppUser> = self
            .read_one(&format!("/api/v1/apps/{app}/users/{user}"))
            .await?;
        Ok(assignment.is_some())
    }

    async fn app_user_ids(&self, app_id: &str) -> Result<Vec<String>, OktaError> {
        let app = app_segment(app_id)?;
        let users: Vec<AppUser> = self
            .list_all(&format!("/api/v1/apps/{app}/users"), Some(APP_USERS_LIMIT))
            .await?;
        Ok(users.into_iter().map(|u| u.id).collect())
    }
}

/// An app id is configuration, not data: one that cannot be a path segment is an error.
fn app_segment(app_id: &str) -> Result<String, OktaError> {
    segment(app_id).ok_or_else(|| OktaError::Rejected {
        status: 0,
        message: format!("app id {app_id:?} cannot name an app"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_one_escaped_path_segment_and_dot_segments_none() {
        assert_eq!(
            segment("00ub0oNGTSWTBKOLGLNR").as_deref(),
            Some("00ub0oNGTSWTBKOLGLNR")
        );
        assert_eq!(segment("a@b.c").as_deref(), Some("a%40b.c"));
        assert_eq!(segment("../groups").as_deref(), Some("..%2Fgroups"));
        assert_eq!(segment("x?limit=1#y").as_deref(), Some("x%3Flimit%3D1%23y"));
        for none in ["", ".", ".."] {
            assert_eq!(segment(none), None, "{none:?}");
        }
    }
}
