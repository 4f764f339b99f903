//! [`ScimApp`]: what the SCIM router needs, built once per cold start (or per `scimgw
//! dev` run) and shared by every request.

use gateway::ScimService;

use crate::auth::BearerAuthenticator;
use crate::metrics::{RequestMetrics, function_name};

/// The SCIM function's application state: the use cases, the inbound authenticator, the
/// public base URL when it is configured rather than derived from requests, and the
/// per-request metrics.
pub struct ScimApp {
    service: ScimService,
    authenticator: BearerAuthenticator,
    public_base_url: Option<String>,
    metrics: RequestMetrics,
}

impl std::fmt::Debug for ScimApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimApp")
            .field("authenticator", &self.authenticator)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl ScimApp {
    /// State over a service and an authenticator; the base URL is derived per request,
    /// and metrics go to stdout under the function's name, as in Lambda.
    pub fn new(service: ScimService, authenticator: BearerAuthenticator) -> Self {
        Self {
            service,
            authenticator,
            public_base_url: None,
            metrics: RequestMetrics::new(function_name("scim-api")),
        }
    }

    /// Uses `metrics` for the per-request EMF documents (a counts source, another sink).
    #[must_use]
    pub fn with_metrics(mut self, metrics: RequestMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The per-request metrics.
    pub fn metrics(&self) -> &RequestMetrics {
        &self.metrics
    }

    /// Sets the SCIM base URL clients use (ending in `/scim/v2`), for `Location` headers
    /// and `meta.location` when the request's host is not the public one (a proxy, a
    /// custom domain).
    #[must_use]
    pub fn with_public_base_url(mut self, url: Option<String>) -> Self {
        self.public_base_url = url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// The use cases.
    pub fn service(&self) -> &ScimService {
        &self.service
    }

    /// The inbound authenticator.
    pub fn authenticator(&self) -> &BearerAuthenticator {
        &self.authenticator
    }

    /// The configured public base URL, if any.
    pub fn public_base_url(&self) -> Option<&str> {
        self.public_base_url.as_deref()
    }
}
