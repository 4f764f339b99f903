//! The auditor console: a web page at `/audit/ui` over the audit API (search, a
//! subject's timeline, the verify verdict, export, the access reports), signing auditors in with OpenID
//! Connect (authorization code with PKCE, RFC 7636) against the audit API's issuer.
//!
//! The page, its script and its style sheet are embedded in the binary and served
//! without a token: they hold no data. Everything the page shows comes from
//! `/audit/records`, `/audit/verify` and `/audit/access…` with the auditor's access token, which the
//! script keeps in memory only. Every answer carries a strict Content-Security-Policy
//! (scripts and styles from this origin only, no inline code; connections to this
//! origin and the issuer's only; never framed).
//!
//! `GET /audit/ui/config.json` tells the script where to sign in: the issuer, the
//! console's OAuth client id (`AUDIT_CONSOLE_CLIENT_ID`) and the scopes to ask for.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use http::header::{
    CONTENT_SECURITY_POLICY, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use serde_json::json;

use super::AuditApp;
use crate::http::body_response;

/// Where the console's page is served.
pub const CONSOLE_PATH: &str = "/audit/ui";

const INDEX_HTML: &[u8] = include_bytes!("console/index.html");
const CONSOLE_JS: &[u8] = include_bytes!("console/console.js");
const CONSOLE_CSS: &[u8] = include_bytes!("console/console.css");

/// What the console needs to sign auditors in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// The OpenID Connect issuer: the audit API's `JWT_ISSUER`.
    pub issuer: String,
    /// The console's OAuth client (an Okta single-page app); `None`: the console is
    /// not set up, and the page says so.
    pub client_id: Option<String>,
    /// The scope the audit API requires, asked for with `openid`.
    pub scope: String,
}

impl ConsoleConfig {
    /// The issuer's origin (`scheme://host[:port]`), which the page may connect to for
    /// discovery and the token endpoint; `None` when the issuer is not an absolute URL.
    pub fn issuer_origin(&self) -> Option<String> {
        let uri: http::Uri = self.issuer.parse().ok()?;
        let scheme = uri
            .scheme_str()
            .filter(|s| matches!(*s, "https" | "http"))?;
        let authority = uri.authority()?;
        Some(format!("{scheme}://{authority}"))
    }

    /// The Content-Security-Policy of every console answer.
    pub fn content_security_policy(&self) -> String {
        content_security_policy(self.issuer_origin().as_deref())
    }
}

/// [`content_security_policy`] without an issuer.
const SELF_ONLY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The console's Content-Security-Policy: scripts and styles from this origin only, no
/// inline code; connections to this origin and the issuer's (discovery, the token
/// endpoint) only; no forms, no base URL, never framed.
fn content_security_policy(issuer_origin: Option<&str>) -> String {
    match issuer_origin {
        Some(origin) => SELF_ONLY_POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ),
        None => SELF_ONLY_POLICY.to_owned(),
    }
}

/// The console's routes, served without authentication (they hold no data).
pub(crate) fn routes() -> Router<Arc<AuditApp>> {
    Router::new()
        .route(CONSOLE_PATH, get(page))
        // `ui/` would resolve the page's relative links one level too deep.
        .route("/audit/ui/", get(to_page))
        .route("/audit/ui/console.js", get(script))
        .route("/audit/ui/console.css", get(style))
        .route("/audit/ui/config.json", get(config))
}

async fn page(State(app): State<Arc<AuditApp>>) -> Response {
    asset(&app, "text/html; charset=utf-8", INDEX_HTML)
}

async fn script(State(app): State<Arc<AuditApp>>) -> Response {
    asset(&app, "text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style(State(app): State<Arc<AuditApp>>) -> Response {
    asset(&app, "text/css; charset=utf-8", CONSOLE_CSS)
}

async fn to_page(State(app): State<Arc<AuditApp>>) -> Response {
    // Relative, so that an API Gateway stage in front of /audit is kept.
    let mut response = asset(&app, "text/plain; charset=utf-8", b"");
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("../ui"));
    response
}

async fn config(State(app): State<Arc<AuditApp>>) -> Response {
    let body = match &app.console {
        Some(console) => json!({
            "issuer": console.issuer,
            "client_id": console.client_id,
            "scope": format!("openid {}", console.scope),
        }),
        None => json!({"issuer": null, "client_id": null, "scope": null}),
    };
    asset(
        &app,
        "application/json",
        body.to_string().into_bytes().as_slice(),
    )
}

fn asset(app: &AuditApp, content_type: &'static str, body: &[u8]) -> Response {
    let csp = app.console.as_ref().map_or_else(
        || content_security_policy(None),
        ConsoleConfig::content_security_policy,
    );
    let headers: Vec<(HeaderName, HeaderValue)> = [
        // Never without a policy: the stricter one when the issuer's would not do.
        (
            CONTENT_SECURITY_POLICY,
            Some(
                HeaderValue::from_str(&csp)
                    .unwrap_or_else(|_| HeaderValue::from_static(SELF_ONLY_POLICY)),
            ),
        ),
        (
            X_CONTENT_TYPE_OPTIONS,
            Some(HeaderValue::from_static("nosniff")),
        ),
        (X_FRAME_OPTIONS, Some(HeaderValue::from_static("DENY"))),
        (
            REFERRER_POLICY,
            Some(HeaderValue::from_static("no-referrer")),
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    body_response(StatusCode::OK, content_type, Some(body.to_vec()), &headers)
}
