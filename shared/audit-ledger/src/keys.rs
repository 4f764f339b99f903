//! The ledger's separated powers: who can make a record verifiable (writers: a MAC
//! key), who can make a seal verifiable (the sealer: a signing key), and what verifiers
//! hold (the power to check MACs, and the seal key's public half). Nobody who only
//! verifies holds anything that makes a MAC or a signature.
//!
//! Each power is a port, so that a key service can hold it as a permission of its own
//! (in AWS KMS: `kms:GenerateMac` for writers, `kms:VerifyMac` for verifiers, `kms:Sign`
//! for the sealer, `kms:GetPublicKey` for verifiers; the adapters live with the
//! application). Locally (development, tests) one process holds [`LocalAuditKeys`], all
//! powers at once.
//!
//! MACs are HMAC-SHA256 of a framed message, hex; KMS's `GenerateMac` with
//! `HMAC_SHA_256` computes the same function. Seals are signed over the SHA-256 digest
//! of their framed message with ECDSA on P-256 and SHA-256 (KMS's `ECDSA_SHA_256`, the
//! digest passed as a `RAW` message), DER-encoded, hex.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use super::chain::{hex, sha256_hex, unhex};

type HmacSha256 = Hmac<Sha256>;

/// The domain a local key's id is hashed under. Fixed: ids name keys in stored items.
const KEY_ID_DOMAIN: &[u8] = b"scimgw-audit-key-id";

/// The shortest local MAC key accepted: 32 bytes, the output length of SHA-256, as
/// RFC 2104 §3 recommends as the minimum.
pub const MIN_KEY_BYTES: usize = 32;

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A local key shorter than [`MIN_KEY_BYTES`], or none.
    #[error("audit key: each key must be at least {MIN_KEY_BYTES} bytes")]
    TooShort,
    /// This role does not hold the power (a verifier asked to write, a writer to seal).
    #[error("audit key: this role cannot {0}")]
    NotHeld(&'static str),
    /// The key service refused or could not be reached.
    #[error("audit key: the key service is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A MAC or a signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The key's id as stored in items (a local key's fingerprint, or a KMS key ARN).
    pub key_id: String,
    /// The MAC or signature, lower-case hex.
    pub value: String,
}

/// The writers' power: makes MACs that verify.
#[async_trait]
pub trait MacSigner: Send + Sync + fmt::Debug {
    /// The MAC of `message`.
    async fn mac(&self, message: &[u8]) -> Result<Tag, KeyError>;
}

/// The verifiers' power over MACs: checks them, never makes them.
#[async_trait]
pub trait MacVerifier: Send + Sync + fmt::Debug {
    /// Whether items made with `key_id` are checked by this verifier at all (an item
    /// naming any other key is unverifiable, never trusted).
    fn accepts(&self, key_id: &str) -> bool;

    /// Whether `mac` is the MAC of `message` under `key_id` (accepted keys only).
    async fn verify(&self, key_id: &str, message: &[u8], mac: &str) -> Result<bool, KeyError>;
}

/// The sealer's power: signs seals.
#[async_trait]
pub trait SealSigner: Send + Sync + fmt::Debug {
    /// The signature of a seal message's SHA-256 digest.
    async fn sign(&self, digest: &[u8; 32]) -> Result<Tag, KeyError>;
}

/// Where verifiers get the seal keys' public halves.
#[async_trait]
pub trait SealKeySource: Send + Sync + fmt::Debug {
    /// The public keys that seals may be signed with (the current one and, after a
    /// rotation, the earlier ones).
    async fn public_keys(&self) -> Result<SealPublicKeys, KeyError>;
}

/// Public seal keys by id, as DER `SubjectPublicKeyInfo` (what KMS's `GetPublicKey`
/// returns).
#[derive(Debug, Clone, Default)]
pub struct SealPublicKeys {
    keys: Vec<(String, Vec<u8>)>,
}

impl SealPublicKeys {
    /// Keys from `(id, SubjectPublicKeyInfo DER)` pairs.
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> Self {
        Self { keys }
    }

    /// Whether seals signed with `key_id` can be checked.
    pub fn accepts(&self, key_id: &str) -> bool {
        self.keys.iter().any(|(id, _)| id == key_id)
    }

    /// Whether `signature` (hex DER) signs `digest` under `key_id`; `None` if the key
    /// is not one of these.
    pub fn verify(&self, key_id: &str, digest: &[u8; 32], signature: &str) -> Option<bool> {
        let (_, der) = self.keys.iter().find(|(id, _)| id == key_id)?;
        let Some(sig) = unhex(signature) else {
            return Some(false);
        };
        Some(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
                .verify(digest, &sig)
                .is_ok(),
        )
    }
}

/// The SHA-256 digest of a framed message, which is what seals sign.
pub fn digest(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

/// One local HMAC key. `Debug` shows only its id.
#[derive(Clone)]
pub struct AuditKey {
    secret: Vec<u8>,
    id: String,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

impl AuditKey {
    /// A key from its bytes.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self::from_checked(secret))
    }

    /// A random 32-byte key (for stores that live and die with the process).
    pub fn random() -> Self {
        let secret: [u8; MIN_KEY_BYTES] = rand::random();
        Self::from_checked(&secret)
    }

    fn from_checked(secret: &[u8]) -> Self {
        // The id names the key in stored items so that verification after a rotation
        // knows which key to use; a hash under its own domain reveals nothing usable.
        let mut framed = KEY_ID_DOMAIN.to_vec();
        framed.extend_from_slice(secret);
        let id = sha256_hex(&framed)[..16].to_owned();
        Self {
            secret: secret.to_vec(),
            id,
        }
    }

    /// The key's public fingerprint, 16 hex digits.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `message`, hex.
    pub fn mac_hex(&self, message: &[u8]) -> String {
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mut mac) => {
                mac.update(message);
                hex(&mac.finalize().into_bytes())
            }
            // HMAC accepts keys of any length; this cannot happen.
            Err(_) => String::new(),
        }
    }

    /// Whether `mac` (hex) is right for `message`, in constant time.
    pub fn check_hex(&self, message: &[u8], mac: &str) -> bool {
        let Some(given) = unhex(mac) else {
            return false;
        };
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mut m) => {
                m.update(message);
                m.verify_slice(&given).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// Local MAC keys: the first makes new MACs, all are accepted when verifying (so a key
/// can rotate).
#[derive(Debug, Clone)]
pub struct LocalMacKeys {
    keys: Vec<AuditKey>,
}

impl LocalMacKeys {
    /// One key.
    pub fn single(key: AuditKey) -> Self {
        Self { keys: vec![key] }
    }

    /// Several keys, the signing one first; none is [`KeyError::TooShort`].
    pub fn new(keys: Vec<AuditKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::TooShort);
        }
        Ok(Self { keys })
    }

    /// The key that makes new MACs.
    pub fn signing(&self) -> &AuditKey {
        // `single` and `new` guarantee one key.
        &self.keys[0]
    }
}

#[async_trait]
impl MacSigner for LocalMacKeys {
    async fn mac(&self, message: &[u8]) -> Result<Tag, KeyError> {
        let key = self.signing();
        Ok(Tag {
            key_id: key.id().to_owned(),
            value: key.mac_hex(message),
        })
    }
}

#[async_trait]
impl MacVerifier for LocalMacKeys {
    fn accepts(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.id() == key_id)
    }

    async fn verify(&self, key_id: &str, message: &[u8], mac: &str) -> Result<bool, KeyError> {
        Ok(self
            .keys
            .iter()
            .find(|k| k.id() == key_id)
            .is_some_and(|k| k.check_hex(message, mac)))
    }
}

/// A local ECDSA P-256 seal key. `Debug` shows only its id.
pub struct LocalSealKey {
    pair: EcdsaKeyPair,
    public_der: Vec<u8>,
    id: String,
}

impl fmt::Debug for LocalSealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalSealKey({})", self.id)
    }
}

impl LocalSealKey {
    /// A new random key.
    pub fn random() -> Result<Self, KeyError> {
        let unavailable = |_| KeyError::Unavailable("ECDSA key generation failed".into());
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(unavailable)?;
        let public_der = {
            use aws_lc_rs::encoding::{AsDer as _, PublicKeyX509Der};
            let der: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(unavailable)?;
            der.as_ref().to_vec()
        };
        // Named like a local MAC key: a fingerprint of the public key.
        let id = format!("p256-{}", &sha256_hex(&public_der)[..16]);
        Ok(Self {
            pair,
            public_der,
            id,
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public half, for verifiers.
    pub fn public_keys(&self) -> SealPublicKeys {
        SealPublicKeys::new(vec![(self.id.clone(), self.public_der.clone())])
    }
}

#[async_trait]
impl SealSigner for LocalSealKey {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Tag, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, digest)
            .map_err(|_| KeyError::Unavailable("ECDSA signing failed".into()))?;
        Ok(Tag {
            key_id: self.id.clone(),
            value: hex(sig.as_ref()),
        })
    }
}

#[async_trait]
impl SealKeySource for LocalSealKey {
    async fn public_keys(&self) -> Result<SealPublicKeys, KeyError> {
        Ok(LocalSealKey::public_keys(self))
    }
}

/// What one ledger instance may do. A writer holds `mac`; the sealer `seal` (and
/// `mac_check`, to check what it seals); verifiers `mac_check` and `seal_check`. A power
/// not held is refused with [`KeyError::NotHeld`].
#[derive(Clone, Default)]
pub struct AuditPowers {
    /// Makes record, head and registration MACs (writers).
    pub mac: Option<Arc<dyn MacSigner>>,
    /// Checks MACs (verifiers, the sealer).
    pub mac_check: Option<Arc<dyn MacVerifier>>,
    /// Signs seals, seal pointers and closing markers (the sealer).
    pub seal: Option<Arc<dyn SealSigner>>,
    /// The seal keys' public halves (verifiers, the sealer, writers reading the closing
    /// marker).
    pub seal_check: Option<Arc<dyn SealKeySource>>,
}

impl fmt::Debug for AuditPowers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditPowers")
            .field("mac", &self.mac.is_some())
            .field("mac_check", &self.mac_check.is_some())
            .field("seal", &self.seal.is_some())
            .field("seal_check", &self.seal_check.is_some())
            .finish()
    }
}

impl AuditPowers {
    /// Every power, from local keys: one process that writes, seals and verifies
    /// (development, tests).
    pub fn local(keys: &LocalAuditKeys) -> Self {
        Self {
            mac: Some(keys.mac.clone()),
            mac_check: Some(keys.mac.clone()),
            seal: Some(keys.seal.clone()),
            seal_check: Some(keys.seal.clone()),
        }
    }

    pub(crate) fn mac_signer(&self) -> Result<&Arc<dyn MacSigner>, KeyError> {
        self.mac.as_ref().ok_or(KeyError::NotHeld("write records"))
    }

    pub(crate) fn mac_verifier(&self) -> Result<&Arc<dyn MacVerifier>, KeyError> {
        self.mac_check
            .as_ref()
            .ok_or(KeyError::NotHeld("verify records"))
    }

    pub(crate) fn seal_signer(&self) -> Result<&Arc<dyn SealSigner>, KeyError> {
        self.seal.as_ref().ok_or(KeyError::NotHeld("seal"))
    }

    pub(crate) async fn seal_keys(&self) -> Result<SealPublicKeys, KeyError> {
        match &self.seal_check {
            Some(source) => source.public_keys().await,
            None => Err(KeyError::NotHeld("verify seals")),
        }
    }
}

/// Every key a single local process needs: a MAC key and a seal key.
#[derive(Debug, Clone)]
pub struct LocalAuditKeys {
    /// The MAC keys.
    pub mac: Arc<LocalMacKeys>,
    /// The seal key.
    pub seal: Arc<LocalSealKey>,
}

impl LocalAuditKeys {
    /// Fresh random keys.
    pub fn random() -> Result<Self, KeyError> {
        Ok(Self {
            mac: Arc::new(LocalMacKeys::single(AuditKey::random())),
            seal: Arc::new(LocalSealKey::random()?),
        })
    }

    /// Keys with this MAC key and a random seal key.
    pub fn with_mac(mac: LocalMacKeys) -> Result<Self, KeyError> {
        Ok(Self {
            mac: Arc::new(mac),
            seal: Arc::new(LocalSealKey::random()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mac_verifies_only_under_its_own_key_and_message() {
        // Arrange
        let keys = LocalMacKeys::single(AuditKey::new(&[1u8; 32]).unwrap());
        let other = LocalMacKeys::single(AuditKey::new(&[2u8; 32]).unwrap());

        // Act
        let tag = keys.mac(b"message").await.unwrap();

        // Assert
        assert!(
            keys.verify(&tag.key_id, b"message", &tag.value)
                .await
                .unwrap()
        );
        assert!(
            !keys
                .verify(&tag.key_id, b"messagf", &tag.value)
                .await
                .unwrap()
        );
        assert!(!other.accepts(&tag.key_id));
        assert!(
            !other
                .verify(&tag.key_id, b"message", &tag.value)
                .await
                .unwrap()
        );
        assert!(!keys.verify(&tag.key_id, b"message", "zz").await.unwrap());
        assert!(AuditKey::new(&[1u8; 31]).is_err());
        assert!(!format!("{:?}", keys.signing()).contains("0101"));
    }

    #[test]
    fn a_local_key_is_named_by_a_fixed_fingerprint_of_its_secret() {
        // The id names the key in stored items: computed apart from this code.
        assert_eq!(AuditKey::new(&[1u8; 32]).unwrap().id(), "2ad24db305d42c03");
    }

    #[tokio::test]
    async fn a_seal_signature_verifies_with_the_public_half_only() {
        // Arrange
        let key = LocalSealKey::random().unwrap();
        let other = LocalSealKey::random().unwrap();
        let d = digest(b"seal");

        // Act
        let tag = key.sign(&d).await.unwrap();

        // Assert
        let public = key.public_keys();
        assert_eq!(public.verify(&tag.key_id, &d, &tag.value), Some(true));
        assert_eq!(
            public.verify(&tag.key_id, &digest(b"seam"), &tag.value),
            Some(false)
        );
        assert_eq!(
            other.public_keys().verify(&tag.key_id, &d, &tag.value),
            None
        );
        assert_ne!(key.id(), other.id());
    }

    #[test]
    fn a_verifier_holds_no_power_to_make_macs_or_seals() {
        // Arrange
        let keys = LocalAuditKeys::random().unwrap();

        // Act
        let all = AuditPowers::local(&keys);
        let verifier = AuditPowers {
            mac_check: all.mac_check,
            seal_check: all.seal_check,
            ..AuditPowers::default()
        };

        // Assert
        assert!(matches!(verifier.mac_signer(), Err(KeyError::NotHeld(_))));
        assert!(matches!(verifier.seal_signer(), Err(KeyError::NotHeld(_))));
        assert!(verifier.mac_verifier().is_ok());
    }
}
