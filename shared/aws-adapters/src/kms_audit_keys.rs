//! The audit trail's separated powers in KMS (see `gateway::audit_store::keys`): the
//! writers' HMAC key (`kms:GenerateMac`), the verifiers' check of it (`kms:VerifyMac`),
//! the sealer's signing key (`kms:Sign`) and its public half (`kms:GetPublicKey`). Key
//! material never leaves KMS, so a role holds exactly the powers its key policy grants.
//!
//! The HMAC key is an `HMAC_256` key used with `HMAC_SHA_256`; the seal key an
//! `ECC_NIST_P256` key used with `ECDSA_SHA_256`, signing the 32-byte digest of each seal
//! as a `RAW` message (KMS API reference: GenerateMac, VerifyMac, Sign, GetPublicKey).
//! KMS HMAC keys do not rotate automatically; to rotate, create a new key, name it first
//! and keep the old ones after it in the configuration until their records expire.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MacAlgorithmSpec, MessageType, SigningAlgorithmSpec};
use gateway::audit_store::chain::{hex, unhex};
use gateway::audit_store::keys::{
    AuditPowers, KeyError, MacSigner, MacVerifier, SealKeySource, SealPublicKeys, SealSigner, Tag,
};
use tokio::sync::OnceCell;

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> KeyError {
    KeyError::Unavailable(Box::new(e))
}

/// The id an item names its key by: the key's ARN. Configured by ARN (the template's
/// way), that; configured by alias, the ARN KMS answers with, so that an alias moved to
/// another key cannot misdirect later checks.
fn used_key(configured: &str, answered: Option<&str>) -> String {
    match answered {
        Some(arn) if !configured.starts_with("arn:") && arn.starts_with("arn:") => arn.to_owned(),
        _ => configured.to_owned(),
    }
}

fn missing(what: &'static str) -> KeyError {
    KeyError::Unavailable(format!("KMS answered without {what}").into())
}

/// The writers' power: MACs made by KMS's `GenerateMac` under one HMAC key.
#[derive(Clone)]
pub struct KmsMacSigner {
    client: Client,
    key_id: String,
}

impl fmt::Debug for KmsMacSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KmsMacSigner({})", self.key_id)
    }
}

impl KmsMacSigner {
    /// MACs under `key_id` (the key's ARN, as stored in every item it MACs).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl MacSigner for KmsMacSigner {
    async fn mac(&self, message: &[u8]) -> Result<Tag, KeyError> {
        let out = self
            .client
            .generate_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(unavailable)?;
        let mac = out.mac().ok_or_else(|| missing("a MAC"))?;
        Ok(Tag {
            key_id: used_key(&self.key_id, out.key_id()),
            value: hex(mac.as_ref()),
        })
    }
}

/// The verifiers' power over MACs: KMS's `VerifyMac`, for the listed keys only (an
/// item naming any other key, even one whose `VerifyMac` would succeed, is not trusted).
/// Items name keys by ARN, so list ARNs (the stack's outputs), not aliases.
#[derive(Clone)]
pub struct KmsMacVerifier {
    client: Client,
    key_ids: Vec<String>,
}

impl fmt::Debug for KmsMacVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KmsMacVerifier({:?})", self.key_ids)
    }
}

impl KmsMacVerifier {
    /// Checks MACs made with any of `key_ids`.
    pub fn new(client: Client, key_ids: Vec<String>) -> Self {
        Self { client, key_ids }
    }
}

#[async_trait]
impl MacVerifier for KmsMacVerifier {
    fn accepts(&self, key_id: &str) -> bool {
        self.key_ids.iter().any(|k| k == key_id)
    }

    async fn verify(&self, key_id: &str, message: &[u8], mac: &str) -> Result<bool, KeyError> {
        if !self.accepts(key_id) {
            return Ok(false);
        }
        let Some(mac) = unhex(mac).filter(|m| !m.is_empty()) else {
            return Ok(false);
        };
        let result = self
            .client
            .verify_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.mac_valid()),
            // KMS answers a wrong MAC with an error, not with `MacValid: false`.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_kms_invalid_mac_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// The sealer's power: KMS's `Sign` with an ECC P-256 key.
#[derive(Clone)]
pub struct KmsSealSigner {
    client: Client,
    key_id: String,
}

impl fmt::Debug for KmsSealSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KmsSealSigner({})", self.key_id)
    }
}

impl KmsSealSigner {
    /// Signs with `key_id` (the key's ARN, as stored in every seal).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl SealSigner for KmsSealSigner {
    async fn sign(&self, digest: &[u8; 32]) -> Result<Tag, KeyError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(unavailable)?;
        let sig = out.signature().ok_or_else(|| missing("a signature"))?;
        Ok(Tag {
            key_id: used_key(&self.key_id, out.key_id()),
            value: hex(sig.as_ref()),
        })
    }
}

/// The seal keys' public halves, fetched once with `GetPublicKey` (verifiers need
/// `kms:GetPublicKey` only; the halves could as well be published).
pub struct KmsSealKeys {
    client: Client,
    key_ids: Vec<String>,
    cache: OnceCell<SealPublicKeys>,
}

impl fmt::Debug for KmsSealKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KmsSealKeys({:?})", self.key_ids)
    }
}

impl KmsSealKeys {
    /// The public halves of `key_ids` (the current seal key first, then earlier ones).
    pub fn new(client: Client, key_ids: Vec<String>) -> Self {
        Self {
            client,
            key_ids,
            cache: OnceCell::new(),
        }
    }
}

#[async_trait]
impl SealKeySource for KmsSealKeys {
    async fn public_keys(&self) -> Result<SealPublicKeys, KeyError> {
        self.cache
            .get_or_try_init(|| async {
                let mut keys = Vec::with_capacity(self.key_ids.len());
                for id in &self.key_ids {
                    let out = self
                        .client
                        .get_public_key()
                        .key_id(id)
                        .send()
                        .await
                        .map_err(unavailable)?;
                    let der = out.public_key().ok_or_else(|| missing("a public key"))?;
                    keys.push((id.clone(), der.as_ref().to_vec()));
                }
                Ok(SealPublicKeys::new(keys))
            })
            .await
            .cloned()
    }
}

/// A writer's powers: MACs under `mac_key_id`, nothing else.
pub fn writer_powers(client: &Client, mac_key_id: &str) -> AuditPowers {
    AuditPowers {
        mac: Some(Arc::new(KmsMacSigner::new(client.clone(), mac_key_id))),
        ..AuditPowers::default()
    }
}

/// A verifier's powers: checks MACs of `mac_key_ids` and seals of `seal_key_ids`, and
/// can make neither.
pub fn verifier_powers(
    client: &Client,
    mac_key_ids: Vec<String>,
    seal_key_ids: Vec<String>,
) -> AuditPowers {
    AuditPowers {
        mac_check: Some(Arc::new(KmsMacVerifier::new(client.clone(), mac_key_ids))),
        seal_check: Some(Arc::new(KmsSealKeys::new(client.clone(), seal_key_ids))),
        ..AuditPowers::default()
    }
}

/// The sealer's powers: signs with the first of `seal_key_ids`, reads seals signed with
/// any of them. `None` if the list is empty.
pub fn sealer_powers(client: &Client, seal_key_ids: Vec<String>) -> Option<AuditPowers> {
    let signing = seal_key_ids.first()?.clone();
    Some(AuditPowers {
        seal: Some(Arc::new(KmsSealSigner::new(client.clone(), signing))),
        seal_check: Some(Arc::new(KmsSealKeys::new(client.clone(), seal_key_ids))),
        ..AuditPowers::default()
    })
}

/// Every power at once, for one process that writes, seals and verifies
/// (`scimgw dev --aws-endpoint`, tests); a deployed function holds one role's only.
pub fn all_powers(client: &Client, keys: &AuditKeyArns) -> AuditPowers {
    AuditPowers {
        mac: Some(Arc::new(KmsMacSigner::new(client.clone(), &keys.mac))),
        mac_check: Some(Arc::new(KmsMacVerifier::new(
            client.clone(),
            vec![keys.mac.clone()],
        ))),
        seal: Some(Arc::new(KmsSealSigner::new(client.clone(), &keys.seal))),
        seal_check: Some(Arc::new(KmsSealKeys::new(
            client.clone(),
            vec![keys.seal.clone()],
        ))),
    }
}

/// The ARNs of the audit trail's two keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyArns {
    /// The HMAC key (records, heads, registrations).
    pub mac: String,
    /// The signing key (seals, the seal pointer, the closing marker).
    pub seal: String,
}

/// The keys behind `alias/<prefix>-audit-mac` and `alias/<prefix>-audit-seal`, created
/// (with the aliases) when missing. For tests and `scimgw dev --aws-endpoint`; in AWS
/// the template creates them with key policies that separate the powers.
pub async fn ensure_keys(client: &Client, prefix: &str) -> Result<AuditKeyArns, KeyError> {
    let mac = ensure_key(
        client,
        &format!("alias/{prefix}-audit-mac"),
        aws_sdk_kms::types::KeySpec::Hmac256,
        aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac,
    )
    .await?;
    let seal = ensure_key(
        client,
        &format!("alias/{prefix}-audit-seal"),
        aws_sdk_kms::types::KeySpec::EccNistP256,
        aws_sdk_kms::types::KeyUsageType::SignVerify,
    )
    .await?;
    Ok(AuditKeyArns { mac, seal })
}

async fn ensure_key(
    client: &Client,
    alias: &str,
    spec: aws_sdk_kms::types::KeySpec,
    usage: aws_sdk_kms::types::KeyUsageType,
) -> Result<String, KeyError> {
    if let Ok(found) = client.describe_key().key_id(alias).send().await
        && let Some(arn) = found.key_metadata().and_then(|m| m.arn())
    {
        return Ok(arn.to_owned());
    }
    let created = client
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(format!("scimgw audit trail ({alias})"))
        .send()
        .await
        .map_err(unavailable)?;
    let meta = created
        .key_metadata()
        .ok_or_else(|| missing("key metadata"))?;
    let arn = meta.arn().ok_or_else(|| missing("a key ARN"))?.to_owned();
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .map_err(unavailable)?;
    Ok(arn)
}
