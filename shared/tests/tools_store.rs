//! The conformance suite of the tools port, and of the agents port's
//! writes that governed tool calls rely on (kill generations, approvals
//! used once): every check runs on the memory store and on DynamoDB
//! (against the emulator that `infra/test.sh` starts), and each would fail
//! if the write condition it names were dropped. The last checks are
//! DynamoDB's own: how items are stored, items stored before these fields
//! existed, and the round trips a read costs.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use warden::Error;
use warden::domain::agents::{
    AgentId, AgentRecord, AgentType, ApiKeyRecord, Complexity, KeyOwner, Maturity, ProposalKind,
    ProposalRecord, ProposalStatus, ToolProposal, WorkspaceId, WorkspaceRecord,
};
use warden::domain::tools::{
    ExactCallRecord, Outcome, OutcomeStatus, PendingSlots, ToolCallRecord, ToolCallStatus,
    ToolDecision, ToolIdempotencyRecord, ToolName, ToolRecord,
};
use warden::store::{
    AgentStore, AgentWrite, ApiKeyStore, ApiKeyWrite, ToolCallLookup, ToolStore, ToolWrite,
    Transactions, Write, keys,
};

/// The ports these checks use, on either adapter.
trait Store: ToolStore + AgentStore + ApiKeyStore + Transactions {}
impl<T: ToolStore + AgentStore + ApiKeyStore + Transactions> Store for T {}

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

fn tool_name(s: &str) -> ToolName {
    ToolName::parse(s).unwrap()
}

/// A ULID of the given millisecond: ids made with rising `ms` sort in
/// that order.
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

fn tool(name: &str, workspaces: &[&str], version: &str) -> ToolRecord {
    ToolRecord {
        name: tool_name(name),
        complexity: Complexity::ExternalEffect,
        workspaces: workspaces.iter().map(|w| ws_id(w)).collect(),
        version: version.into(),
        registered_at: NOW,
    }
}

fn call(call_id: &str, workspace: &str, status: ToolCallStatus) -> ToolCallRecord {
    ToolCallRecord {
        call_id: call_id.into(),
        agent_id: agent_id("books"),
        workspace_id: ws_id(workspace),
        tool: tool_name("send_email"),
        arguments_sha256: "ab".repeat(32),
        caller: "key:01KEY".into(),
        decision: ToolDecision::ApprovalRequired,
        status,
        proposal_id: Some(format!("P{call_id}")),
        decide_by: Some(NOW + 900),
        outcome: None,
        created_at: NOW_MS,
        updated_at: NOW_MS,
    }
}

fn exact(key: &str, proposal_id: &str) -> ExactCallRecord {
    ExactCallRecord {
        key: key.into(),
        proposal_id: proposal_id.into(),
        call_id: format!("C{proposal_id}"),
        status: ProposalStatus::Pending,
        created_at: NOW_MS,
        decided_at: None,
        used_at: None,
        kill_generation: 3,
        tool_version: "01TOOLV1".into(),
        audited_at: None,
    }
}

fn tool_proposal(proposal_id: &str) -> ProposalRecord {
    ProposalRecord {
        proposal_id: proposal_id.into(),
        kind: ProposalKind::ToolCall(ToolProposal {
            call_id: id_at(NOW_MS),
            tool: tool_name("send_email"),
            complexity: Complexity::ExternalEffect,
            // JCS text, kept byte for byte.
            arguments: r#"{"amount":120.5,"to":"v@example.com","é":[1,null]}"#.into(),
            arguments_sha256: "cd".repeat(32),
            exact_call_key: "ef".repeat(32),
            tool_version: "01TOOLV1".into(),
            kill_generation: 4,
            actor_key_id: Some("01ACTORKEY".into()),
        }),
        agent_id: agent_id("books"),
        workspace_id: ws_id("acme"),
        agent_maturity: Some(Maturity::Intern),
        requested_by: "key:01KEY".into(),
        status: ProposalStatus::Pending,
        created_at: NOW_MS,
        decide_by: NOW + 900,
        decided_by: None,
        reason: None,
        decided_at: None,
    }
}

fn tool_idempotency(client_key: &str, call_id: &str, expires_at: i64) -> ToolIdempotencyRecord {
    ToolIdempotencyRecord {
        key: keys::tool_idempotency("key:01KEY", client_key),
        request_hash: "12".repeat(32),
        call_id: call_id.into(),
        decision: ToolDecision::ApprovalRequired,
        proposal_id: Some(id_at(NOW_MS)),
        kill_generation: 2,
        expires_at,
    }
}

fn api_key(key_id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: key_id.into(),
        secret_hmac: "cd".repeat(32),
        owner: KeyOwner::Agent(agent_id("books")),
        scopes: vec!["agents:tools".into()],
        expires_at: Some(NOW + 86_400),
        rate_limit_per_hour: 600,
        revoked_at: None,
        created_at: NOW,
        created_by: None,
        usage_count: 3,
        last_used_at: Some(NOW - 1),
        tat: Some(NOW_MS),
        read_tat: Some(NOW_MS + 1),
    }
}

async fn apply(h: &Harness, writes: Vec<Write>) -> warden::Result<()> {
    h.transact(writes).await
}

async fn one(h: &Harness, write: impl Into<Write>) -> warden::Result<()> {
    h.transact(vec![write.into()]).await
}

#[track_caller]
fn assert_condition_failed(result: warden::Result<()>) {
    assert!(matches!(result, Err(Error::ConditionFailed)), "{result:?}");
}

/// The workspaces `acme` and `globex`, and `books` (SUPERVISED, in `acme`).
async fn registry(h: &Harness) {
    apply(
        h,
        vec![
            AgentWrite::CreateWorkspace(workspace("acme")).into(),
            AgentWrite::CreateWorkspace(workspace("globex")).into(),
            AgentWrite::CreateAgent(agent("books", &["acme"])).into(),
        ],
    )
    .await
    .unwrap();
}

async fn a_registration_replaces_a_tool_and_only_a_registered_tool_is_removed(h: Harness) {
    registry(&h).await;
    let first = tool("send_email", &["acme"], "01V1");
    one(&h, ToolWrite::PutTool(first.clone())).await.unwrap();
    assert_eq!(
        h.get_tool(&tool_name("send_email")).await.unwrap(),
        Some(first)
    );
    // Registered again: a new complexity, other workspaces, a new version.
    let mut second = tool("send_email", &["globex", "acme"], "01V2");
    second.complexity = Complexity::Draft;
    second.registered_at = NOW + 5;
    one(&h, ToolWrite::PutTool(second.clone())).await.unwrap();
    assert_eq!(
        h.get_tool(&tool_name("send_email")).await.unwrap(),
        Some(second.clone())
    );

    let absent = ToolWrite::RemoveTool(tool_name("never_registered"));
    assert_condition_failed(one(&h, absent).await);
    one(&h, ToolWrite::RemoveTool(tool_name("send_email")))
        .await
        .unwrap();
    assert_eq!(h.get_tool(&tool_name("send_email")).await.unwrap(), None);
    // Removed once.
    assert_condition_failed(one(&h, ToolWrite::RemoveTool(tool_name("send_email"))).await);
}

async fn tools_list_by_name_and_agents_never_list_a_tool(h: Harness) {
    registry(&h).await;
    // Names are case-sensitive, and sort as bytes.
    for name in ["zip", "Send", "alpha.v2", "books"] {
        one(&h, ToolWrite::PutTool(tool(name, &["acme"], "01V")))
            .await
            .unwrap();
    }
    let names: Vec<String> = h
        .list_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["Send", "alpha.v2", "books", "zip"]);
    // A tool named like an agent is not that agent.
    assert_eq!(
        h.list_agents().await.unwrap(),
        vec![agent("books", &["acme"])]
    );
    assert_eq!(
        h.get_agent(&agent_id("books")).await.unwrap(),
        Some(agent("books", &["acme"]))
    );
    assert_eq!(h.get_agent(&agent_id("zip")).await.unwrap(), None);
}

async fn a_tool_allows_a_call_only_at_the_version_read_in_its_workspaces(h: Harness) {
    registry(&h).await;
    one(
        &h,
        ToolWrite::PutTool(tool("send_email", &["acme"], "01V1")),
    )
    .await
    .unwrap();
    let allows = |version: &str, workspace: &str| ToolWrite::ToolAllows {
        name: tool_name("send_email"),
        version: version.into(),
        workspace_id: ws_id(workspace),
    };
    let c = call(&id_at(NOW_MS), "acme", ToolCallStatus::Allowed);
    let with_call =
        |condition: ToolWrite| vec![ToolWrite::PutCall(c.clone()).into(), condition.into()];
    for refused in [allows("01V0", "acme"), allows("01V1", "globex")] {
        assert_condition_failed(apply(&h, with_call(refused)).await);
    }
    assert_eq!(h.get_tool_call(&c.call_id).await.unwrap(), None);
    // Removed (and registered again: a new version) after the call read it.
    one(&h, ToolWrite::RemoveTool(tool_name("send_email")))
        .await
        .unwrap();
    assert_condition_failed(apply(&h, with_call(allows("01V1", "acme"))).await);
    one(
        &h,
        ToolWrite::PutTool(tool("send_email", &["acme"], "01V2")),
    )
    .await
    .unwrap();
    assert_condition_failed(apply(&h, with_call(allows("01V1", "acme"))).await);
    apply(&h, with_call(allows("01V2", "acme"))).await.unwrap();
    assert_eq!(h.get_tool_call(&c.call_id).await.unwrap(), Some(c));
}

async fn an_agent_allows_a_call_only_while_enabled_at_the_generation_read(h: Harness) {
    registry(&h).await;
    let c = call(&id_at(NOW_MS), "acme", ToolCallStatus::Allowed);
    let allows = |agent: &str, workspace: &str, maturities: &[Maturity], generation: u64| {
        vec![
            ToolWrite::PutCall(c.clone()).into(),
            ToolWrite::AgentAllows {
                agent_id: agent_id(agent),
                workspace_id: ws_id(workspace),
                maturities: maturities.to_vec(),
                kill_generation: generation,
            }
            .into(),
        ]
    };
    let tools = [Maturity::Supervised, Maturity::Autonomous];
    for refused in [
        allows("books", "globex", &tools, 0),
        allows("books", "acme", &[Maturity::Autonomous], 0),
        allows("books", "acme", &[], 0),
        allows("books", "acme", &tools, 1),
        allows("ghost", "acme", &tools, 0),
    ] {
        assert_condition_failed(apply(&h, refused).await);
    }
    // Disabled, then enabled again: the generation the call read is gone.
    for enabled in [false, true] {
        one(
            &h,
            AgentWrite::SetEnabled {
                agent_id: agent_id("books"),
                enabled,
                at: NOW,
            },
        )
        .await
        .unwrap();
        assert_condition_failed(apply(&h, allows("books", "acme", &tools, 0)).await);
    }
    assert_eq!(h.get_tool_call(&c.call_id).await.unwrap(), None);
    apply(&h, allows("books", "acme", &tools, 1)).await.unwrap();
    assert_eq!(h.get_tool_call(&c.call_id).await.unwrap(), Some(c));
}

async fn a_call_is_stored_once_and_settled_only_from_its_status(h: Harness) {
    let id = id_at(NOW_MS);
    let awaiting = call(&id, "acme", ToolCallStatus::AwaitingApproval);
    one(&h, ToolWrite::PutCall(awaiting.clone())).await.unwrap();
    let mut again = call(&id, "acme", ToolCallStatus::Allowed);
    again.decision = ToolDecision::Allow;
    assert_condition_failed(one(&h, ToolWrite::PutCall(again)).await);
    assert_eq!(h.get_tool_call(&id).await.unwrap(), Some(awaiting.clone()));

    let settle = |from, to, decide_by, at| ToolWrite::SettleCall {
        call_id: id.clone(),
        from,
        to,
        decide_by,
        at,
    };
    // Approved: still awaiting, with the approval's window.
    one(
        &h,
        settle(
            ToolCallStatus::AwaitingApproval,
            ToolCallStatus::AwaitingApproval,
            Some(NOW + 3600),
            NOW_MS + 1,
        ),
    )
    .await
    .unwrap();
    let mut expected = awaiting.clone();
    expected.decide_by = Some(NOW + 3600);
    expected.updated_at = NOW_MS + 1;
    assert_eq!(h.get_tool_call(&id).await.unwrap(), Some(expected.clone()));
    // Another status read: refused.
    assert_condition_failed(
        one(
            &h,
            settle(
                ToolCallStatus::Allowed,
                ToolCallStatus::Expired,
                None,
                NOW_MS + 2,
            ),
        )
        .await,
    );
    // Used: allowed, which becomes its decision; no window left.
    one(
        &h,
        settle(
            ToolCallStatus::AwaitingApproval,
            ToolCallStatus::Allowed,
            None,
            NOW_MS + 3,
        ),
    )
    .await
    .unwrap();
    expected.status = ToolCallStatus::Allowed;
    expected.decision = ToolDecision::Allow;
    expected.decide_by = None;
    expected.updated_at = NOW_MS + 3;
    assert_eq!(h.get_tool_call(&id).await.unwrap(), Some(expected));
    assert_condition_failed(
        one(
            &h,
            settle(
                ToolCallStatus::AwaitingApproval,
                ToolCallStatus::Expired,
                None,
                NOW_MS + 4,
            ),
        )
        .await,
    );

    // Settling a call that does not exist creates nothing.
    let ghost = id_at(NOW_MS + 9);
    assert_condition_failed(
        one(
            &h,
            ToolWrite::SettleCall {
                call_id: ghost.clone(),
                from: ToolCallStatus::AwaitingApproval,
                to: ToolCallStatus::Rejected,
                decide_by: None,
                at: NOW_MS,
            },
        )
        .await,
    );
    assert_eq!(h.get_tool_call(&ghost).await.unwrap(), None);
}

async fn an_outcome_is_reported_once_by_the_calls_agent_on_an_allowed_call(h: Harness) {
    let allowed_id = id_at(NOW_MS);
    let mut allowed = call(&allowed_id, "acme", ToolCallStatus::Allowed);
    allowed.decision = ToolDecision::Allow;
    allowed.proposal_id = None;
    allowed.decide_by = None;
    let rejected_id = id_at(NOW_MS + 1);
    apply(
        &h,
        vec![
            ToolWrite::PutCall(allowed.clone()).into(),
            ToolWrite::PutCall(call(&rejected_id, "acme", ToolCallStatus::Rejected)).into(),
        ],
    )
    .await
    .unwrap();
    let report =
        |call_id: &str, agent: &str, status, detail: Option<&str>, at| ToolWrite::ReportOutcome {
            call_id: call_id.into(),
            agent_id: agent_id(agent),
            outcome: Outcome {
                status,
                detail: detail.map(str::to_owned),
                at,
            },
        };
    assert_condition_failed(
        one(
            &h,
            report(
                &allowed_id,
                "other",
                OutcomeStatus::Failed,
                None,
                NOW_MS + 5,
            ),
        )
        .await,
    );
    assert_condition_failed(
        one(
            &h,
            report(
                &rejected_id,
                "books",
                OutcomeStatus::Succeeded,
                None,
                NOW_MS + 5,
            ),
        )
        .await,
    );
    assert_condition_failed(
        one(
            &h,
            report(
                &id_at(NOW_MS + 2),
                "books",
                OutcomeStatus::Succeeded,
                None,
                NOW_MS,
            ),
        )
        .await,
    );
    one(
        &h,
        report(
            &allowed_id,
            "books",
            OutcomeStatus::Succeeded,
            Some("sent, message id <x@y>"),
            NOW_MS + 6,
        ),
    )
    .await
    .unwrap();
    // Once: a second report, even the same, is refused and changes nothing.
    assert_condition_failed(
        one(
            &h,
            report(
                &allowed_id,
                "books",
                OutcomeStatus::Failed,
                None,
                NOW_MS + 7,
            ),
        )
        .await,
    );
    let mut expected = allowed.clone();
    expected.outcome = Some(Outcome {
        status: OutcomeStatus::Succeeded,
        detail: Some("sent, message id <x@y>".into()),
        at: NOW_MS + 6,
    });
    expected.updated_at = NOW_MS + 6;
    assert_eq!(h.get_tool_call(&allowed_id).await.unwrap(), Some(expected));

    // Without detail, the outcome reads back without detail.
    let bare_id = id_at(NOW_MS + 3);
    let mut bare = allowed.clone();
    bare.call_id = bare_id.clone();
    one(&h, ToolWrite::PutCall(bare)).await.unwrap();
    one(
        &h,
        report(&bare_id, "books", OutcomeStatus::Failed, None, NOW_MS + 8),
    )
    .await
    .unwrap();
    let stored = h.get_tool_call(&bare_id).await.unwrap().unwrap();
    assert_eq!(
        stored.outcome,
        Some(Outcome {
            status: OutcomeStatus::Failed,
            detail: None,
            at: NOW_MS + 8,
        })
    );
}

async fn an_exact_call_is_opened_only_over_the_proposal_read(h: Harness) {
    let key = "aa".repeat(32);
    let (p1, p2, p3) = (id_at(NOW_MS), id_at(NOW_MS + 1), id_at(NOW_MS + 2));
    let open = |proposal: &str, replacing: Option<&str>| ToolWrite::OpenExact {
        record: exact(&key, proposal),
        replacing: replacing.map(str::to_owned),
    };
    assert_eq!(h.get_exact_call(&key).await.unwrap(), None);
    one(&h, open(&p1, None)).await.unwrap();
    assert_eq!(
        h.get_exact_call(&key).await.unwrap(),
        Some(exact(&key, &p1))
    );
    // A concurrent identical call that read no item: it shares p1.
    assert_condition_failed(one(&h, open(&p2, None)).await);
    // One that read another proposal than the one there now.
    assert_condition_failed(one(&h, open(&p2, Some(&p3))).await);
    assert_eq!(
        h.get_exact_call(&key).await.unwrap(),
        Some(exact(&key, &p1))
    );
    // The proposal read, replaced (it expired or was used).
    one(&h, open(&p2, Some(&p1))).await.unwrap();
    assert_eq!(
        h.get_exact_call(&key).await.unwrap(),
        Some(exact(&key, &p2))
    );
    // And never twice over the same read.
    assert_condition_failed(one(&h, open(&p3, Some(&p1))).await);

    // Every field reads back as written.
    let other = "bb".repeat(32);
    let full = ExactCallRecord {
        status: ProposalStatus::Approved,
        decided_at: Some(NOW_MS + 10),
        used_at: Some(NOW_MS + 20),
        audited_at: Some(NOW_MS + 30),
        kill_generation: 0,
        ..exact(&other, &p3)
    };
    one(
        &h,
        ToolWrite::OpenExact {
            record: full.clone(),
            replacing: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(h.get_exact_call(&other).await.unwrap(), Some(full));
}

async fn an_exact_call_moves_only_from_its_proposal_and_status(h: Harness) {
    let key = "aa".repeat(32);
    let p = id_at(NOW_MS);
    one(
        &h,
        ToolWrite::OpenExact {
            record: exact(&key, &p),
            replacing: None,
        },
    )
    .await
    .unwrap();
    let mv = |proposal: &str, from, to, at| ToolWrite::MoveExact {
        key: key.clone(),
        proposal_id: proposal.into(),
        from,
        to,
        at,
    };
    use ProposalStatus::{Approved, Expired, Pending, Used};
    assert_condition_failed(one(&h, mv(&id_at(NOW_MS + 1), Pending, Approved, NOW_MS + 1)).await);
    assert_condition_failed(one(&h, mv(&p, Approved, Used, NOW_MS + 1)).await);
    assert_eq!(h.get_exact_call(&key).await.unwrap(), Some(exact(&key, &p)));

    one(&h, mv(&p, Pending, Approved, NOW_MS + 2))
        .await
        .unwrap();
    let mut expected = exact(&key, &p);
    expected.status = Approved;
    expected.decided_at = Some(NOW_MS + 2);
    assert_eq!(
        h.get_exact_call(&key).await.unwrap(),
        Some(expected.clone())
    );
    // Used: `used_at`, the decision's time kept.
    one(&h, mv(&p, Approved, Used, NOW_MS + 3)).await.unwrap();
    expected.status = Used;
    expected.used_at = Some(NOW_MS + 3);
    assert_eq!(
        h.get_exact_call(&key).await.unwrap(),
        Some(expected.clone())
    );
    // Used once: a second call racing for the approval is refused.
    assert_condition_failed(one(&h, mv(&p, Approved, Used, NOW_MS + 4)).await);
    assert_condition_failed(one(&h, mv(&p, Approved, Expired, NOW_MS + 4)).await);
    assert_eq!(h.get_exact_call(&key).await.unwrap(), Some(expected));

    // An expiry is a `decided_at`; moving a missing item creates nothing.
    let other = "bb".repeat(32);
    let q = id_at(NOW_MS + 5);
    one(
        &h,
        ToolWrite::OpenExact {
            record: exact(&other, &q),
            replacing: None,
        },
    )
    .await
    .unwrap();
    one(
        &h,
        ToolWrite::MoveExact {
            key: other.clone(),
            proposal_id: q.clone(),
            from: Pending,
            to: Expired,
            at: NOW_MS + 6,
        },
    )
    .await
    .unwrap();
    let stored = h.get_exact_call(&other).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.decided_at, stored.used_at),
        (Expired, Some(NOW_MS + 6), None)
    );
    let ghost = "cc".repeat(32);
    assert_condition_failed(
        one(
            &h,
            ToolWrite::MoveExact {
                key: ghost.clone(),
                proposal_id: q,
                from: Pending,
                to: Approved,
                at: NOW_MS,
            },
        )
        .await,
    );
    assert_eq!(h.get_exact_call(&ghost).await.unwrap(), None);
}

async fn an_identical_call_is_audited_at_most_once_a_window(h: Harness) {
    let key = "aa".repeat(32);
    let p = id_at(NOW_MS);
    one(
        &h,
        ToolWrite::OpenExact {
            record: exact(&key, &p),
            replacing: None,
        },
    )
    .await
    .unwrap();
    let audited = |proposal: &str, at: i64| ToolWrite::MarkAudited {
        key: key.clone(),
        proposal_id: proposal.into(),
        at,
        not_after: at - 60_000,
    };
    assert_condition_failed(one(&h, audited(&id_at(NOW_MS + 1), NOW_MS + 1)).await);
    // Never audited: the first is.
    one(&h, audited(&p, NOW_MS + 1_000)).await.unwrap();
    // Within the minute: refused.
    assert_condition_failed(one(&h, audited(&p, NOW_MS + 60_999)).await);
    assert_eq!(
        h.get_exact_call(&key).await.unwrap().unwrap().audited_at,
        Some(NOW_MS + 1_000)
    );
    // The last audit exactly at `not_after` allows the next.
    one(&h, audited(&p, NOW_MS + 61_000)).await.unwrap();
    assert_eq!(
        h.get_exact_call(&key).await.unwrap().unwrap().audited_at,
        Some(NOW_MS + 61_000)
    );
    // On an item that does not exist: refused, nothing created.
    let ghost = "cc".repeat(32);
    assert_condition_failed(
        one(
            &h,
            ToolWrite::MarkAudited {
                key: ghost.clone(),
                proposal_id: p,
                at: NOW_MS,
                not_after: NOW_MS,
            },
        )
        .await,
    );
    assert_eq!(h.get_exact_call(&ghost).await.unwrap(), None);
}

/// The slots of `books` in `acme`, as a tool call reads them.
async fn slots(h: &Harness) -> PendingSlots {
    h.tool_call_context(lookup(&agent_id("books"), &ws_id("acme"), None, None))
        .await
        .unwrap()
        .slots
}

fn take(version_was: u64, proposal_id: &str, created_at: i64, stale: &[&str]) -> ToolWrite {
    ToolWrite::TakeSlot {
        agent_id: agent_id("books"),
        workspace_id: ws_id("acme"),
        version_was,
        proposal_id: proposal_id.into(),
        created_at,
        stale: stale.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn release(proposal_id: &str) -> ToolWrite {
    ToolWrite::ReleaseSlot {
        agent_id: agent_id("books"),
        workspace_id: ws_id("acme"),
        proposal_id: proposal_id.into(),
    }
}

async fn a_slot_is_taken_on_the_version_read_and_released_unconditionally(h: Harness) {
    assert_eq!(slots(&h).await, PendingSlots::default());
    // Released before any was taken: nothing to release, and still version 0.
    one(&h, release("P0")).await.unwrap();
    assert_eq!(slots(&h).await, PendingSlots::default());
    // A stale version (the item is not there yet).
    assert_condition_failed(one(&h, take(1, "P1", NOW_MS, &[])).await);
    one(&h, take(0, "P1", NOW_MS, &[])).await.unwrap();
    assert_eq!(
        slots(&h).await,
        PendingSlots {
            version: 1,
            entries: BTreeMap::from([("P1".into(), NOW_MS)]),
        }
    );
    // Two calls read version 1: the second is refused.
    one(&h, take(1, "P2", NOW_MS + 1, &[])).await.unwrap();
    assert_condition_failed(one(&h, take(1, "P3", NOW_MS + 2, &[])).await);
    assert_condition_failed(one(&h, take(0, "P3", NOW_MS + 2, &[])).await);
    // Stale entries go with the next proposal; one named twice, one not
    // there and the new one itself are fine.
    one(&h, take(2, "P3", NOW_MS + 3, &["P1", "P1", "gone", "P3"]))
        .await
        .unwrap();
    assert_eq!(
        slots(&h).await,
        PendingSlots {
            version: 3,
            entries: BTreeMap::from([("P2".into(), NOW_MS + 1), ("P3".into(), NOW_MS + 3)]),
        }
    );
    // A release does not change the version; twice is fine.
    for _ in 0..2 {
        one(&h, release("P2")).await.unwrap();
    }
    assert_eq!(
        slots(&h).await,
        PendingSlots {
            version: 3,
            entries: BTreeMap::from([("P3".into(), NOW_MS + 3)]),
        }
    );
    one(&h, release("P3")).await.unwrap();
    assert_eq!(
        slots(&h).await,
        PendingSlots {
            version: 3,
            entries: BTreeMap::new(),
        }
    );
    one(&h, take(3, "P4", NOW_MS + 4, &[])).await.unwrap();
    assert_eq!(slots(&h).await.version, 4);
}

async fn a_tool_idempotency_record_is_kept_once_while_live(h: Harness) {
    let first = tool_idempotency("client-key-1", &id_at(NOW_MS), NOW + 100);
    let put = |record: &ToolIdempotencyRecord, now| ToolWrite::PutIdempotency {
        record: record.clone(),
        now,
    };
    one(&h, put(&first, NOW)).await.unwrap();
    let mut retry = first.clone();
    retry.call_id = id_at(NOW_MS + 1);
    assert_condition_failed(one(&h, put(&retry, NOW + 99)).await);
    assert_eq!(
        h.get_tool_idempotency(&first.key, NOW + 99).await.unwrap(),
        Some(first.clone())
    );
    // Expired by `now`: absent, and replaceable.
    assert_eq!(
        h.get_tool_idempotency(&first.key, NOW + 100).await.unwrap(),
        None
    );
    retry.expires_at = NOW + 200;
    retry.proposal_id = None;
    retry.decision = ToolDecision::Allow;
    one(&h, put(&retry, NOW + 100)).await.unwrap();
    assert_eq!(
        h.get_tool_idempotency(&first.key, NOW + 100).await.unwrap(),
        Some(retry)
    );
    // Neither a call nor listed with them.
    assert_eq!(h.get_tool_call(&first.key).await.unwrap(), None);
    assert!(
        h.list_tool_calls(&ws_id("acme"), None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// What a call by `books`' key `01KEY` for `send_email` reads.
fn lookup<'a>(
    agent_id: &'a AgentId,
    workspace_id: &'a WorkspaceId,
    key_id: Option<&'a str>,
    idempotency_key: Option<&'a str>,
) -> ToolCallLookup<'a> {
    static TOOL: std::sync::LazyLock<ToolName> =
        std::sync::LazyLock::new(|| tool_name("send_email"));
    static EXACT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "aa".repeat(32));
    ToolCallLookup {
        key_id,
        agent_id,
        workspace_id,
        tool: &TOOL,
        exact_call_key: &EXACT,
        idempotency_key,
        token: None,
        rate_key: None,
        now: NOW,
    }
}

async fn the_tool_call_context_reads_everything_in_one_call(h: Harness) {
    // Nothing there: every part absent, the slots empty.
    let idem = tool_idempotency("client-key", &id_at(NOW_MS), NOW + 100);
    let nothing = h
        .tool_call_context(lookup(
            &agent_id("books"),
            &ws_id("acme"),
            Some("01KEY"),
            Some(&idem.key),
        ))
        .await
        .unwrap();
    assert_eq!(nothing, Default::default());

    registry(&h).await;
    let send = tool("send_email", &["acme"], "01V1");
    let p = id_at(NOW_MS);
    apply(
        &h,
        vec![
            ApiKeyWrite::Create(api_key("01KEY")).into(),
            ToolWrite::PutTool(send.clone()).into(),
            // Another tool and another exact call: not the ones read.
            ToolWrite::PutTool(tool("other", &["acme"], "01V9")).into(),
            ToolWrite::OpenExact {
                record: exact(&"aa".repeat(32), &p),
                replacing: None,
            }
            .into(),
            ToolWrite::OpenExact {
                record: exact(&"bb".repeat(32), &id_at(NOW_MS + 1)),
                replacing: None,
            }
            .into(),
            take(0, &p, NOW_MS, &[]).into(),
            ToolWrite::PutIdempotency {
                record: idem.clone(),
                now: NOW,
            }
            .into(),
        ],
    )
    .await
    .unwrap();
    let ctx = h
        .tool_call_context(lookup(
            &agent_id("books"),
            &ws_id("acme"),
            Some("01KEY"),
            Some(&idem.key),
        ))
        .await
        .unwrap();
    let expected = warden::store::ToolCallContext {
        api_key: Some(api_key("01KEY")),
        agent: Some(agent("books", &["acme"])),
        workspace: Some(workspace("acme")),
        tool: Some(send.clone()),
        exact: Some(exact(&"aa".repeat(32), &p)),
        slots: PendingSlots {
            version: 1,
            entries: BTreeMap::from([(p.clone(), NOW_MS)]),
        },
        idempotency: Some(idem.clone()),
        revocation: None,
        rate_tat: None,
    };
    assert_eq!(ctx, expected);
    // The key reads as `get_api_key` reads it.
    assert_eq!(ctx.api_key, h.get_api_key("01KEY").await.unwrap());

    // Without a key or an idempotency key, those are absent; the rest stays.
    let bare = h
        .tool_call_context(lookup(&agent_id("books"), &ws_id("acme"), None, None))
        .await
        .unwrap();
    assert_eq!(
        bare,
        warden::store::ToolCallContext {
            api_key: None,
            idempotency: None,
            ..expected.clone()
        }
    );
    // An expired record reads as absent.
    let (books, acme) = (agent_id("books"), ws_id("acme"));
    let mut later = lookup(&books, &acme, None, Some(&idem.key));
    later.now = NOW + 100;
    assert_eq!(h.tool_call_context(later).await.unwrap().idempotency, None);
    // Another agent and workspace: their own (absent) agent, workspace and
    // slots; the tool and the exact call are the lookup's.
    let elsewhere = h
        .tool_call_context(lookup(&agent_id("ghost"), &ws_id("globex"), None, None))
        .await
        .unwrap();
    assert_eq!(
        elsewhere,
        warden::store::ToolCallContext {
            agent: None,
            workspace: Some(workspace("globex")),
            slots: PendingSlots::default(),
            ..bare
        }
    );
}

/// Five calls in `acme` (ids rising; odd ones ALLOWED, even ones REJECTED),
/// one in `globex` among them, and the other items of the table; returns
/// acme's ids, oldest first.
async fn five_calls(h: &Harness) -> Vec<String> {
    let mut ids = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    for i in 1..=5 {
        let id = id_at(NOW_MS + i * 10);
        let status = if i % 2 == 1 {
            ToolCallStatus::Allowed
        } else {
            ToolCallStatus::Rejected
        };
        writes.push(ToolWrite::PutCall(call(&id, "acme", status)).into());
        ids.push(id);
    }
    let elsewhere = id_at(NOW_MS + 25);
    writes.push(ToolWrite::PutCall(call(&elsewhere, "globex", ToolCallStatus::Allowed)).into());
    writes.push(
        ToolWrite::OpenExact {
            record: exact(&"aa".repeat(32), &id_at(NOW_MS)),
            replacing: None,
        }
        .into(),
    );
    writes.push(take(0, "P1", NOW_MS, &[]).into());
    writes.push(
        ToolWrite::PutIdempotency {
            record: tool_idempotency("k", &ids[0], NOW + 100),
            now: NOW,
        }
        .into(),
    );
    apply(h, writes).await.unwrap();
    ids
}

async fn list_all_calls(
    h: &Harness,
    workspace: &str,
    status: Option<ToolCallStatus>,
    limit: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = h
            .list_tool_calls(&ws_id(workspace), status, limit, after.as_deref())
            .await
            .unwrap();
        pages.push(page.items.iter().map(|c| c.call_id.clone()).collect());
        assert!(pages.len() <= 10, "paging does not end: {pages:?}");
        match page.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
}

async fn tool_calls_list_newest_first_page_by_page_within_their_workspace(h: Harness) {
    let ids = five_calls(&h).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(
        list_all_calls(&h, "acme", None, 2).await,
        vec![
            newest_first[0..2].to_vec(),
            newest_first[2..4].to_vec(),
            newest_first[4..5].to_vec(),
        ]
    );
    // A page that ends exactly at the last call says there is no next one.
    assert_eq!(
        list_all_calls(&h, "acme", None, 5).await,
        vec![newest_first.clone()]
    );
    let full = h
        .list_tool_calls(&ws_id("acme"), None, 4, None)
        .await
        .unwrap();
    assert_eq!(full.next.as_deref(), Some(newest_first[3].as_str()));
    assert_eq!(
        full.items[0],
        call(&newest_first[0], "acme", ToolCallStatus::Allowed)
    );
    assert_eq!(
        list_all_calls(&h, "initech", None, 3).await,
        vec![Vec::<String>::new()]
    );
    assert!(
        h.list_tool_calls(&ws_id("acme"), None, 0, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn tool_calls_list_by_status(h: Harness) {
    let ids = five_calls(&h).await;
    // Allowed: 5, 3, 1 (newest first); rejected: 4, 2.
    assert_eq!(
        list_all_calls(&h, "acme", Some(ToolCallStatus::Allowed), 2).await,
        vec![vec![ids[4].clone(), ids[2].clone()], vec![ids[0].clone()]]
    );
    assert_eq!(
        list_all_calls(&h, "acme", Some(ToolCallStatus::Rejected), 10).await,
        vec![vec![ids[3].clone(), ids[1].clone()]]
    );
    assert_eq!(
        list_all_calls(&h, "acme", Some(ToolCallStatus::Expired), 10).await,
        vec![Vec::<String>::new()]
    );
}

fn set_maturity(was: Maturity, maturity: Maturity) -> AgentWrite {
    AgentWrite::SetMaturity {
        agent_id: agent_id("books"),
        was,
        maturity,
        at: NOW + 1,
    }
}

async fn generation(h: &Harness) -> u64 {
    h.get_agent(&agent_id("books"))
        .await
        .unwrap()
        .unwrap()
        .kill_generation
}

async fn a_demotion_and_a_disable_raise_the_kill_generation(h: Harness) {
    registry(&h).await;
    // A promotion does not.
    one(&h, set_maturity(Maturity::Supervised, Maturity::Autonomous))
        .await
        .unwrap();
    assert_eq!(generation(&h).await, 0);
    // The level read is not the stored one (another operator got there).
    assert_condition_failed(one(&h, set_maturity(Maturity::Supervised, Maturity::Intern)).await);
    let stored = h.get_agent(&agent_id("books")).await.unwrap().unwrap();
    assert_eq!(
        (stored.maturity, stored.kill_generation),
        (Maturity::Autonomous, 0)
    );
    one(&h, set_maturity(Maturity::Autonomous, Maturity::Supervised))
        .await
        .unwrap();
    assert_eq!(generation(&h).await, 1);
    // The same level again is no demotion.
    one(&h, set_maturity(Maturity::Supervised, Maturity::Supervised))
        .await
        .unwrap();
    assert_eq!(generation(&h).await, 1);
    let enable = |enabled| AgentWrite::SetEnabled {
        agent_id: agent_id("books"),
        enabled,
        at: NOW + 2,
    };
    one(&h, enable(false)).await.unwrap();
    assert_eq!(generation(&h).await, 2);
    // Enabling revives nothing; disabling a disabled agent raises it again.
    one(&h, enable(true)).await.unwrap();
    assert_eq!(generation(&h).await, 2);
    one(&h, enable(false)).await.unwrap();
    one(&h, enable(false)).await.unwrap();
    assert_eq!(generation(&h).await, 4);
    let stored = h.get_agent(&agent_id("books")).await.unwrap().unwrap();
    assert_eq!(
        stored,
        AgentRecord {
            enabled: false,
            kill_generation: 4,
            updated_at: NOW + 2,
            ..agent("books", &["acme"])
        }
    );
    // A demotion of an agent that does not exist creates nothing.
    assert_condition_failed(
        one(
            &h,
            AgentWrite::SetMaturity {
                agent_id: agent_id("ghost"),
                was: Maturity::Supervised,
                maturity: Maturity::Student,
                at: NOW,
            },
        )
        .await,
    );
    assert_eq!(h.get_agent(&agent_id("ghost")).await.unwrap(), None);
}

async fn an_approval_used_or_expired_keeps_its_decision(h: Harness) {
    let p = tool_proposal(&id_at(NOW_MS));
    one(&h, AgentWrite::CreateProposal(p.clone()))
        .await
        .unwrap();
    let decide =
        |from, status, by: Option<&str>, reason: Option<&str>, at| AgentWrite::DecideProposal {
            proposal_id: p.proposal_id.clone(),
            from,
            status,
            decided_by: by.map(str::to_owned),
            reason: reason.map(str::to_owned),
            at,
        };
    use ProposalStatus::{Approved, Expired, Pending, Used};
    // Used before it was approved: refused.
    assert_condition_failed(one(&h, decide(Approved, Used, None, None, NOW_MS)).await);
    one(
        &h,
        decide(
            Pending,
            Approved,
            Some("user:boss"),
            Some("fine"),
            NOW_MS + 1,
        ),
    )
    .await
    .unwrap();
    one(&h, decide(Approved, Used, None, None, NOW_MS + 2))
        .await
        .unwrap();
    let mut used = p.clone();
    used.status = Used;
    used.decided_by = Some("user:boss".into());
    used.reason = Some("fine".into());
    used.decided_at = Some(NOW_MS + 1);
    assert_eq!(
        h.get_proposal(&p.proposal_id).await.unwrap(),
        Some(used.clone())
    );
    // Used once: the second use and a late expiry are refused.
    assert_condition_failed(one(&h, decide(Approved, Used, None, None, NOW_MS + 3)).await);
    assert_condition_failed(one(&h, decide(Approved, Expired, None, None, NOW_MS + 3)).await);
    assert_condition_failed(one(&h, decide(Pending, Expired, None, None, NOW_MS + 3)).await);
    assert_eq!(h.get_proposal(&p.proposal_id).await.unwrap(), Some(used));

    // An approval that ran out keeps its decision too.
    let q = tool_proposal(&id_at(NOW_MS + 5));
    one(&h, AgentWrite::CreateProposal(q.clone()))
        .await
        .unwrap();
    for write in [
        AgentWrite::DecideProposal {
            proposal_id: q.proposal_id.clone(),
            from: Pending,
            status: Approved,
            decided_by: Some("user:boss".into()),
            reason: None,
            at: NOW_MS + 6,
        },
        AgentWrite::DecideProposal {
            proposal_id: q.proposal_id.clone(),
            from: Approved,
            status: Expired,
            decided_by: None,
            reason: Some("ignored".into()),
            at: NOW_MS + 7,
        },
    ] {
        one(&h, write).await.unwrap();
    }
    let expired = h.get_proposal(&q.proposal_id).await.unwrap().unwrap();
    assert_eq!(expired.status, Expired);
    assert_eq!(
        (expired.decided_by, expired.reason, expired.decided_at),
        (Some("user:boss".into()), None, Some(NOW_MS + 6))
    );
}

async fn a_tool_call_proposal_round_trips_with_every_field(h: Harness) {
    let p = tool_proposal(&id_at(NOW_MS));
    let mut q = tool_proposal(&id_at(NOW_MS + 1));
    q.agent_maturity = None;
    if let ProposalKind::ToolCall(t) = &mut q.kind {
        t.complexity = Complexity::Analysis;
        t.kill_generation = 0;
    }
    let run = ProposalRecord {
        kind: ProposalKind::Run {
            job_id: id_at(NOW_MS),
            action: "pay_vendor".into(),
            input: r#"{"amount": 120.50}"#.into(),
        },
        ..tool_proposal(&id_at(NOW_MS + 2))
    };
    for proposal in [&p, &q, &run] {
        one(&h, AgentWrite::CreateProposal(proposal.clone()))
            .await
            .unwrap();
        assert_eq!(
            h.get_proposal(&proposal.proposal_id)
                .await
                .unwrap()
                .as_ref(),
            Some(proposal)
        );
    }
    assert_condition_failed(one(&h, AgentWrite::CreateProposal(p.clone())).await);
    let listed = h
        .list_proposals(ProposalStatus::Pending, 10, None)
        .await
        .unwrap();
    assert_eq!(listed.items, vec![p, q, run]);
    assert_eq!(listed.next, None);
}

warden::on_both_stores!(
    harness;
    a_registration_replaces_a_tool_and_only_a_registered_tool_is_removed,
    tools_list_by_name_and_agents_never_list_a_tool,
    a_tool_allows_a_call_only_at_the_version_read_in_its_workspaces,
    an_agent_allows_a_call_only_while_enabled_at_the_generation_read,
    a_call_is_stored_once_and_settled_only_from_its_status,
    an_outcome_is_reported_once_by_the_calls_agent_on_an_allowed_call,
    an_exact_call_is_opened_only_over_the_proposal_read,
    an_exact_call_moves_only_from_its_proposal_and_status,
    an_identical_call_is_audited_at_most_once_a_window,
    a_slot_is_taken_on_the_version_read_and_released_unconditionally,
    a_tool_idempotency_record_is_kept_once_while_live,
    the_tool_call_context_reads_everything_in_one_call,
    tool_calls_list_newest_first_page_by_page_within_their_workspace,
    tool_calls_list_by_status,
    a_demotion_and_a_disable_raise_the_kill_generation,
    an_approval_used_or_expired_keeps_its_decision,
    a_tool_call_proposal_round_trips_with_every_field,
);

mod dynamodb_only {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn sv(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    /// The design's budget, counted on the wire: everything a tool call
    /// decides on is one BatchGetItem, whatever it finds.
    #[tokio::test]
    async fn the_tool_call_context_is_one_batch_get_item() {
        let Some((store, _, log)) = warden::testing::dynamo_store_with_log().await else {
            return;
        };
        let idem = keys::tool_idempotency("key:01KEY", "k");
        let (books, acme) = (agent_id("books"), ws_id("acme"));
        let read = || store.tool_call_context(lookup(&books, &acme, Some("01KEY"), Some(&idem)));
        read().await.unwrap();
        assert_eq!(log.take(), vec!["BatchGetItem"]);
        let h: Harness = Arc::new(store.clone());
        registry(&h).await;
        apply(
            &h,
            vec![
                ApiKeyWrite::Create(api_key("01KEY")).into(),
                ToolWrite::PutTool(tool("send_email", &["acme"], "01V1")).into(),
                take(0, "P1", NOW_MS, &[]).into(),
            ],
        )
        .await
        .unwrap();
        log.take();
        let ctx = read().await.unwrap();
        assert!(ctx.agent.is_some() && ctx.tool.is_some() && ctx.api_key.is_some());
        assert_eq!(log.take(), vec!["BatchGetItem"]);
    }

    /// Agents and proposals stored before kill generations, kinds and
    /// maturities were kept read as generation 0, runs, and no maturity;
    /// and generation 0 allows a call on such an agent.
    #[tokio::test]
    async fn items_stored_before_tool_calls_read_as_they_meant() {
        let Some((store, prefix)) = warden::testing::dynamo_store().await else {
            return;
        };
        let h: Harness = Arc::new(store.clone());
        let put = |table: &str, item: Vec<(&str, AttributeValue)>| {
            store
                .client()
                .put_item()
                .table_name(format!("{prefix}{table}"))
                .set_item(Some(
                    item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ))
                .send()
        };
        let n = |v: i64| AttributeValue::N(v.to_string());
        put(
            "agents",
            vec![
                ("agent_id", sv("books")),
                ("agent_type", sv("accounting")),
                ("maturity", sv("SUPERVISED")),
                ("enabled", AttributeValue::Bool(true)),
                ("workspaces", AttributeValue::L(vec![sv("acme")])),
                ("created_at", n(NOW)),
                ("updated_at", n(NOW)),
            ],
        )
        .await
        .unwrap();
        let pid = id_at(NOW_MS);
        let job_id = id_at(NOW_MS);
        put(
            "proposals",
            vec![
                ("proposal_id", sv(&pid)),
                ("job_id", sv(&job_id)),
                ("agent_id", sv("books")),
                ("workspace_id", sv("acme")),
                ("action", sv("pay_vendor")),
                ("input", sv("{}")),
                ("requested_by", sv("user:u1")),
                ("status", sv("PENDING")),
                ("created_at", n(NOW_MS)),
                ("decide_by", n(NOW + 60)),
            ],
        )
        .await
        .unwrap();
        assert_eq!(
            h.get_agent(&agent_id("books")).await.unwrap(),
            Some(agent("books", &["acme"]))
        );
        let proposal = h.get_proposal(&pid).await.unwrap().unwrap();
        assert_eq!(
            (proposal.kind, proposal.agent_maturity),
            (
                ProposalKind::Run {
                    job_id,
                    action: "pay_vendor".into(),
                    input: "{}".into()
                },
                None
            )
        );
        let c = call(&id_at(NOW_MS), "acme", ToolCallStatus::Allowed);
        let allows = |generation| {
            vec![
                ToolWrite::PutCall(c.clone()).into(),
                ToolWrite::AgentAllows {
                    agent_id: agent_id("books"),
                    workspace_id: ws_id("acme"),
                    maturities: vec![Maturity::Supervised],
                    kill_generation: generation,
                }
                .into(),
            ]
        };
        assert_condition_failed(apply(&h, allows(1)).await);
        apply(&h, allows(0)).await.unwrap();
        // A demotion starts the generation from 0.
        one(&h, set_maturity(Maturity::Supervised, Maturity::Intern))
            .await
            .unwrap();
        assert_eq!(generation(&h).await, 1);
    }

    /// Only calls carry `workspace_id` (the index's key) and only
    /// idempotency records `expires_at` (the table's TTL); a tool is an
    /// Agents-table item under `tool#<name>`.
    #[tokio::test]
    async fn how_tool_items_are_stored() {
        let Some((store, prefix)) = warden::testing::dynamo_store().await else {
            return;
        };
        let c = call(&id_at(NOW_MS), "acme", ToolCallStatus::Allowed);
        let idem = tool_idempotency("k", &c.call_id, NOW + 100);
        let key = "aa".repeat(32);
        store
            .transact(vec![
                ToolWrite::PutCall(c.clone()).into(),
                ToolWrite::PutIdempotency {
                    record: idem.clone(),
                    now: NOW,
                }
                .into(),
                ToolWrite::OpenExact {
                    record: exact(&key, "P1"),
                    replacing: None,
                }
                .into(),
                take(0, "P1", NOW_MS, &[]).into(),
                ToolWrite::PutTool(tool("send_email", &["acme"], "01V1")).into(),
            ])
            .await
            .unwrap();
        let raw = |table: &str, name: &str, key: String| {
            store
                .client()
                .get_item()
                .table_name(format!("{prefix}{table}"))
                .key(name, sv(&key))
                .consistent_read(true)
                .send()
        };
        let call_item = raw("tool-calls", "call_id", c.call_id.clone())
            .await
            .unwrap()
            .item
            .unwrap();
        assert!(call_item.contains_key("workspace_id"), "{call_item:?}");
        // The table's TTL would delete a call that carried one.
        assert!(!call_item.contains_key("expires_at"), "{call_item:?}");
        for other in [
            idem.key.clone(),
            keys::exact_call(&key),
            keys::pending_slots(&agent_id("books"), &ws_id("acme")),
        ] {
            let item = raw("tool-calls", "call_id", other)
                .await
                .unwrap()
                .item
                .unwrap();
            assert!(!item.contains_key("workspace_id"), "{item:?}");
        }
        let idem_item = raw("tool-calls", "call_id", idem.key.clone())
            .await
            .unwrap()
            .item
            .unwrap();
        assert!(idem_item.contains_key("expires_at"));
        let tool_item = raw("agents", "agent_id", "tool#send_email".into())
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(
            tool_item.get("complexity"),
            Some(&AttributeValue::N("4".into()))
        );
    }
}
