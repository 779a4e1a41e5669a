//! API keys on the agent-run handler, called as a function, on the memory
//! store and on DynamoDB (moto): who a key lets in, what it may do, its
//! hourly limit across instances, the audit of every refusal, its usage
//! count, and that the store never holds a usable key.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use warden::agents::registry::register_agent;
use warden::audit::EventType;
use warden::auth::api_keys::{KeySpec, create_key};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::Clock as _;
use warden::domain::agents::{AgentId, AgentType, ApiKeyRecord, Maturity, WorkspaceId};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AgentState;
use warden::store::{ApiKeyWrite, AuthStore, RegistryStore, SessionStore, WorkerStore};
use warden::testing::{self, AgentWorld, Intercepted, Interceptor, api_request, json_body};

/// The agent world, and a second agent-run instance over the same store
/// and clock (another Lambda container).
struct Harness {
    world: AgentWorld,
    other: AgentState,
    store: Arc<dyn RegistryStore>,
    sessions: Arc<dyn SessionStore>,
    next_ip: AtomicU32,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// A key as the client holds it, and its id.
struct Key {
    key: String,
    id: String,
}

impl Key {
    /// The secret part: everything after the second `_`.
    fn secret(&self) -> &str {
        self.key.splitn(3, '_').nth(2).unwrap()
    }
}

fn origin() -> warden::audit::Origin {
    RequestContext::for_tests("127.0.0.1").origin()
}

/// The body of a run of `resolve_entities` (complexity 3: a SUPERVISED
/// accounting agent runs it at once) in `workspace`.
fn run_body(workspace: &str) -> String {
    json!({
        "workspace_id": workspace,
        "action": "resolve_entities",
        "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}
    })
    .to_string()
}

impl Harness {
    fn new<S>(store: Arc<S>) -> Self
    where
        S: AuthStore + RegistryStore + WorkerStore + 'static,
    {
        let world = AgentWorld::over(store.clone());
        let other = Self::instance(&world, store.clone(), store.clone());
        Self {
            world,
            other,
            store: store.clone(),
            sessions: store,
            next_ip: AtomicU32::new(1),
        }
    }

    /// Another agent-run instance over `store`, with the world's queue and clock.
    fn instance(
        world: &AgentWorld,
        store: Arc<dyn RegistryStore>,
        sessions: Arc<dyn SessionStore>,
    ) -> AgentState {
        testing::agent_state(store, sessions, world.jobs.clone(), world.clock.clone())
    }

    fn fresh_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::SeqCst);
        format!("198.51.{}.{}", n / 250, n % 250 + 1)
    }

    /// Workspaces `acme` and `globex`; SUPERVISED accounting agents `books`
    /// (in `acme`) and `ledger` (in `globex`).
    async fn setup(&self) {
        let registry = &self.world.agents;
        for w in ["acme", "globex"] {
            testing::add_workspace(registry, origin(), w, w).await;
        }
        for (agent, workspace) in [("books", "acme"), ("ledger", "globex")] {
            let agent = testing::new_agent(
                agent,
                AgentType::Accounting,
                Maturity::Supervised,
                workspace,
            );
            register_agent(registry, origin(), agent).await.unwrap();
        }
    }

    async fn key_with(
        &self,
        owner: &str,
        scopes: &[&str],
        expires_at: Option<i64>,
        rate_limit_per_hour: Option<u32>,
    ) -> Key {
        let created = create_key(
            &self.world.agents,
            &self.world.agents.pepper,
            origin(),
            KeySpec {
                owner: warden::domain::agents::KeyOwner::Agent(AgentId::parse(owner).unwrap()),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                expires_at,
                rate_limit_per_hour,
                created_by: None,
            },
        )
        .await
        .unwrap();
        Key {
            key: created.key.expose_secret().to_owned(),
            id: created.record.key_id,
        }
    }

    async fn key(&self, owner: &str) -> Key {
        self.key_with(owner, &["agents:run"], None, None).await
    }

    /// A bearer token of a new user `name`.
    async fn bearer(&self, name: &str) -> String {
        let password = format!("{name} password");
        create_user(
            &self.world.auth,
            origin(),
            &Username::parse(name).unwrap(),
            &SecretString::from(password.clone()),
            &[Role::User],
        )
        .await
        .unwrap();
        // A member of every workspace these checks use.
        for workspace in ["acme", "globex"] {
            let workspace = WorkspaceId::parse(workspace).unwrap();
            if self
                .world
                .agents
                .store
                .get_workspace(&workspace)
                .await
                .unwrap()
                .is_some()
            {
                warden::agents::registry::set_membership(
                    &self.world.agents,
                    &*self.world.auth.store,
                    origin(),
                    &workspace,
                    &Username::parse(name).unwrap(),
                    true,
                )
                .await
                .unwrap();
            }
        }
        let request = LoginRequest {
            username: name.into(),
            password: SecretString::from(password),
        };
        let ctx = RequestContext::for_tests(&self.fresh_ip());
        let pair = login::login(&self.world.auth, &ctx, request).await.unwrap();
        pair.access_token
    }

    async fn call_on(
        &self,
        state: &AgentState,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let body = body.map_or(Body::Empty, Body::from);
        let req = api_request(method, path, &all, body, &self.fresh_ip());
        let response = warden_agent_run::handler(state, req).await.unwrap();
        let status = response.status();
        let body = json_body(&response);
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        Reply {
            status,
            headers: response.headers().clone(),
            body,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        self.call_on(&self.world.agents, method, path, headers, body)
            .await
    }

    /// `POST /agents/{agent}/runs` in `workspace` with the raw key `key`.
    async fn run_on(&self, state: &AgentState, key: &str, agent: &str, workspace: &str) -> Reply {
        // The run's action changes records: it carries a key.
        let fresh = ulid::Ulid::new().to_string();
        self.call_on(
            state,
            "POST",
            &format!("/agents/{agent}/runs"),
            &[("x-api-key", key), ("idempotency-key", &fresh)],
            Some(run_body(workspace)),
        )
        .await
    }

    async fn run(&self, key: &str, agent: &str, workspace: &str) -> Reply {
        self.run_on(&self.world.agents, key, agent, workspace).await
    }

    async fn get(&self, key: &str, path: &str) -> Reply {
        self.call("GET", path, &[("x-api-key", key)], None).await
    }

    async fn record(&self, key_id: &str) -> ApiKeyRecord {
        self.world
            .agents
            .store
            .list_api_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.key_id == key_id)
            .unwrap()
    }

    /// The `reason`s of the `API_KEY_REJECTED` events of `actor`, sorted
    /// (events of one millisecond have no order).
    async fn rejections(&self, actor: &str) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .world
            .agents
            .store
            .audit_by_actor(actor, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == EventType::ApiKeyRejected)
            .map(|e| e.details["reason"].as_str().unwrap().to_owned())
            .collect();
        reasons.sort();
        reasons
    }

    fn jobs_sent(&self) -> usize {
        self.world.jobs.messages().len()
    }
}

/// Asserts a `401` that challenges for an API key.
fn assert_key_challenge(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.body
    );
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(r#"ApiKey resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource", error="invalid_token", error_description=""#),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains(", Bearer resource_metadata="),
        "{what}: {challenge}"
    );
}

async fn a_valid_key_runs_its_own_agent_and_each_use_is_counted(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;
    let before = h.record(&key.id).await;
    assert_eq!((before.usage_count, before.last_used_at), (0, None));

    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "PENDING");
    assert_eq!(h.jobs_sent(), 1);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();

    let used = h.record(&key.id).await;
    let now = h.world.clock.now_secs();
    assert_eq!((used.usage_count, used.last_used_at), (1, Some(now)));

    h.world.clock.advance_secs(5.0);
    let reply = h.get(&key.key, &format!("/agents/runs/{job_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["agent_id"], "books");
    let used = h.record(&key.id).await;
    assert_eq!(
        (used.usage_count, used.last_used_at),
        (2, Some(now + 5)),
        "a read counts as a use too"
    );
    assert!(h.rejections(&format!("key:{}", key.id)).await.is_empty());
}

async fn unknown_wrong_malformed_revoked_and_expired_keys_are_401_and_audited(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;

    // Unknown id, the right shape.
    let unknown_id = ulid::Ulid::new().to_string();
    let unknown = format!("wdn_{unknown_id}_{}", key.secret());
    assert_key_challenge(&h.run(&unknown, "books", "acme").await, "unknown id");
    assert_eq!(
        h.rejections(&format!("key:{unknown_id}")).await,
        ["unknown"]
    );

    // The right id, another secret.
    let wrong = format!("wdn_{}_{}x", key.id, key.secret());
    let (logs, guard) = warden::testing::capture_logs(false);
    assert_key_challenge(&h.run(&wrong, "books", "acme").await, "wrong secret");
    drop(guard);
    // The operator learns which key did not verify (a key made under
    // another pepper), the client no more than for any invalid key, and
    // neither secret is logged.
    let logged = logs.text();
    assert!(
        logged.contains("WARN")
            && logged.contains(&format!(
                "API key {} exists but its secret does not verify",
                key.id
            )),
        "{logged}"
    );
    assert!(
        !logged.contains(key.secret()),
        "a secret is logged: {logged}"
    );

    // Not a key at all: audited without an actor.
    for malformed in ["wdn_nope", "Bearer-ish", &format!("wdn_{}_", key.id)] {
        assert_key_challenge(&h.run(malformed, "books", "acme").await, malformed);
    }
    assert_eq!(
        h.rejections("anonymous").await,
        ["malformed", "malformed", "malformed"]
    );

    // Expired: accepted before its expiry, refused from it on.
    let now = h.world.clock.now_secs();
    let expiring = h
        .key_with("books", &["agents:run"], Some(now + 60), None)
        .await;
    let reply = h.run(&expiring.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    h.world.clock.advance_secs(61.0);
    assert_key_challenge(&h.run(&expiring.key, "books", "acme").await, "expired");
    assert_eq!(
        h.rejections(&format!("key:{}", expiring.id)).await,
        ["expired"]
    );

    // Revoked: refused on the very next use.
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    warden::auth::api_keys::revoke_key(&h.world.agents, origin(), &key.id)
        .await
        .unwrap();
    assert_key_challenge(&h.run(&key.key, "books", "acme").await, "revoked");
    assert_key_challenge(
        &h.get(&key.key, "/agents/runs?workspace_id=acme").await,
        "revoked, on a read",
    );
    assert_eq!(
        h.rejections(&format!("key:{}", key.id)).await,
        ["revoked", "revoked", "wrong_secret"]
    );

    // Only the two accepted runs were queued, and refusals count no use.
    assert_eq!(h.jobs_sent(), 2);
    assert_eq!(h.record(&key.id).await.usage_count, 1);
    assert_eq!(h.record(&expiring.id).await.usage_count, 1);
}

async fn a_read_only_key_reads_its_agents_jobs_but_runs_nothing(h: Harness) {
    h.setup().await;
    let runner = h.key("books").await;
    let reader = h.key_with("books", &["agents:read"], None, None).await;
    let reply = h.run(&runner.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();

    let reply = h.run(&reader.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(h.jobs_sent(), 1, "the read-only key queued nothing");
    assert_eq!(h.rejections(&format!("key:{}", reader.id)).await, ["scope"]);

    let reply = h.get(&reader.key, &format!("/agents/runs/{job_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["job_id"], job_id.as_str());
    let reply = h.get(&reader.key, "/agents/runs?workspace_id=acme").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["runs"][0]["job_id"], job_id.as_str());
}

async fn a_key_runs_only_its_own_agent(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;
    // `ledger` exists (and globex is its workspace); `ghost` does not.
    for (agent, workspace) in [("ledger", "globex"), ("ledger", "acme"), ("ghost", "acme")] {
        let reply = h.run(&key.key, agent, workspace).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{agent} in {workspace}: {}",
            reply.body
        );
    }
    assert_eq!(h.jobs_sent(), 0);
    assert_eq!(
        h.rejections(&format!("key:{}", key.id)).await,
        ["other_agent", "other_agent", "other_agent"]
    );
}

async fn over_its_hourly_limit_a_key_is_429_with_retry_after_on_every_instance(h: Harness) {
    h.setup().await;
    // 60 an hour: one a minute, a burst of one.
    let key = h.key_with("books", &["agents:run"], None, Some(60)).await;
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);

    for (instance, state) in [("this", &h.world.agents), ("another", &h.other)] {
        let reply = h.run_on(state, &key.key, "books", "acme").await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{instance} instance: {}",
            reply.body
        );
        assert_eq!(reply.headers["retry-after"], "60", "{instance} instance");
    }
    h.world.clock.advance_secs(30.0);
    let reply = h.run_on(&h.other, &key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "30");

    h.world.clock.advance_secs(30.0);
    // The minute is over: one more, on either instance, and only one.
    let reply = h.run_on(&h.other, &key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "60");

    assert_eq!(h.jobs_sent(), 2);
    assert_eq!(
        h.record(&key.id).await.usage_count,
        2,
        "refused requests are not counted as uses"
    );
    assert_eq!(
        h.rejections(&format!("key:{}", key.id)).await,
        ["rate_limited"; 4]
    );
}

async fn a_key_sees_only_jobs_of_its_agents_workspaces(h: Harness) {
    h.setup().await;
    let books = h.key("books").await;
    let ledger = h.key("ledger").await;
    let reply = h.run(&ledger.key, "ledger", "globex").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let globex_job = reply.body["job_id"].as_str().unwrap().to_owned();
    let reply = h.run(&books.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let acme_job = reply.body["job_id"].as_str().unwrap().to_owned();

    let reply = h
        .get(&books.key, &format!("/agents/runs/{globex_job}"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = h.get(&books.key, "/agents/runs?workspace_id=globex").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    // A workspace that does not exist answers the same.
    let reply = h.get(&books.key, "/agents/runs?workspace_id=initech").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);

    let reply = h.get(&books.key, &format!("/agents/runs/{acme_job}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = h.get(&books.key, "/agents/runs?workspace_id=acme").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let runs = reply.body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{}", reply.body);
    assert_eq!(runs[0]["job_id"], acme_job.as_str());

    // A person who is a member of both sees both.
    let token = format!("Bearer {}", h.bearer("alice").await);
    let reply = h
        .call(
            "GET",
            &format!("/agents/runs/{globex_job}"),
            &[("authorization", &token)],
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn a_bearer_token_and_an_api_key_together_are_400(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;
    let token = format!("Bearer {}", h.bearer("alice").await);
    // Each alone is accepted...
    let reply = h
        .call(
            "POST",
            "/agents/books/runs",
            &[("authorization", &token), ("idempotency-key", "bearer-1")],
            Some(run_body("acme")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    // ...both at once are not, on a run and on a read.
    let both = [("authorization", token.as_str()), ("x-api-key", &key.key)];
    let reply = h
        .call("POST", "/agents/books/runs", &both, Some(run_body("acme")))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = h
        .call("GET", "/agents/runs?workspace_id=acme", &both, None)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(h.jobs_sent(), 2);
    assert_eq!(h.record(&key.id).await.usage_count, 1);
}

async fn a_listed_key_record_holds_no_usable_key(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let records = h.world.agents.store.list_api_keys().await.unwrap();
    assert_eq!(records.len(), 1);
    let shown = format!("{records:?}");
    assert!(shown.contains(&key.id), "{shown}");
    assert!(
        !shown.contains(key.secret()),
        "the secret is stored: {shown}"
    );
    assert!(!shown.contains(&key.key), "the key is stored: {shown}");
}

/// Reading (a job, a listing) spends a key's read limit, never its run
/// limit: a key allowed 5 runs an hour polls its job, as each `202`'s
/// `Location` and `Retry-After` say, a hundred times without a `429`,
/// while its second run within the hour is still refused.
async fn polling_a_job_never_spends_the_keys_run_limit(h: Harness) {
    h.setup().await;
    let key = h.key_with("books", &["agents:run"], None, Some(5)).await;
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/agents/runs/{job_id}"));
    assert_eq!(reply.headers["retry-after"], "1", "a queued job: soon");

    for poll in 0..100 {
        let path = match poll % 3 {
            0 => location.clone(),
            1 => "/agents/runs?workspace_id=acme".to_owned(),
            _ => "/agents/tool-calls?workspace_id=acme".to_owned(),
        };
        let reply = h.get(&key.key, &path).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "poll {poll} {path}: {}",
            reply.body
        );
        // A client that follows Retry-After.
        h.world.clock.advance_secs(1.0);
    }
    // The run limit is untouched by the reads, and still holds: 5 an hour
    // is one per 720 s, and 100 s went by.
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "620");
    assert_eq!(h.jobs_sent(), 1);
    let record = h.record(&key.id).await;
    assert_eq!(record.usage_count, 101, "every read is a use");
    assert!(record.tat.is_some() && record.read_tat.is_some());
    assert_eq!(
        h.rejections(&format!("key:{}", key.id)).await,
        ["rate_limited"]
    );
}

/// Past its read limit a key's reads are `429` with `Retry-After`,
/// audited, and its runs go on; the read limit is the larger of
/// `WARDEN_API_KEY_READS_PER_HOUR` and the key's own hourly limit.
async fn over_its_read_limit_a_key_is_429_on_reads_and_still_runs(mut h: Harness) {
    h.setup().await;
    // 60 reads an hour: one a minute, a burst of one.
    h.world.agents.registry.config.api_key_reads_per_hour = 60;
    let key = h.key_with("books", &["agents:run"], None, Some(60)).await;
    let path = "/agents/runs?workspace_id=acme";
    let reply = h.get(&key.key, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = h.get(&key.key, path).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "60");
    assert_eq!(reply.body["status"], 429);

    // Runs spend the other limit: one now (60 an hour), the next refused.
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let job = reply.headers["location"].to_str().unwrap().to_owned();
    let reply = h.run(&key.key, "books", "acme").await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    // Reading the job is still limited, until the minute is over.
    h.world.clock.advance_secs(30.0);
    let reply = h.get(&key.key, &job).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "30");
    h.world.clock.advance_secs(30.0);
    let reply = h.get(&key.key, &job).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        h.rejections(&format!("key:{}", key.id)).await,
        ["rate_limited"; 3]
    );

    // A key whose own limit is larger reads at its own rate: 7200 an hour
    // is a burst of 120.
    let big = h
        .key_with("books", &["agents:read"], None, Some(7200))
        .await;
    for read in 0..100 {
        let reply = h.get(&big.key, path).await;
        assert_eq!(reply.status, StatusCode::OK, "read {read}: {}", reply.body);
    }
}

warden::on_both_stores!(
    Harness::new;
    a_valid_key_runs_its_own_agent_and_each_use_is_counted,
    unknown_wrong_malformed_revoked_and_expired_keys_are_401_and_audited,
    a_read_only_key_reads_its_agents_jobs_but_runs_nothing,
    a_key_runs_only_its_own_agent,
    over_its_hourly_limit_a_key_is_429_with_retry_after_on_every_instance,
    a_key_sees_only_jobs_of_its_agents_workspaces,
    a_bearer_token_and_an_api_key_together_are_400,
    a_listed_key_record_holds_no_usable_key,
    a_key_revoked_while_its_request_is_checked_is_refused_and_audited,
    polling_a_job_never_spends_the_keys_run_limit,
    over_its_read_limit_a_key_is_429_on_reads_and_still_runs,
);

/// Hooks that revoke a key in `store` right after a request has read it,
/// once: a revocation racing a request's check, made deterministic.
struct RevokeAfterRead {
    store: Arc<dyn RegistryStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Interceptor for RevokeAfterRead {
    async fn after_get_api_key(
        &self,
        key_id: &str,
        read: Option<&ApiKeyRecord>,
    ) -> warden::Result<()> {
        if self.armed.swap(false, Ordering::SeqCst) {
            let revoke = ApiKeyWrite::Revoke {
                key_id: key_id.to_owned(),
                at: read.map_or(0, |k| k.created_at),
            };
            self.store.transact(vec![revoke.into()]).await?;
        }
        Ok(())
    }
}

/// "Revokes a key at once": a revocation that lands between a request's
/// read of the key and its usage write refuses that request too (the
/// write is conditional on the key not being revoked), and the refusal is
/// audited like any other.
async fn a_key_revoked_while_its_request_is_checked_is_refused_and_audited(h: Harness) {
    h.setup().await;
    let key = h.key("books").await;
    let revoke = RevokeAfterRead {
        store: h.store.clone(),
        armed: std::sync::atomic::AtomicBool::new(true),
    };
    let racing = Intercepted::new(h.store.clone(), revoke);
    let state = Harness::instance(&h.world, Arc::new(racing), h.sessions.clone());
    let reply = h.run_on(&state, &key.key, "books", "acme").await;
    assert_key_challenge(&reply, "revoked after the read");
    assert_eq!(h.jobs_sent(), 0);
    let record = h.record(&key.id).await;
    assert!(record.revoked_at.is_some());
    assert_eq!(record.usage_count, 0, "a refused request is no use");
    assert_eq!(h.rejections(&format!("key:{}", key.id)).await, ["revoked"]);
}

/// Every string in an attribute value, lists and maps included.
fn strings(value: &aws_sdk_dynamodb::types::AttributeValue, out: &mut Vec<String>) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match value {
        A::S(s) | A::N(s) => out.push(s.clone()),
        A::Ss(items) | A::Ns(items) => out.extend(items.iter().cloned()),
        A::B(b) => out.push(String::from_utf8_lossy(b.as_ref()).into_owned()),
        A::Bs(items) => out.extend(
            items
                .iter()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()),
        ),
        A::L(items) => items.iter().for_each(|v| strings(v, out)),
        A::M(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// On DynamoDB, the raw items of the api-keys table (read past the store)
/// hold neither the key nor its secret part, in any attribute.
#[tokio::test]
async fn on_dynamodb_the_api_keys_table_holds_no_usable_key() {
    let Some((store, client, prefix)) = testing::dynamo_store_and_client().await else {
        return;
    };
    let h = Harness::new(store);
    h.setup().await;
    let keys = [
        h.key("books").await,
        h.key_with(
            "ledger",
            &["agents:read", "agents:run"],
            Some(4_000_000_000),
            Some(60),
        )
        .await,
    ];
    // Used once, so that the usage attributes exist too.
    let reply = h.run(&keys[0].key, "books", "acme").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);

    let table = warden::store::dynamo::tables::API_KEYS.name(&prefix);
    let items = client
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "{items:?}");
    let mut values = Vec::new();
    for item in &items {
        item.values().for_each(|v| strings(v, &mut values));
    }
    for key in &keys {
        assert!(values.contains(&key.id), "{values:?}");
        for value in &values {
            assert!(!value.contains(key.secret()), "a secret is stored: {value}");
            assert!(!value.contains(&key.key), "a key is stored: {value}");
        }
    }
}
