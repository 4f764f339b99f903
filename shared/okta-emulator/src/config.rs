//! The emulator's configuration: the API tokens, the org URL it names in links, the seed
//! data it starts with, and the knobs (rate limit, latency, injected 500s and dropped
//! connections, page size) that can also change at run time.

use serde::{Deserialize, Serialize};

use crate::seed::Seed;

/// Tokens accepted at once: the one in use and the one replacing it, so that a client can
/// be moved to a new token before the old one is revoked (Okta lets an org hold many API
/// tokens; two is what a rotation needs).
pub const MAX_TOKENS: usize = 2;

/// How the emulator starts.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// The API tokens accepted (as `SSWS <token>` or `Bearer <token>`), one or two.
    pub tokens: Vec<String>,
    /// The org URL put in `Link` headers and `_links`, e.g. `http://127.0.0.1:8080/okta`
    /// when the router is mounted under a prefix. `None`: the address the server listens
    /// on, or the request's `Host` when the router is used without [`crate::Emulator::serve`].
    pub base_url: Option<String>,
    /// The knobs in force at start.
    pub knobs: Knobs,
    /// The users, groups, memberships and app assignments to start with.
    pub seed: Option<Seed>,
}

impl EmulatorConfig {
    /// A configuration with one token, an empty org and no knobs.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            tokens: vec![token.into()],
            base_url: None,
            knobs: Knobs::default(),
            seed: None,
        }
    }

    /// Adds a second accepted token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(token.into());
        self
    }

    /// Sets the org URL named in links.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Sets the knobs in force at start.
    pub fn with_knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = knobs;
        self
    }

    /// Starts with this seed data instead of an empty org.
    pub fn with_seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the tokens, the org URL and the knobs (the seed is checked when loaded).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_tokens(&self.tokens)?;
        if let Some(url) = &self.base_url {
            validate_base_url(url)?;
        }
        self.knobs.validate()
    }
}

/// The behaviour knobs, settable at start and at run time: through
/// [`crate::Emulator::set_knobs`], `PUT /_emulator/knobs` with this struct as JSON (absent
/// fields take their defaults) or `PATCH /_emulator/knobs` (absent fields stay as they are).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// API requests accepted per one-second window (aligned to the epoch second) before
    /// 429 E0000047. `None`: unlimited, and the rate-limit headers report a nominal
    /// [`NOMINAL_LIMIT`] per minute that is never enforced.
    pub rate_limit: Option<u32>,
    /// Added latency per API request, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0–1) of API requests answered 500 E0000009 before they take effect.
    pub error_rate: f64,
    /// Fraction (0–1) of API requests whose TCP connection is closed without an answer,
    /// before they take effect (as the Identity Center emulator's `drop_rate`).
    pub drop_rate: f64,
    /// Seed of the random source that decides injected 500s and drops and the ids of new users
    /// and groups, so that runs are reproducible. Changing it restarts the source.
    pub seed: u64,
    /// Caps the items of every page below the request's `limit`, so that tests can make
    /// clients follow `next` links without creating thousands of resources. `None`:
    /// pages are as long as `limit` allows.
    pub page_limit: Option<u32>,
}

/// The per-minute limit the rate-limit headers report when no `rate_limit` is set: the
/// order of Okta's default for `/api/v1/users` (Rate limits reference).
pub const NOMINAL_LIMIT: u32 = 600;

impl Knobs {
    /// Checks ranges: an error rate and a drop rate within 0–1 and together at most 1,
    /// a rate limit and a page limit of at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(ConfigError::Knobs("error_rate must be within 0..=1"));
        }
        if !(0.0..=1.0).contains(&self.drop_rate) {
            return Err(ConfigError::Knobs("drop_rate must be within 0..=1"));
        }
        if self.error_rate + self.drop_rate > 1.0 {
            return Err(ConfigError::Knobs(
                "error_rate + drop_rate must not exceed 1",
            ));
        }
        if self.rate_limit == Some(0) {
            return Err(ConfigError::Knobs(
                "rate_limit must be at least 1 request per second",
            ));
        }
        if self.page_limit == Some(0) {
            return Err(ConfigError::Knobs("page_limit must be at least 1"));
        }
        Ok(())
    }
}

/// A configuration the emulator cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No token, more than two, or a blank one.
    #[error("okta-emulator: {0}")]
    Tokens(&'static str),
    /// The org URL is not an absolute `http(s)` URL without a query or trailing `/`.
    #[error(
        "okta-emulator: the base URL must be http(s)://host[:port][/path] without a trailing '/'"
    )]
    BaseUrl,
    /// A knob is out of range.
    #[error("okta-emulator: {0}")]
    Knobs(&'static str),
}

pub(crate) fn validate_tokens(tokens: &[String]) -> Result<(), ConfigError> {
    if tokens.is_empty() {
        return Err(ConfigError::Tokens("at least one API token is required"));
    }
    if tokens.len() > MAX_TOKENS {
        return Err(ConfigError::Tokens("at most two API tokens at a time"));
    }
    // A token is sent in a header after a space: one with white space could never match.
    if tokens
        .iter()
        .any(|t| t.is_empty() || t.chars().any(char::is_whitespace))
    {
        return Err(ConfigError::Tokens(
            "an API token must not be empty or hold white space",
        ));
    }
    Ok(())
}

fn validate_base_url(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or(ConfigError::BaseUrl)?;
    let host = rest.split('/').next().unwrap_or_default();
    let well_formed = !host.is_empty()
        && !url.ends_with('/')
        && !url.contains(['?', '#', ' '])
        && !rest.contains("//");
    if well_formed {
        Ok(())
    } else {
        Err(ConfigError::BaseUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_two_tokens_are_accepted_but_not_none_three_or_blank_ones() {
        assert!(EmulatorConfig::new("a").validate().is_ok());
        assert!(EmulatorConfig::new("a").with_token("b").validate().is_ok());
        for bad in [
            EmulatorConfig::new("a").with_token("b").with_token("c"),
            EmulatorConfig::new(""),
            EmulatorConfig::new("a b"),
            EmulatorConfig {
                tokens: vec![],
                ..EmulatorConfig::new("a")
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(ConfigError::Tokens(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_base_url_is_absolute_http_without_a_trailing_slash() {
        for good in [
            "http://127.0.0.1:8080",
            "https://example.okta.com",
            "http://localhost:9/okta",
        ] {
            assert!(
                EmulatorConfig::new("t")
                    .with_base_url(good)
                    .validate()
                    .is_ok(),
                "{good}"
            );
        }
        for bad in [
            "",
            "example.okta.com",
            "https://example.okta.com/",
            "https://",
            "ftp://x",
            "http://x?y",
        ] {
            assert_eq!(
                EmulatorConfig::new("t").with_base_url(bad).validate(),
                Err(ConfigError::BaseUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn knobs_reject_fault_rates_outside_zero_to_one_and_zero_limits() {
        let bad = [
            Knobs {
                error_rate: 1.5,
                ..Knobs::default()
            },
            Knobs {
                rate_limit: Some(0),
                ..Knobs::default()
            },
            Knobs {
                page_limit: Some(0),
                ..Knobs::default()
            },
            Knobs {
                drop_rate: -0.1,
                ..Knobs::default()
            },
            Knobs {
                error_rate: 0.6,
                drop_rate: 0.5,
                ..Knobs::default()
            },
        ];
        for knobs in bad {
            assert!(knobs.validate().is_err(), "{knobs:?}");
        }
        assert!(
            Knobs {
                error_rate: 0.3,
                rate_limit: Some(5),
                ..Knobs::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn knobs_read_from_partial_json_with_defaults_and_refuse_unknown_fields() {
        let knobs: Knobs = serde_json::from_str(r#"{"rate_limit":20,"seed":7}"#).unwrap();
        assert_eq!((knobs.rate_limit, knobs.seed), (Some(20), 7));
        assert_eq!(knobs.error_rate, 0.0);
        assert!(serde_json::from_str::<Knobs>(r#"{"rate":1}"#).is_err());
    }
}
