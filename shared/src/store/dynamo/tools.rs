//! Tools and tool calls in DynamoDB.
//!
//! Registered tools are items of the Agents table under `tool#<name>`
//! keys ([`keys::tool`]). Everything else lives in the ToolCalls table,
//! keyed by `call_id`:
//!
//! - a call, under its ULID: the only items with `workspace_id`, so the
//!   only ones in the workspace index;
//! - `exact#<exact_call_key>`: the proposal of one exact call;
//! - `pending#<agent>#<workspace>`: an agent's pending proposals in a
//!   workspace, each an attribute `entry#<proposal id>` (see [`ENTRY_PREFIX`]
//!   for why not one map attribute), and a `version`;
//! - `idem#<caller>#<hash>`: a tool call's idempotency record, the only
//!   items with `expires_at` (the table's TTL).
//!
//! Every condition of [`ToolWrite`] is the write's own condition
//! expression, as in the memory adapter (`memory/tools.rs`), which is the
//! reference for what each write keeps and refuses.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::agents::{
    IndexQuery, KILL_GENERATION, agent_from, agent_key, get_agent_id, get_workspace_id,
    is_tool_item, set_remove, workspace_from, workspace_key,
};
use super::api_keys::api_key_from;
use super::item::{
    Item, corrupt, get_list, get_n, get_opt_n, get_opt_s, get_parsed, get_s, list, n, s,
};
use super::{DynamoStore, Expr, put_always, tables};
use crate::domain::agents::{ProposalStatus, WorkspaceId};
use crate::domain::tools::{
    ExactCallRecord, Outcome, OutcomeStatus, PendingSlots, ToolCallRecord, ToolCallStatus,
    ToolDecision, ToolIdempotencyRecord, ToolName, ToolRecord, complexity_of_level,
};
use crate::store::agents::Page;
use crate::store::keys;
use crate::store::tools::{ToolCallContext, ToolCallLookup, ToolStore, ToolWrite};
use crate::{Error, Result};

/// How an exact-call item's key starts ([`keys::exact_call`]).
const EXACT_PREFIX: &str = "exact#";
/// How a pending-slots item's key starts ([`keys::pending_slots`]).
const PENDING_PREFIX: &str = "pending#";
/// How a tool call's idempotency key starts ([`keys::tool_idempotency`]).
const IDEMPOTENCY_PREFIX: &str = "idem#";

/// How the attribute of one pending proposal in a slots item starts:
/// `entry#<proposal id>`, its creation (epoch ms) as a number.
///
/// Not one `entries` map: DynamoDB refuses an update of a nested path
/// (`entries.<id>`) whose map does not exist, with a validation error that
/// would fail the whole transaction, and releasing a slot must succeed
/// whether or not its item exists (it is unconditional). Top-level
/// attributes are set and removed whether or not the item exists.
const ENTRY_PREFIX: &str = "entry#";

/// The ToolCalls key `call_id` holding `key`.
fn call_key(key: &str) -> Item {
    Item::from([("call_id".to_owned(), s(key))])
}

/// The Agents-table key of a tool.
fn tool_key(name: &ToolName) -> Item {
    Item::from([("agent_id".to_owned(), s(keys::tool(name)))])
}

/// The attribute of the pending proposal `proposal_id`.
fn entry_attribute(proposal_id: &str) -> String {
    format!("{ENTRY_PREFIX}{proposal_id}")
}

/// Whether `call_id` can name a call: the other items of the table have
/// `#` in their keys, and a call id (a ULID) never does.
fn is_call_id(call_id: &str) -> bool {
    !call_id.is_empty() && !call_id.contains('#')
}

impl DynamoStore {
    /// The transaction item of one tools write.
    pub(super) fn tool_items(&self, write: ToolWrite) -> Result<TransactWriteItem> {
        let t = &self.tables;
        match write {
            // Replaces whatever was registered: its new version voids the
            // old one's approvals.
            ToolWrite::PutTool(tool) => put_always(&t.agents, tool_item(&tool)),
            ToolWrite::RemoveTool(name) => Expr::default().name("#k", "agent_id").delete(
                &t.agents,
                tool_key(&name),
                "attribute_exists(#k)",
            ),
            ToolWrite::ToolAllows {
                name,
                version,
                workspace_id,
            } => Expr::default()
                .name("#v", "version")
                .name("#ws", "workspaces")
                .value(":v", s(version))
                .value(":ws", s(workspace_id.as_str()))
                // A removed tool has no version, so this refuses it too.
                .condition_check(&t.agents, tool_key(&name), "#v = :v AND contains(#ws, :ws)"),
            ToolWrite::AgentAllows {
                agent_id,
                workspace_id,
                maturities,
                kill_generation,
            } => {
                let mut expr = Expr::default()
                    .name("#en", "enabled")
                    .name("#ws", "workspaces")
                    .name("#m", "maturity")
                    .name("#kg", KILL_GENERATION)
                    .value(":true", AttributeValue::Bool(true))
                    .value(":ws", s(workspace_id.as_str()))
                    .value(":kg", n(kill_generation));
                let mut placeholders = Vec::new();
                for (i, m) in maturities.iter().enumerate() {
                    let p = format!(":m{i}");
                    expr = expr.value(&p, s(m.as_str()));
                    placeholders.push(p);
                }
                if placeholders.is_empty() {
                    // No maturity allows the call: the answer is known
                    // (and `IN ()` would be malformed).
                    return Err(Error::ConditionFailed);
                }
                // An agent stored before generations were kept has none:
                // it is at generation 0.
                let generation = if kill_generation == 0 {
                    "(attribute_not_exists(#kg) OR #kg = :kg)"
                } else {
                    "#kg = :kg"
                };
                expr.condition_check(
                    &t.agents,
                    agent_key(&agent_id),
                    &format!(
                        "#en = :true AND contains(#ws, :ws) AND #m IN ({}) AND {generation}",
                        placeholders.join(", ")
                    ),
                )
            }
            ToolWrite::PutCall(call) => Expr::default().name("#k", "call_id").put(
                &t.tool_calls,
                call_item(&call),
                "attribute_not_exists(#k)",
            ),
            ToolWrite::SettleCall {
                call_id,
                from,
                to,
                decide_by,
                at,
            } => {
                let mut expr = Expr::default()
                    .name("#st", "status")
                    .name("#ua", "updated_at")
                    .name("#db", "decide_by")
                    .value(":from", s(from.as_str()))
                    .value(":to", s(to.as_str()))
                    .value(":at", n(at));
                let mut set = vec!["#st = :to", "#ua = :at"];
                let mut remove = Vec::new();
                // The new window replaces the old; none leaves none.
                match decide_by {
                    Some(by) => {
                        expr = expr.value(":db", n(by));
                        set.push("#db = :db");
                    }
                    None => remove.push("#db"),
                }
                if to == ToolCallStatus::Allowed {
                    // A call let through by its approval was, in the end,
                    // allowed.
                    expr = expr
                        .name("#dec", "decision")
                        .value(":allow", s(ToolDecision::Allow.as_str()));
                    set.push("#dec = :allow");
                }
                // A missing call has no status, so this refuses it too.
                expr.update(
                    &t.tool_calls,
                    call_key(&call_id),
                    &set_remove(&set, &remove),
                    Some("#st = :from"),
                )
            }
            ToolWrite::ReportOutcome {
                call_id,
                agent_id,
                outcome,
            } => {
                let mut expr = Expr::default()
                    .name("#ag", "agent_id")
                    .name("#st", "status")
                    .name("#os", "outcome_status")
                    .name("#oa", "outcome_at")
                    .name("#ua", "updated_at")
                    .value(":a", s(agent_id.as_str()))
                    .value(":allowed", s(ToolCallStatus::Allowed.as_str()))
                    .value(":os", s(outcome.status.as_str()))
                    .value(":oa", n(outcome.at));
                let mut set = vec!["#os = :os", "#oa = :oa", "#ua = :oa"];
                if let Some(detail) = outcome.detail {
                    expr = expr.name("#od", "outcome_detail").value(":od", s(detail));
                    set.push("#od = :od");
                }
                expr.update(
                    &t.tool_calls,
                    call_key(&call_id),
                    &set_remove(&set, &[]),
                    Some("#ag = :a AND #st = :allowed AND attribute_not_exists(#os)"),
                )
            }
            ToolWrite::OpenExact { record, replacing } => {
                let expr = Expr::default().name("#k", "call_id");
                let item = exact_item(&record);
                match replacing {
                    None => expr.put(&t.tool_calls, item, "attribute_not_exists(#k)"),
                    // As in the memory adapter, an item that is not there
                    // does not stop a new proposal either.
                    Some(was) => expr
                        .name("#p", "proposal_id")
                        .value(":replacing", s(was))
                        .put(
                            &t.tool_calls,
                            item,
                            "attribute_not_exists(#k) OR #p = :replacing",
                        ),
                }
            }
            ToolWrite::MoveExact {
                key,
                proposal_id,
                from,
                to,
                at,
            } => {
                let when = if to == ProposalStatus::Used {
                    "used_at"
                } else {
                    "decided_at"
                };
                Expr::default()
                    .name("#p", "proposal_id")
                    .name("#st", "status")
                    .name("#at", when)
                    .value(":pid", s(proposal_id))
                    .value(":from", s(from.as_str()))
                    .value(":to", s(to.as_str()))
                    .value(":at", n(at))
                    .update(
                        &t.tool_calls,
                        call_key(&keys::exact_call(&key)),
                        "SET #st = :to, #at = :at",
                        Some("#p = :pid AND #st = :from"),
                    )
            }
            ToolWrite::MarkAudited {
                key,
                proposal_id,
                at,
                not_after,
            } => Expr::default()
                .name("#p", "proposal_id")
                .name("#a", "audited_at")
                .value(":pid", s(proposal_id))
                .value(":at", n(at))
                .value(":not_after", n(not_after))
                .update(
                    &t.tool_calls,
                    call_key(&keys::exact_call(&key)),
                    "SET #a = :at",
                    Some("#p = :pid AND (attribute_not_exists(#a) OR #a <= :not_after)"),
                ),
            ToolWrite::TakeSlot {
                agent_id,
                workspace_id,
                version_was,
                proposal_id,
                created_at,
                stale,
            } => {
                let mut expr = Expr::default()
                    .name("#v", "version")
                    .name("#p", &entry_attribute(&proposal_id))
                    .value(":new", n(version_was.saturating_add(1)))
                    .value(":created", n(created_at));
                // Each stale entry once, and never the new one: DynamoDB
                // refuses an update whose paths overlap.
                let stale: BTreeSet<&String> =
                    stale.iter().filter(|id| **id != proposal_id).collect();
                let mut remove = Vec::with_capacity(stale.len());
                for (i, id) in stale.into_iter().enumerate() {
                    let placeholder = format!("#s{i}");
                    expr = expr.name(&placeholder, &entry_attribute(id));
                    remove.push(placeholder);
                }
                // An absent version is version 0: no item yet, or one left
                // by a release before any slot was taken.
                let condition = if version_was == 0 {
                    "attribute_not_exists(#v)"
                } else {
                    expr = expr.value(":was", n(version_was));
                    "#v = :was"
                };
                let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
                expr.update(
                    &t.tool_calls,
                    call_key(&keys::pending_slots(&agent_id, &workspace_id)),
                    &set_remove(&["#v = :new", "#p = :created"], &remove),
                    Some(condition),
                )
            }
            // Unconditional. On an item that does not exist, the update
            // leaves at most its key, which reads as version 0 and no
            // entries, just as no item does.
            ToolWrite::ReleaseSlot {
                agent_id,
                workspace_id,
                proposal_id,
            } => Expr::default()
                .name("#p", &entry_attribute(&proposal_id))
                .update(
                    &t.tool_calls,
                    call_key(&keys::pending_slots(&agent_id, &workspace_id)),
                    "REMOVE #p",
                    None,
                ),
            ToolWrite::PutIdempotency { record, now } => Expr::default()
                .name("#k", "call_id")
                .name("#exp", "expires_at")
                .value(":now", n(now))
                .put(
                    &t.tool_calls,
                    idempotency_item(&record),
                    "attribute_not_exists(#k) OR #exp <= :now",
                ),
        }
    }
}

#[async_trait]
impl ToolStore for DynamoStore {
    /// One consistent BatchGetItem over the Agents (the agent and the
    /// tool), Workspaces, ApiKeys and ToolCalls (the exact call, the slots
    /// and the idempotency record) tables.
    #[tracing::instrument(level = "debug", skip_all, fields(agent_id = %lookup.agent_id, workspace_id = %lookup.workspace_id, tool = %lookup.tool), err(level = "debug"))]
    async fn tool_call_context(&self, lookup: ToolCallLookup<'_>) -> Result<ToolCallContext> {
        let t = &self.tables;
        let mut calls = vec![
            call_key(&keys::exact_call(lookup.exact_call_key)),
            call_key(&keys::pending_slots(lookup.agent_id, lookup.workspace_id)),
        ];
        // Only an idempotency key is read as one: any other would name
        // another kind of item of the table.
        if let Some(key) = lookup
            .idempotency_key
            .filter(|k| k.starts_with(IDEMPOTENCY_PREFIX))
        {
            calls.push(call_key(key));
        }
        let mut request = vec![
            (
                t.agents.as_str(),
                vec![agent_key(lookup.agent_id), tool_key(lookup.tool)],
            ),
            (
                t.workspaces.as_str(),
                vec![workspace_key(lookup.workspace_id)],
            ),
            (t.tool_calls.as_str(), calls),
        ];
        // DynamoDB refuses an empty key value: an empty id names no key.
        if let Some(key_id) = lookup.key_id.filter(|k| !k.is_empty()) {
            request.push((
                t.api_keys.as_str(),
                vec![Item::from([("key_id".to_owned(), s(key_id))])],
            ));
        }
        if let Some(token) = &lookup.token {
            request.push((t.revoked_tokens.as_str(), super::auth::token_keys(token)));
        }
        if let Some(key) = lookup.rate_key {
            request.push((
                t.rate_limits.as_str(),
                vec![Item::from([("key".to_owned(), s(key))])],
            ));
        }
        let mut context = ToolCallContext::default();
        let mut found = self.batch_get(request).await?;
        if let Some(token) = &lookup.token {
            let revoked = found.remove(&t.revoked_tokens).unwrap_or_default();
            context.revocation = Some(super::auth::token_state(token, &revoked)?);
        }
        if let Some(item) = found.remove(&t.rate_limits).and_then(first) {
            context.rate_tat = Some(get_n(&item, "tat")?);
        }
        for item in found.remove(&t.agents).unwrap_or_default() {
            if is_tool_item(&item) {
                context.tool = Some(tool_from(&item)?);
            } else {
                context.agent = Some(agent_from(&item)?);
            }
        }
        if let Some(item) = found.remove(&t.workspaces).and_then(first) {
            context.workspace = Some(workspace_from(&item)?);
        }
        if let Some(item) = found.remove(&t.api_keys).and_then(first) {
            context.api_key = Some(api_key_from(&item)?);
        }
        for item in found.remove(&t.tool_calls).unwrap_or_default() {
            let key = get_s(&item, "call_id")?;
            if key.starts_with(EXACT_PREFIX) {
                context.exact = Some(exact_from(&item)?);
            } else if key.starts_with(PENDING_PREFIX) {
                context.slots = slots_from(&item)?;
            } else if key.starts_with(IDEMPOTENCY_PREFIX) {
                context.idempotency = live_idempotency(Some(item), lookup.now)?;
            }
        }
        Ok(context)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(tool = %name), err(level = "debug"))]
    async fn get_tool(&self, name: &ToolName) -> Result<Option<ToolRecord>> {
        self.get_one(&self.tables.agents, tool_key(name), "GetItem tools")
            .await?
            .as_ref()
            .map(tool_from)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_tools(&self) -> Result<Vec<ToolRecord>> {
        let mut tools = self
            .scan_all(&self.tables.agents, "Scan tools")
            .await?
            .iter()
            .filter(|item| is_tool_item(item))
            .map(tool_from)
            .collect::<Result<Vec<_>>>()?;
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tools)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(call_id = %call_id), err(level = "debug"))]
    async fn get_tool_call(&self, call_id: &str) -> Result<Option<ToolCallRecord>> {
        if !is_call_id(call_id) {
            return Ok(None);
        }
        self.get_one(
            &self.tables.tool_calls,
            call_key(call_id),
            "GetItem tool calls",
        )
        .await?
        .as_ref()
        .map(call_from)
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn get_exact_call(&self, key: &str) -> Result<Option<ExactCallRecord>> {
        self.get_one(
            &self.tables.tool_calls,
            call_key(&keys::exact_call(key)),
            "GetItem exact calls",
        )
        .await?
        .as_ref()
        .map(exact_from)
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn get_tool_idempotency(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<ToolIdempotencyRecord>> {
        if !key.starts_with(IDEMPOTENCY_PREFIX) {
            return Ok(None);
        }
        let item = self
            .get_one(
                &self.tables.tool_calls,
                call_key(key),
                "GetItem tool idempotency",
            )
            .await?;
        live_idempotency(item, now)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = %workspace_id), err(level = "debug"))]
    async fn list_tool_calls(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<ToolCallStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ToolCallRecord>> {
        let query = IndexQuery {
            table: &self.tables.tool_calls,
            index: tables::TOOL_CALLS_WORKSPACE_INDEX,
            hash: ("workspace_id", workspace_id.as_str().to_owned()),
            sort: "call_id",
            // Call ids are ULIDs: descending is newest first.
            forward: false,
            status: status.map(ToolCallStatus::as_str),
            limit,
        };
        let (items, next) = self.index_page(query, after).await?;
        Ok(Page {
            items: items.iter().map(call_from).collect::<Result<_>>()?,
            next,
        })
    }
}

/// The first of a batch's items of one table.
fn first(items: Vec<Item>) -> Option<Item> {
    items.into_iter().next()
}

/// The item of a tool, in the Agents table.
fn tool_item(t: &ToolRecord) -> Item {
    Item::from([
        ("agent_id".into(), s(keys::tool(&t.name))),
        ("name".into(), s(t.name.as_str())),
        ("complexity".into(), n(t.complexity.level())),
        (
            "workspaces".into(),
            list(t.workspaces.iter().map(WorkspaceId::as_str)),
        ),
        ("version".into(), s(&t.version)),
        ("registered_at".into(), n(t.registered_at)),
    ])
}

/// A tool from its item.
fn tool_from(item: &Item) -> Result<ToolRecord> {
    let workspaces = get_list(item, "workspaces")?
        .iter()
        .map(|w| WorkspaceId::parse(w).map_err(|_| corrupt("workspaces")))
        .collect::<Result<_>>()?;
    Ok(ToolRecord {
        name: get_parsed(item, "name", ToolName::parse)?,
        complexity: complexity_of_level(get_n(item, "complexity")?)
            .map_err(|_| corrupt("complexity"))?,
        workspaces,
        version: get_s(item, "version")?,
        registered_at: get_n(item, "registered_at")?,
    })
}

/// The item of a tool call. It carries `workspace_id` (the index's key)
/// and never `expires_at`: calls are kept.
fn call_item(c: &ToolCallRecord) -> Item {
    let mut item = Item::from([
        ("call_id".into(), s(&c.call_id)),
        ("agent_id".into(), s(c.agent_id.as_str())),
        ("workspace_id".into(), s(c.workspace_id.as_str())),
        ("tool".into(), s(c.tool.as_str())),
        ("arguments_sha256".into(), s(&c.arguments_sha256)),
        ("caller".into(), s(&c.caller)),
        ("decision".into(), s(c.decision.as_str())),
        ("status".into(), s(c.status.as_str())),
        ("created_at".into(), n(c.created_at)),
        ("updated_at".into(), n(c.updated_at)),
    ]);
    if let Some(p) = &c.proposal_id {
        item.insert("proposal_id".into(), s(p));
    }
    if let Some(by) = c.decide_by {
        item.insert("decide_by".into(), n(by));
    }
    if let Some(o) = &c.outcome {
        item.insert("outcome_status".into(), s(o.status.as_str()));
        item.insert("outcome_at".into(), n(o.at));
        if let Some(detail) = &o.detail {
            item.insert("outcome_detail".into(), s(detail));
        }
    }
    item
}

/// A tool call from its item.
fn call_from(item: &Item) -> Result<ToolCallRecord> {
    let outcome = match get_opt_s(item, "outcome_status") {
        Some(status) => Some(Outcome {
            status: OutcomeStatus::parse(&status).map_err(|_| corrupt("outcome_status"))?,
            detail: get_opt_s(item, "outcome_detail"),
            at: get_n(item, "outcome_at")?,
        }),
        None => None,
    };
    Ok(ToolCallRecord {
        call_id: get_s(item, "call_id")?,
        agent_id: get_agent_id(item, "agent_id")?,
        workspace_id: get_workspace_id(item, "workspace_id")?,
        tool: get_parsed(item, "tool", ToolName::parse)?,
        arguments_sha256: get_s(item, "arguments_sha256")?,
        caller: get_s(item, "caller")?,
        decision: get_parsed(item, "decision", ToolDecision::parse)?,
        status: get_parsed(item, "status", ToolCallStatus::parse)?,
        proposal_id: get_opt_s(item, "proposal_id"),
        decide_by: get_opt_n(item, "decide_by")?,
        outcome,
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
    })
}

/// The item of an exact call, under `exact#<key>`. The call it names is
/// `exact_call_id` (`call_id` is the table's key).
fn exact_item(e: &ExactCallRecord) -> Item {
    let mut item = Item::from([
        ("call_id".into(), s(keys::exact_call(&e.key))),
        ("proposal_id".into(), s(&e.proposal_id)),
        ("exact_call_id".into(), s(&e.call_id)),
        ("status".into(), s(e.status.as_str())),
        ("created_at".into(), n(e.created_at)),
        (KILL_GENERATION.into(), n(e.kill_generation)),
        ("tool_version".into(), s(&e.tool_version)),
    ]);
    let optional = [
        ("decided_at", e.decided_at),
        ("used_at", e.used_at),
        ("audited_at", e.audited_at),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.into(), n(v));
        }
    }
    item
}

/// An exact call from its item.
fn exact_from(item: &Item) -> Result<ExactCallRecord> {
    let stored = get_s(item, "call_id")?;
    let key = stored
        .strip_prefix(EXACT_PREFIX)
        .ok_or_else(|| corrupt("call_id"))?;
    Ok(ExactCallRecord {
        key: key.to_owned(),
        proposal_id: get_s(item, "proposal_id")?,
        call_id: get_s(item, "exact_call_id")?,
        status: get_parsed(item, "status", ProposalStatus::parse)?,
        created_at: get_n(item, "created_at")?,
        decided_at: get_opt_n(item, "decided_at")?,
        used_at: get_opt_n(item, "used_at")?,
        kill_generation: get_n(item, KILL_GENERATION)?,
        tool_version: get_s(item, "tool_version")?,
        audited_at: get_opt_n(item, "audited_at")?,
    })
}

/// Pending slots from their item: `version` (absent: 0) and every
/// `entry#<proposal id>` attribute.
fn slots_from(item: &Item) -> Result<PendingSlots> {
    let mut slots = PendingSlots {
        version: get_opt_n(item, "version")?.unwrap_or(0),
        ..PendingSlots::default()
    };
    for name in item.keys() {
        if let Some(proposal_id) = name.strip_prefix(ENTRY_PREFIX) {
            slots
                .entries
                .insert(proposal_id.to_owned(), get_n(item, name)?);
        }
    }
    Ok(slots)
}

/// The item of a tool call's idempotency record. The call it answered is
/// `idem_call_id` (`call_id` is the table's key), and there is no
/// `workspace_id`, which keeps it out of the workspace index.
fn idempotency_item(r: &ToolIdempotencyRecord) -> Item {
    let mut item = Item::from([
        ("call_id".into(), s(&r.key)),
        ("request_hash".into(), s(&r.request_hash)),
        ("idem_call_id".into(), s(&r.call_id)),
        ("kill_gen".into(), n(r.kill_generation)),
        ("decision".into(), s(r.decision.as_str())),
        ("expires_at".into(), n(r.expires_at)),
    ]);
    if let Some(p) = &r.proposal_id {
        item.insert("proposal_id".into(), s(p));
    }
    item
}

/// An idempotency record from its item.
fn idempotency_from(item: &Item) -> Result<ToolIdempotencyRecord> {
    Ok(ToolIdempotencyRecord {
        key: get_s(item, "call_id")?,
        request_hash: get_s(item, "request_hash")?,
        call_id: get_s(item, "idem_call_id")?,
        decision: get_parsed(item, "decision", ToolDecision::parse)?,
        proposal_id: get_opt_s(item, "proposal_id"),
        kill_generation: get_opt_n(item, "kill_gen")?.unwrap_or(0),
        expires_at: get_n(item, "expires_at")?,
    })
}

/// The record in `item`, unless it has expired by `now`: DynamoDB deletes
/// expired items days late, so an expired one reads as absent.
fn live_idempotency(item: Option<Item>, now: i64) -> Result<Option<ToolIdempotencyRecord>> {
    match item {
        Some(item) => Ok(Some(idempotency_from(&item)?).filter(|r| r.expires_at > now)),
        None => Ok(None),
    }
}
