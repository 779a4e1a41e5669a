//! The HTTP edge shared by every function: request context, JSON bodies
//! with size limits, JSON and problem+json responses, CORS.

use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use lambda_http::request::RequestContext as LambdaContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::Error;
use crate::audit::Origin;
use crate::config::Config;
use crate::error::{Challenge, Refusal};

/// The path of the protected resource metadata (RFC 9728).
pub const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";

/// Sets `WWW-Authenticate` to `value` (built only from fixed words, the
/// configured issuer and scope names, so always a valid header).
fn insert_challenge(headers: &mut http::HeaderMap, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(http::header::WWW_AUTHENTICATE, value);
    }
}

/// Body limit of the auth endpoints, in bytes.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// Facts about the request that every log line and audit record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The client IP: API Gateway's `sourceIp` (locally, the peer address).
    pub ip: String,
    /// The `User-Agent` header, truncated.
    pub user_agent: String,
    /// API Gateway's request id, or a fresh ULID.
    pub request_id: String,
    /// The `Origin` header, for CORS.
    pub origin: Option<String>,
}

impl RequestContext {
    /// Reads the context of an API Gateway (HTTP API, payload 2.0) request.
    /// The IP comes only from the request context that API Gateway (or
    /// `warden serve`) fills in, never from a client-controlled header.
    pub fn from_request(req: &Request) -> Self {
        let (ip, request_id, gateway_agent) = match req.request_context_ref() {
            Some(LambdaContext::ApiGatewayV2(ctx)) => (
                ctx.http.source_ip.clone(),
                ctx.request_id.clone(),
                ctx.http.user_agent.clone(),
            ),
            _ => (None, None, None),
        };
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut user_agent = header("user-agent").or(gateway_agent).unwrap_or_default();
        if user_agent.len() > 256 {
            let mut cut = 256;
            while !user_agent.is_char_boundary(cut) {
                cut -= 1;
            }
            user_agent.truncate(cut);
        }
        Self {
            ip: ip.unwrap_or_else(|| "unknown".into()),
            user_agent,
            request_id: request_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| ulid::Ulid::new().to_string()),
            origin: header("origin"),
        }
    }

    /// The audit origin of this request.
    pub fn origin(&self) -> Origin {
        Origin::Http {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// A context for tests, with the given client IP.
    pub fn for_tests(ip: &str) -> Self {
        Self {
            ip: ip.to_owned(),
            user_agent: "warden-tests".into(),
            request_id: ulid::Ulid::new().to_string(),
            origin: None,
        }
    }
}

impl From<&RequestContext> for Origin {
    fn from(ctx: &RequestContext) -> Self {
        ctx.origin()
    }
}

/// Parses the JSON body of `req`: `413` over `limit` bytes, `415` when it
/// says it is something other than JSON, `400` when it is not valid UTF-8
/// JSON, not an object, or not of the expected shape (the message names
/// the field; an explicit `null` for a field is refused where the type says
/// so, see [`non_null`]).
pub fn read_json<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, Error> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    if !is_json_content_type(req.headers()) {
        return Err(Error::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest(
            "the request body is empty; a JSON object is required".into(),
        ));
    }
    // serde_json checks UTF-8 only in the strings it decodes; a field the
    // endpoint ignores would slip through unchecked.
    if std::str::from_utf8(body).is_err() {
        return Err(Error::BadRequest(
            "the request body is not valid UTF-8".into(),
        ));
    }
    // serde reads a struct from a JSON array too (`["alice", "pw"]` as a
    // login's username and password); every body of the contract is an
    // object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::BadRequest(
            "invalid JSON body: it must be a JSON object".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::BadRequest(format!(
            "invalid JSON body: {}",
            without_values(&e.to_string())
        ))
    })
}

/// Parses the `application/x-www-form-urlencoded` body of `req` (the OAuth
/// endpoints, API.md "Conventions"): `413` over `limit` bytes, `415` for
/// another content type, `400` when it is not UTF-8 or a parameter is
/// repeated. Parameters come back in order, decoded.
pub fn read_form(req: &Request, limit: usize) -> Result<Vec<(String, String)>, Error> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    let form_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(Error::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded",
        });
    }
    if std::str::from_utf8(body).is_err() {
        return Err(Error::BadRequest(
            "the request body is not valid UTF-8".into(),
        ));
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (i, (name, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(seen, _)| seen == name) {
            return Err(Error::BadRequest(format!(
                "the parameter {name} is repeated"
            )));
        }
    }
    Ok(params)
}

/// Whether the request's `Content-Type` allows a JSON body: absent (curl
/// without `-H`), `application/json`, or any `+json` type.
pub fn is_json_content_type(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// For `#[serde(default, deserialize_with = "non_null")]` on an optional
/// field: absent is `None`, a value is `Some`, and an explicit `null` is an
/// error (`400`), because a client that sends `null` meant something we
/// should not guess.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// One route a function serves: a method and a path template as written in
/// `template.yaml` (`{name}` matches one non-empty segment), bound to the
/// `endpoint` that answers it. A function's routes are a table of these:
/// its handler matches on the endpoint (an enum, so a route added without
/// its handler does not compile) and reads path params by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<E = ()> {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// E.g. `/auth/sessions/{sid}`.
    pub path: &'static str,
    /// What answers it.
    pub endpoint: E,
    /// The length of the literal run before the first `{param}` (the whole
    /// path when it has none), found once when the route is made.
    literal: usize,
}

impl Route {
    /// A route with no endpoint of its own (a function with one endpoint).
    pub const fn new(method: &'static str, path: &'static str) -> Self {
        Self::to(method, path, ())
    }
}

impl<E> Route<E> {
    /// A route answered by `endpoint`.
    pub const fn to(method: &'static str, path: &'static str, endpoint: E) -> Self {
        let bytes = path.as_bytes();
        let mut literal = 0;
        while literal < bytes.len() && bytes[literal] != b'{' {
            literal += 1;
        }
        Self {
            method,
            path,
            endpoint,
            literal,
        }
    }

    /// Whether `path` matches the template: segment by segment, a `{param}`
    /// segment matching any non-empty one. Checked against every route on
    /// every request, so it compares the literal runs between params as
    /// whole slices and allocates nothing (splitting on `/` was 4% of
    /// `warden serve`'s CPU on `GET /auth/sessions`).
    pub fn matches(&self, path: &str) -> bool {
        self.walk(path, |_| ())
    }

    /// The values of the path's `{params}` when `path` matches, in order.
    pub fn params<'p>(&self, path: &'p str) -> Option<Vec<&'p str>> {
        let mut params = Vec::new();
        self.walk(path, |value| params.push(value))
            .then_some(params)
    }

    /// Matches `path` against the template, handing each param's value to
    /// `param` as it goes. A param is a whole segment (`/{name}`), as every
    /// template here has it.
    fn walk<'p>(&self, path: &'p str, mut param: impl FnMut(&'p str)) -> bool {
        // Most routes differ from the path within their first literal run,
        // known without a search.
        if !path
            .as_bytes()
            .starts_with(&self.path.as_bytes()[..self.literal])
        {
            return false;
        }
        let (mut template, mut path) = (self.path, path);
        loop {
            let Some(open) = template.find('{') else {
                return template == path;
            };
            // The literal run up to the param, then one non-empty segment.
            let Some(rest) = path.strip_prefix(&template[..open]) else {
                return false;
            };
            let end = rest.find('/').unwrap_or(rest.len());
            if end == 0 {
                return false;
            }
            param(&rest[..end]);
            path = &rest[end..];
            template = template[open..]
                .find('}')
                .map_or("", |close| &template[open + close + 1..]);
        }
    }
}

/// The `{params}` of a resolved path, read by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params<'p> {
    template: &'static str,
    values: Vec<&'p str>,
}

impl<'p> Params<'p> {
    /// The value of `{name}`. A name the route's template lacks is a bug in
    /// the handler: a `500` naming it, never a panic.
    pub fn get(&self, name: &str) -> Result<&'p str, Error> {
        self.template
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .position(|param| param == name)
            .and_then(|i| self.values.get(i).copied())
            .ok_or_else(|| {
                Error::internal(format!("route {} has no param {{{name}}}", self.template))
            })
    }
}

/// Whether `template` is more specific than `other`, two templates that
/// match one path: at the first segment, from the left, where one has a
/// literal and the other a `{param}`, the literal wins.
fn more_specific(template: &str, other: &str) -> bool {
    let is_param = |segment: &str| segment.starts_with('{');
    template
        .split('/')
        .zip(other.split('/'))
        .find(|(a, b)| is_param(a) != is_param(b))
        .is_some_and(|(_, b)| is_param(b))
}

/// The route of `routes` that serves `method` on `path`, with the path's
/// params. Where templates overlap, the most specific one that matches
/// decides, whatever the method (a literal segment beats a `{param}`):
/// `/agents/runs/x` is `/agents/runs/{job_id}`'s, never
/// `/agents/{agent_id}/...`'s with the agent id `runs`, so adding a param
/// route never takes a path from a fixed one (the ids such a path spells
/// are reserved). A path whose template is served with other methods only
/// is [`Error::MethodNotAllowed`] (`405` with `Allow`); an unknown path
/// [`Error::NotFound`].
pub fn resolve<'r, 'p, E>(
    routes: &'r [Route<E>],
    method: &http::Method,
    path: &'p str,
) -> Result<(&'r Route<E>, Params<'p>), Error> {
    let mut template: Option<&str> = None;
    for route in routes.iter().filter(|r| r.matches(path)) {
        if template.is_none_or(|t| more_specific(route.path, t)) {
            template = Some(route.path);
        }
    }
    let mut allow: Vec<&str> = Vec::new();
    for route in routes.iter().filter(|r| Some(r.path) == template) {
        if route.method == method.as_str() {
            let values = route.params(path).unwrap_or_default();
            return Ok((
                route,
                Params {
                    template: route.path,
                    values,
                },
            ));
        }
        allow.push(route.method);
    }
    if allow.is_empty() {
        Err(Error::NotFound("no such endpoint".into()))
    } else {
        allow.push("OPTIONS");
        Err(Error::MethodNotAllowed {
            allow: allow.join(", "),
        })
    }
}

/// Answers one request of an HTTP function: the handler preamble, written
/// once. It reads the request's context (client IP, user agent, request
/// id), opens the `handler` span carrying the request id (created with its
/// value: recording it afterwards formats the span's fields a second time
/// on every request), and hands the context and a [`Responder`] to
/// `answer`, whose response it returns. Everything `answer` logs is inside
/// that span.
pub async fn respond(
    req: &Request,
    config: &Config,
    answer: impl AsyncFnOnce(&RequestContext, Responder<'_>) -> Response<Body>,
) -> Response<Body> {
    let ctx = RequestContext::from_request(req);
    let span = tracing::info_span!("handler", request_id = %ctx.request_id);
    answer(&ctx, Responder::new(&ctx, config))
        .instrument(span)
        .await
}

/// serde's messages quote the offending value (`invalid type: integer
/// `123456`, expected a string`), which may be a password: keep the kind
/// of value and what was expected, drop the value. Other messages (`missing
/// field `password``) name fields only and stay as they are.
pub fn without_values(message: &str) -> String {
    let typed = message.starts_with("invalid type: ") || message.starts_with("invalid value: ");
    let split = message.split_once(", expected").and_then(|(head, tail)| {
        let (label, found) = head.split_once(": ")?;
        let kind = found.split([' ', '`', '"']).next().unwrap_or("value");
        Some(format!("{label}: {kind}, expected{tail}"))
    });
    match split {
        Some(clean) if typed => clean,
        _ => message.to_owned(),
    }
}

/// Builds responses carrying the request id and CORS headers.
#[derive(Debug, Clone, Copy)]
pub struct Responder<'a> {
    ctx: &'a RequestContext,
    config: &'a Config,
}

impl<'a> Responder<'a> {
    /// A responder for the request described by `ctx`.
    pub fn new(ctx: &'a RequestContext, config: &'a Config) -> Self {
        Self { ctx, config }
    }

    /// A JSON response. Token-bearing answers must not be cached, so every
    /// JSON answer says `no-store`.
    pub fn json<T: Serialize>(&self, status: StatusCode, body: &T) -> Response<Body> {
        // Most answers are a few hundred bytes: one allocation, not several.
        let mut bytes = Vec::with_capacity(512);
        match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => self.finish(status, "application/json", Body::Binary(bytes)),
            Err(e) => self.problem(&Error::internal_from("serialising a response", e)),
        }
    }

    /// A public, cacheable JSON document (discovery and the key set):
    /// `Cache-Control: public, max-age=300` and `Access-Control-Allow-Origin:
    /// *` whatever the configured origins, since any verifier in any
    /// browser may read it.
    pub fn public_json<T: Serialize>(&self, body: &T) -> Response<Body> {
        let mut response = self.json(StatusCode::OK, body);
        let headers = response.headers_mut();
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.remove(http::header::VARY);
        response
    }

    /// A `200` text document that is not JSON (the console's page, script
    /// and style sheet), with the request id and `Cache-Control: no-store`
    /// like every answer.
    pub fn document(&self, content_type: &'static str, body: &'static str) -> Response<Body> {
        self.finish(StatusCode::OK, content_type, Body::Text(body.to_owned()))
    }

    /// A `204 No Content`.
    pub fn no_content(&self) -> Response<Body> {
        self.finish(StatusCode::NO_CONTENT, "application/json", Body::Empty)
    }

    /// An RFC 9457 problem response for `err`. Server errors are logged with
    /// their cause and answered with a fixed sentence.
    pub fn problem(&self, err: &Error) -> Response<Body> {
        let status = err.status();
        if status.is_server_error() {
            // The whole cause chain goes to the log; the client gets a
            // fixed sentence.
            tracing::error!(request_id = %self.ctx.request_id, error = %err.chain(), "request failed");
        } else {
            tracing::info!(request_id = %self.ctx.request_id, status = status.as_u16(), error = %err, "request refused");
        }
        if let Error::OAuth { error, description } = err {
            // RFC 6749 section 5.2: the token endpoint's own error shape.
            let body = serde_json::json!({ "error": error, "error_description": description });
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            return self.finish(status, "application/json", Body::Binary(bytes));
        }
        let slug = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "-");
        let mut body = serde_json::json!({
            "type": format!("https://warden.dev/problems/{slug}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": err.public_detail(),
            "request_id": self.ctx.request_id,
        });
        if let Some(reason) = err.reason() {
            body["reason"] = reason.into();
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = self.finish(status, "application/problem+json", Body::Binary(bytes));
        let headers = response.headers_mut();
        match err {
            Error::Unauthorized => {
                let challenge = Challenge::bearer(Refusal::Missing);
                insert_challenge(headers, &challenge.header(&self.metadata_url()));
            }
            Error::TokenRefused(challenge) => {
                insert_challenge(headers, &challenge.header(&self.metadata_url()));
            }
            Error::InsufficientScope { scope, scheme, .. } => {
                let value = format!(
                    r#"{} error="insufficient_scope", scope="{scope}""#,
                    scheme.as_str()
                );
                insert_challenge(headers, &value);
            }
            Error::InvalidRequest(_) => {
                insert_challenge(headers, r#"Bearer error="invalid_request""#);
            }
            Error::RateLimited { retry_after }
            | Error::Saturated { retry_after }
            | Error::ApprovalsPending { retry_after, .. } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            Error::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    headers.insert(http::header::ALLOW, value);
                }
            }
            _ => {}
        }
        response
    }

    /// Where the protected resource's metadata is (RFC 9728), as every
    /// `401` challenge says.
    fn metadata_url(&self) -> String {
        format!("{}{PROTECTED_RESOURCE_PATH}", self.config.issuer)
    }

    /// Renders a handler's outcome.
    pub fn result<T: Serialize>(
        &self,
        status: StatusCode,
        result: Result<T, Error>,
    ) -> Response<Body> {
        match result {
            Ok(body) => self.json(status, &body),
            Err(e) => self.problem(&e),
        }
    }

    fn finish(&self, status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        if let Ok(id) = HeaderValue::from_str(&self.ctx.request_id) {
            headers.insert(HeaderName::from_static("x-request-id"), id);
        }
        if let Some(origin) = &self.ctx.origin {
            let allowed = self
                .config
                .allowed_origins
                .iter()
                .any(|o| o == origin || o == "*");
            if allowed && let Ok(value) = HeaderValue::from_str(origin) {
                headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
                headers.insert(
                    http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("x-request-id, retry-after, location"),
                );
            }
            headers.insert(http::header::VARY, HeaderValue::from_static("Origin"));
        }
        response
    }

    /// The answer to a CORS preflight (`OPTIONS`). In AWS, API Gateway
    /// answers these from `template.yaml`; `warden serve` answers them here,
    /// with the same methods and headers.
    pub fn preflight(&self) -> Response<Body> {
        let mut response = self.finish(StatusCode::NO_CONTENT, "text/plain", Body::Empty);
        let headers = response.headers_mut();
        if headers.contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            headers.insert(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            headers.insert(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, x-api-key, idempotency-key"),
            );
            headers.insert(
                http::header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    }
}

/// A listing's `limit` query parameter, given its raw value: `default`
/// when absent, else a whole number from 1 to `max`; anything else is a
/// `400` that names the range.
pub fn page_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, Error> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Error::BadRequest(format!("limit must be a number from 1 to {max}"))),
    }
}

/// The request's query parameters, decoded, in order: from the URI (as
/// `warden serve` and lambda_http build it), else from the API Gateway
/// event's parsed parameters.
pub fn query_params(req: &Request) -> Vec<(String, String)> {
    match req.uri().query() {
        Some(q) if !q.is_empty() => form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        _ => req
            .query_string_parameters_ref()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The path of the request as the client sent it, without the API Gateway
/// stage prefix.
pub fn path(req: &Request) -> &str {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[
        Route::new("GET", "/auth/sessions"),
        Route::new("DELETE", "/auth/sessions/{sid}"),
    ];

    #[test]
    fn routes_match_their_templates_and_a_wrong_method_is_405_with_allow() {
        let (route, params) =
            resolve(ROUTES, &http::Method::DELETE, "/auth/sessions/01ABC").unwrap();
        assert_eq!(
            (route.path, params.get("sid").unwrap()),
            ("/auth/sessions/{sid}", "01ABC")
        );
        // A param the template lacks is a 500 naming it, never a panic.
        assert!(matches!(params.get("nope"), Err(Error::Internal { .. })));
        match resolve(ROUTES, &http::Method::POST, "/auth/sessions") {
            Err(Error::MethodNotAllowed { allow }) => assert_eq!(allow, "GET, OPTIONS"),
            other => panic!("{other:?}"),
        }
        for unknown in ["/auth/sessions/", "/auth/sessions/a/b", "/auth", "/nope"] {
            assert!(
                matches!(
                    resolve(ROUTES, &http::Method::GET, unknown),
                    Err(Error::NotFound(_))
                ),
                "{unknown}"
            );
        }
    }

    #[test]
    fn a_literal_segment_beats_a_param_whatever_the_method() {
        const OVERLAPPING: &[Route] = &[
            Route::new("POST", "/agents/{agent_id}/runs"),
            Route::new("GET", "/agents/runs/{job_id}"),
            Route::new("POST", "/agents/{agent_id}/disable"),
            Route::new("GET", "/agents/tool-calls/{call_id}"),
            Route::new("POST", "/agents/tool-calls/{call_id}/outcome"),
        ];
        let resolved = |method: http::Method, path| {
            resolve(OVERLAPPING, &method, path).map(|(route, params)| {
                let values: Vec<String> = route
                    .path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .map(|name| params.get(name).unwrap().to_owned())
                    .collect();
                (route.path, values)
            })
        };
        // The fixed routes keep their paths: another method is 405 naming
        // theirs, never the param route's answer with the agent id `runs`.
        for path in ["/agents/runs/disable", "/agents/runs/runs"] {
            match resolved(http::Method::POST, path) {
                Err(Error::MethodNotAllowed { allow }) => assert_eq!(allow, "GET, OPTIONS"),
                other => panic!("{path}: {other:?}"),
            }
        }
        assert_eq!(
            resolved(http::Method::GET, "/agents/runs/disable").unwrap(),
            ("/agents/runs/{job_id}", vec!["disable".to_owned()])
        );
        match resolved(http::Method::POST, "/agents/tool-calls/disable") {
            Err(Error::MethodNotAllowed { allow }) => assert_eq!(allow, "GET, OPTIONS"),
            other => panic!("{other:?}"),
        }
        // Anywhere else the param routes answer as before.
        assert_eq!(
            resolved(http::Method::POST, "/agents/buyer/disable").unwrap(),
            ("/agents/{agent_id}/disable", vec!["buyer".to_owned()])
        );
        assert_eq!(
            resolved(http::Method::POST, "/agents/disable/runs").unwrap(),
            ("/agents/{agent_id}/runs", vec!["disable".to_owned()])
        );
        match resolved(http::Method::GET, "/agents/buyer/disable") {
            Err(Error::MethodNotAllowed { allow }) => assert_eq!(allow, "POST, OPTIONS"),
            other => panic!("{other:?}"),
        }
        assert!(more_specific("/a/b/{c}", "/a/{b}/c"));
        assert!(!more_specific("/a/{b}/c", "/a/b/{c}"));
        assert!(!more_specific("/a/{b}", "/a/{b}"));
    }

    /// The definition [`Route::matches`] implements: segment by segment.
    fn by_segments(template: &str, path: &str) -> Option<Vec<String>> {
        let is_param = |t: &str| t.starts_with('{') && t.ends_with('}');
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        (t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| if is_param(t) { !p.is_empty() } else { t == p }))
        .then(|| {
            t.iter()
                .zip(&p)
                .filter(|(t, _)| is_param(t))
                .map(|(_, p)| (*p).to_owned())
                .collect()
        })
    }

    const TEMPLATES: &[&str] = &[
        "/auth/sessions",
        "/auth/sessions/{sid}",
        "/agents/{agent_id}/runs",
        "/agents/runs/{job_id}",
        "/agents/proposals/{proposal_id}/approve",
        "/webhooks/{source}",
        "/{a}/{b}",
        "/",
    ];

    proptest::proptest! {
        #[test]
        fn matching_is_segment_by_segment(
            segments in proptest::collection::vec(
                proptest::sample::select(vec![
                    "", "auth", "sessions", "agents", "runs", "proposals", "approve",
                    "webhooks", "01ABC", "a/b", "sessionsx", "{sid}", "/",
                ]),
                0..6,
            ),
            lead in proptest::bool::ANY,
        ) {
            let path = format!("{}{}", if lead { "/" } else { "" }, segments.join("/"));
            for template in TEMPLATES {
                let route = Route::new("GET", template);
                let expected = by_segments(template, &path);
                proptest::prop_assert_eq!(route.matches(&path), expected.is_some(), "{} {}", template, path);
                let params = route.params(&path).map(|p| p.into_iter().map(str::to_owned).collect());
                proptest::prop_assert_eq!(params, expected, "{} {}", template, path);
            }
        }
    }

    #[test]
    fn only_json_content_types_are_read_as_json() {
        let mut headers = http::HeaderMap::new();
        assert!(is_json_content_type(&headers), "absent is accepted");
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(http::header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json_content_type(&headers), ok, "{value}");
        }
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_400() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Login {
            username: String,
            password: String,
        }
        let read = |text: &str| {
            let req = lambda_http::Request::new(Body::Text(text.to_owned()));
            read_json::<Login>(&req, AUTH_BODY_LIMIT)
        };
        assert!(read(r#" {"username": "alice", "password": "pw"}"#).is_ok());
        // serde alone would take the array for the struct.
        assert!(serde_json::from_str::<Login>(r#"["alice", "pw"]"#).is_ok());
        for body in [
            r#"["alice", "pw"]"#,
            r#" ["alice", "pw"]"#,
            "null",
            r#""alice""#,
            "1",
        ] {
            match read(body) {
                Err(Error::BadRequest(detail)) => {
                    assert_eq!(
                        detail, "invalid JSON body: it must be a JSON object",
                        "{body}"
                    )
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn explicit_null_is_refused_where_non_null_is_declared() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[serde(default, deserialize_with = "non_null")]
            user_id: Option<String>,
        }
        let parse = |text: &str| serde_json::from_str::<Body>(text);
        assert_eq!(parse("{}").unwrap().user_id, None);
        assert_eq!(
            parse(r#"{"user_id":"x"}"#).unwrap().user_id.as_deref(),
            Some("x")
        );
        assert!(parse(r#"{"user_id":null}"#).is_err());
    }

    #[test]
    fn parse_errors_never_echo_the_value() {
        assert_eq!(
            without_values("invalid type: integer `123456`, expected a string at line 1 column 20"),
            "invalid type: integer, expected a string at line 1 column 20"
        );
        assert_eq!(
            without_values(r#"invalid type: string "hunter2", expected u32 at line 1 column 9"#),
            "invalid type: string, expected u32 at line 1 column 9"
        );
        assert_eq!(
            without_values("missing field `password` at line 1"),
            "missing field `password` at line 1"
        );
    }
}
