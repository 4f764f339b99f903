//! The sign-in side of `scimgw dev`'s local issuer, for the auditor console at
//! `/audit/ui`: OpenID Connect discovery, an authorization endpoint with a local sign-in
//! page, a token endpoint that checks PKCE (RFC 7636, S256 only) and an end-session
//! endpoint, so that the console signs in locally the way it does against Okta, with
//! nothing from outside.
//!
//! The sign-in page offers fixed accounts, no password: the dev auditor, and three that
//! the audit API must refuse (a token without the audit scope, one outside the auditors'
//! group, an expired one), so the console's refusals can be seen and tested. Codes are
//! single use and expire after [`CODE_LIFETIME`]; only the console's own page
//! (`<dev>/audit/ui`) is accepted as a redirect, so the endpoint redirects nowhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::dev_audit::{AUDITOR_GROUP, CLIENT_ID, DevIssuer, SCOPE};

/// Where the discovery document is served (OpenID Connect Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The authorization endpoint: the sign-in page.
pub const AUTHORIZE_PATH: &str = "/oauth2/v1/authorize";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/v1/token";
/// The end-session endpoint.
pub const LOGOUT_PATH: &str = "/oauth2/v1/logout";

/// How long an authorization code can be traded for tokens.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long the console's access tokens are valid.
pub const CONSOLE_TOKEN_LIFETIME: time::Duration = time::Duration::hours(1);

/// The scopes the issuer knows; others asked for are left out of the token.
const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", SCOPE];

/// The accounts of the sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Account {
    /// In the auditors' group, with the scopes asked for.
    Auditor,
    /// As the auditor, but the audit scope withheld: the API answers 403.
    Unscoped,
    /// Outside the auditors' group: the API answers 403.
    Outsider,
    /// As the auditor, with a token that expired an hour ago: the API answers 401.
    Expired,
}

const ACCOUNTS: [(Account, &str, &str); 4] = [
    (Account::Auditor, "dev-auditor", "Dev auditor"),
    (
        Account::Unscoped,
        "dev-auditor-unscoped",
        "Dev auditor, without the audit scope",
    ),
    (
        Account::Outsider,
        "dev-outsider",
        "Dev outsider, not in the auditors' group",
    ),
    (
        Account::Expired,
        "dev-auditor-expired",
        "Dev auditor, with an expired token",
    ),
];

impl Account {
    fn parse(id: &str) -> Option<Self> {
        ACCOUNTS
            .iter()
            .find(|(_, a, _)| *a == id)
            .map(|(a, _, _)| *a)
    }

    fn subject(self) -> &'static str {
        ACCOUNTS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("dev-auditor", |(_, id, _)| *id)
    }
}

/// A code handed out and not yet traded.
struct Pending {
    account: Account,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    scopes: Vec<String>,
    issued: Instant,
}

/// The sign-in endpoints' state.
pub struct DevSignIn {
    issuer: Arc<DevIssuer>,
    base: String,
    codes: Mutex<HashMap<String, Pending>>,
}

impl DevSignIn {
    /// The endpoints of `issuer`, served at `base` (the issuer's URL, the dev port).
    pub fn new(issuer: Arc<DevIssuer>, base: String) -> Arc<Self> {
        Arc::new(Self {
            issuer,
            base,
            codes: Mutex::new(HashMap::new()),
        })
    }

    /// The one redirect URI accepted: the console's page on the dev port.
    fn console_url(&self) -> String {
        format!("{}{}", self.base, edge::audit::CONSOLE_PATH)
    }

    /// The discovery document, the authorization, token and end-session endpoints.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        Router::new()
            .route(DISCOVERY_PATH, get(discovery))
            .route(AUTHORIZE_PATH, get(sign_in_page).post(sign_in))
            .route(TOKEN_PATH, axum::routing::post(token))
            .route(LOGOUT_PATH, get(logout))
            .with_state(self.clone())
    }

    /// Checks an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3), answering why
    /// not in words for the page.
    fn check(&self, params: &HashMap<String, String>) -> Result<(), String> {
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        if get("client_id") != CLIENT_ID {
            return Err(format!("unknown client_id: this issuer serves {CLIENT_ID}"));
        }
        if get("redirect_uri") != self.console_url() {
            return Err(format!(
                "redirect_uri must be the console's page, {}",
                self.console_url()
            ));
        }
        if get("response_type") != "code" {
            return Err("response_type must be code".into());
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
            return Err("a PKCE code_challenge with code_challenge_method S256 is required".into());
        }
        if get("state").is_empty() {
            return Err("state is required".into());
        }
        Ok(())
    }
}

async fn discovery(State(sign_in): State<Arc<DevSignIn>>) -> Response {
    let base = &sign_in.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "end_session_endpoint": format!("{base}{LOGOUT_PATH}"),
        "jwks_uri": format!("{base}{}", crate::dev_audit::JWKS_PATH),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": KNOWN_SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
    .into_response()
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A sign-in refused, on a page: the authorization endpoint redirects only requests
/// it accepts (RFC 6749 §4.1.2.1).
fn refused(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in refused",
        &format!("<p>{}</p>", escape(why)),
    )
}

async fn sign_in_page(
    State(sign_in): State<Arc<DevSignIn>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Err(why) = sign_in.check(&params) {
        return refused(&why);
    }
    let hidden: String = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .filter_map(|name| params.get(*name).map(|value| (name, value)))
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    })
    .collect();
    let buttons: String = ACCOUNTS
        .iter()
        .map(|(_, id, label)| {
            format!("<p><button type=\"submit\" name=\"account\" value=\"{id}\">Sign in as {label}</button></p>")
        })
        .collect();
    page(
        StatusCode::OK,
        "scimgw dev: local sign-in",
        &format!(
            "<p>The local issuer of <code>scimgw dev</code>. Choose an account; there is no \
             password.</p><form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}</form>"
        ),
    )
}

async fn sign_in(
    State(sign_in): State<Arc<DevSignIn>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    if let Err(why) = sign_in.check(&params) {
        return refused(&why);
    }
    let Some(account) = params.get("account").and_then(|a| Account::parse(a)) else {
        return refused("choose one of the accounts offered");
    };
    let code = random_text();
    let scopes = params
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| KNOWN_SCOPES.contains(s))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    let mut codes = sign_in
        .codes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    codes.retain(|_, p| p.issued.elapsed() < CODE_LIFETIME);
    codes.insert(
        code.clone(),
        Pending {
            account,
            redirect_uri: redirect_uri.clone(),
            challenge: params.get("code_challenge").cloned().unwrap_or_default(),
            nonce: params.get("nonce").cloned(),
            scopes,
            issued: Instant::now(),
        },
    );
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", params.get("state").map_or("", String::as_str))
        .finish();
    redirect(&format!("{redirect_uri}?{query}"))
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An RFC 6749 §5.2 error.
fn token_error(error: &str, description: &str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn token(
    State(sign_in): State<Arc<DevSignIn>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return token_error(
            "unsupported_grant_type",
            "only authorization_code is served",
        );
    }
    if get("client_id") != CLIENT_ID {
        return token_error("invalid_client", "unknown client_id");
    }
    // Taken out whatever follows: a code is used once.
    let pending = sign_in
        .codes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(get("code"));
    let Some(pending) = pending.filter(|p| p.issued.elapsed() < CODE_LIFETIME) else {
        return token_error("invalid_grant", "the code is unknown, used or expired");
    };
    if get("redirect_uri") != pending.redirect_uri {
        return token_error("invalid_grant", "redirect_uri differs from the sign-in's");
    }
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, get("code_verifier").as_bytes());
    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != pending.challenge {
        return token_error("invalid_grant", "the PKCE code_verifier does not match");
    }
    match tokens(&sign_in.issuer, &pending) {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(error = %error, "dev issuer: signing a token failed");
            token_error("server_error", "the token could not be signed")
        }
    }
}

fn tokens(issuer: &DevIssuer, pending: &Pending) -> anyhow::Result<serde_json::Value> {
    let subject = pending.account.subject();
    let mut scopes: Vec<&str> = pending.scopes.iter().map(String::as_str).collect();
    let mut groups = vec![AUDITOR_GROUP];
    let mut issued = time::OffsetDateTime::now_utc();
    match pending.account {
        Account::Auditor => {}
        Account::Unscoped => scopes.retain(|s| *s != SCOPE),
        Account::Outsider => groups.clear(),
        Account::Expired => issued -= CONSOLE_TOKEN_LIFETIME + time::Duration::hours(1),
    }
    let access = issuer.access_token(subject, &groups, &scopes, issued, CONSOLE_TOKEN_LIFETIME)?;
    let id = issuer.id_token(subject, CLIENT_ID, pending.nonce.as_deref(), issued)?;
    Ok(json!({
        "token_type": "Bearer",
        "access_token": access,
        "id_token": id,
        "expires_in": CONSOLE_TOKEN_LIFETIME.whole_seconds(),
        "scope": scopes.join(" "),
    }))
}

#[derive(serde::Deserialize)]
struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout(
    State(sign_in): State<Arc<DevSignIn>>,
    Query(params): Query<LogoutParams>,
) -> Response {
    match params.post_logout_redirect_uri {
        Some(uri) if uri == sign_in.console_url() => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("state", params.state.as_deref().unwrap_or_default())
                .finish();
            redirect(&format!("{uri}?{query}"))
        }
        _ => page(
            StatusCode::OK,
            "Signed out",
            "<p>Signed out of the local issuer.</p>",
        ),
    }
}

fn random_text() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in() -> (Arc<DevSignIn>, String, String) {
        let issuer = Arc::new(DevIssuer::generate("http://127.0.0.1:9".into()).unwrap());
        let sign_in = DevSignIn::new(issuer, "http://127.0.0.1:9".into());
        let verifier = "a-verifier-of-enough-length-for-rfc-7636-pkce-0123";
        let challenge = URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        );
        (sign_in, challenge, verifier.to_owned())
    }

    fn request(challenge: &str, redirect: &str) -> HashMap<String, String> {
        [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("scope", "openid scimgw.audit.read"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("account", "dev-auditor"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    async fn code_of(sign_in: &Arc<DevSignIn>, params: HashMap<String, String>) -> String {
        let response = super::sign_in(State(sign_in.clone()), Form(params)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        let query = location.split_once('?').unwrap().1;
        let pairs: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["state"], "s1");
        pairs["code"].clone()
    }

    async fn trade(
        sign_in: &Arc<DevSignIn>,
        code: &str,
        verifier: &str,
    ) -> (StatusCode, serde_json::Value) {
        let form: HashMap<String, String> = [
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:9/audit/ui"),
            ("code_verifier", verifier),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let response = token(State(sign_in.clone()), Form(form)).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_code_is_traded_once_and_only_with_its_verifier() {
        let (sign_in, challenge, verifier) = signed_in();
        let console = "http://127.0.0.1:9/audit/ui";

        let code = code_of(&sign_in, request(&challenge, console)).await;
        let wrong = trade(
            &sign_in,
            &code,
            "another-verifier-of-enough-length-0123456789",
        )
        .await;
        let code = code_of(&sign_in, request(&challenge, console)).await;
        let right = trade(&sign_in, &code, &verifier).await;
        let again = trade(&sign_in, &code, &verifier).await;

        assert_eq!(wrong.0, StatusCode::BAD_REQUEST, "{}", wrong.1);
        assert_eq!(wrong.1["error"], "invalid_grant");
        assert_eq!(right.0, StatusCode::OK, "{}", right.1);
        let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(
            right.1["access_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims["scp"], json!(["openid", SCOPE]));
        assert_eq!(claims["groups"], json!([AUDITOR_GROUP]));
        let id: serde_json::Value =
            jsonwebtoken::dangerous::insecure_decode_claims(right.1["id_token"].as_str().unwrap())
                .unwrap();
        assert_eq!(
            (id["nonce"].as_str(), id["aud"].as_str()),
            (Some("n1"), Some(CLIENT_ID))
        );
        assert_eq!(again.1["error"], "invalid_grant", "a code is used once");
    }

    #[tokio::test]
    async fn only_the_console_page_is_a_redirect_and_pkce_is_required() {
        let (sign_in, challenge, _) = signed_in();
        for (params, why) in [
            (
                request(&challenge, "https://elsewhere.example/audit/ui"),
                "redirect_uri",
            ),
            (request("", "http://127.0.0.1:9/audit/ui"), "code_challenge"),
        ] {
            let response = super::sign_in(State(sign_in.clone()), Form(params)).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
            assert!(response.headers().get(header::LOCATION).is_none(), "{why}");
        }
    }
}
