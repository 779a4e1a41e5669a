//! Agents, workspaces, jobs, proposals and idempotency records in DynamoDB:
//! the Agents, Workspaces, AgentJobs and Proposals tables.
//!
//! Idempotency records share AgentJobs with the jobs, under `idem#` keys
//! (see [`crate::store::keys::idempotency`]). They carry `expires_at` (the
//! table's TTL) and no `workspace_id`, so they never appear in the
//! workspace index; jobs carry `workspace_id` and no `expires_at`.
//!
//! The Agents table also holds the registered tools, under `tool#<name>`
//! keys (see `tools.rs`): an agent id never holds a `#`, so a tool is never
//! read as an agent, and listing the agents skips them.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::item::{
    Item, get_bool, get_list, get_n, get_opt_json, get_opt_n, get_opt_s, get_parsed, get_s, json,
    list, n, s,
};
use super::{DynamoStore, Expr, build_err, tables, unavailable};
use crate::domain::agents::{
    AgentId, AgentRecord, AgentType, IdempotencyRecord, JobRecord, JobStatus, Maturity,
    ProposalKind, ProposalRecord, ProposalStatus, ToolProposal, WorkspaceId, WorkspaceRecord,
};
use crate::domain::tools::{ToolName, complexity_of_level};
use crate::store::agents::{AgentStore, AgentWrite, JobMove, Page, RunContext, RunLookup};
use crate::store::keys;
use crate::{Error, Result};

/// How every idempotency key starts ([`crate::store::keys::idempotency`]):
/// what tells a record from a job in the table they share.
const IDEMPOTENCY_PREFIX: &str = "idem#";

/// The value of `sweep`, the lease index's partition key, on every job
/// that has not ended (see [`tables::JOBS_LEASE_INDEX`]).
const SWEEP: &str = "due";

/// The most queries one listing page sends. A status filter is applied
/// after DynamoDB's `Limit`, so a page of rare statuses may take several;
/// past this bound the page is returned short, with a cursor to go on.
const MAX_QUERIES_PER_PAGE: usize = 10;

/// How many index entries a filtered query reads at least, so that a page
/// of rare statuses does not take one round trip per few entries.
const FILTERED_READ: usize = 100;

pub(super) fn agent_key(agent_id: &AgentId) -> Item {
    Item::from([("agent_id".to_owned(), s(agent_id.as_str()))])
}

pub(super) fn workspace_key(workspace_id: &WorkspaceId) -> Item {
    Item::from([("workspace_id".to_owned(), s(workspace_id.as_str()))])
}

fn job_key(job_id: &str) -> Item {
    Item::from([("job_id".to_owned(), s(job_id))])
}

fn proposal_key(proposal_id: &str) -> Item {
    Item::from([("proposal_id".to_owned(), s(proposal_id))])
}

impl DynamoStore {
    pub(super) fn agent_items(&self, write: AgentWrite) -> Result<TransactWriteItem> {
        let t = &self.tables;
        match write {
            AgentWrite::CreateWorkspace(w) => Expr::default().name("#k", "workspace_id").put(
                &t.workspaces,
                workspace_item(&w),
                "attribute_not_exists(#k)",
            ),
            AgentWrite::CreateAgent(a) => Expr::default().name("#k", "agent_id").put(
                &t.agents,
                agent_item(&a),
                "attribute_not_exists(#k)",
            ),
            AgentWrite::SetMaturity {
                agent_id,
                was,
                maturity,
                at,
            } => {
                let mut expr = Expr::default()
                    .name("#m", "maturity")
                    .name("#ua", "updated_at")
                    .value(":m", s(maturity.as_str()))
                    .value(":was", s(was.as_str()))
                    .value(":at", n(at));
                let mut update = "SET #m = :m, #ua = :at".to_owned();
                if maturity < was {
                    // A demotion voids what was approved under the old
                    // level. ADD starts an absent generation (an item
                    // stored before it was kept) from 0.
                    expr = expr.name("#kg", KILL_GENERATION).value(":one", n(1));
                    update.push_str(" ADD #kg :one");
                }
                // The level read: a missing agent has none, so this also
                // refuses it (an update would otherwise create half an agent).
                expr.update(&t.agents, agent_key(&agent_id), &update, Some("#m = :was"))
            }
            AgentWrite::SetEnabled {
                agent_id,
                enabled,
                at,
            } => {
                let mut expr = Expr::default()
                    .name("#k", "agent_id")
                    .name("#en", "enabled")
                    .name("#ua", "updated_at")
                    .value(":en", AttributeValue::Bool(enabled))
                    .value(":at", n(at));
                let mut update = "SET #en = :en, #ua = :at".to_owned();
                if !enabled {
                    // Every disable, even of a disabled agent, voids what
                    // was approved before it.
                    expr = expr.name("#kg", KILL_GENERATION).value(":one", n(1));
                    update.push_str(" ADD #kg :one");
                }
                expr.update(
                    &t.agents,
                    agent_key(&agent_id),
                    &update,
                    Some("attribute_exists(#k)"),
                )
            }
            AgentWrite::CreateJob(j) => Expr::default().name("#k", "job_id").put(
                &t.agent_jobs,
                job_item(&j),
                "attribute_not_exists(#k)",
            ),
            AgentWrite::MoveJob(mv) => self.move_job_item(mv),
            AgentWrite::Requeue {
                job_id,
                lease_was,
                lease_until,
                requeues,
            } => Expr::default()
                .name("#st", "status")
                .name("#lease", "lease_until")
                .name("#rq", "requeues")
                .value(":pending", s(JobStatus::Pending.as_str()))
                .value(":was", n(lease_was))
                .value(":lease", n(lease_until))
                .value(":rq", n(requeues))
                .update(
                    &t.agent_jobs,
                    job_key(&job_id),
                    "SET #lease = :lease, #rq = :rq",
                    Some("#st = :pending AND #lease = :was"),
                ),
            AgentWrite::AgentAllows {
                agent_id,
                workspace_id,
                maturities,
            } => {
                let mut expr = Expr::default()
                    .name("#en", "enabled")
                    .name("#ws", "workspaces")
                    .name("#m", "maturity")
                    .value(":true", AttributeValue::Bool(true))
                    .value(":ws", s(workspace_id.as_str()));
                let mut placeholders = Vec::new();
                for (i, m) in maturities.iter().enumerate() {
                    let p = format!(":m{i}");
                    expr = expr.value(&p, s(m.as_str()));
                    placeholders.push(p);
                }
                if placeholders.is_empty() {
                    // No maturity allows the job: the answer is known.
                    return Err(Error::ConditionFailed);
                }
                expr.condition_check(
                    &t.agents,
                    agent_key(&agent_id),
                    &format!(
                        "#en = :true AND contains(#ws, :ws) AND #m IN ({})",
                        placeholders.join(", ")
                    ),
                )
            }
            AgentWrite::CreateProposal(p) => Expr::default().name("#k", "proposal_id").put(
                &t.proposals,
                proposal_item(&p),
                "attribute_not_exists(#k)",
            ),
            AgentWrite::DecideProposal {
                proposal_id,
                from,
                status,
                decided_by,
                reason,
                at,
            } => {
                if from != ProposalStatus::Pending {
                    // An approval used or expired keeps its decision: who
                    // approved it, why and when.
                    return Expr::default()
                        .name("#st", "status")
                        .value(":from", s(from.as_str()))
                        .value(":st", s(status.as_str()))
                        .update(
                            &t.proposals,
                            proposal_key(&proposal_id),
                            "SET #st = :st",
                            Some("#st = :from"),
                        );
                }
                let mut expr = Expr::default()
                    .name("#st", "status")
                    .name("#da", "decided_at")
                    .name("#db", "decided_by")
                    .name("#r", "reason")
                    .value(":from", s(from.as_str()))
                    .value(":st", s(status.as_str()))
                    .value(":at", n(at));
                // The decision replaces both, as in the memory adapter: an
                // absent one is removed, not left as it was.
                let mut set = vec!["#st = :st", "#da = :at"];
                let mut remove = Vec::new();
                match decided_by {
                    Some(by) => {
                        expr = expr.value(":db", s(by));
                        set.push("#db = :db");
                    }
                    None => remove.push("#db"),
                }
                match reason {
                    Some(r) => {
                        expr = expr.value(":r", s(r));
                        set.push("#r = :r");
                    }
                    None => remove.push("#r"),
                }
                expr.update(
                    &t.proposals,
                    proposal_key(&proposal_id),
                    &set_remove(&set, &remove),
                    Some("#st = :from"),
                )
            }
            AgentWrite::PutIdempotency { record, now } => Expr::default()
                .name("#k", "job_id")
                .name("#exp", "expires_at")
                .value(":now", n(now))
                .put(
                    &t.agent_jobs,
                    idempotency_item(&record),
                    "attribute_not_exists(#k) OR #exp <= :now",
                ),
            AgentWrite::DeleteIdempotency { key } => {
                let d = Delete::builder()
                    .table_name(&t.agent_jobs)
                    .set_key(Some(job_key(&key)))
                    .build()
                    .map_err(build_err)?;
                Ok(TransactWriteItem::builder().delete(d).build())
            }
        }
    }

    /// The update of a job's forward move. The lease is replaced (removed
    /// when the move has none: a job leaving `RUNNING` holds no lease);
    /// result and error are only ever added, as in the memory adapter.
    fn move_job_item(&self, mv: JobMove) -> Result<TransactWriteItem> {
        // Forward-only is part of the condition DynamoDB checks: the stored
        // status must be `from` and one of the statuses that may move to
        // `to`, so even a write built by hand cannot move a job back.
        let predecessors: Vec<JobStatus> = JobStatus::ALL
            .iter()
            .copied()
            .filter(|p| p.can_move_to(mv.to))
            .collect();
        if predecessors.is_empty() {
            // Nothing moves to `to` (AWAITING_APPROVAL): an `IN ()` would
            // be malformed, and the answer is known.
            return Err(Error::ConditionFailed);
        }
        let placeholders: Vec<String> = (0..predecessors.len()).map(|i| format!(":p{i}")).collect();
        let condition = format!("#st = :from AND #st IN ({})", placeholders.join(", "));
        let mut expr = Expr::default()
            .name("#st", "status")
            .name("#ua", "updated_at")
            .name("#lease", "lease_until")
            .value(":from", s(mv.from.as_str()))
            .value(":to", s(mv.to.as_str()))
            .value(":at", n(mv.at));
        for (placeholder, status) in placeholders.iter().zip(&predecessors) {
            expr = expr.value(placeholder, s(status.as_str()));
        }
        let mut condition = condition;
        if let Some(before) = mv.if_lease_before {
            expr = expr.value(":before", n(before));
            condition.push_str(" AND #lease < :before");
        }
        let mut set = vec!["#st = :to", "#ua = :at"];
        let mut remove = Vec::new();
        // The sweeper's index holds the jobs that have not ended: `sweep`
        // goes with the lease, and an ended job holds neither.
        expr = expr.name("#sweep", "sweep");
        match mv.lease_until.filter(|_| !mv.to.is_final()) {
            Some(lease) => {
                expr = expr.value(":lease", n(lease)).value(":sweep", s(SWEEP));
                set.extend(["#lease = :lease", "#sweep = :sweep"]);
            }
            None => remove.extend(["#lease", "#sweep"]),
        }
        if let Some(result) = &mv.result {
            expr = expr.name("#res", "result").value(":res", json(result));
            set.push("#res = :res");
        }
        if let Some(error) = mv.error {
            expr = expr.name("#err", "error").value(":err", s(error));
            set.push("#err = :err");
        }
        if let Some(decision) = mv.decision_event_id {
            expr = expr
                .name("#dec", "decision_event_id")
                .value(":dec", s(decision));
            set.push("#dec = :dec");
        }
        expr.update(
            &self.tables.agent_jobs,
            job_key(&mv.job_id),
            &set_remove(&set, &remove),
            // A missing job has no status, so this also refuses it.
            Some(&condition),
        )
    }

    /// One page of an index query: the items whose index partition key
    /// is the asked value, after the id `after` in the index's order, and
    /// optionally of one status; with the cursor of the next page.
    ///
    /// DynamoDB applies `Limit` before the filter, so this queries until
    /// the page is full, the index is exhausted, or
    /// [`MAX_QUERIES_PER_PAGE`] is reached. It reads one match more than
    /// the page holds, so that, as in the memory adapter, there is a
    /// cursor only when another match follows; the extra one starts the
    /// next page. A page cut short by the bound has the cursor of where
    /// reading stopped (everything between its last item and there did not
    /// match), and may be empty.
    pub(super) async fn index_page(
        &self,
        q: IndexQuery<'_>,
        after: Option<&str>,
    ) -> Result<(Vec<Item>, Option<String>)> {
        if q.limit == 0 {
            return Ok((Vec::new(), None));
        }
        let (hash, value) = &q.hash;
        let mut start = after.map(|a| {
            Item::from([
                ((*hash).to_owned(), s(value.as_str())),
                (q.sort.to_owned(), s(a)),
            ])
        });
        let mut found: Vec<Item> = Vec::new();
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let want = q.limit + 1 - found.len();
            let read = match q.status {
                Some(_) => want.max(FILTERED_READ),
                None => want,
            };
            let mut request = self
                .client
                .query()
                .table_name(q.table)
                .index_name(q.index)
                .key_condition_expression("#h = :h")
                .expression_attribute_names("#h", *hash)
                .expression_attribute_values(":h", s(value.as_str()))
                .scan_index_forward(q.forward)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(status) = q.status {
                request = request
                    .filter_expression("#st = :st")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":st", s(status));
            }
            let out = request
                .send()
                .await
                .map_err(|e| unavailable("Query index", e))?;
            found.extend(out.items.unwrap_or_default());
            if found.len() > q.limit {
                found.truncate(q.limit);
                let next = found.last().map(|i| get_s(i, q.sort)).transpose()?;
                return Ok((found, next));
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((found, None)),
            }
        }
        let next = start.as_ref().map(|k| get_s(k, q.sort)).transpose()?;
        Ok((found, next))
    }

    /// A consistent GetItem of one item.
    pub(super) async fn get_one(&self, table: &str, key: Item, what: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(what, e))?;
        Ok(out.item)
    }

    /// Every item of `table` (all pages of a consistent Scan).
    pub(super) async fn scan_all(&self, table: &str, what: &str) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable(what, e))?;
            items.extend(page.items.unwrap_or_default());
        }
        Ok(items)
    }
}

/// What [`DynamoStore::index_page`] reads.
pub(super) struct IndexQuery<'a> {
    /// The table.
    pub(super) table: &'a str,
    /// Its index.
    pub(super) index: &'static str,
    /// The index's partition key and the value asked for.
    pub(super) hash: (&'static str, String),
    /// The index's sort key: the item's id, which is also the cursor.
    pub(super) sort: &'static str,
    /// Ascending (oldest first) or descending.
    pub(super) forward: bool,
    /// Only items with this `status`.
    pub(super) status: Option<&'static str>,
    /// The page's size.
    pub(super) limit: usize,
}

#[async_trait]
impl AgentStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(agent_id = %agent_id), err(level = "debug"))]
    async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>> {
        self.get_one(&self.tables.agents, agent_key(agent_id), "GetItem agents")
            .await?
            .as_ref()
            .map(agent_from)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        let mut agents = self
            .scan_all(&self.tables.agents, "Scan agents")
            .await?
            .iter()
            // The registered tools share the table.
            .filter(|item| !is_tool_item(item))
            .map(agent_from)
            .collect::<Result<Vec<_>>>()?;
        agents.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        Ok(agents)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = %workspace_id), err(level = "debug"))]
    async fn get_workspace(&self, workspace_id: &WorkspaceId) -> Result<Option<WorkspaceRecord>> {
        self.get_one(
            &self.tables.workspaces,
            workspace_key(workspace_id),
            "GetItem workspaces",
        )
        .await?
        .as_ref()
        .map(workspace_from)
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(agent_id = %lookup.agent_id, workspace_id = %lookup.workspace_id), err(level = "debug"))]
    async fn run_context(&self, lookup: RunLookup<'_>) -> Result<RunContext> {
        let RunLookup {
            agent_id,
            workspace_id,
            idempotency_key,
            rate_key,
            now,
        } = lookup;
        let t = &self.tables;
        let mut request = vec![
            (t.agents.as_str(), vec![agent_key(agent_id)]),
            (t.workspaces.as_str(), vec![workspace_key(workspace_id)]),
        ];
        if let Some(key) = idempotency_key.filter(|k| k.starts_with(IDEMPOTENCY_PREFIX)) {
            request.push((t.agent_jobs.as_str(), vec![job_key(key)]));
        }
        if let Some(key) = rate_key {
            request.push((
                t.rate_limits.as_str(),
                vec![Item::from([("key".to_owned(), s(key))])],
            ));
        }
        let mut found = self.batch_get(request).await?;
        let mut first = |table: &str| {
            found
                .remove(table)
                .and_then(|items| items.into_iter().next())
        };
        Ok(RunContext {
            agent: first(&t.agents).as_ref().map(agent_from).transpose()?,
            workspace: first(&t.workspaces)
                .as_ref()
                .map(workspace_from)
                .transpose()?,
            idempotency: live_idempotency(first(&t.agent_jobs), now)?,
            rate_tat: first(&t.rate_limits)
                .map(|item| get_n(&item, "tat"))
                .transpose()?,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn get_idempotency(&self, key: &str, now: i64) -> Result<Option<IdempotencyRecord>> {
        if !key.starts_with(IDEMPOTENCY_PREFIX) {
            return Ok(None);
        }
        let item = self
            .get_one(&self.tables.agent_jobs, job_key(key), "GetItem idempotency")
            .await?;
        live_idempotency(item, now)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(job_id = %job_id), err(level = "debug"))]
    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>> {
        if job_id.starts_with(IDEMPOTENCY_PREFIX) {
            return Ok(None);
        }
        self.get_one(&self.tables.agent_jobs, job_key(job_id), "GetItem jobs")
            .await?
            .as_ref()
            .map(job_from)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(job_id = %job_id, agent_id = %agent_id), err(level = "debug"))]
    async fn job_and_agent(
        &self,
        job_id: &str,
        agent_id: &AgentId,
    ) -> Result<(Option<JobRecord>, Option<AgentRecord>)> {
        let t = &self.tables;
        let mut request = vec![(t.agents.as_str(), vec![agent_key(agent_id)])];
        if !job_id.starts_with(IDEMPOTENCY_PREFIX) {
            request.push((t.agent_jobs.as_str(), vec![job_key(job_id)]));
        }
        let mut found = self.batch_get(request).await?;
        let mut first = |table: &str| {
            found
                .remove(table)
                .and_then(|items| items.into_iter().next())
        };
        let job = first(&t.agent_jobs).as_ref().map(job_from).transpose()?;
        let agent = first(&t.agents).as_ref().map(agent_from).transpose()?;
        Ok((job, agent))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = %workspace_id), err(level = "debug"))]
    async fn list_jobs(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<JobStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<JobRecord>> {
        let query = IndexQuery {
            table: &self.tables.agent_jobs,
            index: tables::JOBS_WORKSPACE_INDEX,
            hash: ("workspace_id", workspace_id.as_str().to_owned()),
            sort: "job_id",
            // Job ids are ULIDs: descending is newest first.
            forward: false,
            status: status.map(JobStatus::as_str),
            limit,
        };
        let (items, next) = self.index_page(query, after).await?;
        Ok(Page {
            items: items.iter().map(job_from).collect::<Result<_>>()?,
            next,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(proposal_id = %proposal_id), err(level = "debug"))]
    async fn get_proposal(&self, proposal_id: &str) -> Result<Option<ProposalRecord>> {
        self.get_one(
            &self.tables.proposals,
            proposal_key(proposal_id),
            "GetItem proposals",
        )
        .await?
        .as_ref()
        .map(proposal_from)
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<JobRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.agent_jobs)
            .index_name(tables::JOBS_LEASE_INDEX)
            .key_condition_expression("#sweep = :due AND #lease <= :now")
            .expression_attribute_names("#sweep", "sweep")
            .expression_attribute_names("#lease", "lease_until")
            .expression_attribute_values(":due", s(SWEEP))
            .expression_attribute_values(":now", n(now_ms))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable("Query lease index", e))?;
        out.items.unwrap_or_default().iter().map(job_from).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(status = %status), err(level = "debug"))]
    async fn list_proposals(
        &self,
        status: ProposalStatus,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ProposalRecord>> {
        let query = IndexQuery {
            table: &self.tables.proposals,
            index: tables::PROPOSALS_STATUS_INDEX,
            hash: ("status", status.as_str().to_owned()),
            sort: "proposal_id",
            // Proposal ids are ULIDs: ascending is oldest first.
            forward: true,
            status: None,
            limit,
        };
        let (items, next) = self.index_page(query, after).await?;
        Ok(Page {
            items: items.iter().map(proposal_from).collect::<Result<_>>()?,
            next,
        })
    }
}

/// The record in `item`, unless it has expired by `now`: DynamoDB deletes
/// expired items days late, so an expired one reads as absent.
fn live_idempotency(item: Option<Item>, now: i64) -> Result<Option<IdempotencyRecord>> {
    match item {
        Some(item) => Ok(Some(idempotency_from(&item)?).filter(|r| r.expires_at > now)),
        None => Ok(None),
    }
}

/// Whether an Agents-table item is a registered tool (`tool#<name>`),
/// not an agent.
pub(super) fn is_tool_item(item: &Item) -> bool {
    item.get("agent_id")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|id| id.starts_with(keys::TOOL_PREFIX))
}

/// The attribute of an agent's (and a tool-call proposal's) kill
/// generation; absent on items stored before it was kept, read as 0.
pub(super) const KILL_GENERATION: &str = "kill_gen";

/// `SET a, b REMOVE c, d` (either part left out when empty).
pub(super) fn set_remove(set: &[&str], remove: &[&str]) -> String {
    let mut update = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        update.push_str(" REMOVE ");
        update.push_str(&remove.join(", "));
    }
    update
}

pub(super) fn get_agent_id(item: &Item, name: &str) -> Result<AgentId> {
    get_parsed(item, name, AgentId::parse)
}

pub(super) fn get_workspace_id(item: &Item, name: &str) -> Result<WorkspaceId> {
    get_parsed(item, name, WorkspaceId::parse)
}

/// The item of a workspace.
fn workspace_item(w: &WorkspaceRecord) -> Item {
    Item::from([
        ("workspace_id".into(), s(w.workspace_id.as_str())),
        ("name".into(), s(&w.name)),
        ("created_at".into(), n(w.created_at)),
    ])
}

/// A workspace from its item.
pub(super) fn workspace_from(item: &Item) -> Result<WorkspaceRecord> {
    Ok(WorkspaceRecord {
        workspace_id: get_workspace_id(item, "workspace_id")?,
        name: get_s(item, "name")?,
        created_at: get_n(item, "created_at")?,
    })
}

/// The item of an agent.
fn agent_item(a: &AgentRecord) -> Item {
    Item::from([
        ("agent_id".into(), s(a.agent_id.as_str())),
        ("agent_type".into(), s(a.agent_type.as_str())),
        ("maturity".into(), s(a.maturity.as_str())),
        ("enabled".into(), AttributeValue::Bool(a.enabled)),
        (
            "workspaces".into(),
            list(a.workspaces.iter().map(WorkspaceId::as_str)),
        ),
        (KILL_GENERATION.into(), n(a.kill_generation)),
        ("created_at".into(), n(a.created_at)),
        ("updated_at".into(), n(a.updated_at)),
    ])
}

/// An agent from its item.
pub(super) fn agent_from(item: &Item) -> Result<AgentRecord> {
    let workspaces = get_list(item, "workspaces")?
        .iter()
        .map(|w| WorkspaceId::parse(w).map_err(|_| super::item::corrupt("workspaces")))
        .collect::<Result<_>>()?;
    Ok(AgentRecord {
        agent_id: get_agent_id(item, "agent_id")?,
        agent_type: get_parsed(item, "agent_type", AgentType::parse)?,
        maturity: get_parsed(item, "maturity", Maturity::parse)?,
        enabled: get_bool(item, "enabled")?,
        workspaces,
        kill_generation: get_opt_n(item, KILL_GENERATION)?.unwrap_or(0),
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
    })
}

/// The item of a job. It carries `workspace_id` (the index's key) and
/// never `expires_at`: jobs are kept.
fn job_item(j: &JobRecord) -> Item {
    let mut item = Item::from([
        ("job_id".into(), s(&j.job_id)),
        ("agent_id".into(), s(j.agent_id.as_str())),
        ("workspace_id".into(), s(j.workspace_id.as_str())),
        ("action".into(), s(&j.action)),
        // The text as received: never re-serialised, so never larger than
        // what `JobRecord::max_stored_bytes` counted.
        ("input".into(), s(&j.input)),
        ("status".into(), s(j.status.as_str())),
        ("requested_by".into(), s(&j.requested_by)),
        ("created_at".into(), n(j.created_at)),
        ("updated_at".into(), n(j.updated_at)),
    ]);
    if let Some(p) = &j.proposal_id {
        item.insert("proposal_id".into(), s(p));
    }
    if let Some(d) = &j.decision_event_id {
        item.insert("decision_event_id".into(), s(d));
    }
    if let Some(at) = j.decide_by {
        item.insert("decide_by".into(), n(at));
    }
    if let Some(at) = j.lease_until.filter(|_| !j.status.is_final()) {
        item.insert("lease_until".into(), n(at));
        item.insert("sweep".into(), s(SWEEP));
    }
    if j.requeues > 0 {
        item.insert("requeues".into(), n(j.requeues));
    }
    if let Some(result) = &j.result {
        item.insert("result".into(), json(result));
    }
    if let Some(error) = &j.error {
        item.insert("error".into(), s(error));
    }
    item
}

/// A job from its item.
fn job_from(item: &Item) -> Result<JobRecord> {
    Ok(JobRecord {
        job_id: get_s(item, "job_id")?,
        agent_id: get_agent_id(item, "agent_id")?,
        workspace_id: get_workspace_id(item, "workspace_id")?,
        action: get_s(item, "action")?,
        input: get_s(item, "input")?,
        status: get_parsed(item, "status", JobStatus::parse)?,
        requested_by: get_s(item, "requested_by")?,
        proposal_id: get_opt_s(item, "proposal_id"),
        decision_event_id: get_opt_s(item, "decision_event_id"),
        decide_by: get_opt_n(item, "decide_by")?,
        lease_until: get_opt_n(item, "lease_until")?,
        requeues: get_opt_n(item, "requeues")?.unwrap_or(0),
        result: get_opt_json(item, "result")?,
        error: get_opt_s(item, "error"),
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
    })
}

/// `kind` of a run proposal (and of one stored before tool calls, which
/// has none).
const RUN_KIND: &str = "run";
/// `kind` of a tool-call proposal.
const TOOL_CALL_KIND: &str = "tool_call";

/// The item of a proposal: what it holds back as `kind` and that kind's
/// attributes.
fn proposal_item(p: &ProposalRecord) -> Item {
    let mut item = Item::from([
        ("proposal_id".into(), s(&p.proposal_id)),
        ("agent_id".into(), s(p.agent_id.as_str())),
        ("workspace_id".into(), s(p.workspace_id.as_str())),
        ("requested_by".into(), s(&p.requested_by)),
        ("status".into(), s(p.status.as_str())),
        ("created_at".into(), n(p.created_at)),
        ("decide_by".into(), n(p.decide_by)),
    ]);
    match &p.kind {
        ProposalKind::Run {
            job_id,
            action,
            input,
        } => item.extend([
            ("kind".into(), s(RUN_KIND)),
            ("job_id".into(), s(job_id)),
            ("action".into(), s(action)),
            ("input".into(), s(input)),
        ]),
        ProposalKind::ToolCall(t) => item.extend([
            ("kind".into(), s(TOOL_CALL_KIND)),
            ("call_id".into(), s(&t.call_id)),
            ("tool".into(), s(t.tool.as_str())),
            ("complexity".into(), n(t.complexity.level())),
            // The JCS text as made: never re-serialised, so what the
            // approver is shown is exactly what was hashed.
            ("arguments".into(), s(&t.arguments)),
            ("arguments_sha256".into(), s(&t.arguments_sha256)),
            ("exact_call_key".into(), s(&t.exact_call_key)),
            ("tool_version".into(), s(&t.tool_version)),
            (KILL_GENERATION.into(), n(t.kill_generation)),
        ]),
    }
    if let ProposalKind::ToolCall(ToolProposal {
        actor_key_id: Some(key_id),
        ..
    }) = &p.kind
    {
        item.insert("actor_key_id".into(), s(key_id));
    }
    if let Some(m) = p.agent_maturity {
        item.insert("agent_maturity".into(), s(m.as_str()));
    }
    if let Some(by) = &p.decided_by {
        item.insert("decided_by".into(), s(by));
    }
    if let Some(reason) = &p.reason {
        item.insert("reason".into(), s(reason));
    }
    if let Some(at) = p.decided_at {
        item.insert("decided_at".into(), n(at));
    }
    item
}

/// A proposal from its item.
fn proposal_from(item: &Item) -> Result<ProposalRecord> {
    let kind = match get_opt_s(item, "kind").as_deref() {
        None | Some(RUN_KIND) => ProposalKind::Run {
            job_id: get_s(item, "job_id")?,
            action: get_s(item, "action")?,
            input: get_s(item, "input")?,
        },
        Some(TOOL_CALL_KIND) => ProposalKind::ToolCall(ToolProposal {
            call_id: get_s(item, "call_id")?,
            tool: get_parsed(item, "tool", ToolName::parse)?,
            complexity: complexity_of_level(get_n(item, "complexity")?)
                .map_err(|_| super::item::corrupt("complexity"))?,
            arguments: get_s(item, "arguments")?,
            arguments_sha256: get_s(item, "arguments_sha256")?,
            exact_call_key: get_s(item, "exact_call_key")?,
            tool_version: get_s(item, "tool_version")?,
            kill_generation: get_n(item, KILL_GENERATION)?,
            actor_key_id: get_opt_s(item, "actor_key_id"),
        }),
        // A kind this build does not know is a corrupt item, never read
        // as another.
        Some(_) => return Err(super::item::corrupt("kind")),
    };
    let agent_maturity = match get_opt_s(item, "agent_maturity") {
        Some(m) => Some(Maturity::parse(&m).map_err(|_| super::item::corrupt("agent_maturity"))?),
        None => None,
    };
    Ok(ProposalRecord {
        proposal_id: get_s(item, "proposal_id")?,
        kind,
        agent_id: get_agent_id(item, "agent_id")?,
        workspace_id: get_workspace_id(item, "workspace_id")?,
        agent_maturity,
        requested_by: get_s(item, "requested_by")?,
        status: get_parsed(item, "status", ProposalStatus::parse)?,
        created_at: get_n(item, "created_at")?,
        decide_by: get_n(item, "decide_by")?,
        decided_by: get_opt_s(item, "decided_by"),
        reason: get_opt_s(item, "reason"),
        decided_at: get_opt_n(item, "decided_at")?,
    })
}

/// The item of an idempotency record, under its key in the jobs table.
/// The job it answered is `idem_job_id` (`job_id` is the table's key), and
/// there is no `workspace_id`, which keeps it out of the workspace index.
fn idempotency_item(r: &IdempotencyRecord) -> Item {
    let mut item = Item::from([
        ("job_id".into(), s(&r.key)),
        ("request_hash".into(), s(&r.request_hash)),
        ("idem_job_id".into(), s(&r.job_id)),
        ("status".into(), s(r.status.as_str())),
        ("expires_at".into(), n(r.expires_at)),
    ]);
    if let Some(p) = &r.proposal_id {
        item.insert("proposal_id".into(), s(p));
    }
    item
}

/// An idempotency record from its item.
fn idempotency_from(item: &Item) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key: get_s(item, "job_id")?,
        request_hash: get_s(item, "request_hash")?,
        job_id: get_s(item, "idem_job_id")?,
        status: get_parsed(item, "status", JobStatus::parse)?,
        proposal_id: get_opt_s(item, "proposal_id"),
        expires_at: get_n(item, "expires_at")?,
    })
}
