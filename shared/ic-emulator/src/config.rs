//! The emulator's configuration: bearer tokens, the SCIM base path, the fault seed, and
//! the knobs (rate limit, latency, injected faults, and two behaviours Identity Center does
//! not document) that can also change at run time.

use serde::{Deserialize, Serialize};

/// The base path of the real endpoint without its tenant segment. The real shape is
/// `/<tenant_id>/scim/v2` (`docs/identity-center-dialect.md` §1); set
/// [`EmulatorConfig::base_path`] to that form to exercise clients that keep the tenant in
/// the URL.
pub const DEFAULT_BASE_PATH: &str = "/scim/v2";

/// An IAM Identity Center directory holds at most two SCIM access tokens at a time
/// (AWS user guide `rotate-token.html`; `docs/identity-center-dialect.md` §1).
pub const MAX_TOKENS: usize = 2;

/// How the emulator starts.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// The bearer tokens accepted, one or two.
    pub tokens: Vec<String>,
    /// Where the SCIM routes live, e.g. `/scim/v2` or `/abc-123/scim/v2`: starts with `/`,
    /// no trailing `/`.
    pub base_path: String,
    /// The knobs in force at start (rate limit, latency, faults, behaviours).
    pub knobs: Knobs,
    /// Seed of the random source that decides injected faults, so runs are reproducible.
    pub seed: u64,
}

impl EmulatorConfig {
    /// A configuration with one token, the default base path, no knobs and seed 0.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            tokens: vec![token.into()],
            base_path: DEFAULT_BASE_PATH.to_owned(),
            knobs: Knobs::default(),
            seed: 0,
        }
    }

    /// Adds a second accepted token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(token.into());
        self
    }

    /// Sets the SCIM base path.
    pub fn with_base_path(mut self, base_path: impl Into<String>) -> Self {
        self.base_path = base_path.into();
        self
    }

    /// Sets the knobs in force at start.
    pub fn with_knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = knobs;
        self
    }

    /// Sets the fault seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the configuration as a whole.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_tokens(&self.tokens)?;
        validate_base_path(&self.base_path)?;
        self.knobs.validate()
    }
}

/// When an injected fault strikes relative to the request's effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultPhase {
    /// Before the request is applied: nothing changed.
    Before,
    /// After the request is applied: a write happened but its answer is lost.
    After,
    /// Either, chosen per fault by the seeded random source (even odds).
    #[default]
    Either,
}

/// The behaviour knobs, settable at start and at run time: through
/// [`crate::Emulator::set_knobs`], `PUT /_emulator/knobs` with this struct as JSON (absent
/// fields take their defaults) or `PATCH /_emulator/knobs` (absent fields stay as they are).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Requests per second accepted before 429 ThrottlingException, as a token bucket
    /// refilled at this rate holding at most one second's worth. `None`: unlimited.
    pub rate_limit: Option<u32>,
    /// Seconds to send in a `Retry-After` header on 429. `None`: no header (AWS-DG does
    /// not document one).
    pub retry_after: Option<u32>,
    /// Added latency per SCIM request, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0–1) of SCIM requests answered 500 InternalServerException.
    pub fail_rate: f64,
    /// Fraction (0–1) of SCIM requests whose TCP connection is closed without an answer.
    pub drop_rate: f64,
    /// When injected 500s and drops strike: before or after the request's effect.
    pub fault_phase: FaultPhase,
    /// Caps the items of a cursor page below `count`, to exercise clients that must keep
    /// following `nextCursor` after a short page (AWS-DG listusers: "Paginated calls may
    /// return less results than count"). `None`: pages are as long as `count` allows.
    pub page_limit: Option<u32>,
    /// Compare `userName` case-sensitively in the `userName eq` filter and in `userName`
    /// uniqueness. AWS does not document either way (`docs/identity-center-dialect.md` §3,
    /// §7); off (the default) compares without regard to case, as RFC 7643 §4.1.1 has it.
    pub case_sensitive_usernames: bool,
    /// For this many milliseconds after a user or group is created, reads of it (GetUser,
    /// GetGroup, and list and filter results) act as if it did not exist yet, while writes
    /// addressed to it work. AWS does not document read-after-create consistency; a peer
    /// saw a 404 about 50 ms after a create (ssosync #42; `docs/identity-center-dialect.md`
    /// §7). 0 (the default): a create is readable at once.
    pub read_after_create_lag_ms: u64,
}

impl Knobs {
    /// Checks ranges: rates within 0–1 and together at most 1, a rate limit and a page
    /// limit of at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
        if !rate_ok(self.fail_rate) || !rate_ok(self.drop_rate) {
            return Err(ConfigError::Knobs(
                "fail_rate and drop_rate must be within 0..=1",
            ));
        }
        if self.fail_rate + self.drop_rate > 1.0 {
            return Err(ConfigError::Knobs(
                "fail_rate + drop_rate must not exceed 1",
            ));
        }
        if self.rate_limit == Some(0) {
            return Err(ConfigError::Knobs(
                "rate_limit must be at least 1 request per second",
            ));
        }
        if matches!(self.page_limit, Some(n) if n == 0 || n > 100) {
            return Err(ConfigError::Knobs("page_limit must be within 1..=100"));
        }
        Ok(())
    }
}

/// A configuration the emulator cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No token, more than two, or an empty one.
    #[error("ic-emulator: {0}")]
    Tokens(&'static str),
    /// The base path is not of the form `/segment[/segment…]`.
    #[error("ic-emulator: base path must start with '/', not end with '/', and not be '/'")]
    BasePath,
    /// A knob is out of range.
    #[error("ic-emulator: {0}")]
    Knobs(&'static str),
}

pub(crate) fn validate_tokens(tokens: &[String]) -> Result<(), ConfigError> {
    if tokens.is_empty() {
        return Err(ConfigError::Tokens("at least one bearer token is required"));
    }
    if tokens.len() > MAX_TOKENS {
        return Err(ConfigError::Tokens(
            "Identity Center accepts at most two tokens at a time",
        ));
    }
    if tokens.iter().any(|t| t.trim().is_empty()) {
        return Err(ConfigError::Tokens("a bearer token must not be empty"));
    }
    Ok(())
}

fn validate_base_path(path: &str) -> Result<(), ConfigError> {
    let well_formed = path.starts_with('/')
        && !path.ends_with('/')
        && path.len() > 1
        && !path.contains("//")
        && !path.contains(['?', '#', '{', '}', '*']);
    if well_formed {
        Ok(())
    } else {
        Err(ConfigError::BasePath)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_accepts_one_or_two_tokens_but_not_three() {
        // AWS user guide rotate-token: "supports up to two access tokens at a time".
        assert!(EmulatorConfig::new("a").validate().is_ok());
        assert!(EmulatorConfig::new("a").with_token("b").validate().is_ok());
        let three = EmulatorConfig::new("a").with_token("b").with_token("c");
        assert!(matches!(three.validate(), Err(ConfigError::Tokens(_))));
        let none = EmulatorConfig {
            tokens: vec![],
            ..EmulatorConfig::new("a")
        };
        assert!(matches!(none.validate(), Err(ConfigError::Tokens(_))));
    }

    #[test]
    fn base_path_must_be_absolute_without_trailing_slash() {
        for good in [
            "/scim/v2",
            "/bdh6a5e3698-0fc6-4232-a028-fea1a99ff77a/scim/v2",
        ] {
            assert!(
                EmulatorConfig::new("t")
                    .with_base_path(good)
                    .validate()
                    .is_ok(),
                "{good}"
            );
        }
        for bad in ["", "/", "scim/v2", "/scim/v2/", "/a//b", "/{x}"] {
            assert_eq!(
                EmulatorConfig::new("t").with_base_path(bad).validate(),
                Err(ConfigError::BasePath),
                "{bad}"
            );
        }
    }

    #[test]
    fn knobs_reject_rates_outside_zero_to_one() {
        let bad = Knobs {
            fail_rate: 0.7,
            drop_rate: 0.4,
            ..Knobs::default()
        };
        assert!(bad.validate().is_err());
        assert!(
            Knobs {
                fail_rate: -0.1,
                ..Knobs::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Knobs {
                rate_limit: Some(0),
                ..Knobs::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Knobs {
                page_limit: Some(101),
                ..Knobs::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Knobs {
                fail_rate: 0.2,
                drop_rate: 0.2,
                ..Knobs::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn knobs_read_from_partial_json_with_defaults() {
        let knobs: Knobs =
            serde_json::from_str(r#"{"rate_limit":20,"fault_phase":"after"}"#).unwrap();
        assert_eq!(knobs.rate_limit, Some(20));
        assert_eq!(knobs.fault_phase, FaultPhase::After);
        assert_eq!(knobs.fail_rate, 0.0);
        assert!(serde_json::from_str::<Knobs>(r#"{"rate":1}"#).is_err());
    }
}
