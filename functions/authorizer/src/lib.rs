//! The `authorizer` Lambda: an API Gateway HTTP API Lambda authorizer
//! (payload format 2.0, simple responses) that lets other services put
//! Warden's token check in front of their own routes.
//!
//! It applies exactly the check Warden's own endpoints use
//! ([`warden::auth::bearer::Bearer`]: RS256 signature against the key set,
//! claims, then the denylist and generation in one read) and passes
//! `user_id`, `roles` and `session_id` to the route as authorizer context.
//! A delegated token (one with `act`) is refused unless the route is one of
//! `WARDEN_DELEGATED_ROUTES` (the stack's `DelegatedRoutes`); there it also
//! forwards the actor (`actor`, `actor_key_id`: empty for a person's own
//! token), which the example route passes on as `x-warden-actor`. Result caching must stay
//! off in API Gateway: a cached allow would outlive a revocation.
//!
//! A simple-response authorizer cannot set headers: a refused request is
//! API Gateway's own `403 {"message":"Forbidden"}` (or `401` without an
//! `Authorization` header), not Warden's RFC 6750 challenge.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use warden::Error;
use warden::auth::bearer::bearer_token;
use warden::error::Refusal;
use warden::state::AuthState;

/// Decides one request. Every failure, a store outage included, is a deny
/// (fail closed); the reason is logged, never returned.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    state: &AuthState,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, lambda_runtime::Error> {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    let route = event.payload.route_key.as_deref().unwrap_or_default();
    let delegated_here = state.config.delegated_routes.iter().any(|r| r == route);
    let bearer = state.bearer();
    let checked = match bearer_token(&event.payload.headers) {
        Ok(Some(token)) if delegated_here => bearer.live(token).await,
        Ok(Some(token)) => bearer.person(token).await,
        Ok(None) => Err(Error::token(Refusal::Missing)),
        Err(e) => Err(e),
    };
    match checked {
        Ok((claims, _)) => {
            response.is_authorized = true;
            // `actor` and `actor_key_id` are always there (empty for a
            // person's own token), so that an integration may map them to
            // headers (`x-warden-actor`) whatever the token.
            let (actor, actor_key_id) = claims
                .act
                .as_ref()
                .map_or(("", ""), |a| (a.sub.as_str(), a.key_id.as_str()));
            response.context = json!({
                "user_id": claims.sub,
                "roles": claims.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
                "session_id": claims.sid,
                "actor": actor,
                "actor_key_id": actor_key_id,
            });
        }
        Err(
            e @ (Error::TokenRefused(_)
            | Error::InsufficientScope { .. }
            | Error::InvalidRequest(_)),
        ) => {
            tracing::info!(reason = %e, "request denied");
        }
        Err(e) => {
            tracing::error!(error = %e, "request denied: token could not be checked");
        }
    }
    Ok(response)
}
