//! Inbound bearer authentication: which SCIM clients may call the gateway.
//!
//! The inbound-token secret holds SHA-256 hashes, never the tokens themselves, so that a
//! reader of the secret (or of a leaked copy) cannot call the gateway. It holds one or two
//! hashes, so a token rotates without downtime: add the new token's hash, switch Okta to
//! the new token, then remove the old hash.
//!
//! The secret's format (a JSON object, in Secrets Manager's `SecretString`):
//!
//! ```json
//! {"token_sha256": ["<64 hex digits>", "<64 hex digits>"]}
//! ```
//!
//! where each entry is the lowercase or uppercase hex SHA-256 of a token's UTF-8 bytes,
//! e.g. `printf %s "$TOKEN" | sha256sum`. The [`gateway::Actor`] of a request names the slot
//! that matched (`scim-token-1` or `scim-token-2`), so the audit trail shows which token
//! a client used, and when the old one stopped being used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::{SecretError, SecretId, SecretSource};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::http::{BearerError, parse_bearer};

/// At most this many inbound tokens are valid at once, as Identity Center does for its own.
pub const MAX_INBOUND_TOKENS: usize = 2;

/// Tokens longer than this are refused unhashed: no legitimate bearer token is that long,
/// and hashing megabytes per request would be free work for an attacker.
const MAX_TOKEN_LEN: usize = 4096;

/// How often a presented token that matches no cached hash may trigger a fresh read of
/// the secret. The refresh lets a newly added token work at once instead of after the
/// cache's TTL; the limit stops a stream of wrong tokens from hammering the secret store.
const REFRESH_ON_MISS_INTERVAL: Duration = Duration::from_secs(30);

/// The SHA-256 of a token, as 64 lowercase hex digits: what the secret stores.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The inbound-token secret's value as JSON, e.g. for `scimgw dev` to put in its secret
/// source: `{"token_sha256": [sha256(token), …]}`.
pub fn inbound_tokens_secret(tokens: &[&str]) -> String {
    let hashes: Vec<String> = tokens.iter().map(|t| hash_token(t)).collect();
    serde_json::json!({ "token_sha256": hashes }).to_string()
}

/// The parsed inbound-token secret: one or two SHA-256 digests.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundTokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for InboundTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes are not secrets, but there is nothing to learn from printing them either.
        f.debug_struct("InboundTokens")
            .field("slots", &self.digests.len())
            .finish()
    }
}

/// Why the inbound-token secret could not be used. Messages never carry its content.
#[derive(Debug, thiserror::Error)]
pub enum TokenSecretError {
    /// The secret could not be read.
    #[error("inbound tokens: the secret could not be read")]
    Read(#[source] SecretError),
    /// The secret is not `{"token_sha256": [...]}` with one or two 64-digit hex hashes.
    #[error("inbound tokens: the secret is malformed: {0}")]
    Malformed(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretWire {
    token_sha256: Vec<String>,
}

impl InboundTokens {
    /// Parses the secret's value (see the module documentation for the format).
    pub fn parse(secret: &str) -> Result<Self, TokenSecretError> {
        let wire: SecretWire = serde_json::from_str(secret).map_err(|_| {
            TokenSecretError::Malformed("expected {\"token_sha256\": [\"<hex>\", …]}")
        })?;
        if wire.token_sha256.is_empty() || wire.token_sha256.len() > MAX_INBOUND_TOKENS {
            return Err(TokenSecretError::Malformed(
                "token_sha256 must hold one or two hashes",
            ));
        }
        let digests = wire
            .token_sha256
            .iter()
            .map(|h| parse_digest(h.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenSecretError::Malformed(
                "each hash must be 64 hex digits (SHA-256)",
            ))?;
        Ok(Self { digests })
    }

    /// The 1-based slot whose hash the token matches. Every slot is compared, in constant
    /// time, whatever matched first, so timing reveals neither the slot nor the hash.
    pub fn matching_slot(&self, token: &str) -> Option<usize> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (index, digest) in self.digests.iter().enumerate() {
            if bool::from(digest.ct_eq(&presented)) && found.is_none() {
                found = Some(index + 1);
            }
        }
        found
    }
}

fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// Who called, as far as authentication can tell: the inbound-token slot that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The credential's name for the audit trail, e.g. `scim-token-1`. Never the token.
    pub credential: String,
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no bearer token")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>` with a well-formed token.
    #[error("malformed bearer token")]
    Malformed,
    /// A well-formed token that matches no valid one.
    #[error("invalid bearer token")]
    Invalid,
    /// The valid tokens could not be read: a fault of the gateway, not of the caller.
    #[error(transparent)]
    Secret(#[from] TokenSecretError),
}

/// Checks `Authorization: Bearer <token>` headers against the inbound-token secret, read
/// through a [`SecretSource`] (whose adapter caches it with a TTL).
pub struct BearerAuthenticator {
    secrets: Arc<dyn SecretSource>,
    secret_id: SecretId,
    last_refresh: Mutex<Option<Instant>>,
    /// The whole header value is the secret (Okta's event hooks send `Authorization:
    /// <secret>`), rather than `Bearer <token>`.
    raw: bool,
    /// What the audit trail calls slot N: `<credential>-N`.
    credential: &'static str,
}

impl std::fmt::Debug for BearerAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuthenticator")
            .field("secret_id", &self.secret_id)
            .finish()
    }
}

impl BearerAuthenticator {
    /// An authenticator reading the hashes from the secret `secret_id`.
    pub fn new(secrets: Arc<dyn SecretSource>, secret_id: SecretId) -> Self {
        Self {
            secrets,
            secret_id,
            last_refresh: Mutex::new(None),
            raw: false,
            credential: "scim-token",
        }
    }

    /// An authenticator of Okta event hooks: the whole `Authorization` value is the
    /// shared secret, its hash is in `secret_id` in the same format, and the actor is
    /// `hook-secret-1` or `hook-secret-2`.
    pub fn hook_secret(secrets: Arc<dyn SecretSource>, secret_id: SecretId) -> Self {
        Self {
            raw: true,
            credential: "hook-secret",
            ..Self::new(secrets, secret_id)
        }
    }

    /// Authenticates the value of an `Authorization` header (`None` when absent).
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Authenticated, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = if self.raw {
            raw_secret(header)?
        } else {
            bearer_token(header)?
        };
        let current = self.tokens(false).await?;
        if let Some(slot) = current.matching_slot(token) {
            return Ok(self.slot_actor(slot));
        }
        // The token may be one just added by a rotation the cache has not seen yet.
        if self.may_refresh().await {
            let fresh = self.tokens(true).await?;
            if let Some(slot) = fresh.matching_slot(token) {
                return Ok(self.slot_actor(slot));
            }
        }
        Err(AuthError::Invalid)
    }

    async fn tokens(&self, fresh: bool) -> Result<InboundTokens, TokenSecretError> {
        let value = if fresh {
            self.secrets.get_fresh(&self.secret_id).await
        } else {
            self.secrets.get(&self.secret_id).await
        }
        .map_err(TokenSecretError::Read)?;
        InboundTokens::parse(value.expose())
    }

    async fn may_refresh(&self) -> bool {
        let mut last = self.last_refresh.lock().await;
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < REFRESH_ON_MISS_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }
}

impl BearerAuthenticator {
    fn slot_actor(&self, slot: usize) -> Authenticated {
        Authenticated {
            credential: format!("{}-{slot}", self.credential),
        }
    }
}

/// A whole header value as a secret: UTF-8, not blank, no longer than a token can be.
fn raw_secret(header: &[u8]) -> Result<&str, AuthError> {
    let text = std::str::from_utf8(header).map_err(|_| AuthError::Malformed)?;
    if text.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    if text.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    Ok(text)
}

/// The token of `Bearer <token>`, no longer than an inbound token can be.
fn bearer_token(header: &[u8]) -> Result<&str, AuthError> {
    let token = parse_bearer(header).map_err(|error| match error {
        BearerError::Missing => AuthError::Missing,
        BearerError::Malformed => AuthError::Malformed,
    })?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use gateway::InMemorySecretSource;

    use super::*;

    const ID: &str = "arn:aws:secretsmanager:eu-west-1:1:secret:scim-tokens";

    fn authenticator(secret: &str) -> (BearerAuthenticator, Arc<InMemorySecretSource>) {
        let source = Arc::new(InMemorySecretSource::with(&SecretId::new(ID), secret));
        (
            BearerAuthenticator::new(source.clone(), SecretId::new(ID)),
            source,
        )
    }

    #[test]
    fn a_token_hash_is_the_hex_sha256_of_its_bytes() {
        // The value `printf %s abc | sha256sum` prints.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_secret_holds_one_or_two_hex_hashes_and_nothing_else() {
        let one = inbound_tokens_secret(&["a"]);
        let two = inbound_tokens_secret(&["a", "b"]);
        assert!(InboundTokens::parse(&one).is_ok());
        assert!(
            InboundTokens::parse(&two.to_uppercase().replace("TOKEN_SHA256", "token_sha256"))
                .is_ok()
        );
        for bad in [
            "",
            "plain-token",
            r#"{"token_sha256": []}"#,
            r#"{"token_sha256": ["abc"]}"#,
            r#"{"token_sha256": ["zz"]}"#,
            &inbound_tokens_secret(&["a", "b", "c"]),
            r#"{"tokens": ["x"]}"#,
        ] {
            assert!(InboundTokens::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_matching_slot_is_reported_and_a_wrong_token_matches_none() {
        // Arrange
        let tokens = InboundTokens::parse(&inbound_tokens_secret(&["old", "new"])).unwrap();

        // Act / Assert
        assert_eq!(tokens.matching_slot("old"), Some(1));
        assert_eq!(tokens.matching_slot("new"), Some(2));
        assert_eq!(tokens.matching_slot("neww"), None);
        assert_eq!(tokens.matching_slot(""), None);
    }

    #[tokio::test]
    async fn both_tokens_authenticate_during_a_rotation() {
        // Arrange
        let (auth, _) = authenticator(&inbound_tokens_secret(&["old-token", "new-token"]));

        // Act
        let old = auth.authenticate(Some(b"Bearer old-token")).await.unwrap();
        let new = auth.authenticate(Some(b"bearer  new-token")).await.unwrap();

        // Assert
        assert_eq!(old.credential, "scim-token-1");
        assert_eq!(new.credential, "scim-token-2");
    }

    #[tokio::test]
    async fn missing_malformed_and_wrong_headers_are_told_apart() {
        // Arrange
        let (auth, _) = authenticator(&inbound_tokens_secret(&["t0ken"]));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));

        // Act / Assert
        assert!(matches!(
            auth.authenticate(None).await,
            Err(AuthError::Missing)
        ));
        for malformed in [
            &b"t0ken"[..],
            b"Basic dDBrZW4=",
            b"Bearer",
            b"Bearer ",
            b"Bearer t0ken extra",
            b"Bearer t\x00ken",
            b"Bearer t\xffken",
            long.as_bytes(),
        ] {
            assert!(
                matches!(
                    auth.authenticate(Some(malformed)).await,
                    Err(AuthError::Malformed)
                ),
                "{}",
                String::from_utf8_lossy(malformed)
            );
        }
        assert!(matches!(
            auth.authenticate(Some(b"Bearer t0ken2")).await,
            Err(AuthError::Invalid)
        ));
    }

    #[tokio::test]
    async fn a_token_added_by_a_rotation_is_accepted_through_a_fresh_read() {
        // Arrange
        let (auth, source) = authenticator(&inbound_tokens_secret(&["old"]));
        assert!(auth.authenticate(Some(b"Bearer old")).await.is_ok());

        // Act: the secret gains the new token.
        source.set(&SecretId::new(ID), &inbound_tokens_secret(&["old", "new"]));
        let result = auth.authenticate(Some(b"Bearer new")).await;

        // Assert
        assert_eq!(result.unwrap().credential, "scim-token-2");
    }

    #[tokio::test]
    async fn wrong_tokens_do_not_read_the_secret_afresh_more_than_once_per_interval() {
        // Arrange
        let (auth, source) = authenticator(&inbound_tokens_secret(&["right"]));

        // Act
        for _ in 0..10 {
            assert!(auth.authenticate(Some(b"Bearer wrong")).await.is_err());
        }

        // Assert: ten cached reads plus a single fresh one.
        assert_eq!(source.reads(), 11);
    }

    #[tokio::test]
    async fn an_unreadable_or_malformed_secret_is_a_gateway_fault() {
        let (auth, _) = authenticator("not json");
        assert!(matches!(
            auth.authenticate(Some(b"Bearer x")).await,
            Err(AuthError::Secret(TokenSecretError::Malformed(_)))
        ));
        let missing = BearerAuthenticator::new(
            Arc::new(InMemorySecretSource::new()),
            SecretId::new("missing"),
        );
        assert!(matches!(
            missing.authenticate(Some(b"Bearer x")).await,
            Err(AuthError::Secret(TokenSecretError::Read(_)))
        ));
    }
}
