//! The job worker, at most once: every check runs on the memory store and,
//! when the emulator runs, on DynamoDB. Each would fail if the rule it
//! names were dropped: the status checks and the `PENDING -> RUNNING`
//! condition (a second run publishes a second time), the lease, the
//! run-time governance check, the dead-letter handling, the failure paths.
//!
//! The outbound queue here records every send it is asked for (it does not
//! deduplicate like a FIFO queue would), so a second run of an action with
//! an external effect shows as a second publish.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use common::{Outbound, WORKSPACE, context, failed_ids, sqs_record, submit_as_alice};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use warden::agents::proposals::{Decision, decide};
use warden::agents::registry::{register_agent, set_enabled, set_maturity};
use warden::agents::run::{Accepted, Caller};
use warden::agents::sweeper::{
    INTERRUPTED_EFFECT, MAX_REQUEUES, PENDING_LEASE_MS, Swept, requeue_step_ms, sweep,
};
use warden::agents::worker::{Processed, Source, process};
use warden::audit::{AuditEvent, EventType, Origin};
use warden::clock::Clock;
use warden::domain::Role;
use warden::domain::agents::{AgentId, AgentType, JobRecord, JobStatus, Maturity};
use warden::state::WorkerState;
use warden::store::{AgentWrite, AuthStore, JobMove, RegistryStore, WorkerStore};
use warden::testing::{
    AgentWorld, Intercepted, Interceptor, add_workspace, new_agent, worker_state,
};
use warden::{Error, Result};

const AGENT: &str = "buyer";
/// The worker's audit events carry no actor of their own.
const WORKER_ACTOR: &str = "anonymous";

/// Hooks for a worker store that can fail the worker's read of one job,
/// and can hold each read of a job until as many reads as `barrier` waits
/// for have happened (so racing workers all see the job before any moves
/// it).
#[derive(Default)]
struct JobReads {
    fail_job: Option<String>,
    /// Holds the first two reads until both are made (later reads, such as
    /// the loser's second look, pass).
    barrier: Option<tokio::sync::Barrier>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Interceptor for JobReads {
    async fn before_job_and_agent(&self, job_id: &str) -> Result<()> {
        if self.fail_job.as_deref() == Some(job_id) {
            return Err(Error::unavailable("simulated store outage (test)"));
        }
        Ok(())
    }

    async fn after_job_and_agent(&self, _job_id: &str) {
        if let Some(barrier) = &self.barrier
            && self.reads.fetch_add(1, Ordering::SeqCst) < 2
        {
            barrier.wait().await;
        }
    }
}

/// Every agent state over one store, the worker publishing to [`Outbound`].
struct World {
    w: AgentWorld,
    outbound: Arc<Outbound>,
}

fn world<S: AuthStore + RegistryStore + WorkerStore + 'static>(store: Arc<S>) -> World {
    let mut w = AgentWorld::over(store);
    let outbound = Arc::new(Outbound::default());
    w.worker.outbound = outbound.clone();
    World { w, outbound }
}

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

fn approver() -> Caller {
    Caller::User {
        user_id: "bob".into(),
        roles: vec![Role::Approver],
        workspaces: vec![warden::domain::agents::WorkspaceId::parse(common::WORKSPACE).unwrap()],
    }
}

fn agent_id() -> AgentId {
    AgentId::parse(AGENT).unwrap()
}

/// A fully priced order: 10 x 1200 + 3 x 450 = 12_000 + 1_350 = 13_350 cents.
fn purchase_order() -> Value {
    json!({"po_number": "PO-1", "vendor": "vendor-a", "currency": "USD",
           "lines": [{"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200},
                     {"sku": "SKU-2", "quantity": 3, "unit_price_cents": 450}]})
}

/// One need of 10 x A bought from "dear" at 500; "cheap" quotes 300:
/// saving (500 - 300) x 10 = 2_000 cents.
fn comparison() -> Value {
    json!({
        "needs": [{"sku": "A", "quantity": 10, "current_vendor": "dear"}],
        "quotes": [
            {"vendor": "dear", "sku": "A", "unit_price_cents": 500, "min_quantity": 1},
            {"vendor": "cheap", "sku": "A", "unit_price_cents": 300, "min_quantity": 1},
        ],
    })
}

impl World {
    /// The workspace and the purchasing agent at `maturity`, enabled.
    async fn agent(&self, maturity: Maturity) {
        add_workspace(&self.w.agents, cli(), WORKSPACE, "Acme").await;
        let agent = new_agent(AGENT, AgentType::Purchasing, maturity, WORKSPACE);
        register_agent(&self.w.agents, cli(), agent).await.unwrap();
    }

    async fn submit(&self, action: &str, input: Value) -> Accepted {
        submit_as_alice(&self.w.agents, AGENT, action, input).await
    }

    /// The jobs-queue message of `job_id`, as the run handler sent it.
    fn message(&self, job_id: &str) -> String {
        let bodies: Vec<String> = self
            .w
            .jobs
            .messages()
            .into_iter()
            .filter(|m| m.deduplication_id == job_id)
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies.len(), 1, "job {job_id} was queued once");
        bodies.into_iter().next().unwrap()
    }

    fn deadline(&self) -> i64 {
        self.w.clock.now_millis() + 30_000
    }

    /// One delivery of `job_id`'s message to the worker.
    async fn deliver(&self, message_id: &str, job_id: &str, source: Source) -> Result<Processed> {
        let body = self.message(job_id);
        process(&self.w.worker, message_id, &body, source, self.deadline()).await
    }

    async fn job(&self, job_id: &str) -> JobRecord {
        self.w.worker.store.get_job(job_id).await.unwrap().unwrap()
    }

    /// The worker's audit events about `job_id`, newest first.
    async fn worker_events(&self, job_id: &str) -> Vec<AuditEvent> {
        self.w
            .worker
            .store
            .audit_by_actor(WORKER_ACTOR, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.details.get("job_id") == Some(&json!(job_id)))
            .collect()
    }

    /// The audit event `event_id`.
    async fn audit_event(&self, event_id: &str) -> AuditEvent {
        let now = self.w.clock.now_millis();
        self.w
            .worker
            .store
            .query_audit(&warden::store::AuditQuery {
                actor: None,
                event_type: None,
                since_millis: now - 86_400_000,
                until_millis: now + 86_400_000,
                limit: 10_000,
                before: None,
            })
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.event_id == event_id)
            .unwrap_or_else(|| panic!("no audit event {event_id}"))
    }

    /// The worker's one audit event about `job_id` (there must be exactly
    /// one).
    async fn worker_event(&self, job_id: &str) -> AuditEvent {
        let events = self.worker_events(job_id).await;
        assert_eq!(events.len(), 1, "{events:?}");
        events.into_iter().next().unwrap()
    }

    /// `job_id`'s record, which must have ended `FAILED`.
    async fn failed_job(&self, job_id: &str) -> JobRecord {
        let stored = self.job(job_id).await;
        assert_eq!(stored.status, JobStatus::Failed, "{stored:?}");
        stored
    }

    /// Delivers `job_id`'s message, which the run-time governance check
    /// must block: the job fails unrun with `error`, and the worker's one
    /// audit event about it, returned, says it was blocked.
    async fn deliver_blocked(&self, job_id: &str, error: &str) -> AuditEvent {
        let processed = self.deliver("m-1", job_id, Source::Jobs).await.unwrap();
        assert_eq!(processed, Processed::Blocked);
        let stored = self.failed_job(job_id).await;
        assert_eq!(stored.error.as_deref(), Some(error));
        assert_eq!(stored.result, None);
        let event = self.worker_event(job_id).await;
        assert_eq!(event.event_type, EventType::AgentRunBlocked);
        event
    }

    /// An AUTONOMOUS agent's purchase order that a worker took under a
    /// lease a minute long: the job, and when its lease ends.
    async fn order_under_a_live_lease(&self) -> (Accepted, i64) {
        self.agent(Maturity::Autonomous).await;
        let job = self.submit("submit_purchase_order", purchase_order()).await;
        let lease_until = self.w.clock.now_millis() + 60_000;
        self.start_by_hand(&job.job_id, lease_until).await;
        (job, lease_until)
    }

    /// A worker state like the world's over another store.
    fn worker_over(&self, store: Arc<dyn WorkerStore>) -> WorkerState {
        worker_state(store, self.outbound.clone(), self.w.clock.clone())
    }

    /// Moves `job_id` from `PENDING` to `RUNNING` under a lease until
    /// `lease_until`, as a worker does before it runs the action.
    async fn start_by_hand(&self, job_id: &str, lease_until: i64) {
        let mut mv = JobMove::new(
            job_id,
            JobStatus::Pending,
            JobStatus::Running,
            self.w.clock.now_millis(),
        );
        mv.lease_until = Some(lease_until);
        self.w
            .worker
            .store
            .transact(vec![AgentWrite::move_job(mv).unwrap().into()])
            .await
            .unwrap();
    }
}

/// A Lambda invocation's SQS event: one record per (message id, body,
/// source queue ARN).
fn sqs_event(records: &[(&str, &str, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records
        .iter()
        .map(|(id, body, arn)| sqs_record(id, body, arn))
        .collect();
    event
}

// ---------------------------------------------------------------------------
// the checks

async fn the_same_message_delivered_twice_runs_the_action_once(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    assert_eq!(job.status, JobStatus::Pending);

    let first = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(first, Processed::Ran(JobStatus::Success));
    // SQS delivers at least once: the same message, again.
    let second = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert!(matches!(second, Processed::Skipped(_)), "{second:?}");

    let published = h.outbound.accepted();
    assert_eq!(published.len(), 1, "published once: {published:?}");
    assert_eq!(published[0].deduplication_id, job.job_id);
    let stored = h.job(&job.job_id).await;
    assert_eq!(stored.status, JobStatus::Success);
    let result = stored.result.expect("a SUCCESS job keeps its result");
    // 10 x 1200 + 3 x 450 = 13_350.
    assert_eq!(result["total_cents"], 13_350);
    assert_eq!(result["status"], "SUBMITTED");
    let payload: Value = serde_json::from_str(&published[0].body).unwrap();
    assert_eq!(
        payload["payload"], result,
        "what was published is the result"
    );
    assert_eq!(payload["job_id"], json!(job.job_id));
}

async fn two_workers_racing_on_one_job_run_it_once(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    // Both workers read the job PENDING before either tries to move it.
    let reads = JobReads {
        barrier: Some(tokio::sync::Barrier::new(2)),
        ..JobReads::default()
    };
    let worker = h.worker_over(Arc::new(Intercepted::new(h.w.worker.store.clone(), reads)));
    let body = h.message(&job.job_id);
    let deadline = h.deadline();

    let (a, b) = tokio::join!(
        process(&worker, "m-1", &body, Source::Jobs, deadline),
        process(&worker, "m-1", &body, Source::Jobs, deadline),
    );
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(
        outcomes,
        vec![
            Processed::Ran(JobStatus::Success),
            Processed::Skipped("taken by another worker"),
        ]
    );
    assert_eq!(h.outbound.accepted().len(), 1);
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Success);
}

async fn a_job_whose_worker_died_mid_run_fails_interrupted_and_never_runs_again(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    let now = h.w.clock.now_millis();
    // A worker took it under a lease that has passed: it died mid-run.
    h.start_by_hand(&job.job_id, now - 1).await;

    let processed = h.deliver("m-2", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(processed, Processed::Interrupted);
    let stored = h.failed_job(&job.job_id).await;
    let error = stored.error.unwrap();
    assert!(error.starts_with("interrupted"), "{error}");
    assert_eq!(stored.result, None);
    assert!(h.outbound.accepted().is_empty(), "it never ran again");
    let event = h.worker_event(&job.job_id).await;
    assert_eq!(event.event_type, EventType::AgentRunFailed);
    assert_eq!(event.details["reason"], "interrupted");

    // Later deliveries leave it FAILED.
    let again = h.deliver("m-2", &job.job_id, Source::Jobs).await.unwrap();
    assert!(matches!(again, Processed::Skipped(_)), "{again:?}");
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Failed);
    assert!(h.outbound.accepted().is_empty());
}

async fn a_running_job_under_a_live_lease_is_retried_later_and_stays_running(h: World) {
    let (job, lease_until) = h.order_under_a_live_lease().await;

    let early = h.deliver("m-1", &job.job_id, Source::Jobs).await;
    assert!(matches!(early, Err(Error::Unavailable { .. })), "{early:?}");
    let stored = h.job(&job.job_id).await;
    assert_eq!(stored.status, JobStatus::Running);
    assert_eq!(stored.lease_until, Some(lease_until));
    assert!(h.outbound.accepted().is_empty());

    // Once the lease has passed, the same message finds the worker dead.
    h.w.clock.advance_secs(61.0);
    let late = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(late, Processed::Interrupted);
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Failed);
    assert!(h.outbound.accepted().is_empty());
}

async fn disabling_an_agent_after_its_job_was_queued_fails_the_job_unrun(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    assert_eq!(job.status, JobStatus::Pending);
    set_enabled(&h.w.agents, cli(), &agent_id(), false)
        .await
        .unwrap();

    let error = "agent buyer was disabled before the job ran";
    let event = h.deliver_blocked(&job.job_id, error).await;
    assert!(h.outbound.accepted().is_empty(), "it did not run");
    assert_eq!(event.details["rule"], "agent_disabled");
    assert_eq!(event.details["at"], "run_time");
    assert_eq!(event.subject.as_deref(), Some("agent:buyer"));
}

async fn a_message_naming_another_agent_is_judged_by_the_jobs_own_agent(h: World) {
    h.agent(Maturity::Autonomous).await;
    let decoy = new_agent(
        "decoy",
        AgentType::Purchasing,
        Maturity::Autonomous,
        WORKSPACE,
    );
    register_agent(&h.w.agents, cli(), decoy).await.unwrap();
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    set_enabled(&h.w.agents, cli(), &agent_id(), false)
        .await
        .unwrap();
    // The message's agent is enabled; the job's own agent is not.
    let body = json!({"job_id": job.job_id, "agent_id": "decoy"}).to_string();
    let processed = process(&h.w.worker, "m-x", &body, Source::Jobs, h.deadline())
        .await
        .unwrap();
    assert_eq!(processed, Processed::Blocked);
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Failed);
    assert!(h.outbound.accepted().is_empty(), "it did not run");
}

async fn demoting_a_supervised_agent_to_intern_after_queueing_fails_its_job_unrun(h: World) {
    h.agent(Maturity::Supervised).await;
    let job = h.submit("compare_vendors", comparison()).await;
    assert_eq!(job.status, JobStatus::Pending, "a c1 action runs directly");
    set_maturity(&h.w.agents, cli(), &agent_id(), Maturity::Intern)
        .await
        .unwrap();

    let error = "agent buyer was demoted to INTERN before the job ran";
    let event = h.deliver_blocked(&job.job_id, error).await;
    assert_eq!(event.details["rule"], "maturity");
}

async fn an_approved_intern_proposal_still_runs(h: World) {
    h.agent(Maturity::Intern).await;
    let job = h.submit("compare_vendors", comparison()).await;
    assert_eq!(job.status, JobStatus::AwaitingApproval);
    assert!(
        h.w.jobs.messages().is_empty(),
        "nothing queued before approval"
    );
    let decided = decide(
        &h.w.agents,
        cli(),
        &approver(),
        job.proposal_id.as_deref().unwrap(),
        Decision::Approve,
        None,
    )
    .await
    .unwrap();
    assert_eq!(decided.status, JobStatus::Pending.as_str());

    // The agent is still an INTERN; its job had a proposal, now approved.
    let processed = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(processed, Processed::Ran(JobStatus::Success));
    let stored = h.job(&job.job_id).await;
    assert_eq!(stored.status, JobStatus::Success);
    assert_eq!(stored.proposal_id, job.proposal_id);
    // Its outcome names the approval that let it run, and the approval
    // names its approver (AISVS 12.4.2: the decision, who made it, what
    // came of it, linked by id).
    let outcome = h.worker_event(&job.job_id).await;
    let approval = h
        .audit_event(outcome.details["decision_event_id"].as_str().unwrap())
        .await;
    assert_eq!(approval.event_type, EventType::ProposalApproved);
    assert_eq!(approval.actor, approver().id());
    assert_eq!(approval.details["job_id"], json!(job.job_id));
    // (500 - 300) x 10 = 2_000.
    assert_eq!(stored.result.unwrap()["total_saving_cents"], 2_000);
}

async fn a_dead_lettered_message_fails_a_pending_job_and_leaves_a_success_alone(h: World) {
    h.agent(Maturity::Autonomous).await;
    let pending = h.submit("submit_purchase_order", purchase_order()).await;
    let processed = h
        .deliver("m-1", &pending.job_id, Source::DeadLetter)
        .await
        .unwrap();
    assert_eq!(processed, Processed::DeadLettered);
    let stored = h.failed_job(&pending.job_id).await;
    let error = stored.error.unwrap();
    assert!(error.starts_with("dead-lettered"), "{error}");
    assert!(h.outbound.accepted().is_empty(), "a dead letter never runs");
    let event = h.worker_event(&pending.job_id).await;
    assert_eq!(event.event_type, EventType::AgentRunFailed);
    assert_eq!(event.details["reason"], "dead_lettered");

    let done = h.submit("compare_vendors", comparison()).await;
    assert_eq!(
        h.deliver("m-2", &done.job_id, Source::Jobs).await.unwrap(),
        Processed::Ran(JobStatus::Success)
    );
    let before = h.job(&done.job_id).await;
    let processed = h
        .deliver("m-2", &done.job_id, Source::DeadLetter)
        .await
        .unwrap();
    assert!(matches!(processed, Processed::Skipped(_)), "{processed:?}");
    assert_eq!(
        h.job(&done.job_id).await,
        before,
        "a SUCCESS job is left alone"
    );
}

async fn a_business_rule_failure_ends_the_job_failed_naming_the_line(h: World) {
    h.agent(Maturity::Supervised).await;
    let input = json!({"vendor": "vendor-a", "currency": "USD",
                       "lines": [{"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200},
                                 {"sku": "SKU-9", "quantity": 1}]});
    let job = h.submit("draft_purchase_order", input).await;
    assert_eq!(job.status, JobStatus::Pending, "it passes validation");
    let processed = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(processed, Processed::Ran(JobStatus::Failed));
    let stored = h.failed_job(&job.job_id).await;
    assert_eq!(
        stored.error.as_deref(),
        Some("lines[1] \"SKU-9\": no price from any source")
    );
    assert_eq!(stored.result, None, "never a guessed figure");
}

async fn an_outbound_queue_that_refuses_fails_the_job_and_claims_nothing_published(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    h.outbound.refuse.store(true, Ordering::SeqCst);

    let processed = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(processed, Processed::Ran(JobStatus::Failed));
    let stored = h.failed_job(&job.job_id).await;
    let error = stored.error.unwrap();
    assert!(error.contains("outbound queue did not accept"), "{error}");
    assert_eq!(stored.result, None, "no result claims the order went out");
    assert!(h.outbound.accepted().is_empty());

    // Redelivered, it stays FAILED: the effect is never retried behind the
    // job's back.
    h.outbound.refuse.store(false, Ordering::SeqCst);
    let again = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert!(matches!(again, Processed::Skipped(_)), "{again:?}");
    assert!(h.outbound.accepted().is_empty());
}

async fn a_store_that_fails_is_an_error_and_only_that_record_is_redelivered(h: World) {
    h.agent(Maturity::Autonomous).await;
    let broken = h.submit("compare_vendors", comparison()).await;
    let fine = h.submit("submit_purchase_order", purchase_order()).await;
    let reads = JobReads {
        fail_job: Some(broken.job_id.clone()),
        ..JobReads::default()
    };
    let worker = h.worker_over(Arc::new(Intercepted::new(h.w.worker.store.clone(), reads)));

    let direct = process(
        &worker,
        "m-broken",
        &h.message(&broken.job_id),
        Source::Jobs,
        h.deadline(),
    )
    .await;
    assert!(
        matches!(direct, Err(Error::Unavailable { .. })),
        "{direct:?}"
    );

    let jobs_arn = "arn:aws:sqs:us-east-1:000000000000:jobs";
    let broken_body = h.message(&broken.job_id);
    let fine_body = h.message(&fine.job_id);
    let event = sqs_event(&[
        ("m-broken", &broken_body, jobs_arn),
        ("m-fine", &fine_body, jobs_arn),
        // A message that can never parse is dropped, not redelivered.
        ("m-garbage", "not json", jobs_arn),
    ]);
    let response = warden_agent_worker::handler(
        &worker,
        LambdaEvent::new(event, context(&*h.w.clock, 30_000)),
    )
    .await
    .unwrap();
    assert_eq!(failed_ids(&response), vec!["m-broken".to_owned()]);
    assert_eq!(h.job(&broken.job_id).await.status, JobStatus::Pending);
    assert_eq!(h.job(&fine.job_id).await.status, JobStatus::Success);
    assert_eq!(h.outbound.accepted().len(), 1);
}

async fn the_handler_treats_records_from_the_dead_letter_queue_as_dead_letters(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq";
    let mut worker = h.worker_over(h.w.worker.store.clone());
    worker.config.jobs_dlq_arn = Some(dlq_arn.into());
    let body = h.message(&job.job_id);
    let event = sqs_event(&[("m-dead", &body, dlq_arn)]);
    let response = warden_agent_worker::handler(
        &worker,
        LambdaEvent::new(event, context(&*h.w.clock, 30_000)),
    )
    .await
    .unwrap();
    assert!(failed_ids(&response).is_empty());
    let stored = h.failed_job(&job.job_id).await;
    assert!(stored.error.unwrap().starts_with("dead-lettered"));
    assert!(h.outbound.accepted().is_empty());
}

async fn a_dead_letter_waits_for_a_live_lease_then_fails_the_job(h: World) {
    let (job, _) = h.order_under_a_live_lease().await;
    // Its worker may still finish: the dead letter is handled later.
    let early = h.deliver("m-dlq", &job.job_id, Source::DeadLetter).await;
    assert!(matches!(early, Err(Error::Unavailable { .. })), "{early:?}");
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Running);
    h.w.clock.advance_secs(61.0);
    let late = h
        .deliver("m-dlq", &job.job_id, Source::DeadLetter)
        .await
        .unwrap();
    assert_eq!(late, Processed::DeadLettered);
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Failed);
}

async fn a_result_too_large_to_keep_fails_the_job_saying_so(h: World) {
    h.agent(Maturity::Autonomous).await;
    // 150 needs with 1,000-character skus: each row of the result repeats
    // its sku, so the result passes 150 x 1,000 = 150,000 bytes > 128 KiB.
    let needs: Vec<Value> = (0..150)
        .map(|i| json!({"sku": format!("{i:03}{}", "x".repeat(997)), "quantity": 1}))
        .collect();
    let job = h
        .submit("compare_vendors", json!({"needs": needs, "quotes": []}))
        .await;
    let ran = h.deliver("m-big", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(ran, Processed::Ran(JobStatus::Failed));
    let stored = h.failed_job(&job.job_id).await;
    assert!(stored.result.is_none());
    let error = stored.error.unwrap();
    assert!(
        error.ends_with("more than the 131072 a job keeps: split the input"),
        "{error}"
    );
}

/// Disables the agent in the store right after the worker read it, as a
/// `warden agents disable` landing between the read and the start would.
struct KillSwitchAfterRead {
    store: Arc<dyn WorkerStore>,
}

#[async_trait]
impl Interceptor for KillSwitchAfterRead {
    async fn after_job_and_agent(&self, _job_id: &str) {
        self.store
            .transact(vec![
                AgentWrite::SetEnabled {
                    agent_id: AgentId::parse(AGENT).unwrap(),
                    enabled: false,
                    at: 0,
                }
                .into(),
            ])
            .await
            .unwrap();
    }
}

async fn a_kill_switch_landing_after_the_workers_read_still_stops_the_job(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    let store: Arc<dyn WorkerStore> = h.w.worker.store.clone();
    let racing = h.worker_over(Arc::new(Intercepted::new(
        store.clone(),
        KillSwitchAfterRead { store },
    )));
    let body = h.message(&job.job_id);
    let processed = process(&racing, "m-1", &body, Source::Jobs, h.deadline())
        .await
        .unwrap();
    assert_eq!(processed, Processed::Blocked);
    let stored = h.failed_job(&job.job_id).await;
    assert_eq!(stored.result, None);
    assert!(h.outbound.accepted().is_empty(), "nothing was published");
    let event = h.worker_event(&job.job_id).await;
    assert_eq!(event.event_type, EventType::AgentRunBlocked);
    assert_eq!(event.details["rule"], "agent_disabled");
}

async fn a_jobs_end_is_audited_with_its_job_id(h: World) {
    h.agent(Maturity::Autonomous).await;
    let ok = h.submit("compare_vendors", comparison()).await;
    assert!(matches!(
        h.deliver("m-1", &ok.job_id, Source::Jobs).await.unwrap(),
        Processed::Ran(JobStatus::Success)
    ));
    let event = h.worker_event(&ok.job_id).await;
    assert_eq!(event.event_type, EventType::AgentRunSucceeded);
    assert_eq!(event.details["action"], "compare_vendors");
    // The outcome names the decision that let the job run: the request's
    // event, which says what decided it (the table, its version, the
    // agent's maturity and the action's complexity).
    let decision = h
        .audit_event(event.details["decision_event_id"].as_str().unwrap())
        .await;
    assert_eq!(decision.event_type, EventType::AgentRunRequested);
    assert_eq!(decision.details["job_id"], json!(ok.job_id));
    assert_eq!(decision.details["rule"], "runs");
    assert_eq!(decision.details["maturity"], "AUTONOMOUS");
    assert_eq!(
        decision.details["complexity"], 1,
        "compare_vendors reads only"
    );
    assert_eq!(
        decision.details["table_version"],
        warden::agents::governance::TABLE_VERSION
    );
    // A business rule failure: FAILED, with the reason.
    let unpriced = json!({"vendor": "vendor-a", "currency": "USD",
                          "lines": [{"sku": "SKU-9", "quantity": 1}]});
    let failed = h.submit("draft_purchase_order", unpriced).await;
    assert!(matches!(
        h.deliver("m-2", &failed.job_id, Source::Jobs)
            .await
            .unwrap(),
        Processed::Ran(JobStatus::Failed)
    ));
    let event = h.worker_event(&failed.job_id).await;
    assert_eq!(event.event_type, EventType::AgentRunFailed);
    assert_eq!(
        event.details["reason"].as_str(),
        h.job(&failed.job_id).await.error.as_deref()
    );
}

/// Loses every `RUNNING -> SUCCESS` write, as a connection held then
/// closed does.
struct LostFinalWrite;

#[async_trait]
impl Interceptor for LostFinalWrite {
    async fn before_transact(&self, writes: &[warden::store::Write]) -> Result<()> {
        let ends = writes.iter().any(|w| {
            matches!(w, warden::store::Write::Agent(AgentWrite::MoveJob(m)) if m.to == JobStatus::Success)
        });
        if ends {
            return Err(Error::OutcomeUnknown {
                context: "TransactWriteItems: connection lost (simulated)".into(),
                retry_with_key: false,
                source: None,
            });
        }
        Ok(())
    }
}

async fn a_job_whose_final_write_is_lost_is_ended_by_the_sweeper_after_its_lease(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("submit_purchase_order", purchase_order()).await;
    let store: Arc<dyn WorkerStore> = h.w.worker.store.clone();
    let lossy = h.worker_over(Arc::new(Intercepted::new(store, LostFinalWrite)));
    let body = h.message(&job.job_id);
    let deadline = h.deadline();
    assert!(
        process(&lossy, "m-1", &body, Source::Jobs, deadline)
            .await
            .is_err()
    );
    assert_eq!(h.job(&job.job_id).await.status, JobStatus::Running);
    // While its lease lives, the sweeper leaves it alone.
    let swept = sweep(&h.w.worker, &*h.w.jobs).await.unwrap();
    assert_eq!(swept, Swept::default());
    h.w.clock.advance_secs(31.0);
    let swept = sweep(&h.w.worker, &*h.w.jobs).await.unwrap();
    assert_eq!(swept.interrupted, 1, "{swept:?}");
    let stored = h.failed_job(&job.job_id).await;
    // A purchase order publishes: its error says the effect may be out.
    assert_eq!(stored.error.as_deref(), Some(INTERRUPTED_EFFECT));
    let event = h.worker_events(&job.job_id).await;
    assert_eq!(event[0].event_type, EventType::AgentRunFailed);
    assert_eq!(event[0].details["reason"], "interrupted");
    // Swept once: nothing is due any more.
    assert_eq!(
        sweep(&h.w.worker, &*h.w.jobs).await.unwrap(),
        Swept::default()
    );
}

async fn a_pending_job_never_queued_is_sent_again_then_ended(h: World) {
    h.agent(Maturity::Autonomous).await;
    let job = h.submit("compare_vendors", comparison()).await;
    // Its message is lost: only the sweeper's send will do.
    let lease = h.job(&job.job_id).await.lease_until.unwrap();
    assert_eq!(lease, h.w.clock.now_millis() + PENDING_LEASE_MS);
    assert_eq!(
        sweep(&h.w.worker, &*h.w.jobs).await.unwrap(),
        Swept::default()
    );
    h.w.clock.advance_secs(120.0);
    let swept = sweep(&h.w.worker, &*h.w.jobs).await.unwrap();
    assert_eq!(swept.requeued, 1, "{swept:?}");
    let sent: Vec<_> =
        h.w.jobs
            .messages()
            .into_iter()
            .filter(|m| m.deduplication_id == format!("{}-r1", job.job_id))
            .collect();
    assert_eq!(sent.len(), 1, "sent again under its own deduplication id");
    let stored = h.job(&job.job_id).await;
    assert_eq!(stored.requeues, 1);
    assert_eq!(
        stored.lease_until,
        Some(h.w.clock.now_millis() + requeue_step_ms(1))
    );
    // The send again runs it, once.
    let processed = process(
        &h.w.worker,
        "m-r1",
        &sent[0].body,
        Source::Jobs,
        h.deadline(),
    )
    .await
    .unwrap();
    assert_eq!(processed, Processed::Ran(JobStatus::Success));
    // A job the queue never takes ends after MAX_REQUEUES sends.
    let stuck = h.submit("compare_vendors", comparison()).await;
    for n in 1..=MAX_REQUEUES {
        h.w.clock
            .advance_secs(requeue_step_ms(n.max(1)) as f64 / 1000.0 + 1.0);
        let swept = sweep(&h.w.worker, &*h.w.jobs).await.unwrap();
        assert_eq!(swept.requeued, 1, "send {n}: {swept:?}");
    }
    h.w.clock.advance_secs(1800.0 + 1.0);
    let swept = sweep(&h.w.worker, &*h.w.jobs).await.unwrap();
    assert_eq!(swept.abandoned, 1, "{swept:?}");
    let ended = h.failed_job(&stuck.job_id).await;
    assert!(ended.error.unwrap().contains("could not be queued"));
    let events = h.worker_events(&stuck.job_id).await;
    assert_eq!(events[0].details["reason"], "not_queued");
}

warden::on_both_stores!(
    world;
    a_kill_switch_landing_after_the_workers_read_still_stops_the_job,
    a_jobs_end_is_audited_with_its_job_id,
    a_job_whose_final_write_is_lost_is_ended_by_the_sweeper_after_its_lease,
    a_pending_job_never_queued_is_sent_again_then_ended,
    a_result_too_large_to_keep_fails_the_job_saying_so,
    a_message_naming_another_agent_is_judged_by_the_jobs_own_agent,
    a_dead_letter_waits_for_a_live_lease_then_fails_the_job,
    the_same_message_delivered_twice_runs_the_action_once,
    two_workers_racing_on_one_job_run_it_once,
    a_job_whose_worker_died_mid_run_fails_interrupted_and_never_runs_again,
    a_running_job_under_a_live_lease_is_retried_later_and_stays_running,
    disabling_an_agent_after_its_job_was_queued_fails_the_job_unrun,
    demoting_a_supervised_agent_to_intern_after_queueing_fails_its_job_unrun,
    an_approved_intern_proposal_still_runs,
    a_dead_lettered_message_fails_a_pending_job_and_leaves_a_success_alone,
    a_business_rule_failure_ends_the_job_failed_naming_the_line,
    an_outbound_queue_that_refuses_fails_the_job_and_claims_nothing_published,
    a_store_that_fails_is_an_error_and_only_that_record_is_redelivered,
    the_handler_treats_records_from_the_dead_letter_queue_as_dead_letters,
);

// ---------------------------------------------------------------------------
// DynamoDB only

/// A worker over DynamoDB that is up but never answers.
#[tokio::test]
async fn a_hung_dynamodb_is_an_error_within_the_guards_and_the_record_is_redelivered() {
    let endpoint = warden::testing::HangingEndpoint::start();
    let sdk =
        warden::testing::aws_config_with(endpoint.url(), &warden::testing::SHORT_GUARDS).await;
    let store = warden::store::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "t-");
    let clock = Arc::new(warden::clock::ManualClock::starting_now());
    let outbound = Arc::new(Outbound::default());
    let worker = worker_state(Arc::new(store), outbound.clone(), clock.clone());
    let body = json!({"job_id": "01J00000000000000000000000", "agent_id": AGENT}).to_string();

    let started = Instant::now();
    let direct = tokio::time::timeout(
        Duration::from_secs(3),
        process(
            &worker,
            "m-1",
            &body,
            Source::Jobs,
            clock.now_millis() + 30_000,
        ),
    )
    .await
    .expect("the worker gives up within its guards");
    assert!(
        matches!(direct, Err(Error::Unavailable { .. })),
        "{direct:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    let arn = "arn:aws:sqs:us-east-1:000000000000:jobs";
    let event = sqs_event(&[("m-1", &body, arn), ("m-garbage", "{", arn)]);
    let response = tokio::time::timeout(
        Duration::from_secs(3),
        warden_agent_worker::handler(&worker, LambdaEvent::new(event, context(&*clock, 30_000))),
    )
    .await
    .expect("the handler answers within the guards")
    .unwrap();
    assert_eq!(failed_ids(&response), vec!["m-1".to_owned()]);
    assert!(
        endpoint.connections() > 0,
        "the worker reached the endpoint"
    );
    assert!(outbound.accepted().is_empty());
}

/// What one executed job costs on DynamoDB: the job and its agent in one
/// BatchGetItem, the `PENDING -> RUNNING` move, the final move.
#[tokio::test]
async fn an_executed_job_costs_three_dynamodb_round_trips() {
    let Some((store, _, log)) = warden::testing::dynamo_store_with_log().await else {
        return;
    };
    let h = world(Arc::new(store));
    h.agent(Maturity::Supervised).await;
    let job = h.submit("compare_vendors", comparison()).await;
    log.take();
    let processed = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert_eq!(processed, Processed::Ran(JobStatus::Success));
    assert_eq!(
        log.take(),
        vec!["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]
    );
    // A redelivery of a finished job costs its one read.
    let again = h.deliver("m-1", &job.job_id, Source::Jobs).await.unwrap();
    assert!(matches!(again, Processed::Skipped(_)));
    assert_eq!(log.take(), vec!["BatchGetItem"]);
}
