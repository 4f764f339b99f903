//! The JWKS verifier against a real key-set server on loopback (axum on 127.0.0.1:0)
//! that counts its fetches and can rotate its keys: every way a token must be refused,
//! the refetch on an unknown `kid` and its rate limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clients::jwks::{JwksVerifier, JwksVerifierConfig};
use gateway::{AccessTokenVerifier, TokenError};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ISSUER: &str = "https://example.okta.com/oauth2/aus-audit";
const AUDIENCE: &str = "api://scimgw-audit";
const GROUP: &str = "scimgw-auditors";
const SCOPE: &str = "scimgw.audit.read";
const CLIENT: &str = "0oa-audit-cli";

/// A signing key and its public JWK.
#[derive(Clone)]
struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn rsa(kid: &str) -> Self {
        // Key generation is slow in a debug build: one RSA key per test binary.
        static DER: LazyLock<Vec<u8>> = LazyLock::new(|| {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
            pkcs1_from_pkcs8(pair.as_der().unwrap().as_ref())
        });
        Self::new(kid, Algorithm::RS256, EncodingKey::from_rsa_der(&DER))
    }

    fn ec(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_ref()),
        )
    }

    fn new(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::from(alg));
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (RFC 5208 §5): jsonwebtoken's RSA
/// signer takes PKCS#1, aws-lc-rs generates PKCS#8.
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, header) = match input[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let bytes = (n & 0x7f) as usize;
                let len = input[2..2 + bytes]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize);
                (len, 2 + bytes)
            }
        };
        (tag, &input[header..header + len], &input[header + len..])
    }
    let (_, info, _) = tlv(der); // PrivateKeyInfo SEQUENCE
    let (_, _, rest) = tlv(info); // version INTEGER
    let (_, _, rest) = tlv(rest); // AlgorithmIdentifier SEQUENCE
    let (tag, key, _) = tlv(rest); // privateKey OCTET STRING
    assert_eq!(tag, 0x04);
    key.to_vec()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a valid auditor token, as Okta's custom authorization server issues it:
/// the scopes in `scp` (a JSON array), the client in `cid`.
fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "auditor@example.com", "cid": CLIENT,
        "scp": ["openid", SCOPE],
        "iat": now(), "nbf": now() - 5, "exp": now() + 600, "groups": ["Everyone", GROUP]
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// The key-set server's state: the keys it serves and how often it served them.
type Served = (Arc<Mutex<Vec<Jwk>>>, Arc<AtomicUsize>);

/// A key-set server: serves `keys` at `/v1/keys` and counts the fetches.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: &[&SigningKey]) -> Self {
        let keys = Arc::new(Mutex::new(
            keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>(),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let state = (keys.clone(), fetches.clone());
        let router = Router::new()
            .route(
                "/v1/keys",
                get(|State((keys, fetches)): State<Served>| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(JwkSet {
                        keys: keys.lock().unwrap().clone(),
                    })
                }),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url,
            keys,
            fetches,
            server,
        }
    }

    fn config(&self) -> JwksVerifierConfig {
        JwksVerifierConfig::new(ISSUER, AUDIENCE, GROUP)
            .with_jwks_url(Some(format!("{}/v1/keys", self.url)))
    }

    fn verifier(&self) -> JwksVerifier {
        JwksVerifier::new(self.config()).unwrap()
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn invalid(result: Result<gateway::Auditor, TokenError>, reason: &str) {
    match result {
        Err(TokenError::Invalid(got)) => assert_eq!(got, reason),
        other => panic!("expected Invalid({reason:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_rs256_token_passes_and_names_the_auditor() {
    // Arrange
    let key = SigningKey::rsa("rsa-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();

    // Act
    let auditor = verifier.verify(&key.sign(&claims())).await.unwrap();

    // Assert
    assert_eq!(auditor.subject, "auditor@example.com");
    assert_eq!(auditor.client_id.as_deref(), Some(CLIENT));
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn a_valid_es256_token_passes_and_the_key_set_is_fetched_once() {
    // Arrange
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key, &SigningKey::rsa("rsa-1")]).await;
    let verifier = issuer.verifier();

    // Act
    for _ in 0..5 {
        verifier.verify(&key.sign(&claims())).await.unwrap();
    }

    // Assert
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_leeway_and_accepted_within_it() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    invalid(
        verifier
            .verify(&key.sign(&with(claims(), "exp", json!(now() - 120))))
            .await,
        "expired",
    );
    assert!(
        verifier
            .verify(&key.sign(&with(claims(), "exp", json!(now() - 10))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    invalid(
        verifier
            .verify(&key.sign(&with(claims(), "nbf", json!(now() + 3600))))
            .await,
        "not yet valid",
    );
}

#[tokio::test]
async fn a_token_of_another_issuer_or_audience_is_refused() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    invalid(
        verifier
            .verify(&key.sign(&with(
                claims(),
                "iss",
                json!("https://evil.example.com/oauth2/default"),
            )))
            .await,
        "wrong issuer",
    );
    invalid(
        verifier
            .verify(&key.sign(&with(claims(), "aud", json!("api://other"))))
            .await,
        "wrong audience",
    );
    invalid(
        verifier
            .verify(&key.sign(&with(claims(), "aud", json!(["api://other"]))))
            .await,
        "wrong audience",
    );
}

#[tokio::test]
async fn an_issuer_given_as_a_list_is_refused_even_when_it_holds_the_issuer() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    for iss in [
        json!([ISSUER]),
        json!(["https://evil.example.com/oauth2/default", ISSUER]),
    ] {
        invalid(
            verifier
                .verify(&key.sign(&with(claims(), "iss", iss)))
                .await,
            "wrong issuer",
        );
    }
}

#[tokio::test]
async fn a_token_without_exp_iss_or_aud_is_refused() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    for claim in ["exp", "iss", "aud"] {
        invalid(
            verifier.verify(&key.sign(&without(claims(), claim))).await,
            "a required claim is missing",
        );
    }
    invalid(
        verifier.verify(&key.sign(&without(claims(), "sub"))).await,
        "no subject",
    );
}

#[tokio::test]
async fn an_unsigned_token_with_alg_none_is_refused() {
    // Arrange: a valid kid, valid claims, and no signature at all.
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let body = encode(&claims());

    // Act / Assert
    for alg in ["none", "None", "NONE"] {
        let header = encode(&json!({"alg": alg, "kid": "ec-1", "typ": "JWT"}));
        invalid(
            verifier.verify(&format!("{header}.{body}.")).await,
            "unsigned tokens (alg none) are refused",
        );
    }
    // The signature of a real token does not rescue a header changed to `none`.
    let real = key.sign(&claims());
    let signature = real.rsplit('.').next().unwrap();
    let header = encode(&json!({"alg": "none", "kid": "ec-1"}));
    assert!(
        verifier
            .verify(&format!("{header}.{body}.{signature}"))
            .await
            .is_err()
    );
    assert_eq!(issuer.fetches(), 0, "refused before any key was looked up");
}

#[tokio::test]
async fn hs256_signed_with_the_issuers_public_key_is_refused() {
    // Arrange: the classic confusion attack (RFC 8725 §2.1): the attacker knows the
    // public key and uses it, in every encoding a naive verifier might, as an HMAC secret.
    let key = SigningKey::rsa("rsa-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    let jwk_json = serde_json::to_string(&key.jwk).unwrap();
    let n = match &key.jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => p.n.clone(),
        _ => unreachable!(),
    };
    let secrets: Vec<Vec<u8>> = vec![
        jwk_json.into_bytes(),
        n.clone().into_bytes(),
        URL_SAFE_NO_PAD.decode(&n).unwrap(),
    ];

    for secret in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("rsa-1".into());
            let token =
                jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret))
                    .unwrap();

            // Act / Assert
            invalid(
                verifier.verify(&token).await,
                "symmetric algorithms are refused",
            );
        }
    }
    assert_eq!(issuer.fetches(), 0);
}

#[tokio::test]
async fn an_algorithm_off_the_allow_list_or_not_fitting_the_key_is_refused() {
    // Arrange
    let rsa = SigningKey::rsa("rsa-1");
    let issuer = Issuer::start(&[&rsa]).await;
    let verifier = issuer.verifier();
    let mut ps = Header::new(Algorithm::PS256);
    ps.kid = Some("rsa-1".into());
    let ps_token = jsonwebtoken::encode(&ps, &claims(), &rsa.encoding).unwrap();
    // An EC signature presented under the RSA key's kid.
    let ec = SigningKey::ec("ec-1");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("rsa-1".into());
    let mismatched = jsonwebtoken::encode(&header, &claims(), &ec.encoding).unwrap();

    // Act / Assert
    invalid(verifier.verify(&ps_token).await, "algorithm not allowed");
    invalid(
        verifier.verify(&mismatched).await,
        "the signing key does not fit the algorithm",
    );
}

#[tokio::test]
async fn a_forged_or_tampered_token_is_refused() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    // Same kid, another key: a forgery.
    let forger = SigningKey::ec("ec-1");
    invalid(
        verifier.verify(&forger.sign(&claims())).await,
        "bad signature",
    );
    // A genuine token whose claims were edited to add the group.
    let genuine = key.sign(&with(claims(), "groups", json!(["Everyone"])));
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims().to_string());
    invalid(verifier.verify(&parts.join(".")).await, "bad signature");
    for junk in ["", "Bearer", "a.b.c", &"x".repeat(20_000)] {
        invalid(verifier.verify(junk).await, "malformed token");
    }
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refetch_then_is_refused() {
    // Arrange
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let interval = Duration::from_millis(300);
    let verifier = JwksVerifier::new(issuer.config().with_min_refresh_interval(interval)).unwrap();
    verifier.verify(&key.sign(&claims())).await.unwrap();
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    let stranger = SigningKey::ec("kid-nobody-published");

    // Act
    let first = verifier.verify(&stranger.sign(&claims())).await;
    let again = verifier.verify(&stranger.sign(&claims())).await;

    // Assert: refetched once, then refused; the second try inside the interval does
    // not fetch again.
    invalid(first, "unknown signing key");
    invalid(again, "unknown signing key");
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test]
async fn spraying_unknown_kids_does_not_hammer_the_issuer() {
    // Arrange
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = Arc::new(
        JwksVerifier::new(
            issuer
                .config()
                .with_min_refresh_interval(Duration::from_secs(3600)),
        )
        .unwrap(),
    );
    verifier.verify(&key.sign(&claims())).await.unwrap();

    // Act: 200 tokens with made-up kids, 20 at a time.
    let spray: Vec<String> = (0..200)
        .map(|i| SigningKey::ec(&format!("spray-{i}")).sign(&claims()))
        .collect();
    for chunk in spray.chunks(20) {
        let checks = chunk.iter().map(|t| {
            let verifier = verifier.clone();
            let t = t.clone();
            async move { verifier.verify(&t).await }
        });
        for result in futures::future::join_all(checks).await {
            invalid(result, "unknown signing key");
        }
    }

    // Assert: one refetch at most, and the real key still works.
    assert!(issuer.fetches() <= 2, "{} fetches", issuer.fetches());
    verifier.verify(&key.sign(&claims())).await.unwrap();
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_the_refetch_on_its_unknown_kid() {
    // Arrange
    let old = SigningKey::ec("2024-q1");
    let new = SigningKey::ec("2024-q2");
    let issuer = Issuer::start(&[&old]).await;
    let verifier =
        JwksVerifier::new(issuer.config().with_min_refresh_interval(Duration::ZERO)).unwrap();
    verifier.verify(&old.sign(&claims())).await.unwrap();

    // Act
    issuer.publish(&[&new]);
    let rotated = verifier.verify(&new.sign(&claims())).await;

    // Assert
    assert!(rotated.is_ok(), "{rotated:?}");
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test]
async fn a_token_without_the_required_group_is_forbidden_not_invalid() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    let forbidden = Err(TokenError::Forbidden("the token lacks the required group"));
    assert_eq!(
        verifier
            .verify(&key.sign(&with(claims(), "groups", json!(["Everyone"]))))
            .await,
        forbidden
    );
    assert_eq!(
        verifier
            .verify(&key.sign(&without(claims(), "groups")))
            .await,
        forbidden
    );
    assert_eq!(
        verifier
            .verify(&key.sign(&with(claims(), "groups", json!(GROUP.to_uppercase()))))
            .await,
        forbidden
    );
    // A single string names one group.
    assert!(
        verifier
            .verify(&key.sign(&with(claims(), "groups", json!(GROUP))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_group_claim_name_is_configurable() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = JwksVerifier::new(issuer.config().with_group_claim("auditGroups")).unwrap();
    let forbidden = Err(TokenError::Forbidden("the token lacks the required group"));
    assert_eq!(verifier.verify(&key.sign(&claims())).await, forbidden);
    assert!(
        verifier
            .verify(&key.sign(&with(claims(), "auditGroups", json!([GROUP]))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_until_keys_are_cached_then_cached_keys_serve() {
    // Arrange: a port nothing listens on.
    let key = SigningKey::ec("ec-1");
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/keys", closed.local_addr().unwrap());
    drop(closed);
    let config = JwksVerifierConfig::new(ISSUER, AUDIENCE, GROUP).with_jwks_url(Some(url));
    let verifier = JwksVerifier::new(config).unwrap();

    // Act / Assert
    assert_eq!(
        verifier.verify(&key.sign(&claims())).await,
        Err(TokenError::Unavailable)
    );

    // Arrange: cached keys, then the issuer goes away and the cache expires.
    let issuer = Issuer::start(&[&key]).await;
    let verifier = JwksVerifier::new(
        issuer
            .config()
            .with_cache_ttl(Duration::from_millis(1))
            .with_min_refresh_interval(Duration::ZERO),
    )
    .unwrap();
    verifier.verify(&key.sign(&claims())).await.unwrap();
    let fetches = issuer.fetches();
    drop(issuer);
    tokio::time::sleep(Duration::from_millis(5)).await;

    // Act / Assert: the refetch fails and the cached key still verifies.
    assert!(verifier.verify(&key.sign(&claims())).await.is_ok());
    assert_eq!(fetches, 1);
}

#[tokio::test]
async fn a_non_json_or_failing_key_set_is_unavailable() {
    let router = Router::new()
        .route(
            "/500",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/html", get(|| async { "<html>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let key = SigningKey::ec("ec-1");
    for path in ["/500", "/html"] {
        let config = JwksVerifierConfig::new(ISSUER, AUDIENCE, GROUP)
            .with_jwks_url(Some(format!("{base}{path}")));
        let verifier = JwksVerifier::new(config).unwrap();
        assert_eq!(
            verifier.verify(&key.sign(&claims())).await,
            Err(TokenError::Unavailable),
            "{path}"
        );
    }
    server.abort();
}

const NO_SCOPE: Result<gateway::Auditor, TokenError> =
    Err(TokenError::Forbidden("the token lacks the required scope"));
const CLIENT_REFUSED: Result<gateway::Auditor, TokenError> = Err(TokenError::Forbidden(
    "the token was issued to a client that is not allowed",
));

#[tokio::test]
async fn a_token_without_the_required_scope_is_forbidden_not_invalid() {
    // Arrange: valid tokens of the right issuer, audience and group, minted for
    // another purpose (another scope, no scope, an ID token's shape).
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    let cases = [
        (
            "another scope",
            with(claims(), "scp", json!(["openid", "email"])),
        ),
        (
            "a scope that only starts alike",
            with(claims(), "scp", json!(["scimgw.audit.read.all"])),
        ),
        (
            "the scope in another case",
            with(claims(), "scp", json!([SCOPE.to_uppercase()])),
        ),
        ("an empty scp", with(claims(), "scp", json!([]))),
        ("no scope claim at all", without(claims(), "scp")),
        (
            "scope as an array (it is a string)",
            with(without(claims(), "scp"), "scope", json!([SCOPE])),
        ),
        (
            "scope naming others",
            with(without(claims(), "scp"), "scope", json!("openid email")),
        ),
    ];

    for (what, claims) in cases {
        // Act / Assert: 403, never 401 (the token is genuine) nor a pass.
        assert_eq!(
            verifier.verify(&key.sign(&claims)).await,
            NO_SCOPE,
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_scope_may_be_an_rfc_9068_space_separated_scope_string() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = issuer.verifier();
    for scope in [SCOPE.to_owned(), format!("openid {SCOPE} profile")] {
        let claims = with(without(claims(), "scp"), "scope", json!(scope));
        let auditor = verifier.verify(&key.sign(&claims)).await;
        assert!(auditor.is_ok(), "{scope:?}: {auditor:?}");
    }
    // Okta's scp as one string, as some issuers write it, is read the same way.
    assert!(
        verifier
            .verify(&key.sign(&with(claims(), "scp", json!(format!("openid {SCOPE}")))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_required_scope_is_configurable_and_checked_after_the_signature() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = JwksVerifier::new(issuer.config().with_required_scope("audit:read")).unwrap();
    assert_eq!(verifier.verify(&key.sign(&claims())).await, NO_SCOPE);
    assert!(
        verifier
            .verify(&key.sign(&with(claims(), "scp", json!(["audit:read"]))))
            .await
            .is_ok()
    );
    // A genuine token edited to add the scope is not a token without the scope (403)
    // but a bad signature (401).
    let genuine = key.sign(&with(claims(), "scp", json!(["openid"])));
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with(claims(), "scp", json!(["audit:read"])).to_string());
    invalid(verifier.verify(&parts.join(".")).await, "bad signature");
}

#[tokio::test]
async fn with_an_allow_list_only_the_listed_clients_tokens_pass() {
    // Arrange: the audit CLI's client is allowed; a SaaS app of the same org, whose
    // token an auditor also holds, is not.
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = JwksVerifier::new(
        issuer
            .config()
            .with_allowed_client_ids(vec!["0oa-other-tool".into(), CLIENT.into()]),
    )
    .unwrap();

    // Act / Assert: allowed, by Okta's cid or RFC 9068's client_id.
    let auditor = verifier.verify(&key.sign(&claims())).await.unwrap();
    assert_eq!(auditor.client_id.as_deref(), Some(CLIENT));
    let rfc9068 = with(without(claims(), "cid"), "client_id", json!(CLIENT));
    let auditor = verifier.verify(&key.sign(&rfc9068)).await.unwrap();
    assert_eq!(auditor.client_id.as_deref(), Some(CLIENT));

    // Not allowed: another client, a client id differing in case, or none at all: 403.
    for (what, claims) in [
        (
            "another client",
            with(claims(), "cid", json!("0oa-third-party-saas")),
        ),
        (
            "another client by client_id",
            with(
                without(claims(), "cid"),
                "client_id",
                json!("0oa-third-party-saas"),
            ),
        ),
        (
            "the client in another case",
            with(claims(), "cid", json!(CLIENT.to_uppercase())),
        ),
        ("no client claim", without(claims(), "cid")),
    ] {
        assert_eq!(
            verifier.verify(&key.sign(&claims)).await,
            CLIENT_REFUSED,
            "{what}"
        );
    }
    // A token naming two different clients is refused whatever the list says.
    assert_eq!(
        verifier
            .verify(&key.sign(&with(claims(), "client_id", json!("0oa-third-party-saas"))))
            .await,
        Err(TokenError::Forbidden(
            "the token names two different clients"
        ))
    );
}

#[tokio::test]
async fn without_an_allow_list_any_client_passes_and_the_checks_run_scope_client_group() {
    let key = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let open = issuer.verifier();
    let saas = with(claims(), "cid", json!("0oa-third-party-saas"));
    assert_eq!(
        open.verify(&key.sign(&saas)).await.map(|a| a.client_id),
        Ok(Some("0oa-third-party-saas".to_owned()))
    );
    assert!(
        open.verify(&key.sign(&without(claims(), "cid")))
            .await
            .is_ok()
    );

    // Every check fails: the scope is named first, then the client, then the group.
    let listed =
        JwksVerifier::new(issuer.config().with_allowed_client_ids(vec![CLIENT.into()])).unwrap();
    let nothing = with(without(saas.clone(), "scp"), "groups", json!(["Everyone"]));
    assert_eq!(listed.verify(&key.sign(&nothing)).await, NO_SCOPE);
    let scoped = with(nothing, "scp", json!([SCOPE]));
    assert_eq!(listed.verify(&key.sign(&scoped)).await, CLIENT_REFUSED);
    let allowed = with(scoped, "cid", json!(CLIENT));
    assert_eq!(
        listed.verify(&key.sign(&allowed)).await,
        Err(TokenError::Forbidden("the token lacks the required group"))
    );
}
