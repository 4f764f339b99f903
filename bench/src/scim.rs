//! The fixed SCIM workload the latency benchmark sends down every path: a user created,
//! looked up by `userName`, replaced, patched, added to a group and removed from it, each
//! request in Identity Center's own dialect so the emulator can take it straight.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Client, Method};
use serde::Deserialize;
use serde_json::{Value, json};

/// One kind of request in the workload, in the order a user goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Lookup,
    Put,
    Patch,
    MemberAdd,
    MemberRemove,
}

/// The workload's operations, in the order each iteration sends them.
pub const OPS: [Op; 6] = [
    Op::Create,
    Op::Lookup,
    Op::Put,
    Op::Patch,
    Op::MemberAdd,
    Op::MemberRemove,
];

impl Op {
    /// The name used in the results and the report.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Lookup => "lookup",
            Op::Put => "put",
            Op::Patch => "patch",
            Op::MemberAdd => "member-add",
            Op::MemberRemove => "member-remove",
        }
    }
}

/// A SCIM base URL and the bearer token it takes.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub name: String,
    pub scim: String,
    pub token: String,
}

/// What one path needs across the workload: its group and the user the current
/// iteration works on.
#[derive(Debug)]
pub struct Workload {
    target: Target,
    group_id: String,
    user_id: Option<String>,
    /// Requests answered 429 or 503 and sent again, as Okta does.
    pub retries: u64,
}

impl Workload {
    /// Creates the path's group, named after the path and `tag` so runs don't collide.
    pub async fn start(client: &Client, target: Target, tag: &str) -> Result<Self> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": format!("bench-{}-{tag}", target.name),
        });
        let mut retries = 0;
        let (status, group) = send_again_when_busy(
            client,
            &target,
            Method::POST,
            "/Groups",
            Some(body),
            &mut retries,
        )
        .await?;
        if status != 201 {
            bail!(
                "{}: creating the group answered {status}: {group}",
                target.name
            );
        }
        let group_id = id_of(&group).with_context(|| format!("{}: group id", target.name))?;
        Ok(Workload {
            target,
            group_id,
            user_id: None,
            retries,
        })
    }

    /// The path's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// Sends `op` for user `user` (a name unique within the run) and returns how long
    /// the answer took, from the first byte sent to the last byte read. A 429 or 503 is
    /// sent again after a pause, as Okta does; the time includes the retries.
    pub async fn step(&mut self, client: &Client, op: Op, user: &str) -> Result<Duration> {
        let (method, path, body, expected) = self.request(op, user)?;
        let started = Instant::now();
        let (status, answer) =
            send_again_when_busy(client, &self.target, method, &path, body, &mut self.retries)
                .await?;
        let elapsed = started.elapsed();
        if !expected.contains(&status) {
            bail!(
                "{} {} {path}: answered {status}: {answer}",
                self.target.name,
                op.name()
            );
        }
        match op {
            Op::Create => self.user_id = Some(id_of(&answer)?),
            Op::Lookup if answer["totalResults"] != json!(1) => {
                bail!("{}: look-up of {user} found {answer}", self.target.name)
            }
            _ => {}
        }
        Ok(elapsed)
    }

    fn request(
        &self,
        op: Op,
        user: &str,
    ) -> Result<(Method, String, Option<Value>, &'static [u16])> {
        let id = || {
            self.user_id
                .clone()
                .context("the workload sends Create before the other operations")
        };
        Ok(match op {
            Op::Create => (
                Method::POST,
                "/Users".into(),
                Some(user_body(user, "")),
                &[201],
            ),
            Op::Lookup => {
                let filter = format!("userName eq \"{user}\"");
                let query = utf8_percent_encode(&filter, NON_ALPHANUMERIC);
                (Method::GET, format!("/Users?filter={query}"), None, &[200])
            }
            Op::Put => {
                let mut body = user_body(user, " (replaced)");
                body["id"] = json!(id()?);
                (Method::PUT, format!("/Users/{}", id()?), Some(body), &[200])
            }
            Op::Patch => (
                Method::PATCH,
                format!("/Users/{}", id()?),
                Some(patch(json!([{
                    "op": "replace", "path": "displayName", "value": format!("{user} (patched)")
                }]))),
                &[200, 204],
            ),
            Op::MemberAdd => (
                Method::PATCH,
                format!("/Groups/{}", self.group_id),
                Some(patch(json!([{
                    "op": "add", "path": "members", "value": [{"value": id()?}]
                }]))),
                &[200, 204],
            ),
            Op::MemberRemove => (
                Method::PATCH,
                format!("/Groups/{}", self.group_id),
                Some(patch(json!([{
                    "op": "remove", "path": format!("members[value eq \"{}\"]", id()?)
                }]))),
                &[200, 204],
            ),
        })
    }
}

fn user_body(user: &str, suffix: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user,
        "name": {"givenName": "Bench", "familyName": format!("User{suffix}")},
        "displayName": format!("Bench User{suffix}"),
        "emails": [{"value": user, "type": "work", "primary": true}],
        "active": true,
    })
}

fn patch(operations: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

fn id_of(resource: &Value) -> Result<String> {
    resource["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {resource}"))
}

/// Sends a request, and again after a pause while the answer is 429 or 503 (at most 20
/// times), counting the repeats in `retries`.
async fn send_again_when_busy(
    client: &Client,
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
    retries: &mut u64,
) -> Result<(u16, Value)> {
    let mut attempt = 0;
    loop {
        let (status, answer) = send(client, target, method.clone(), path, body.clone()).await?;
        if !matches!(status, 429 | 503) || attempt == 20 {
            return Ok((status, answer));
        }
        attempt += 1;
        *retries += 1;
        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
    }
}

/// Sends one SCIM request as Okta's client does (bearer token, `application/scim+json`)
/// and reads the whole answer.
pub async fn send(
    client: &Client,
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut request = client
        .request(method, format!("{}{path}", target.scim))
        .bearer_auth(&target.token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .header("accept", "application/scim+json");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{}: request {path}", target.name))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    Ok((status, value))
}
