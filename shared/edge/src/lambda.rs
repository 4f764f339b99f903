//! Serving a router under the Lambda runtime (feature `lambda`): the one place that
//! hands the invocation's request id to the routers (the correlation id, because the
//! runtime's own log lines carry it too) and API Gateway's view of the source address.

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

use crate::http::{ApiRequestId, InvocationId, SourceIp};

/// Serves `router` (built by [`crate::scim_router`] or [`crate::audit_router`]) through
/// `lambda_http::run` until the runtime stops.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router.layer(axum::middleware::map_request(invocation_id))).await
}

/// Hands the Lambda request id, API Gateway's request id and its view of the source
/// address to the router.
async fn invocation_id(mut request: Request) -> Request {
    if let Some(id) = request.lambda_context_ref().map(|c| c.request_id.clone()) {
        request.extensions_mut().insert(InvocationId(id));
    }
    let (source, request_id) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.identity.source_ip.clone(),
            context.request_id.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.http.source_ip.clone(), context.request_id.clone())
        }
        _ => (None, None),
    };
    if let Some(ip) = source {
        request.extensions_mut().insert(SourceIp(ip));
    }
    if let Some(id) = request_id {
        request.extensions_mut().insert(ApiRequestId(id));
    }
    request
}
