//! The `agent-run` Lambda: run requests, jobs and proposals.
//!
//! - `POST /agents/{agent_id}/runs`: a run under governance (API.md's
//!   order), idempotent with `Idempotency-Key`;
//! - `GET /agents/runs/{job_id}`, `GET /agents/runs?workspace_id=W`;
//! - `GET /agents/proposals`, `POST /agents/proposals/{id}/approve|reject`;
//! - `POST /agents/{agent_id}/tool-calls`: the decision on a tool call
//!   (API.md "Governed tool calls"), `GET /agents/tool-calls[/{call_id}]`,
//!   `POST /agents/tool-calls/{call_id}/outcome`;
//! - `GET /tools/jwks.json`: the key set decision tokens verify with
//!   (public);
//! - `GET /agents`, `POST /agents/{agent_id}/disable|enable`: the registry
//!   and the kill switch, for admins (API.md "Admin endpoints").
//!
//! Every other route authenticates first: a bearer token (people) or an
//! `X-API-Key` (services and agents, scope `agents:run`; `tools:call` for
//! tool calls); the admin routes take a person's bearer token only. A key's
//! request spends its run limit or its read limit, as the route declares
//! ([`Endpoint::key_limit`]). Every `202` says where to poll (`Location`)
//! and when (`Retry-After`: [`RETRY_AFTER_QUEUED_SECS`],
//! [`RETRY_AFTER_APPROVAL_SECS`]). The rules live in [`warden::agents`];
//! this crate reads the request and renders the answer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use warden::Error;
use warden::agents::decision::DECISION_JWKS_PATH;
use warden::agents::proposals::{self, Decision};
use warden::agents::registry::{self, AgentView, SwitchedBy};
use warden::agents::run::{self, DEFAULT_PAGE, MAX_PAGE, RunRequest};
use warden::agents::tool_calls::{
    self, Credential, TOOL_CALL_BODY_LIMIT, ToolCallAnswer, ToolCallRequest,
};
use warden::auth::api_keys::{KeyLimit, SCOPE_AGENTS_READ, SCOPE_AGENTS_RUN, SCOPE_TOOLS_CALL};
use warden::auth::bearer::{API_KEY_HEADER, bearer_token};
use warden::domain::Role;
use warden::domain::agents::{AgentId, JobStatus, ProposalStatus, is_generated_id};
use warden::domain::tools::{OutcomeStatus, ToolCallStatus};
use warden::http::{RequestContext, Route, non_null, path, query_params, resolve, respond};
use warden::state::AgentState;

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /agents/{agent_id}/runs`.
    Run,
    /// `GET /agents/runs?workspace_id=W`.
    Runs,
    /// `GET /agents/runs/{job_id}`.
    Job,
    /// `GET /agents/proposals`.
    Proposals,
    /// `POST /agents/proposals/{proposal_id}/approve` or `/reject`.
    Decide(Decision),
    /// `POST /agents/{agent_id}/tool-calls`.
    ToolCall,
    /// `GET /agents/tool-calls?workspace_id=W`.
    ToolCalls,
    /// `GET /agents/tool-calls/{call_id}`.
    ToolCallRecord,
    /// `POST /agents/tool-calls/{call_id}/outcome`.
    Outcome,
    /// `GET /tools/jwks.json`.
    DecisionKeys,
    /// `GET /agents`: the registry (admins).
    Agents,
    /// `POST /agents/{agent_id}/enable` (`true`) or `/disable` (`false`):
    /// the kill switch (admins).
    SetEnabled(bool),
}

impl Endpoint {
    /// Which of an API key's two hourly limits a request here spends:
    /// reading (a job, a tool call, a listing) its read limit, so that
    /// polling never uses up what running needs; runs and every other
    /// write its run limit. (The admin routes and the key set take no
    /// key.)
    pub fn key_limit(self) -> KeyLimit {
        match self {
            Endpoint::Runs
            | Endpoint::Job
            | Endpoint::Proposals
            | Endpoint::ToolCalls
            | Endpoint::ToolCallRecord
            | Endpoint::DecisionKeys
            | Endpoint::Agents => KeyLimit::Read,
            Endpoint::Run
            | Endpoint::Decide(_)
            | Endpoint::ToolCall
            | Endpoint::Outcome
            | Endpoint::SetEnabled(_) => KeyLimit::Run,
        }
    }
}

/// `Retry-After` (seconds) of a `202` whose job is queued (`PENDING`): a
/// queued job usually starts within a second, and runs in milliseconds.
pub const RETRY_AFTER_QUEUED_SECS: u64 = 1;

/// `Retry-After` (seconds) of a `202` waiting for a person (a run
/// `AWAITING_APPROVAL`, a tool call's `approval_required`): people decide
/// in minutes, and a poll every 30 s sees a decision soon enough.
pub const RETRY_AFTER_APPROVAL_SECS: u64 = 30;

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("POST", "/agents/{agent_id}/runs", Endpoint::Run),
    Route::to("GET", "/agents/runs", Endpoint::Runs),
    Route::to("GET", "/agents/runs/{job_id}", Endpoint::Job),
    Route::to("GET", "/agents/proposals", Endpoint::Proposals),
    Route::to(
        "POST",
        "/agents/proposals/{proposal_id}/approve",
        Endpoint::Decide(Decision::Approve),
    ),
    Route::to(
        "POST",
        "/agents/proposals/{proposal_id}/reject",
        Endpoint::Decide(Decision::Reject),
    ),
    Route::to("POST", "/agents/{agent_id}/tool-calls", Endpoint::ToolCall),
    Route::to("GET", "/agents/tool-calls", Endpoint::ToolCalls),
    Route::to(
        "GET",
        "/agents/tool-calls/{call_id}",
        Endpoint::ToolCallRecord,
    ),
    Route::to(
        "POST",
        "/agents/tool-calls/{call_id}/outcome",
        Endpoint::Outcome,
    ),
    Route::to("GET", DECISION_JWKS_PATH, Endpoint::DecisionKeys),
    // The agent ids `runs`, `proposals` and `tool-calls` are reserved:
    // `/agents/runs/disable` stays `/agents/runs/{job_id}`'s (`resolve`
    // lets the literal segment win).
    Route::to("GET", "/agents", Endpoint::Agents),
    Route::to(
        "POST",
        "/agents/{agent_id}/disable",
        Endpoint::SetEnabled(false),
    ),
    Route::to(
        "POST",
        "/agents/{agent_id}/enable",
        Endpoint::SetEnabled(true),
    ),
];

/// Body limit of every agent endpoint, in bytes (256 KiB).
pub const RUN_BODY_LIMIT: usize = 256 * 1024;

/// The body of a run request. `input` is required and must be an object;
/// it is kept as the text received, byte for byte (never re-serialised: a
/// number written short would grow, and the action reads the client's own
/// digits).
#[derive(Deserialize)]
struct RunBody<'a> {
    workspace_id: String,
    action: String,
    #[serde(borrow)]
    input: &'a RawValue,
}

/// The body of a tool call. `arguments` is kept as the text received: it
/// is checked as I-JSON and put in JCS form by the use case.
#[derive(Deserialize)]
struct ToolCallBody<'a> {
    workspace_id: String,
    tool: String,
    #[serde(borrow)]
    arguments: &'a RawValue,
}

/// The body of an outcome report.
#[derive(Deserialize)]
struct OutcomeBody {
    status: String,
    #[serde(default, deserialize_with = "non_null")]
    detail: Option<String>,
}

/// The optional body of a decision, and of the kill switch.
#[derive(Deserialize, Default)]
struct DecisionBody {
    #[serde(default, deserialize_with = "non_null")]
    reason: Option<String>,
}

impl DecisionBody {
    /// The body of `req`: none (or only whitespace) is no reason.
    fn read(req: &Request) -> Result<Self, Error> {
        if req.body().iter().all(u8::is_ascii_whitespace) {
            Ok(Self::default())
        } else {
            warden::http::read_json(req, RUN_BODY_LIMIT)
        }
    }
}

/// Answers one request; every outcome is a response.
pub async fn handler(
    state: &AgentState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |ctx, respond| {
        match route(state, ctx, &req).await {
            Ok(Answer::Json(status, body)) => respond.json(status, &body),
            Ok(Answer::Accepted(body, location, retry_after)) => {
                let mut response = respond.json(StatusCode::ACCEPTED, &body);
                let headers = response.headers_mut();
                if let Ok(value) = http::HeaderValue::from_str(&location) {
                    headers.insert(http::header::LOCATION, value);
                }
                headers.insert(http::header::RETRY_AFTER, retry_after.into());
                response
            }
            Ok(Answer::NoContent) => respond.no_content(),
            Ok(Answer::Public(body)) => respond.public_json(&body),
            Err(e) => respond.problem(&e),
        }
    })
    .await)
}

/// What a route answers.
enum Answer {
    /// A JSON body.
    Json(StatusCode, Value),
    /// `202`: a JSON body, the path to poll (`Location`) and when
    /// (`Retry-After`, seconds).
    Accepted(Value, String, u64),
    /// `204`.
    NoContent,
    /// A public, cacheable JSON document.
    Public(Value),
}

async fn route(state: &AgentState, ctx: &RequestContext, req: &Request) -> Result<Answer, Error> {
    let (route, params) = resolve(ROUTES, req.method(), path(req))?;
    let origin = ctx.origin();
    match route.endpoint {
        Endpoint::DecisionKeys => {
            let decisions = state
                .decisions
                .as_ref()
                .ok_or_else(|| Error::NotFound("no decision key here".into()))?;
            return Ok(Answer::Public(json!(decisions.jwks())));
        }
        Endpoint::ToolCall => return tool_call(state, origin, req, params.get("agent_id")?).await,
        Endpoint::Agents | Endpoint::SetEnabled(_) => {
            return registry_admin(state, origin, req, route.endpoint, &params).await;
        }
        _ => {}
    }
    // Tool-call records and outcomes are read and reported with
    // `tools:call`; runs with `agents:run`; reading takes either.
    let scopes: &[&str] = match route.endpoint {
        Endpoint::Outcome => &[SCOPE_TOOLS_CALL],
        Endpoint::ToolCalls | Endpoint::ToolCallRecord => {
            &[SCOPE_TOOLS_CALL, SCOPE_AGENTS_READ, SCOPE_AGENTS_RUN]
        }
        _ if req.method() == http::Method::POST => &[SCOPE_AGENTS_RUN],
        _ => &[SCOPE_AGENTS_RUN, SCOPE_AGENTS_READ],
    };
    // A delegated token is taken only to read a call it made and to report
    // an outcome; every other route refuses it (403).
    let bearer = state.bearer();
    let limit = route.endpoint.key_limit();
    let caller = match route.endpoint {
        Endpoint::ToolCallRecord | Endpoint::Outcome => {
            bearer
                .caller_or_delegated(req.headers(), &origin, scopes, SCOPE_TOOLS_CALL, limit)
                .await?
        }
        _ => bearer.caller(req.headers(), &origin, scopes, limit).await?,
    };
    match route.endpoint {
        Endpoint::Run => {
            // Read as a value first: the size, content type, UTF-8 and
            // shape checks, and the idempotency hash (JSON values compared).
            let body: Value = warden::http::read_json(req, RUN_BODY_LIMIT)?;
            let parsed: RunBody = serde_json::from_slice(req.body().as_ref())
                .map_err(|e| Error::BadRequest(format!("invalid run request: {e}")))?;
            // Not only `null`: serde would read an action's input struct
            // from an array too.
            if !parsed.input.get().starts_with('{') {
                return Err(Error::BadRequest("input must be a JSON object".into()));
            }
            let key = header(req, "idempotency-key")?;
            let request = RunRequest {
                workspace_id: parsed.workspace_id,
                action: parsed.action,
                input: parsed.input.get().to_owned(),
            };
            let accepted = run::submit(
                state,
                origin,
                &caller,
                params.get("agent_id")?,
                request,
                &body,
                key,
            )
            .await?;
            Ok(polled(json!(accepted), &accepted.job_id, accepted.status))
        }
        Endpoint::Runs => {
            let query = Query::read(req)?;
            let workspace = query
                .get("workspace_id")
                .ok_or_else(|| Error::BadRequest("workspace_id is required".into()))?;
            let status = query.get("status").map(JobStatus::parse).transpose()?;
            let (limit, after) = query.page()?;
            let (runs, next) = run::list_jobs(
                state,
                &origin,
                &caller,
                workspace,
                status,
                limit,
                after.as_deref(),
            )
            .await?;
            Ok(Answer::Json(
                StatusCode::OK,
                json!({ "runs": runs, "next": next.map(|n| cursor(&n)) }),
            ))
        }
        Endpoint::Job => {
            let job = run::get_job(state, &origin, &caller, params.get("job_id")?).await?;
            Ok(Answer::Json(StatusCode::OK, json!(job)))
        }
        Endpoint::Proposals => {
            let query = Query::read(req)?;
            let status = query
                .get("status")
                .map(ProposalStatus::parse)
                .transpose()?
                .unwrap_or(ProposalStatus::Pending);
            let (limit, after) = query.page()?;
            let (list, next) =
                proposals::list(state, &origin, &caller, status, limit, after.as_deref()).await?;
            Ok(Answer::Json(
                StatusCode::OK,
                json!({ "proposals": list, "next": next.map(|n| cursor(&n)) }),
            ))
        }
        Endpoint::Decide(decision) => {
            let body = DecisionBody::read(req)?;
            let decided = proposals::decide(
                state,
                origin,
                &caller,
                params.get("proposal_id")?,
                decision,
                body.reason,
            )
            .await?;
            // A run approved is queued (`202`); a tool call's approval
            // queues nothing: the agent calls again (`200`).
            Ok(match &decided.job_id {
                Some(job_id) if decided.queued() => {
                    polled(json!(decided), job_id, JobStatus::Pending)
                }
                _ => Answer::Json(StatusCode::OK, json!(decided)),
            })
        }
        Endpoint::ToolCalls => {
            let query = Query::read(req)?;
            let workspace = query
                .get("workspace_id")
                .ok_or_else(|| Error::BadRequest("workspace_id is required".into()))?;
            let status = query.get("status").map(ToolCallStatus::parse).transpose()?;
            let (limit, after) = query.page()?;
            let (calls, next) =
                tool_calls::list_calls(state, &caller, workspace, status, limit, after.as_deref())
                    .await?;
            Ok(Answer::Json(
                StatusCode::OK,
                json!({ "tool_calls": calls, "next": next.map(|n| cursor(&n)) }),
            ))
        }
        Endpoint::ToolCallRecord => {
            let call = tool_calls::get_call(state, &caller, params.get("call_id")?).await?;
            Ok(Answer::Json(StatusCode::OK, json!(call)))
        }
        Endpoint::Outcome => {
            let body: OutcomeBody = warden::http::read_json(req, TOOL_CALL_BODY_LIMIT)?;
            let status = OutcomeStatus::parse(&body.status)?;
            tool_calls::report_outcome(
                state,
                origin,
                &caller,
                params.get("call_id")?,
                status,
                body.detail,
            )
            .await?;
            Ok(Answer::NoContent)
        }
        Endpoint::ToolCall
        | Endpoint::DecisionKeys
        | Endpoint::Agents
        | Endpoint::SetEnabled(_) => {
            Err(Error::internal("a route answered above reached the match"))
        }
    }
}

/// `GET /agents` and the kill switch: a person with role `admin`, by
/// bearer token, as on every admin report (no token, or an API key alone,
/// is `401` with the bearer challenge; a delegated token or another role
/// `403`). The switch's audit event names the admin as its actor; its
/// body is none or `{"reason"}`. An agent id that names no agent is `404`.
async fn registry_admin(
    state: &AgentState,
    origin: warden::audit::Origin,
    req: &Request,
    endpoint: Endpoint,
    params: &warden::http::Params<'_>,
) -> Result<Answer, Error> {
    let claims = state
        .bearer()
        .user_with_role(
            req.headers(),
            &[Role::Admin],
            "the agent registry is for admins only",
        )
        .await?;
    let Endpoint::SetEnabled(enabled) = endpoint else {
        let agents = registry::list_agents(state).await?;
        return Ok(Answer::Json(StatusCode::OK, json!({ "agents": agents })));
    };
    let body = DecisionBody::read(req)?;
    let agent_id = AgentId::parse(params.get("agent_id")?)
        .map_err(|_| Error::NotFound("no such agent".into()))?;
    let actor = warden::audit::user_actor(&claims.sub);
    let by = SwitchedBy {
        actor: &actor,
        reason: body.reason.as_deref(),
    };
    let agent = registry::set_enabled_by(state, origin, by, &agent_id, enabled).await?;
    Ok(Answer::Json(StatusCode::OK, json!(AgentView::from(agent))))
}

/// `POST /agents/{agent_id}/tool-calls`: the caller is the agent, by its
/// API key (`tools:call`) or by a token delegated to it (RFC 8693); a
/// person's own token is `403` (a person is not the agent).
async fn tool_call(
    state: &AgentState,
    origin: warden::audit::Origin,
    req: &Request,
    agent_id: &str,
) -> Result<Answer, Error> {
    let headers = req.headers();
    let key = headers.get(API_KEY_HEADER);
    let token = bearer_token(headers)?;
    let credential = match (key, token) {
        (Some(key), None) => Credential::ApiKey(key.to_str().map(str::trim).unwrap_or_default()),
        (None, Some(token)) => Credential::Token(token),
        // Both, or neither: the one bearer check answers (400, 401).
        _ => {
            state
                .bearer()
                .caller(headers, &origin, &[SCOPE_TOOLS_CALL], KeyLimit::Run)
                .await?;
            return Err(Error::internal("two credentials or none passed the check"));
        }
    };
    let request = warden::http::read_json::<Value>(req, TOOL_CALL_BODY_LIMIT).and_then(|body| {
        let parsed: ToolCallBody = serde_json::from_slice(req.body().as_ref())
            .map_err(|e| Error::BadRequest(format!("invalid tool call: {e}")))?;
        Ok((
            ToolCallRequest {
                workspace_id: parsed.workspace_id,
                tool: parsed.tool,
                arguments: parsed.arguments.get().to_owned(),
            },
            body,
        ))
    });
    let idempotency_key = header(req, "idempotency-key")?;
    let (answer, location) = tool_calls::submit(
        state,
        origin,
        credential,
        agent_id,
        request,
        idempotency_key,
    )
    .await?;
    Ok(match &answer {
        ToolCallAnswer::Allow { .. } => Answer::Json(StatusCode::OK, json!(answer)),
        ToolCallAnswer::ApprovalRequired { call_id, .. } => {
            let location = location.unwrap_or_else(|| format!("/agents/tool-calls/{call_id}"));
            Answer::Accepted(json!(answer), location, RETRY_AFTER_APPROVAL_SECS)
        }
    })
}

/// The `202` of a job in `status`: poll `GET /agents/runs/{job_id}`, soon
/// when it is queued, later when it waits for a person.
fn polled(body: Value, job_id: &str, status: JobStatus) -> Answer {
    let retry_after = match status {
        JobStatus::AwaitingApproval => RETRY_AFTER_APPROVAL_SECS,
        _ => RETRY_AFTER_QUEUED_SECS,
    };
    Answer::Accepted(body, format!("/agents/runs/{job_id}"), retry_after)
}

/// A header's value as text; one that is not visible ASCII is `400`.
fn header<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, Error> {
    req.headers()
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::BadRequest(format!("{name} must be printable ASCII")))
        })
        .transpose()
}

/// The opaque cursor of a page: the last id, base64url.
fn cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

/// A listing's query parameters.
struct Query(Vec<(String, String)>);

impl Query {
    fn read(req: &Request) -> Result<Self, Error> {
        Ok(Self(query_params(req)))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit` (1 to 100, default 50) and the decoded `next` cursor.
    fn page(&self) -> Result<(usize, Option<String>), Error> {
        let limit = warden::http::page_limit(self.get("limit"), DEFAULT_PAGE, MAX_PAGE)?;
        let after = self
            .get("next")
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|id| is_generated_id(id))
                    .ok_or_else(|| Error::BadRequest("next is not a cursor this API gave".into()))
            })
            .transpose()?;
        Ok((limit, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each route declares what a key's request spends: every `GET` is a
    /// read, every `POST` a run.
    #[test]
    fn reads_spend_the_read_limit_and_writes_the_run_limit() {
        for route in ROUTES {
            let expected = match route.method {
                "GET" => KeyLimit::Read,
                _ => KeyLimit::Run,
            };
            assert_eq!(
                route.endpoint.key_limit(),
                expected,
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
