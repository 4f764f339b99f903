//! [`JwksVerifier`]: verifies Okta-issued OIDC access tokens for the audit API against
//! the issuer's JSON Web Key Set (RFC 7517), fetched with reqwest and cached.
//!
//! What a token must pass, in order (RFC 8725, "JWT Best Current Practices"):
//! 1. a compact JWS of sane size whose header names an algorithm on the allow-list.
//!    `none` and every HMAC algorithm are refused before anything else, whatever the
//!    configuration says (RFC 8725 §2.1, §3.1): a verifier that accepted `HS256` could
//!    be fed a token "signed" with the issuer's *public* key as the HMAC secret;
//! 2. a `kid` naming a key of the issuer's set, of the family and curve the algorithm
//!    needs (RFC 8725 §3.1: the key decides the algorithm family, never the token);
//!    symmetric (`oct`) keys in the set are never loaded;
//! 3. the signature; then `iss` (the issuer's exact string, never a list), `aud` and
//!    `exp` (all required) and `nbf` (when present), with a small leeway for clock skew;
//! 4. the required scope in `scp` (Okta: a JSON array) or `scope` (RFC 8693 §4.2,
//!    RFC 9068 §2.2.3: a space-separated string), so that a token the issuer minted
//!    for another purpose, or an ID token, is not accepted (else 403, not 401);
//! 5. when an allow-list of OAuth clients is configured, the token's client (Okta's
//!    `cid`, RFC 9068's `client_id`) on it (else 403): a token issued to another app
//!    of the org is not replayable here;
//! 6. the required group in the configured claim (else 403).
//!
//! The key set is cached for a TTL. A `kid` not in the cache triggers a refetch (Okta
//! rotates keys, and a new key signs tokens before a cache would expire), but at most
//! once per [`JwksVerifierConfig::min_refresh_interval`], so that a client spraying
//! made-up `kid`s cannot make the gateway hammer the issuer. When a refetch fails the
//! cached keys keep serving.
//!
//! No token, and no claim value, is ever logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway::{AccessTokenVerifier, Auditor, TokenError};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

/// The claim that carries an Okta user's groups, unless configured otherwise.
pub const DEFAULT_GROUP_CLAIM: &str = "groups";

/// Clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// How long a fetched key set is used before it is fetched again.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);

/// The least time between two fetches of the key set, whatever triggers them.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The time allowed for one fetch of the key set.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Tokens longer than this are refused unread. Okta's access tokens are about 1 KiB;
/// many groups make them longer, but not this long.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Key sets longer than this are refused: a key set holds a handful of keys.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The scope a token must carry unless configured otherwise: the audit API's read
/// scope, defined on the Okta authorization server (docs/deploy.md).
pub const DEFAULT_REQUIRED_SCOPE: &str = "scimgw.audit.read";

/// The algorithms accepted unless configured otherwise: Okta signs with RS256; ES256
/// for issuers (like `scimgw dev`'s) that use elliptic curves.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256];

/// What the verifier checks tokens against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksVerifierConfig {
    /// The exact `iss` tokens must carry, e.g. `https://example.okta.com/oauth2/default`.
    pub issuer: String,
    /// The `aud` tokens must carry (the authorization server's audience).
    pub audience: String,
    /// Where the key set is fetched: `{issuer}/v1/keys` (Okta's custom authorization
    /// servers) unless configured.
    pub jwks_url: String,
    /// The claim holding the caller's groups.
    pub group_claim: String,
    /// The group a caller must be in.
    pub required_group: String,
    /// The scope a token must carry, in `scp` or `scope`.
    pub required_scope: String,
    /// The OAuth clients (`cid` or `client_id`) whose tokens are accepted; empty: any.
    pub allowed_client_ids: Vec<String>,
    /// The accepted signature algorithms; never `HS*`.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long a fetched key set is used.
    pub cache_ttl: Duration,
    /// The least time between two fetches.
    pub min_refresh_interval: Duration,
    /// The time allowed for one fetch.
    pub fetch_timeout: Duration,
}

impl JwksVerifierConfig {
    /// A configuration with the defaults: keys at `{issuer}/v1/keys`, groups in
    /// `groups`, the scope [`DEFAULT_REQUIRED_SCOPE`], any client, RS256 and ES256.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        required_group: impl Into<String>,
    ) -> Self {
        let issuer = issuer.into();
        Self {
            jwks_url: format!("{}/v1/keys", issuer.trim_end_matches('/')),
            issuer,
            audience: audience.into(),
            group_claim: DEFAULT_GROUP_CLAIM.to_owned(),
            required_group: required_group.into(),
            required_scope: DEFAULT_REQUIRED_SCOPE.to_owned(),
            allowed_client_ids: Vec::new(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            cache_ttl: DEFAULT_CACHE_TTL,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// Fetches the key set from `url` instead of `{issuer}/v1/keys`, when given.
    #[must_use]
    pub fn with_jwks_url(mut self, url: Option<String>) -> Self {
        if let Some(url) = url {
            self.jwks_url = url;
        }
        self
    }

    /// Reads the groups from `claim` instead of `groups`.
    #[must_use]
    pub fn with_group_claim(mut self, claim: impl Into<String>) -> Self {
        self.group_claim = claim.into();
        self
    }

    /// Requires `scope` instead of [`DEFAULT_REQUIRED_SCOPE`].
    #[must_use]
    pub fn with_required_scope(mut self, scope: impl Into<String>) -> Self {
        self.required_scope = scope.into();
        self
    }

    /// Accepts only tokens issued to these OAuth clients (`cid` or `client_id`); an
    /// empty list accepts any client.
    #[must_use]
    pub fn with_allowed_client_ids(mut self, client_ids: Vec<String>) -> Self {
        self.allowed_client_ids = client_ids;
        self
    }

    /// Accepts these algorithms instead of the defaults.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: Vec<Algorithm>) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Sets the least time between two fetches of the key set.
    #[must_use]
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Sets how long a fetched key set is used.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    fn check(&self) -> Result<(), JwksConfigError> {
        for (name, value) in [
            ("issuer", &self.issuer),
            ("audience", &self.audience),
            ("group claim", &self.group_claim),
            ("required group", &self.required_group),
        ] {
            if value.trim().is_empty() {
                return Err(JwksConfigError::Empty(name));
            }
        }
        if !is_scope_token(&self.required_scope) {
            return Err(JwksConfigError::Scope);
        }
        if self
            .allowed_client_ids
            .iter()
            .any(|id| id.is_empty() || id.trim() != id)
        {
            return Err(JwksConfigError::ClientId);
        }
        if !is_allowed_url(&self.jwks_url) {
            return Err(JwksConfigError::Url);
        }
        if self.algorithms.is_empty() {
            return Err(JwksConfigError::NoAlgorithm);
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| a.family() == AlgorithmFamily::Hmac)
        {
            return Err(JwksConfigError::RefusedAlgorithm(*alg));
        }
        Ok(())
    }
}

/// One scope token (RFC 6749 §3.3): printable ASCII other than space, `"` and `\`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// HTTPS, or plain HTTP to a loopback host (`scimgw dev`, tests): keys fetched over
/// plain HTTP from elsewhere could be swapped by anyone on the path.
fn is_allowed_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => parsed.host_str().is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// A configuration the verifier cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum JwksConfigError {
    /// A required value is empty.
    #[error("jwks: the {0} is empty")]
    Empty(&'static str),
    /// The key set's URL is not https (or http to a loopback host).
    #[error("jwks: the key set URL must be https (plain http only to a loopback host)")]
    Url,
    /// The required scope is not one scope token (RFC 6749 §3.3): empty, or with a
    /// space, `"` or `\`.
    #[error("jwks: the required scope must be one scope token (no spaces)")]
    Scope,
    /// An allowed client id is empty or has surrounding whitespace.
    #[error("jwks: an allowed client id is empty or has surrounding whitespace")]
    ClientId,
    /// No algorithm would be accepted.
    #[error("jwks: no signature algorithm is allowed")]
    NoAlgorithm,
    /// An HMAC algorithm was configured: never accepted (see the module docs).
    #[error("jwks: algorithm {0:?} is never accepted: only asymmetric algorithms are")]
    RefusedAlgorithm(Algorithm),
    /// The HTTP client could not be built.
    #[error("jwks: the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}

/// Why the key set could not be fetched.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("jwks: the key set could not be fetched")]
    Transport(#[source] reqwest::Error),
    #[error("jwks: the issuer answered HTTP {0}")]
    Status(u16),
    #[error("jwks: the key set is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("jwks: the key set is not a JSON object with `keys`")]
    Malformed,
}

/// A key of the set, ready to verify with.
#[derive(Clone)]
struct VerifyingKey {
    key: DecodingKey,
    family: AlgorithmFamily,
    /// The JWK's `alg`, when it names one: the only algorithm the key may verify.
    alg: Option<Algorithm>,
    /// The JWK's curve, for EC keys.
    curve: Option<EllipticCurve>,
}

impl VerifyingKey {
    /// Whether this key may verify a signature made with `alg` (RFC 8725 §3.1).
    fn fits(&self, alg: Algorithm) -> bool {
        if alg.family() != self.family || self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        match alg {
            Algorithm::ES256 => self.curve == Some(EllipticCurve::P256),
            Algorithm::ES384 => self.curve == Some(EllipticCurve::P384),
            _ => true,
        }
    }
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Verifies access tokens against an issuer's key set; see the module docs. Build it
/// once per cold start and share it: the key cache lives inside.
pub struct JwksVerifier {
    config: JwksVerifierConfig,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Held while fetching, so that concurrent misses wait for one fetch.
    refresh: Mutex<()>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("issuer", &self.config.issuer)
            .field("jwks_url", &self.config.jwks_url)
            .finish_non_exhaustive()
    }
}

impl JwksVerifier {
    /// A verifier for `config`, with its own HTTP client. Fetches nothing yet.
    pub fn new(config: JwksVerifierConfig) -> Result<Self, JwksConfigError> {
        config.check()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.fetch_timeout)
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(JwksConfigError::Client)?;
        Ok(Self {
            config,
            http,
            keys: RwLock::new(Keys::default()),
            refresh: Mutex::new(()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &JwksVerifierConfig {
        &self.config
    }

    /// The key named `kid`, from the cache while it is fresh, else after a fetch (at
    /// most one per `min_refresh_interval`).
    async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, TokenError> {
        let now = Instant::now();
        let fresh = |keys: &Keys| {
            keys.fetched_at
                .is_some_and(|t| now.duration_since(t) < self.config.cache_ttl)
        };
        {
            let keys = self.keys.read().await;
            if fresh(&keys)
                && let Some(key) = keys.by_kid.get(kid)
            {
                return Ok(key.clone());
            }
        }
        let _fetching = self.refresh.lock().await;
        let now = Instant::now();
        {
            let keys = self.keys.read().await;
            let fresh_enough = keys
                .fetched_at
                .is_some_and(|t| now.duration_since(t) < self.config.cache_ttl);
            // Another request may have fetched while this one waited.
            if fresh_enough && let Some(key) = keys.by_kid.get(kid) {
                return Ok(key.clone());
            }
            let recently_tried = keys
                .last_attempt
                .is_some_and(|t| now.duration_since(t) < self.config.min_refresh_interval);
            if recently_tried {
                return keys
                    .by_kid
                    .get(kid)
                    .cloned()
                    .ok_or(TokenError::Invalid("unknown signing key"));
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.keys.write().await;
        keys.last_attempt = Some(now);
        match fetched {
            Ok(by_kid) => {
                tracing::info!(keys = by_kid.len(), url = %self.config.jwks_url, "jwks: key set fetched");
                keys.by_kid = by_kid;
                keys.fetched_at = Some(now);
                keys.by_kid
                    .get(kid)
                    .cloned()
                    .ok_or(TokenError::Invalid("unknown signing key"))
            }
            Err(error) => {
                tracing::warn!(error = %crate_cause_chain(&error), url = %self.config.jwks_url, "jwks: fetch failed; cached keys keep serving");
                keys.by_kid.get(kid).cloned().ok_or(TokenError::Unavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, FetchError> {
        let mut response = self
            .http
            .get(&self.config.jwks_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(FetchError::Transport)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }
}

/// The usable signing keys of a key set, by `kid`. Keys this verifier cannot or must
/// not use are skipped rather than failing the set: a set may hold encryption keys or
/// algorithms we do not know, next to the key that matters.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<VerifyingKey>>, FetchError> {
    let set: Value = serde_json::from_slice(body).map_err(|_| FetchError::Malformed)?;
    let entries = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(FetchError::Malformed)?;
    let mut keys = HashMap::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty()) else {
            continue;
        };
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            continue;
        }
        let (family, curve) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
            AlgorithmParameters::EllipticCurve(p) => (AlgorithmFamily::Ec, Some(p.curve.clone())),
            AlgorithmParameters::OctetKeyPair(_) => (AlgorithmFamily::Ed, None),
            // A shared secret published as a "public" key is never a verifying key.
            _ => continue,
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(named) => match Algorithm::try_from(named) {
                Ok(alg) if alg.family() == family => Some(alg),
                _ => continue,
            },
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.insert(
            kid,
            Arc::new(VerifyingKey {
                key,
                family,
                alg,
                curve,
            }),
        );
    }
    Ok(keys)
}

/// The header fields the verifier reads, parsed by hand so that `alg: none` and
/// unknown algorithms are refused with a reason rather than as a parse error.
fn read_header(token: &str) -> Result<(String, Option<String>), TokenError> {
    let malformed = TokenError::Invalid("malformed token");
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed.clone())?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| malformed.clone())?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(malformed)?
        .to_owned();
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok((alg, kid))
}

#[async_trait]
impl AccessTokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<Auditor, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid("malformed token"));
        }
        let (alg_name, kid) = read_header(token)?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(TokenError::Invalid(
                "unsigned tokens (alg none) are refused",
            ));
        }
        let alg: Algorithm = alg_name
            .parse()
            .map_err(|_| TokenError::Invalid("unknown algorithm"))?;
        // Explicit, even though the allow-list cannot hold HMAC: see the module docs.
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(TokenError::Invalid("symmetric algorithms are refused"));
        }
        if !self.config.algorithms.contains(&alg) {
            return Err(TokenError::Invalid("algorithm not allowed"));
        }
        let kid = kid
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or(TokenError::Invalid("no key id"))?;
        let key = self.key(&kid).await?;
        if !key.fits(alg) {
            return Err(TokenError::Invalid(
                "the signing key does not fit the algorithm",
            ));
        }

        let mut validation = Validation::new(alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let claims = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| TokenError::Invalid(reason(e.kind())))?
            .claims;
        // RFC 7519 §4.1.1: `iss` is one string. jsonwebtoken also takes a list, and passes
        // it when any member matches, so a list naming other issuers beside this one would
        // pass; only the issuer itself does.
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(TokenError::Invalid("wrong issuer"));
        }

        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::Invalid("no subject"))?
            .to_owned();
        if !has_scope(&claims, &self.config.required_scope) {
            return Err(TokenError::Forbidden("the token lacks the required scope"));
        }
        let client_id = client_of(&claims)?;
        if !self.config.allowed_client_ids.is_empty()
            && !client_id
                .as_deref()
                .is_some_and(|c| self.config.allowed_client_ids.iter().any(|a| a == c))
        {
            return Err(TokenError::Forbidden(
                "the token was issued to a client that is not allowed",
            ));
        }
        let in_group = match claims.get(&self.config.group_claim) {
            Some(Value::Array(groups)) => groups
                .iter()
                .any(|g| g.as_str() == Some(self.config.required_group.as_str())),
            Some(Value::String(group)) => *group == self.config.required_group,
            _ => false,
        };
        if !in_group {
            return Err(TokenError::Forbidden("the token lacks the required group"));
        }
        Ok(Auditor { subject, client_id })
    }
}

/// Whether the token's scopes hold `required`: Okta's `scp` (a JSON array; a
/// space-separated string is taken too, as some issuers write it) and RFC 9068's
/// `scope` (a space-separated string, and nothing else), compared exactly.
fn has_scope(claims: &Value, required: &str) -> bool {
    let in_list = |scopes: &str| scopes.split(' ').any(|s| s == required);
    let scp = match claims.get("scp") {
        Some(Value::Array(scopes)) => scopes.iter().any(|s| s.as_str() == Some(required)),
        Some(Value::String(scopes)) => in_list(scopes),
        _ => false,
    };
    scp || claims
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(in_list)
}

/// The OAuth client the token was issued to: Okta's `cid`, else RFC 9068's
/// `client_id`. A token that names two different clients is refused.
fn client_of(claims: &Value) -> Result<Option<String>, TokenError> {
    let named = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    match (named("cid"), named("client_id")) {
        (Some(cid), Some(client_id)) if cid != client_id => Err(TokenError::Forbidden(
            "the token names two different clients",
        )),
        (Some(client), _) | (None, Some(client)) => Ok(Some(client)),
        (None, None) => Ok(None),
    }
}

fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidClaimFormat(_) => "a claim is malformed",
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => "algorithm refused",
        _ => "malformed token",
    }
}

fn crate_cause_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_algorithms_and_plain_http_to_other_hosts_are_refused_in_the_configuration() {
        let base = JwksVerifierConfig::new(
            "https://example.okta.com/oauth2/default",
            "api://audit",
            "auditors",
        );
        assert_eq!(
            base.jwks_url,
            "https://example.okta.com/oauth2/default/v1/keys"
        );
        assert!(JwksVerifier::new(base.clone()).is_ok());
        let hs = base
            .clone()
            .with_algorithms(vec![Algorithm::RS256, Algorithm::HS256]);
        assert!(matches!(
            JwksVerifier::new(hs),
            Err(JwksConfigError::RefusedAlgorithm(Algorithm::HS256))
        ));
        let plain = base
            .clone()
            .with_jwks_url(Some("http://example.okta.com/keys".into()));
        assert!(matches!(
            JwksVerifier::new(plain),
            Err(JwksConfigError::Url)
        ));
        let local = base
            .clone()
            .with_jwks_url(Some("http://127.0.0.1:9/keys".into()));
        assert!(JwksVerifier::new(local).is_ok());
        let empty = JwksVerifierConfig::new("https://i", "", "g");
        assert!(matches!(
            JwksVerifier::new(empty),
            Err(JwksConfigError::Empty("audience"))
        ));
    }

    #[test]
    fn the_required_scope_is_one_scope_token_and_client_ids_are_trimmed_values() {
        let base = JwksVerifierConfig::new(
            "https://example.okta.com/oauth2/aus1",
            "api://scimgw-audit",
            "auditors",
        );
        assert_eq!(base.required_scope, DEFAULT_REQUIRED_SCOPE);
        assert!(base.allowed_client_ids.is_empty());
        for bad in ["", "two scopes", "quo\"te", "back\\slash"] {
            assert!(
                matches!(
                    JwksVerifier::new(base.clone().with_required_scope(bad)),
                    Err(JwksConfigError::Scope)
                ),
                "{bad:?}"
            );
        }
        assert!(JwksVerifier::new(base.clone().with_required_scope("audit:read")).is_ok());
        for bad in [vec![String::new()], vec![" 0oa1".to_owned()]] {
            assert!(matches!(
                JwksVerifier::new(base.clone().with_allowed_client_ids(bad)),
                Err(JwksConfigError::ClientId)
            ));
        }
    }

    #[test]
    fn scopes_are_read_from_scp_and_scope_and_compared_exactly() {
        let required = "scimgw.audit.read";
        let yes = [
            serde_json::json!({"scp": ["openid", required]}),
            serde_json::json!({"scp": required}),
            serde_json::json!({"scope": format!("openid {required} profile")}),
            serde_json::json!({"scp": ["openid"], "scope": required}),
        ];
        for claims in yes {
            assert!(has_scope(&claims, required), "{claims}");
        }
        let no = [
            serde_json::json!({}),
            serde_json::json!({"scp": []}),
            serde_json::json!({"scp": ["SCIMGW.AUDIT.READ", "scimgw.audit.read.all"]}),
            serde_json::json!({"scope": "scimgw.audit.readx scimgw.audit"}),
            serde_json::json!({"scope": ["scimgw.audit.read"]}),
            serde_json::json!({"scp": [{"scope": required}], "scope": 7}),
        ];
        for claims in no {
            assert!(!has_scope(&claims, required), "{claims}");
        }
    }

    #[test]
    fn the_client_is_cid_or_client_id_and_two_different_ones_are_refused() {
        let client = |v: serde_json::Value| client_of(&v);
        assert_eq!(
            client(serde_json::json!({"cid": "a"})),
            Ok(Some("a".into()))
        );
        assert_eq!(
            client(serde_json::json!({"client_id": "b"})),
            Ok(Some("b".into()))
        );
        assert_eq!(
            client(serde_json::json!({"cid": "a", "client_id": "a"})),
            Ok(Some("a".into()))
        );
        assert_eq!(client(serde_json::json!({"cid": 7})), Ok(None));
        assert!(matches!(
            client(serde_json::json!({"cid": "a", "client_id": "b"})),
            Err(TokenError::Forbidden(_))
        ));
    }

    #[test]
    fn a_key_set_keeps_only_signing_keys_with_a_kid_and_never_a_symmetric_one() {
        // Arrange
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-hs", "alg": "HS256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "weird", "kid": "w"}
        ]});

        // Act
        let keys = parse_key_set(set.to_string().as_bytes()).unwrap();

        // Assert
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ec-1"]);
        let key = &keys["ec-1"];
        assert!(key.fits(Algorithm::ES256));
        assert!(!key.fits(Algorithm::ES384));
        assert!(!key.fits(Algorithm::RS256));
        assert!(!key.fits(Algorithm::HS256));
    }

    #[test]
    fn a_malformed_key_set_is_refused() {
        assert!(matches!(parse_key_set(b"[]"), Err(FetchError::Malformed)));
        assert!(matches!(
            parse_key_set(b"not json"),
            Err(FetchError::Malformed)
        ));
    }

    #[test]
    fn the_header_is_read_by_hand_and_shapes_other_than_a_compact_jws_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k"}"#);
        assert_eq!(
            read_header(&format!("{header}.e30.")),
            Ok(("none".into(), Some("k".into())))
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.x",
            &format!("{}.e30.x", URL_SAFE_NO_PAD.encode(b"[]")),
        ] {
            assert_eq!(
                read_header(bad),
                Err(TokenError::Invalid("malformed token")),
                "{bad}"
            );
        }
    }
}
