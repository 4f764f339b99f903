//! Test helpers: start an emulator on a free port and talk to it with reqwest.

use ic_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use reqwest::Method;
use serde_json::{Value, json};

/// The token every test emulator accepts.
pub const TOKEN: &str = "test-token-1";

/// The `User-Agent` the tests' client sends: Identity Center blocks PATCH requests without
/// one (`docs/identity-center-dialect.md` §7).
pub const USER_AGENT: &str = "ic-emulator-tests/1";

/// A running emulator and an HTTP client for it.
pub struct Ctx {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
}

/// An answer: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Ctx {
    pub async fn new() -> Self {
        Self::with(EmulatorConfig::new(TOKEN)).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let running = Emulator::start(config, "127.0.0.1:0").await.unwrap();
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .unwrap();
        Self { running, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path)
    }

    pub async fn send_with(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response.text().await.unwrap();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).unwrap()
        };
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        self.send_with(method, &self.url(path), Some(TOKEN), body)
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// Lists with query pairs, percent-encoded by reqwest.
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        let url = reqwest::Url::parse_with_params(&self.url(path), query).unwrap();
        self.send_with(Method::GET, url.as_str(), Some(TOKEN), None)
            .await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self.post("/Users", &user_body(user_name)).await;
        assert_eq!(r.status, 201, "{}", r.raw);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        let r = self.post("/Groups", &json!({"displayName": name})).await;
        assert_eq!(r.status, 201, "{}", r.raw);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Adds members to a group with PatchGroup.
    pub async fn add_members(&self, group: &str, users: &[&str]) {
        let r = self
            .patch(&format!("/Groups/{group}"), &add_members_body(users))
            .await;
        assert_eq!(r.status, 204, "{}", r.raw);
    }
}

/// A valid CreateUser body.
pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": format!("Display {user_name}"),
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}]
    })
}

/// A PatchOp body with the given operations.
pub fn patch_ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A PatchGroup body adding members.
pub fn add_members_body(users: &[&str]) -> Value {
    let members: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    patch_ops(json!([{"op": "add", "path": "members", "value": members}]))
}

/// Asserts an Identity Center error answer: status, and the AWS body shape.
pub fn assert_aws_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.raw);
    let err = "urn:ietf:params:scim:api:messages:2.0:Error";
    assert_eq!(r.body["schema"], json!([err]), "{}", r.raw);
    assert_eq!(r.body["schemas"], json!([err]), "{}", r.raw);
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.raw);
    assert!(r.body["detail"].is_string());
    assert!(r.body.get("scimType").is_none());
    assert_eq!(
        r.body["exceptionRequestId"].as_str(),
        r.header("x-amzn-requestid")
    );
}
