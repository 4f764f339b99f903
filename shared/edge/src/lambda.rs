//! Serving a router under the Lambda runtime (feature `lambda`): the one place that
//! hands the invocation's request id to the routers, which use it as the correlation id
//! because the runtime's own log lines carry it too.

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt as _;

use crate::http::InvocationId;

/// Serves `router` (built by [`crate::scim_router`] or [`crate::audit_router`]) through
/// `lambda_http::run` until the runtime stops.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router.layer(axum::middleware::map_request(invocation_id))).await
}

/// Hands the Lambda request id to the router.
async fn invocation_id(mut request: Request) -> Request {
    if let Some(id) = request.lambda_context_ref().map(|c| c.request_id.clone()) {
        request.extensions_mut().insert(InvocationId(id));
    }
    request
}
