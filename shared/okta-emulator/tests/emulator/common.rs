//! Test helpers: start an emulator on a free port and talk to it with reqwest.

use okta_emulator::{Emulator, EmulatorConfig, RunningEmulator, Seed};
use reqwest::Method;
use serde_json::{Value, json};

/// The token every test emulator accepts.
pub const TOKEN: &str = "00-test-api-token";

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

    /// Every `Link` header value, in order.
    pub fn links(&self) -> Vec<String> {
        self.headers
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The URL of the `rel="next"` link, if any.
    pub fn next(&self) -> Option<String> {
        self.links().into_iter().find_map(|l| {
            l.strip_suffix("; rel=\"next\"")
                .map(|u| u.trim_start_matches('<').trim_end_matches('>').to_owned())
        })
    }

    /// The ids of a listing's items.
    pub fn ids(&self) -> Vec<String> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", self.raw))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Ctx {
    pub async fn new() -> Self {
        Self::with(EmulatorConfig::new(TOKEN)).await
    }

    pub async fn seeded(seed: Seed) -> Self {
        Self::with(EmulatorConfig::new(TOKEN).with_seed(seed)).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let running = Emulator::start(config, "127.0.0.1:0").await.unwrap();
        Self {
            running,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path)
    }

    /// Sends with an `Authorization` header of exactly `auth`, if given.
    pub async fn send_with(
        &self,
        method: Method,
        url: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut request = self.http.request(method, url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
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
        let auth = format!("SSWS {TOKEN}");
        self.send_with(method, &self.url(path), Some(&auth), body)
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    /// Follows an absolute URL, as a client follows a `next` link.
    pub async fn get_url(&self, url: &str) -> Resp {
        let auth = format!("SSWS {TOKEN}");
        self.send_with(Method::GET, url, Some(&auth), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn put_empty(&self, path: &str) -> Resp {
        self.send(Method::PUT, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates an active user and returns its id.
    pub async fn create_user(&self, login: &str) -> String {
        let r = self.post("/api/v1/users", &user_body(login)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        let r = self
            .post("/api/v1/groups", &json!({"profile": {"name": name}}))
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Follows `next` links from `path` and returns every page.
    pub async fn walk(&self, path: &str) -> Vec<Resp> {
        let mut pages = vec![self.get(path).await];
        while let Some(next) = pages.last().unwrap().next() {
            pages.push(self.get_url(&next).await);
            assert!(pages.len() < 1_000, "the walk does not end");
        }
        pages
    }
}

/// A create body with the default user type's profile.
pub fn user_body(login: &str) -> Value {
    json!({"profile": {
        "login": login,
        "email": login,
        "firstName": "Ada",
        "lastName": "Lovelace",
    }})
}

/// Asserts an Okta error answer: status, code, and the body's shape.
pub fn assert_okta_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.raw);
    assert_eq!(r.body["errorCode"], code, "{}", r.raw);
    assert_eq!(r.body["errorLink"], code, "{}", r.raw);
    assert!(r.body["errorSummary"].is_string(), "{}", r.raw);
    assert!(
        r.body["errorId"]
            .as_str()
            .is_some_and(|id| id.starts_with("oae")),
        "{}",
        r.raw
    );
    assert!(r.body["errorCauses"].is_array(), "{}", r.raw);
}
