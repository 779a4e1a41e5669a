//! The conformance suite of the agents and API-key ports: every check runs
//! on the memory store and on DynamoDB (against the emulator that
//! `infra/test.sh` starts), and each would fail if the write condition it
//! names were dropped. The last checks are DynamoDB's own: how items are
//! stored, and the round trips a read costs.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use warden::Error;
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::domain::agents::{
    AgentId, AgentRecord, AgentType, ApiKeyRecord, IdempotencyRecord, JobRecord, JobStatus,
    KeyLimit, Maturity, ProposalKind, ProposalRecord, ProposalStatus, WorkspaceId, WorkspaceRecord,
};
use warden::store::{
    AgentStore, AgentWrite, ApiKeyStore, ApiKeyWrite, AuditStore, JobMove, RunLookup, TatCondition,
    TatWrite, Transactions, Write, keys,
};

/// The ports these checks use, on either adapter.
trait Store: AgentStore + ApiKeyStore + AuditStore + Transactions {}
impl<T: AgentStore + ApiKeyStore + AuditStore + Transactions> Store for T {}

type Harness = Arc<dyn Store>;

fn harness<S: Store + 'static>(store: Arc<S>) -> Harness {
    store
}

/// Epoch seconds.
const NOW: i64 = 1_900_000_000;
/// Epoch milliseconds.
const NOW_MS: i64 = NOW * 1000;

fn agent_id(s: &str) -> AgentId {
    AgentId::parse(s).unwrap()
}

fn ws_id(s: &str) -> WorkspaceId {
    WorkspaceId::parse(s).unwrap()
}

/// A ULID of the given millisecond: ids made with rising `ms` sort in
/// that order (two `Ulid::new()` in one millisecond need not).
fn id_at(ms: i64) -> String {
    ulid::Ulid::from_parts(u64::try_from(ms).unwrap(), rand::random()).to_string()
}

fn workspace(id: &str) -> WorkspaceRecord {
    WorkspaceRecord {
        workspace_id: ws_id(id),
        name: format!("Workspace {id}"),
        created_at: NOW,
    }
}

fn agent(id: &str, workspaces: &[&str]) -> AgentRecord {
    AgentRecord {
        agent_id: agent_id(id),
        agent_type: AgentType::Accounting,
        maturity: Maturity::Supervised,
        enabled: true,
        workspaces: workspaces.iter().map(|w| ws_id(w)).collect(),
        kill_generation: 0,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn job(job_id: &str, workspace: &str, status: JobStatus) -> JobRecord {
    JobRecord {
        job_id: job_id.into(),
        agent_id: agent_id("books"),
        workspace_id: ws_id(workspace),
        action: "categorise_invoices".into(),
        // The text as received, kept byte for byte: a number written short
        // (`1E15`) must not come back long, nor spacing be normalised.
        input: r#"{"ids": [1, 2.5, "x", 1E15], "nested": {"k": null, "é": true}}"#.into(),
        status,
        requested_by: "user:u1".into(),
        proposal_id: None,
        decision_event_id: None,
        decide_by: None,
        lease_until: None,
        requeues: 0,
        result: None,
        error: None,
        created_at: NOW_MS,
        updated_at: NOW_MS,
    }
}

fn proposal(proposal_id: &str) -> ProposalRecord {
    ProposalRecord {
        proposal_id: proposal_id.into(),
        kind: ProposalKind::Run {
            job_id: id_at(NOW_MS),
            action: "pay_vendor".into(),
            input: r#"{"amount": 120.50, "vendor": "v-1"}"#.into(),
        },
        agent_id: agent_id("books"),
        workspace_id: ws_id("acme"),
        agent_maturity: Some(Maturity::Supervised),
        requested_by: "key:k1".into(),
        status: ProposalStatus::Pending,
        created_at: NOW_MS,
        decide_by: NOW + 3600,
        decided_by: None,
        reason: None,
        decided_at: None,
    }
}

fn idempotency(client_key: &str, job_id: &str, expires_at: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        key: keys::idempotency("user:u1", client_key),
        request_hash: "ab".repeat(32),
        job_id: job_id.into(),
        status: JobStatus::AwaitingApproval,
        proposal_id: Some(id_at(NOW_MS)),
        expires_at,
    }
}

fn api_key(key_id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: key_id.into(),
        secret_hmac: "cd".repeat(32),
        owner: warden::domain::agents::KeyOwner::Agent(agent_id("books")),
        scopes: vec!["agents:run".into(), "agents:read".into()],
        expires_at: Some(NOW + 86_400),
        rate_limit_per_hour: 600,
        revoked_at: None,
        created_at: NOW,
        created_by: Some("01USERBOB".into()),
        usage_count: 0,
        last_used_at: None,
        tat: None,
        read_tat: None,
    }
}

fn audit(actor: &str) -> AuditEvent {
    AuditEvent::new(
        EventType::UserCreated,
        Severity::Info,
        Origin::Http {
            ip: "203.0.113.9".into(),
            user_agent: "tests".into(),
            request_id: ulid::Ulid::new().to_string(),
        },
        NOW_MS,
        30,
    )
    .actor(actor)
}

async fn apply(h: &Harness, writes: Vec<Write>) -> warden::Result<()> {
    h.transact(writes).await
}

async fn one(h: &Harness, write: impl Into<Write>) -> warden::Result<()> {
    h.transact(vec![write.into()]).await
}

/// Stores `record` at `now`.
fn put_idempotency(record: &IdempotencyRecord, now: i64) -> Write {
    AgentWrite::PutIdempotency {
        record: record.clone(),
        now,
    }
    .into()
}

#[track_caller]
fn assert_condition_failed(result: warden::Result<()>) {
    assert!(matches!(result, Err(Error::ConditionFailed)), "{result:?}");
}

async fn workspaces_and_agents_are_created_once_and_read_back_in_full(h: Harness) {
    one(&h, AgentWrite::CreateWorkspace(workspace("acme")))
        .await
        .unwrap();
    one(&h, AgentWrite::CreateWorkspace(workspace("globex")))
        .await
        .unwrap();
    let mut again = workspace("acme");
    again.name = "Another".into();
    assert_condition_failed(one(&h, AgentWrite::CreateWorkspace(again)).await);
    assert_eq!(
        h.get_workspace(&ws_id("acme")).await.unwrap(),
        Some(workspace("acme"))
    );
    assert_eq!(h.get_workspace(&ws_id("initech")).await.unwrap(), None);

    // Created out of order; listed by id. The workspace order is kept.
    let mut zed = agent("zed", &["globex", "acme"]);
    zed.agent_type = AgentType::Planning;
    zed.maturity = Maturity::Autonomous;
    zed.enabled = false;
    zed.updated_at = NOW + 5;
    let books = agent("books", &[]);
    one(&h, AgentWrite::CreateAgent(zed.clone())).await.unwrap();
    one(&h, AgentWrite::CreateAgent(books.clone()))
        .await
        .unwrap();
    assert_condition_failed(one(&h, AgentWrite::CreateAgent(agent("zed", &["acme"]))).await);
    assert_eq!(
        h.get_agent(&agent_id("zed")).await.unwrap(),
        Some(zed.clone())
    );
    assert_eq!(h.get_agent(&agent_id("nobody")).await.unwrap(), None);
    assert_eq!(h.list_agents().await.unwrap(), vec![books, zed]);
}

async fn maturity_and_enabled_change_only_agents_that_exist(h: Harness) {
    let ghost = agent_id("ghost");
    assert_condition_failed(
        one(
            &h,
            AgentWrite::SetMaturity {
                agent_id: ghost.clone(),
                was: Maturity::Supervised,
                maturity: Maturity::Autonomous,
                at: NOW,
            },
        )
        .await,
    );
    assert_condition_failed(
        one(
            &h,
            AgentWrite::SetEnabled {
                agent_id: ghost.clone(),
                enabled: true,
                at: NOW,
            },
        )
        .await,
    );
    // An update without its condition would have created a half agent.
    assert_eq!(h.get_agent(&ghost).await.unwrap(), None);
    assert!(h.list_agents().await.unwrap().is_empty());

    one(&h, AgentWrite::CreateAgent(agent("books", &["acme"])))
        .await
        .unwrap();
    one(
        &h,
        AgentWrite::SetMaturity {
            agent_id: agent_id("books"),
            was: Maturity::Supervised,
            maturity: Maturity::Intern,
            at: NOW + 10,
        },
    )
    .await
    .unwrap();
    one(
        &h,
        AgentWrite::SetEnabled {
            agent_id: agent_id("books"),
            enabled: false,
            at: NOW + 20,
        },
    )
    .await
    .unwrap();
    let mut expected = agent("books", &["acme"]);
    expected.maturity = Maturity::Intern;
    expected.enabled = false;
    // A demotion and a disable: each raised the kill generation.
    expected.kill_generation = 2;
    expected.updated_at = NOW + 20;
    assert_eq!(
        h.get_agent(&agent_id("books")).await.unwrap(),
        Some(expected)
    );
}

async fn a_job_moves_only_forward_and_keeps_its_result(h: Harness) {
    let id = id_at(NOW_MS);
    let created = job(&id, "acme", JobStatus::Pending);
    one(&h, AgentWrite::CreateJob(created.clone()))
        .await
        .unwrap();
    assert_condition_failed(
        one(
            &h,
            AgentWrite::CreateJob(job(&id, "acme", JobStatus::Running)),
        )
        .await,
    );
    assert_eq!(h.get_job(&id).await.unwrap(), Some(created.clone()));

    let mut start = JobMove::new(&id, JobStatus::Pending, JobStatus::Running, NOW_MS + 1);
    start.lease_until = Some(NOW_MS + 60_000);
    one(&h, AgentWrite::move_job(start.clone()).unwrap())
        .await
        .unwrap();
    let running = h.get_job(&id).await.unwrap().unwrap();
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.lease_until, Some(NOW_MS + 60_000));
    assert_eq!(running.updated_at, NOW_MS + 1);
    // A redelivered message, a second worker: the job is no longer PENDING.
    start.at = NOW_MS + 2;
    assert_condition_failed(one(&h, AgentWrite::MoveJob(start)).await);

    let mut finish = JobMove::new(&id, JobStatus::Running, JobStatus::Success, NOW_MS + 3);
    finish.result = Some(json!({"categorised": 12, "ratio": 0.75, "items": []}));
    one(&h, AgentWrite::move_job(finish).unwrap())
        .await
        .unwrap();
    let mut done = created.clone();
    done.status = JobStatus::Success;
    done.updated_at = NOW_MS + 3;
    // The move had no lease: the lease is gone.
    done.lease_until = None;
    done.result = Some(json!({"categorised": 12, "ratio": 0.75, "items": []}));
    assert_eq!(h.get_job(&id).await.unwrap(), Some(done.clone()));

    // The domain refuses a backward move before it reaches the store...
    let back = JobMove::new(&id, JobStatus::Success, JobStatus::Running, NOW_MS + 4);
    assert!(AgentWrite::move_job(back.clone()).is_err());
    // ...and the store refuses one that claims the job is elsewhere.
    let mut back = back;
    back.from = JobStatus::Pending;
    assert_condition_failed(one(&h, AgentWrite::MoveJob(back)).await);
    assert_eq!(h.get_job(&id).await.unwrap(), Some(done));

    // A move of a job that does not exist creates nothing.
    let ghost = id_at(NOW_MS + 9);
    assert_condition_failed(
        one(
            &h,
            AgentWrite::MoveJob(JobMove::new(
                &ghost,
                JobStatus::Pending,
                JobStatus::Running,
                NOW_MS,
            )),
        )
        .await,
    );
    assert_eq!(h.get_job(&ghost).await.unwrap(), None);
}

async fn a_finished_job_is_never_moved_back_even_by_a_write_built_directly(h: Harness) {
    let id = id_at(NOW_MS);
    one(
        &h,
        AgentWrite::CreateJob(job(&id, "acme", JobStatus::Running)),
    )
    .await
    .unwrap();
    let mut finish = JobMove::new(&id, JobStatus::Running, JobStatus::Success, NOW_MS + 1);
    finish.result = Some(json!("ok"));
    one(&h, AgentWrite::MoveJob(finish)).await.unwrap();
    // Built directly, past the domain's check: the store refuses it although
    // the job is indeed SUCCESS.
    let mut back = JobMove::new(&id, JobStatus::Success, JobStatus::Running, NOW_MS + 2);
    back.lease_until = Some(NOW_MS + 99);
    assert_condition_failed(one(&h, AgentWrite::MoveJob(back)).await);
    // A stale worker's forward move: the job is no longer RUNNING.
    let stale = JobMove::new(&id, JobStatus::Running, JobStatus::Failed, NOW_MS + 3).error("late");
    assert_condition_failed(one(&h, AgentWrite::move_job(stale).unwrap()).await);
    let stored = h.get_job(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Success);
    assert_eq!(stored.result, Some(json!("ok")));
    assert_eq!((stored.lease_until, stored.error), (None, None));
    assert_eq!(stored.updated_at, NOW_MS + 1);
}

async fn a_proposed_job_approved_then_failed_keeps_its_proposal_and_its_error(h: Harness) {
    let id = id_at(NOW_MS);
    let mut proposed = job(&id, "acme", JobStatus::AwaitingApproval);
    proposed.proposal_id = Some(id_at(NOW_MS));
    proposed.decide_by = Some(NOW + 3600);
    one(&h, AgentWrite::CreateJob(proposed.clone()))
        .await
        .unwrap();
    assert_eq!(h.get_job(&id).await.unwrap(), Some(proposed.clone()));
    let approve = JobMove::new(
        &id,
        JobStatus::AwaitingApproval,
        JobStatus::Pending,
        NOW_MS + 1,
    );
    one(&h, AgentWrite::move_job(approve).unwrap())
        .await
        .unwrap();
    let fail = JobMove::new(&id, JobStatus::Pending, JobStatus::Failed, NOW_MS + 2)
        .error("the action timed out");
    one(&h, AgentWrite::move_job(fail).unwrap()).await.unwrap();
    let failed = h.get_job(&id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("the action timed out"));
    assert_eq!(failed.result, None);
    assert_eq!(failed.proposal_id, proposed.proposal_id);
    assert_eq!(failed.decide_by, Some(NOW + 3600));
}

async fn a_proposal_is_decided_once(h: Harness) {
    let p = proposal(&id_at(NOW_MS));
    one(&h, AgentWrite::CreateProposal(p.clone()))
        .await
        .unwrap();
    assert_condition_failed(one(&h, AgentWrite::CreateProposal(p.clone())).await);
    assert_eq!(
        h.get_proposal(&p.proposal_id).await.unwrap(),
        Some(p.clone())
    );

    let decide = |status, by: Option<&str>, at| AgentWrite::DecideProposal {
        proposal_id: p.proposal_id.clone(),
        from: ProposalStatus::Pending,
        status,
        decided_by: by.map(str::to_owned),
        reason: Some("looks right".into()),
        at,
    };
    one(
        &h,
        decide(ProposalStatus::Approved, Some("user:boss"), NOW_MS + 1),
    )
    .await
    .unwrap();
    // A second approver, a late expiry: the proposal is no longer PENDING.
    assert_condition_failed(
        one(
            &h,
            decide(ProposalStatus::Rejected, Some("user:other"), NOW_MS + 2),
        )
        .await,
    );
    assert_condition_failed(one(&h, decide(ProposalStatus::Expired, None, NOW_MS + 3)).await);
    let mut decided = p.clone();
    decided.status = ProposalStatus::Approved;
    decided.decided_by = Some("user:boss".into());
    decided.reason = Some("looks right".into());
    decided.decided_at = Some(NOW_MS + 1);
    assert_eq!(h.get_proposal(&p.proposal_id).await.unwrap(), Some(decided));

    // An expiry has no decider and no reason; deciding a ghost creates nothing.
    let q = proposal(&id_at(NOW_MS + 5));
    one(&h, AgentWrite::CreateProposal(q.clone()))
        .await
        .unwrap();
    one(
        &h,
        AgentWrite::DecideProposal {
            proposal_id: q.proposal_id.clone(),
            from: ProposalStatus::Pending,
            status: ProposalStatus::Expired,
            decided_by: None,
            reason: None,
            at: NOW_MS + 6,
        },
    )
    .await
    .unwrap();
    let expired = h.get_proposal(&q.proposal_id).await.unwrap().unwrap();
    assert_eq!(expired.status, ProposalStatus::Expired);
    assert_eq!((expired.decided_by, expired.reason), (None, None));
    assert_eq!(expired.decided_at, Some(NOW_MS + 6));
    let ghost = id_at(NOW_MS + 7);
    assert_condition_failed(
        one(
            &h,
            AgentWrite::DecideProposal {
                proposal_id: ghost.clone(),
                from: ProposalStatus::Pending,
                status: ProposalStatus::Approved,
                decided_by: None,
                reason: None,
                at: NOW_MS,
            },
        )
        .await,
    );
    assert_eq!(h.get_proposal(&ghost).await.unwrap(), None);
}

async fn an_idempotency_record_is_kept_once_while_live_and_can_be_replaced_once_expired(
    h: Harness,
) {
    let first = idempotency("client-key-1", &id_at(NOW_MS), NOW + 100);
    one(&h, put_idempotency(&first, NOW)).await.unwrap();
    let mut retry = first.clone();
    retry.job_id = id_at(NOW_MS + 1);
    assert_condition_failed(one(&h, put_idempotency(&retry, NOW + 99)).await);
    assert_eq!(
        h.get_idempotency(&first.key, NOW + 99).await.unwrap(),
        Some(first.clone())
    );
    // Expired by `now`: absent, and replaceable.
    assert_eq!(
        h.get_idempotency(&first.key, NOW + 100).await.unwrap(),
        None
    );
    retry.expires_at = NOW + 200;
    retry.proposal_id = None;
    retry.status = JobStatus::Pending;
    one(&h, put_idempotency(&retry, NOW + 100)).await.unwrap();
    assert_eq!(
        h.get_idempotency(&first.key, NOW + 100).await.unwrap(),
        Some(retry.clone())
    );
    // Deleting is unconditional: twice is fine.
    for _ in 0..2 {
        one(
            &h,
            AgentWrite::DeleteIdempotency {
                key: first.key.clone(),
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(h.get_idempotency(&first.key, NOW).await.unwrap(), None);
}

async fn idempotency_records_are_neither_jobs_nor_listed_with_them(h: Harness) {
    let job_id = id_at(NOW_MS);
    let record = idempotency("client-key-2", &job_id, NOW + 100);
    apply(
        &h,
        vec![
            AgentWrite::CreateJob(job(&job_id, "acme", JobStatus::Pending)).into(),
            put_idempotency(&record, NOW),
        ],
    )
    .await
    .unwrap();
    assert_eq!(h.get_job(&record.key).await.unwrap(), None);
    assert_eq!(h.get_idempotency(&job_id, NOW).await.unwrap(), None);
    let page = h.list_jobs(&ws_id("acme"), None, 10, None).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|j| j.job_id.clone()).collect();
    assert_eq!(ids, vec![job_id]);
}

/// What a run request reads, as the store takes it.
fn lookup<'a>(
    agent_id: &'a AgentId,
    workspace_id: &'a WorkspaceId,
    idempotency_key: Option<&'a str>,
    now: i64,
) -> RunLookup<'a> {
    RunLookup {
        rate_key: None,
        agent_id,
        workspace_id,
        idempotency_key,
        now,
    }
}

async fn the_run_context_reads_agent_workspace_and_live_record_together(h: Harness) {
    let record = idempotency("client-key-3", &id_at(NOW_MS), NOW + 100);
    apply(
        &h,
        vec![
            AgentWrite::CreateWorkspace(workspace("acme")).into(),
            AgentWrite::CreateAgent(agent("books", &["acme"])).into(),
            put_idempotency(&record, NOW),
        ],
    )
    .await
    .unwrap();
    let ctx = h
        .run_context(lookup(
            &agent_id("books"),
            &ws_id("acme"),
            Some(&record.key),
            NOW,
        ))
        .await
        .unwrap();
    assert_eq!(ctx.agent, Some(agent("books", &["acme"])));
    assert_eq!(ctx.workspace, Some(workspace("acme")));
    assert_eq!(ctx.idempotency, Some(record.clone()));

    let expired = h
        .run_context(lookup(
            &agent_id("books"),
            &ws_id("acme"),
            Some(&record.key),
            NOW + 100,
        ))
        .await
        .unwrap();
    assert_eq!(expired.idempotency, None);
    assert!(expired.agent.is_some() && expired.workspace.is_some());

    let without_key = h
        .run_context(lookup(&agent_id("books"), &ws_id("acme"), None, NOW))
        .await
        .unwrap();
    assert_eq!(without_key.idempotency, None);
    let other_key = keys::idempotency("user:u1", "never-used");
    let unknown = h
        .run_context(lookup(
            &agent_id("ghost"),
            &ws_id("void"),
            Some(&other_key),
            NOW,
        ))
        .await
        .unwrap();
    assert_eq!(unknown, Default::default());
}

async fn the_worker_reads_a_job_and_its_agent_together(h: Harness) {
    let id = id_at(NOW_MS);
    apply(
        &h,
        vec![
            AgentWrite::CreateAgent(agent("books", &["acme"])).into(),
            AgentWrite::CreateJob(job(&id, "acme", JobStatus::Pending)).into(),
        ],
    )
    .await
    .unwrap();
    let (j, a) = h.job_and_agent(&id, &agent_id("books")).await.unwrap();
    assert_eq!(j, Some(job(&id, "acme", JobStatus::Pending)));
    assert_eq!(a, Some(agent("books", &["acme"])));
    let (j, a) = h
        .job_and_agent(&id_at(NOW_MS + 1), &agent_id("books"))
        .await
        .unwrap();
    assert!(j.is_none() && a.is_some());
    let (j, a) = h.job_and_agent(&id, &agent_id("ghost")).await.unwrap();
    assert!(j.is_some() && a.is_none());
}

/// Five jobs in `acme` (ids rising with `ms`; odd ones PENDING, even ones
/// RUNNING) and one in `globex` among them; returns acme's ids, oldest first.
async fn five_jobs(h: &Harness) -> Vec<String> {
    let mut ids = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    for i in 1..=5 {
        let id = id_at(NOW_MS + i * 10);
        let status = if i % 2 == 1 {
            JobStatus::Pending
        } else {
            JobStatus::Running
        };
        writes.push(AgentWrite::CreateJob(job(&id, "acme", status)).into());
        ids.push(id);
    }
    let elsewhere = id_at(NOW_MS + 25);
    writes.push(AgentWrite::CreateJob(job(&elsewhere, "globex", JobStatus::Pending)).into());
    apply(h, writes).await.unwrap();
    ids
}

async fn list_all_jobs(
    h: &Harness,
    workspace: &str,
    status: Option<JobStatus>,
    limit: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = h
            .list_jobs(&ws_id(workspace), status, limit, after.as_deref())
            .await
            .unwrap();
        pages.push(page.items.iter().map(|j| j.job_id.clone()).collect());
        assert!(pages.len() <= 10, "paging does not end: {pages:?}");
        match page.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
}

async fn jobs_list_newest_first_page_by_page_within_their_workspace(h: Harness) {
    let ids = five_jobs(&h).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let pages = list_all_jobs(&h, "acme", None, 2).await;
    assert_eq!(
        pages,
        vec![
            newest_first[0..2].to_vec(),
            newest_first[2..4].to_vec(),
            newest_first[4..5].to_vec(),
        ]
    );
    // A page that ends exactly at the last job says there is no next one.
    assert_eq!(
        list_all_jobs(&h, "acme", None, 5).await,
        vec![newest_first.clone()]
    );
    let full = h.list_jobs(&ws_id("acme"), None, 4, None).await.unwrap();
    assert_eq!(full.next.as_deref(), Some(newest_first[3].as_str()));
    assert_eq!(
        list_all_jobs(&h, "initech", None, 3).await,
        vec![Vec::<String>::new()]
    );
    assert!(
        h.list_jobs(&ws_id("acme"), None, 0, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn jobs_list_by_status(h: Harness) {
    let ids = five_jobs(&h).await;
    // Pending: 5, 3, 1 (newest first); running: 4, 2.
    let pending = list_all_jobs(&h, "acme", Some(JobStatus::Pending), 2).await;
    assert_eq!(
        pending,
        vec![vec![ids[4].clone(), ids[2].clone()], vec![ids[0].clone()]]
    );
    let running = list_all_jobs(&h, "acme", Some(JobStatus::Running), 10).await;
    assert_eq!(running, vec![vec![ids[3].clone(), ids[1].clone()]]);
    let success = list_all_jobs(&h, "acme", Some(JobStatus::Success), 10).await;
    assert_eq!(success, vec![Vec::<String>::new()]);
}

async fn a_status_filter_finds_matches_past_many_that_do_not_match(h: Harness) {
    // Two old PENDING jobs under 150 newer RUNNING ones: DynamoDB's Limit
    // counts the RUNNING ones too, so the page takes several queries.
    let old: Vec<String> = (0..2).map(|i| id_at(NOW_MS + i)).collect();
    let mut writes: Vec<Write> = old
        .iter()
        .map(|id| AgentWrite::CreateJob(job(id, "acme", JobStatus::Pending)).into())
        .collect();
    for i in 0..150 {
        let id = id_at(NOW_MS + 100 + i);
        writes.push(AgentWrite::CreateJob(job(&id, "acme", JobStatus::Running)).into());
    }
    for chunk in writes.chunks(50) {
        apply(&h, chunk.to_vec()).await.unwrap();
    }
    let page = h
        .list_jobs(&ws_id("acme"), Some(JobStatus::Pending), 2, None)
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|j| j.job_id.clone()).collect();
    assert_eq!(ids, vec![old[1].clone(), old[0].clone()]);
    assert_eq!(page.next, None);
}

async fn proposals_list_oldest_first_by_status(h: Harness) {
    let ids: Vec<String> = (1..=4).map(|i| id_at(NOW_MS + i)).collect();
    let writes = ids
        .iter()
        .map(|id| AgentWrite::CreateProposal(proposal(id)).into())
        .collect();
    apply(&h, writes).await.unwrap();
    one(
        &h,
        AgentWrite::DecideProposal {
            proposal_id: ids[1].clone(),
            from: ProposalStatus::Pending,
            status: ProposalStatus::Approved,
            decided_by: Some("user:boss".into()),
            reason: None,
            at: NOW_MS + 10,
        },
    )
    .await
    .unwrap();
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = h
            .list_proposals(ProposalStatus::Pending, 2, after.as_deref())
            .await
            .unwrap();
        pages.push(
            page.items
                .iter()
                .map(|p| p.proposal_id.clone())
                .collect::<Vec<_>>(),
        );
        assert!(pages.len() <= 5, "paging does not end: {pages:?}");
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![vec![ids[0].clone(), ids[2].clone()], vec![ids[3].clone()]]
    );
    let approved = h
        .list_proposals(ProposalStatus::Approved, 10, None)
        .await
        .unwrap();
    assert_eq!(approved.items.len(), 1);
    assert_eq!(approved.items[0].decided_by.as_deref(), Some("user:boss"));
    assert_eq!(approved.next, None);
    assert!(
        h.list_proposals(ProposalStatus::Expired, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn api_keys_are_created_once_and_revoked_once(h: Harness) {
    let mut used = api_key("01KEYB");
    used.usage_count = 7;
    used.last_used_at = Some(NOW - 5);
    used.tat = Some(NOW_MS);
    used.read_tat = Some(NOW_MS + 7);
    used.expires_at = None;
    one(&h, ApiKeyWrite::Create(used.clone())).await.unwrap();
    one(&h, ApiKeyWrite::Create(api_key("01KEYA")))
        .await
        .unwrap();
    assert_condition_failed(one(&h, ApiKeyWrite::Create(api_key("01KEYB"))).await);
    assert_eq!(h.get_api_key("01KEYB").await.unwrap(), Some(used.clone()));
    assert_eq!(
        h.list_api_keys().await.unwrap(),
        vec![api_key("01KEYA"), used.clone()]
    );

    let revoke = |key_id: &str, at| ApiKeyWrite::Revoke {
        key_id: key_id.into(),
        at,
    };
    one(&h, revoke("01KEYA", NOW + 1)).await.unwrap();
    // Revoked once: the first revocation's time stands.
    assert_condition_failed(one(&h, revoke("01KEYA", NOW + 2)).await);
    assert_eq!(
        h.get_api_key("01KEYA").await.unwrap().unwrap().revoked_at,
        Some(NOW + 1)
    );
    assert_condition_failed(one(&h, revoke("01GHOST", NOW)).await);
    assert_eq!(h.get_api_key("01GHOST").await.unwrap(), None);
}

/// A key's first counted use: no rate state yet, the new one at 1 ms.
fn first_use() -> TatWrite {
    TatWrite {
        condition: TatCondition::AbsentOrAtMost(0),
        new_tat: 1,
    }
}

async fn a_key_use_is_counted_only_under_its_rate_condition(h: Harness) {
    one(&h, ApiKeyWrite::Create(api_key("01KEY")))
        .await
        .unwrap();
    let use_key = |condition, tat, now| {
        let h = h.clone();
        async move {
            let write = TatWrite {
                condition,
                new_tat: tat,
            };
            h.record_key_use("01KEY", KeyLimit::Run, write, now)
                .await
                .unwrap()
        }
    };
    // The key's rate state, uses and last use.
    let usage = || {
        let h = h.clone();
        async move {
            let k = h.get_api_key("01KEY").await.unwrap().unwrap();
            (k.tat, k.usage_count, k.last_used_at)
        }
    };
    // No rate state yet: Equals finds nothing to compare.
    assert_eq!(use_key(TatCondition::Equals(5), 100, NOW).await, Err(None));
    assert_eq!(
        use_key(TatCondition::AbsentOrAtMost(0), 100, NOW).await,
        Ok(())
    );
    assert_eq!(usage().await, (Some(100), 1, Some(NOW)));

    assert_eq!(
        use_key(TatCondition::Equals(99), 200, NOW + 1).await,
        Err(Some(100))
    );
    assert_eq!(
        use_key(TatCondition::AbsentOrAtMost(50), 200, NOW + 1).await,
        Err(Some(100))
    );
    assert_eq!(usage().await, (Some(100), 1, Some(NOW)));

    assert_eq!(
        use_key(TatCondition::Equals(100), 200, NOW + 2).await,
        Ok(())
    );
    assert_eq!(
        use_key(TatCondition::AbsentOrAtMost(200), 300, NOW + 3).await,
        Ok(())
    );
    assert_eq!(usage().await, (Some(300), 3, Some(NOW + 3)));
    // Within the allowance a use adds an interval (concurrent uses of one
    // key do not conflict); outside it, it answers the current time.
    assert_eq!(
        use_key(TatCondition::Within(250, 400), 50, NOW + 3).await,
        Ok(())
    );
    assert_eq!(
        use_key(TatCondition::Within(250, 349), 50, NOW + 3).await,
        Err(Some(350))
    );
    assert_eq!(usage().await, (Some(350), 4, Some(NOW + 3)));
    assert_eq!(
        use_key(TatCondition::Equals(350), 300, NOW + 3).await,
        Ok(())
    );
    assert_eq!(usage().await, (Some(300), 5, Some(NOW + 3)));

    let ghost = h
        .record_key_use("01GHOST", KeyLimit::Run, first_use(), NOW)
        .await;
    assert!(matches!(ghost, Err(Error::ConditionFailed)), "{ghost:?}");
    assert_eq!(h.get_api_key("01GHOST").await.unwrap(), None);

    // Revoked: no use is counted, whatever the rate condition.
    one(
        &h,
        ApiKeyWrite::Revoke {
            key_id: "01KEY".into(),
            at: NOW + 4,
        },
    )
    .await
    .unwrap();
    for condition in [TatCondition::Equals(300), TatCondition::AbsentOrAtMost(300)] {
        let write = TatWrite {
            condition,
            new_tat: 400,
        };
        let revoked = h
            .record_key_use("01KEY", KeyLimit::Run, write, NOW + 5)
            .await;
        assert!(
            matches!(revoked, Err(Error::ConditionFailed)),
            "{revoked:?}"
        );
    }
    assert_eq!(usage().await, (Some(300), 5, Some(NOW + 3)));
}

async fn a_transaction_across_agents_keys_and_audit_is_all_or_nothing(h: Harness) {
    one(&h, AgentWrite::CreateAgent(agent("books", &[])))
        .await
        .unwrap();
    let job_id = id_at(NOW_MS);
    let event = audit("user:admin");
    let writes = |failing: Option<Write>| {
        let mut w: Vec<Write> = vec![
            AgentWrite::CreateWorkspace(workspace("acme")).into(),
            AgentWrite::CreateJob(job(&job_id, "acme", JobStatus::Pending)).into(),
            ApiKeyWrite::Create(api_key("01KEY")).into(),
            event.clone().into(),
        ];
        w.extend(failing);
        w
    };
    for failing in [
        AgentWrite::CreateAgent(agent("books", &[])).into(),
        ApiKeyWrite::Revoke {
            key_id: "01GHOST".into(),
            at: NOW,
        }
        .into(),
        AgentWrite::SetMaturity {
            agent_id: agent_id("ghost"),
            was: Maturity::Supervised,
            maturity: Maturity::Intern,
            at: NOW,
        }
        .into(),
    ] {
        let failing: Write = failing;
        assert_condition_failed(apply(&h, writes(Some(failing.clone()))).await);
        assert_eq!(
            h.get_workspace(&ws_id("acme")).await.unwrap(),
            None,
            "{failing:?}"
        );
        assert_eq!(h.get_job(&job_id).await.unwrap(), None, "{failing:?}");
        assert_eq!(h.get_api_key("01KEY").await.unwrap(), None, "{failing:?}");
        assert!(h.audit_by_actor("user:admin", 10).await.unwrap().is_empty());
    }
    apply(&h, writes(None)).await.unwrap();
    assert!(h.get_workspace(&ws_id("acme")).await.unwrap().is_some());
    assert!(h.get_job(&job_id).await.unwrap().is_some());
    assert!(h.get_api_key("01KEY").await.unwrap().is_some());
    assert_eq!(
        h.audit_by_actor("user:admin", 10).await.unwrap(),
        vec![event]
    );
}

/// A job with a lease (`PENDING` or `RUNNING`) at `lease` (epoch ms).
fn leased(job_id: &str, status: JobStatus, lease: i64) -> JobRecord {
    JobRecord {
        lease_until: Some(lease),
        ..job(job_id, "acme", status)
    }
}

async fn only_jobs_not_ended_whose_lease_has_passed_are_due_soonest_first(h: Harness) {
    let (a, b, c, d) = (
        id_at(NOW_MS),
        id_at(NOW_MS + 1),
        id_at(NOW_MS + 2),
        id_at(NOW_MS + 3),
    );
    for j in [
        leased(&a, JobStatus::Pending, NOW_MS - 10),
        leased(&b, JobStatus::Running, NOW_MS - 20),
        leased(&c, JobStatus::Pending, NOW_MS + 60_000),
        job(&d, "acme", JobStatus::AwaitingApproval),
    ] {
        one(&h, AgentWrite::CreateJob(j)).await.unwrap();
    }
    let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|j| j.job_id).collect::<Vec<_>>();
    assert_eq!(
        ids(h.due_jobs(NOW_MS, 10).await.unwrap()),
        [b.clone(), a.clone()]
    );
    assert_eq!(
        ids(h.due_jobs(NOW_MS, 1).await.unwrap()),
        std::slice::from_ref(&b)
    );
    // An ended job leaves the index with its lease.
    let mut end = JobMove::new(&b, JobStatus::Running, JobStatus::Failed, NOW_MS).error("x");
    end.lease_until = Some(NOW_MS + 1);
    one(&h, AgentWrite::move_job(end).unwrap()).await.unwrap();
    assert_eq!(h.get_job(&b).await.unwrap().unwrap().lease_until, None);
    assert_eq!(
        ids(h.due_jobs(NOW_MS, 10).await.unwrap()),
        std::slice::from_ref(&a)
    );
    // An approved job enters it with the lease its move gives.
    let approve =
        JobMove::new(&d, JobStatus::AwaitingApproval, JobStatus::Pending, NOW_MS).lease(NOW_MS - 1);
    one(&h, AgentWrite::move_job(approve).unwrap())
        .await
        .unwrap();
    assert_eq!(ids(h.due_jobs(NOW_MS, 10).await.unwrap()), [a.clone(), d]);
}

async fn a_requeue_moves_the_lease_on_only_from_the_lease_read(h: Harness) {
    let a = id_at(NOW_MS);
    one(
        &h,
        AgentWrite::CreateJob(leased(&a, JobStatus::Pending, NOW_MS - 10)),
    )
    .await
    .unwrap();
    let requeue = |was: i64| AgentWrite::Requeue {
        job_id: a.clone(),
        lease_was: was,
        lease_until: NOW_MS + 120_000,
        requeues: 1,
    };
    // A sweep that read another lease (another sweep got there first).
    assert_condition_failed(one(&h, requeue(NOW_MS - 11)).await);
    one(&h, requeue(NOW_MS - 10)).await.unwrap();
    let stored = h.get_job(&a).await.unwrap().unwrap();
    assert_eq!(
        (stored.lease_until, stored.requeues),
        (Some(NOW_MS + 120_000), 1)
    );
    assert!(h.due_jobs(NOW_MS, 10).await.unwrap().is_empty());
    assert_condition_failed(one(&h, requeue(NOW_MS - 10)).await);
    // A job that started is not requeued.
    let start = JobMove::new(&a, JobStatus::Pending, JobStatus::Running, NOW_MS).lease(NOW_MS + 1);
    one(&h, AgentWrite::move_job(start).unwrap()).await.unwrap();
    assert_condition_failed(one(&h, requeue(NOW_MS + 1)).await);
}

async fn an_interrupted_end_needs_the_lease_still_past(h: Harness) {
    let a = id_at(NOW_MS);
    one(
        &h,
        AgentWrite::CreateJob(leased(&a, JobStatus::Running, NOW_MS + 5)),
    )
    .await
    .unwrap();
    let end = |before: i64| {
        let mut m =
            JobMove::new(&a, JobStatus::Running, JobStatus::Failed, NOW_MS).error("interrupted");
        m.if_lease_before = Some(before);
        AgentWrite::move_job(m).unwrap()
    };
    assert_condition_failed(one(&h, end(NOW_MS + 5)).await);
    one(&h, end(NOW_MS + 6)).await.unwrap();
    assert_eq!(
        h.get_job(&a).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
}

async fn a_start_is_conditional_on_the_agent_still_allowing_it(h: Harness) {
    one(&h, AgentWrite::CreateWorkspace(workspace("acme")))
        .await
        .unwrap();
    one(&h, AgentWrite::CreateAgent(agent("books", &["acme"])))
        .await
        .unwrap();
    let a = id_at(NOW_MS);
    one(
        &h,
        AgentWrite::CreateJob(leased(&a, JobStatus::Pending, NOW_MS)),
    )
    .await
    .unwrap();
    let start = || {
        AgentWrite::move_job(
            JobMove::new(&a, JobStatus::Pending, JobStatus::Running, NOW_MS).lease(NOW_MS + 1),
        )
        .unwrap()
    };
    let allows = |workspace: &str, maturities: &[Maturity]| AgentWrite::AgentAllows {
        agent_id: agent_id("books"),
        workspace_id: ws_id(workspace),
        maturities: maturities.to_vec(),
    };
    let run = [Maturity::Supervised, Maturity::Autonomous];
    for refused in [
        allows("other", &run),
        allows("acme", &[Maturity::Autonomous]),
        allows("acme", &[]),
        AgentWrite::AgentAllows {
            agent_id: agent_id("ghost"),
            workspace_id: ws_id("acme"),
            maturities: run.to_vec(),
        },
    ] {
        assert_condition_failed(apply(&h, vec![start().into(), refused.into()]).await);
    }
    one(
        &h,
        AgentWrite::SetEnabled {
            agent_id: agent_id("books"),
            enabled: false,
            at: NOW,
        },
    )
    .await
    .unwrap();
    assert_condition_failed(apply(&h, vec![start().into(), allows("acme", &run).into()]).await);
    assert_eq!(
        h.get_job(&a).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
    one(
        &h,
        AgentWrite::SetEnabled {
            agent_id: agent_id("books"),
            enabled: true,
            at: NOW,
        },
    )
    .await
    .unwrap();
    apply(&h, vec![start().into(), allows("acme", &run).into()])
        .await
        .unwrap();
    assert_eq!(
        h.get_job(&a).await.unwrap().unwrap().status,
        JobStatus::Running
    );
}

warden::on_both_stores!(
    harness;
    workspaces_and_agents_are_created_once_and_read_back_in_full,
    maturity_and_enabled_change_only_agents_that_exist,
    a_job_moves_only_forward_and_keeps_its_result,
    a_finished_job_is_never_moved_back_even_by_a_write_built_directly,
    a_proposed_job_approved_then_failed_keeps_its_proposal_and_its_error,
    a_proposal_is_decided_once,
    an_idempotency_record_is_kept_once_while_live_and_can_be_replaced_once_expired,
    idempotency_records_are_neither_jobs_nor_listed_with_them,
    the_run_context_reads_agent_workspace_and_live_record_together,
    the_worker_reads_a_job_and_its_agent_together,
    jobs_list_newest_first_page_by_page_within_their_workspace,
    jobs_list_by_status,
    a_status_filter_finds_matches_past_many_that_do_not_match,
    proposals_list_oldest_first_by_status,
    api_keys_are_created_once_and_revoked_once,
    a_key_use_is_counted_only_under_its_rate_condition,
    a_transaction_across_agents_keys_and_audit_is_all_or_nothing,
    only_jobs_not_ended_whose_lease_has_passed_are_due_soonest_first,
    a_requeue_moves_the_lease_on_only_from_the_lease_read,
    an_interrupted_end_needs_the_lease_still_past,
    a_start_is_conditional_on_the_agent_still_allowing_it,
);

mod dynamodb_only {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn sv(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[tokio::test]
    async fn an_unknown_stored_enum_name_is_a_read_error_never_a_default() {
        let Some((store, prefix)) = warden::testing::dynamo_store().await else {
            return;
        };
        store
            .transact(vec![
                AgentWrite::CreateAgent(agent("books", &["acme"])).into(),
                AgentWrite::CreateJob(job("01JOB", "acme", JobStatus::Pending)).into(),
            ])
            .await
            .unwrap();
        // What a newer (or broken) writer might leave behind.
        let set = |table: &str, key: (&str, &str), attr: &str, value: &str| {
            store
                .client()
                .update_item()
                .table_name(format!("{prefix}{table}"))
                .key(key.0, sv(key.1))
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", attr)
                .expression_attribute_values(":v", sv(value))
                .send()
        };
        set("agents", ("agent_id", "books"), "maturity", "GURU")
            .await
            .unwrap();
        set("agent-jobs", ("job_id", "01JOB"), "status", "DONE")
            .await
            .unwrap();
        for result in [
            store.get_agent(&agent_id("books")).await.map(|_| ()),
            store.list_agents().await.map(|_| ()),
            store.get_job("01JOB").await.map(|_| ()),
            store
                .job_and_agent("01JOB", &agent_id("nobody"))
                .await
                .map(|_| ()),
        ] {
            assert!(matches!(result, Err(Error::Internal { .. })), "{result:?}");
        }
    }

    #[tokio::test]
    async fn idempotency_items_carry_no_workspace_and_jobs_no_expiry() {
        let Some((store, prefix)) = warden::testing::dynamo_store().await else {
            return;
        };
        let record = idempotency("client-key", "01JOB", NOW + 100);
        store
            .transact(vec![
                AgentWrite::CreateJob(job("01JOB", "acme", JobStatus::Pending)).into(),
                put_idempotency(&record, NOW),
            ])
            .await
            .unwrap();
        let raw = |key: String| {
            store
                .client()
                .get_item()
                .table_name(format!("{prefix}agent-jobs"))
                .key("job_id", sv(&key))
                .consistent_read(true)
                .send()
        };
        let idem = raw(record.key.clone()).await.unwrap().item.unwrap();
        assert!(!idem.contains_key("workspace_id"), "{idem:?}");
        assert!(idem.contains_key("expires_at"));
        let job = raw("01JOB".into()).await.unwrap().item.unwrap();
        // The table's TTL would delete a job that carried one.
        assert!(!job.contains_key("expires_at"), "{job:?}");
        assert_eq!(
            job.get("input")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some(r#"{"ids": [1, 2.5, "x", 1E15], "nested": {"k": null, "é": true}}"#)
        );
    }

    /// The design's budgets, counted on the wire: a run request's reads are
    /// one BatchGetItem, and so are the worker's.
    #[tokio::test]
    async fn the_run_context_and_the_workers_read_are_one_round_trip_each() {
        let Some((store, _, log)) = warden::testing::dynamo_store_with_log().await else {
            return;
        };
        let key = keys::idempotency("user:u1", "k");
        store
            .run_context(lookup(&agent_id("books"), &ws_id("acme"), Some(&key), NOW))
            .await
            .unwrap();
        assert_eq!(log.take(), vec!["BatchGetItem"]);
        store
            .job_and_agent("01JOB", &agent_id("books"))
            .await
            .unwrap();
        assert_eq!(log.take(), vec!["BatchGetItem"]);
        store
            .record_key_use("01KEY", KeyLimit::Run, first_use(), NOW)
            .await
            .unwrap_err();
        assert_eq!(log.take(), vec!["UpdateItem"]);
    }
}
