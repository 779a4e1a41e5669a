//! The `authorizer` Lambda: an API Gateway HTTP API Lambda authorizer
//! (payload format 2.0, simple responses) that lets other services put
//! Warden's token check in front of their own routes.
//!
//! It applies exactly the check Warden's own endpoints use
//! ([`warden::auth::bearer::Bearer::user`]: signature, claims, then the
//! denylist and generation in one read) and passes `user_id`, `roles` and
//! `session_id` to the route as authorizer context. Result caching must stay
//! off in API Gateway: a cached allow would outlive a revocation.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use warden::Error;
use warden::state::AuthState;

/// Decides one request. Every failure, a store outage included, is a deny
/// (fail closed); the reason is logged, never returned.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    state: &AuthState,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, lambda_runtime::Error> {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match state.bearer().user(&event.payload.headers).await {
        Ok(claims) => {
            response.is_authorized = true;
            response.context = json!({
                "user_id": claims.sub,
                "roles": claims.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
                "session_id": claims.sid,
            });
        }
        Err(Error::Unauthorized) => {
            tracing::info!("request denied: missing, invalid or revoked token");
        }
        Err(e) => {
            tracing::error!(error = %e, "request denied: token could not be checked");
        }
    }
    Ok(response)
}
