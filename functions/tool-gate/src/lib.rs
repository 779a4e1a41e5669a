//! The `tool-gate` Lambda: an Amazon Bedrock AgentCore Gateway REQUEST
//! interceptor that puts Warden's tool-call decision (API.md "Governed tool
//! calls") in front of every MCP `tools/call` the gateway forwards, with no
//! change to the agent.
//!
//! - The event is AgentCore's REQUEST interceptor input for MCP targets
//!   (`interceptorInputVersion` `1.0`, `mcp.gatewayRequest` with the
//!   JSON-RPC body, `mcp.rawGatewayRequest.body` with the body as sent).
//!   The interceptor must be configured with `passRequestHeaders: true`:
//!   the caller's only credential is a Warden delegated token (RFC 8693,
//!   `POST /auth/token`) in `Authorization`, whose `act.sub` is the agent
//!   and whose `sub` is the person it acts for.
//! - The workspace is the `X-Warden-Workspace` header, else
//!   `WARDEN_DEFAULT_WORKSPACE` (the stack's `DefaultWorkspace`); the tool
//!   is the part of `params.name` after the first `___` (AgentCore names a
//!   target's tools `<target>___<tool>`); the arguments are
//!   `params.arguments` as sent.
//! - Methods other than `tools/call` (`initialize`, `tools/list`, ...)
//!   pass unchanged. A `tools/call` is decided by exactly the decision
//!   `POST /agents/{agent_id}/tool-calls` makes
//!   ([`warden::agents::tool_calls::submit`]), with the same audit: `allow`
//!   passes the request on unchanged; anything else answers the agent at
//!   once (`transformedGatewayResponse`) with a JSON-RPC error whose
//!   `data` carries Warden's answer (the `reason`, or for an approval the
//!   `proposal_id`), and the target is never called.
//! - Every failure, a store outage included, is an explicit deny (fail
//!   closed): the gateway may retry an interceptor that errs, and what it
//!   does with an error is not documented.

use std::collections::HashMap;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use warden::Error;
use warden::agents::tool_calls::{self, Credential, ToolCallAnswer, ToolCallRequest};
use warden::audit::Origin;
use warden::auth::delegation;
use warden::state::AgentState;

/// The output version AgentCore requires.
pub const OUTPUT_VERSION: &str = "1.0";

/// The header naming the workspace a call is decided in.
pub const WORKSPACE_HEADER: &str = "x-warden-workspace";

/// AgentCore's separator between a target's name and its tool's.
pub const TARGET_SEPARATOR: &str = "___";

/// JSON-RPC error code of a call refused by Warden's decision (`403`,
/// `404`, `429`): the `data` says why.
pub const CODE_REFUSED: i64 = -32001;

/// JSON-RPC error code of a call that needs a person's approval first.
pub const CODE_APPROVAL_REQUIRED: i64 = -32002;

/// JSON-RPC error code of a call whose credentials were missing or refused
/// (`401`).
pub const CODE_UNAUTHORIZED: i64 = -32003;

/// JSON-RPC "invalid params": the call itself cannot be decided (`400`,
/// `413`).
pub const CODE_INVALID_PARAMS: i64 = -32602;

/// JSON-RPC "internal error": Warden could not decide (`5xx`); nothing
/// was allowed.
pub const CODE_INTERNAL: i64 = -32603;

/// The REQUEST interceptor's input (MCP targets). Every part is optional:
/// a missing one is answered, never a deserialisation failure.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterceptorEvent {
    /// `1.0`.
    #[serde(default)]
    pub interceptor_input_version: Option<String>,
    /// The MCP request (and, for a RESPONSE interceptor, the response).
    #[serde(default)]
    pub mcp: Option<McpInput>,
}

/// The `mcp` member of the input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpInput {
    /// The body as the client sent it.
    #[serde(default)]
    pub raw_gateway_request: Option<RawRequest>,
    /// The request, its body parsed.
    #[serde(default)]
    pub gateway_request: Option<GatewayRequest>,
    /// Present (non-null) only when invoked as a RESPONSE interceptor.
    #[serde(default)]
    pub gateway_response: Option<Value>,
}

/// `mcp.rawGatewayRequest`.
#[derive(Debug, Default, Deserialize)]
pub struct RawRequest {
    /// The JSON-RPC body as text.
    #[serde(default)]
    pub body: Option<String>,
}

/// `mcp.gatewayRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRequest {
    /// Only with `passRequestHeaders: true`.
    #[serde(default)]
    pub headers: Option<HashMap<String, String>>,
    /// The JSON-RPC body.
    #[serde(default)]
    pub body: Option<Value>,
}

impl GatewayRequest {
    /// A header by name, whatever its case.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref().and_then(|headers| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        })
    }
}

/// The interceptor's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterceptorOutput {
    /// Always [`OUTPUT_VERSION`].
    pub interceptor_output_version: &'static str,
    /// What the gateway does next.
    pub mcp: McpOutput,
}

/// Pass the request on, or answer at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpOutput {
    /// The request to forward (unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformed_gateway_request: Option<TransformedRequest>,
    /// The answer the gateway returns at once, the target not called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformed_gateway_response: Option<TransformedResponse>,
}

/// `mcp.transformedGatewayRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransformedRequest {
    /// The JSON-RPC body.
    pub body: Value,
}

/// `mcp.transformedGatewayResponse`: only `statusCode` and `body`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformedResponse {
    /// The HTTP status the agent's MCP client sees.
    pub status_code: u16,
    /// A JSON-RPC response.
    pub body: Value,
}

impl InterceptorOutput {
    /// Forward `body` to the target.
    pub fn pass(body: Value) -> Self {
        Self {
            interceptor_output_version: OUTPUT_VERSION,
            mcp: McpOutput {
                transformed_gateway_request: Some(TransformedRequest { body }),
                transformed_gateway_response: None,
            },
        }
    }

    /// Answer at once with `status_code` and the JSON-RPC `body`.
    pub fn answer(status_code: u16, body: Value) -> Self {
        Self {
            interceptor_output_version: OUTPUT_VERSION,
            mcp: McpOutput {
                transformed_gateway_request: None,
                transformed_gateway_response: Some(TransformedResponse { status_code, body }),
            },
        }
    }
}

/// A denial: a JSON-RPC error answering request `id`, with `code`,
/// `message` and Warden's answer as `data`.
fn deny(
    id: &Value,
    status_code: u16,
    code: i64,
    message: String,
    data: Value,
) -> InterceptorOutput {
    InterceptorOutput::answer(
        status_code,
        json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": code, "message": message, "data": data },
        }),
    )
}

/// The denial of `error`: `401` for credentials, the JSON-RPC code by
/// kind, and in `data` the HTTP status and `reason` Warden's API answers.
fn refused(id: &Value, error: &Error) -> InterceptorOutput {
    let status = error.status();
    let (status_code, code) = match status.as_u16() {
        401 => (401, CODE_UNAUTHORIZED),
        400 | 413 => (200, CODE_INVALID_PARAMS),
        s if s >= 500 => (200, CODE_INTERNAL),
        _ => (200, CODE_REFUSED),
    };
    let mut data = json!({
        "decision": "deny",
        "status": status.as_u16(),
        "detail": error.public_detail(),
    });
    if let Some(reason) = error.reason() {
        data["reason"] = reason.into();
    }
    if let Error::RateLimited { retry_after }
    | Error::ApprovalsPending { retry_after, .. }
    | Error::Saturated { retry_after } = error
    {
        // Whole seconds, rounded up, as the HTTP API's Retry-After.
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        data["retry_after"] = secs.max(1).into();
    }
    let message = match error.reason() {
        Some(reason) => format!("refused by Warden ({reason}): {}", error.public_detail()),
        None => format!("refused by Warden: {}", error.public_detail()),
    };
    deny(id, status_code, code, message, data)
}

/// The one `tools/call` parameter set read from the body as sent: the
/// arguments keep their exact text (I-JSON is checked on it).
#[derive(Deserialize)]
struct RawCall<'a> {
    #[serde(borrow)]
    params: Option<RawParams<'a>>,
}

#[derive(Deserialize)]
struct RawParams<'a> {
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
}

/// The arguments of a `tools/call` as text: from the body as sent when
/// there is one, else re-serialised from the parsed body; `{}` when the
/// call has none.
fn arguments_text(raw_body: Option<&str>, body: &Value) -> String {
    let exact = raw_body.and_then(|raw| {
        serde_json::from_str::<RawCall<'_>>(raw).ok().map(|call| {
            call.params
                .and_then(|p| p.arguments)
                .map(|a| a.get().to_owned())
        })
    });
    match exact {
        Some(Some(text)) => text,
        Some(None) => "{}".into(),
        None => body["params"]
            .get("arguments")
            .map_or_else(|| "{}".into(), Value::to_string),
    }
}

/// The tool a gateway name stands for: what follows the first `___`, or
/// the whole name when there is none.
pub fn tool_of(name: &str) -> &str {
    name.split_once(TARGET_SEPARATOR)
        .map_or(name, |(_, tool)| tool)
}

/// A token from an `Authorization` value: `Bearer <token>` (any case), or
/// the bare token.
fn token_of(authorization: &str) -> &str {
    let value = authorization.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    }
}

/// An idempotency key for the call, so that a retried invocation replays
/// the decision instead of deciding (and using an approval) twice: the MCP
/// session and the JSON-RPC id, which MCP never reuses within a session.
fn idempotency_key(request: &GatewayRequest, id: &Value) -> Option<String> {
    let session = request.header("mcp-session-id")?;
    let id = match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let key = format!("mcp:{session}:{id}");
    warden::agents::run::parse_idempotency_key(&key)
        .is_ok()
        .then_some(key)
}

/// Decides one interceptor invocation (see the module documentation).
/// Never an error: every failure is answered as a denial.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    state: &AgentState,
    event: LambdaEvent<Value>,
) -> Result<InterceptorOutput, lambda_runtime::Error> {
    let request_id = event.context.request_id.clone();
    let parsed: InterceptorEvent = match serde_json::from_value(event.payload) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Where and what kind, never the message: serde quotes the
            // offending value, which may be a header holding a token.
            tracing::warn!(category = ?e.classify(), line = e.line(), column = e.column(),
                "not an interceptor event");
            InterceptorEvent::default()
        }
    };
    Ok(intercept(state, parsed, &request_id).await)
}

/// [`handler`] on a parsed event, the invocation's `request_id` as the
/// audit's.
pub async fn intercept(
    state: &AgentState,
    event: InterceptorEvent,
    request_id: &str,
) -> InterceptorOutput {
    let mcp = event.mcp.unwrap_or_default();
    // Invoked as a RESPONSE interceptor: nothing to decide, the response
    // goes back unchanged.
    if let Some(response) = mcp.gateway_response.filter(|r| !r.is_null()) {
        return InterceptorOutput {
            interceptor_output_version: OUTPUT_VERSION,
            mcp: McpOutput {
                transformed_gateway_request: None,
                transformed_gateway_response: Some(TransformedResponse {
                    status_code: response["statusCode"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(200),
                    body: response.get("body").cloned().unwrap_or(Value::Null),
                }),
            },
        };
    }
    let Some(request) = mcp.gateway_request else {
        return deny(
            &Value::Null,
            200,
            -32600,
            "not an AgentCore Gateway REQUEST interceptor event".into(),
            json!({"decision": "deny"}),
        );
    };
    let body = request.body.clone().unwrap_or(Value::Null);
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    if body.get("method").and_then(Value::as_str) != Some("tools/call") {
        return InterceptorOutput::pass(body);
    }
    if request.headers.is_none() {
        tracing::error!("the interceptor needs passRequestHeaders: true");
        return deny(
            &id,
            200,
            CODE_INTERNAL,
            "Warden's tool gate needs passRequestHeaders: true to read the caller's token".into(),
            json!({"decision": "deny", "status": 500}),
        );
    }
    let Some(token) = request
        .header("authorization")
        .map(token_of)
        .filter(|t| !t.is_empty())
    else {
        return refused(&id, &Error::token(warden::error::Refusal::Missing));
    };
    // The agent is the token's actor: read from the verified token (a
    // cached verification; the decision checks it whole).
    let agent_id = match state.tokens.verify(token, state.clock.now_secs()).await {
        Ok(claims) => match delegation::actor_agent(&claims) {
            Ok(Some(agent)) => agent,
            Ok(None) => {
                return refused(
                    &id,
                    &Error::Forbidden(
                        "only a token delegated to an agent (POST /auth/token) calls tools here"
                            .into(),
                    ),
                );
            }
            Err(e) => return refused(&id, &e),
        },
        Err(e) => return refused(&id, &e),
    };
    let Some(workspace) = request
        .header(WORKSPACE_HEADER)
        .map(str::to_owned)
        .or_else(|| state.config.default_workspace.clone())
    else {
        return refused(
            &id,
            &Error::BadRequest(
                "no workspace: send X-Warden-Workspace or set the gate's DefaultWorkspace".into(),
            ),
        );
    };
    let Some(name) = body["params"].get("name").and_then(Value::as_str) else {
        return refused(
            &id,
            &Error::BadRequest("tools/call without params.name".into()),
        );
    };
    let arguments = arguments_text(
        mcp.raw_gateway_request
            .as_ref()
            .and_then(|r| r.body.as_deref()),
        &body,
    );
    let call = ToolCallRequest {
        workspace_id: workspace.clone(),
        tool: tool_of(name).to_owned(),
        arguments,
    };
    // What the idempotency record compares: the call as decided.
    let hashed = json!({
        "workspace_id": call.workspace_id,
        "tool": call.tool,
        "arguments": call.arguments,
    });
    let origin = Origin::Http {
        ip: "unknown".into(),
        user_agent: request
            .header("user-agent")
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect(),
        request_id: request_id.to_owned(),
    };
    let key = idempotency_key(&request, &id);
    let decided = tool_calls::submit(
        state,
        origin,
        Credential::Token(token),
        agent_id.as_str(),
        Ok((call, hashed)),
        key.as_deref(),
    )
    .await;
    match decided {
        Ok((ToolCallAnswer::Allow { call_id, .. }, _)) => {
            tracing::info!(%call_id, %agent_id, "tool call allowed");
            InterceptorOutput::pass(body)
        }
        Ok((
            ToolCallAnswer::ApprovalRequired {
                call_id,
                proposal_id,
                expires_at,
            },
            _,
        )) => deny(
            &id,
            200,
            CODE_APPROVAL_REQUIRED,
            format!(
                "approval required: a person must approve proposal {proposal_id} before {expires_at}; then call again with the same arguments"
            ),
            json!({
                "decision": "approval_required",
                "call_id": call_id,
                "proposal_id": proposal_id,
                "expires_at": expires_at,
            }),
        ),
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(error = %e.chain(), "tool call could not be decided; denied");
            }
            refused(&id, &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_is_what_follows_the_first_target_separator() {
        assert_eq!(tool_of("WardenTarget___read_file"), "read_file");
        assert_eq!(tool_of("outer___inner___send_email"), "inner___send_email");
        assert_eq!(tool_of("send_email"), "send_email");
    }

    #[test]
    fn a_bearer_prefix_is_optional_and_case_blind() {
        assert_eq!(token_of("Bearer abc"), "abc");
        assert_eq!(token_of("bearer  abc "), "abc");
        assert_eq!(token_of("abc"), "abc");
    }

    #[test]
    fn arguments_keep_the_text_as_sent() {
        let raw = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"b":1.10,"a":[1]}}}"#;
        let body: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(arguments_text(Some(raw), &body), r#"{"b":1.10,"a":[1]}"#);
        assert_eq!(arguments_text(None, &body), r#"{"a":[1],"b":1.1}"#);
        let none = r#"{"method":"tools/call","params":{"name":"t"}}"#;
        assert_eq!(arguments_text(Some(none), &Value::Null), "{}");
    }
}
