//! Agents, workspaces, jobs, proposals and idempotency records in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::Result;
use crate::domain::agents::{
    AgentId, AgentRecord, IdempotencyRecord, JobRecord, JobStatus, ProposalRecord, ProposalStatus,
    WorkspaceId, WorkspaceRecord,
};
use crate::store::agents::{AgentStore, AgentWrite, Page, RunContext, RunLookup};

#[derive(Debug, Default)]
pub(super) struct AgentTables {
    agents: BTreeMap<AgentId, AgentRecord>,
    workspaces: BTreeMap<WorkspaceId, WorkspaceRecord>,
    /// By job id (a ULID, so also creation order).
    jobs: BTreeMap<String, JobRecord>,
    /// By proposal id (a ULID).
    proposals: BTreeMap<String, ProposalRecord>,
    idempotency: BTreeMap<String, IdempotencyRecord>,
}

impl AgentTables {
    pub(super) fn item_ids(write: &AgentWrite) -> Vec<String> {
        let id = match write {
            AgentWrite::CreateWorkspace(w) => format!("workspaces/{}", w.workspace_id),
            AgentWrite::CreateAgent(a) => format!("agents/{}", a.agent_id),
            AgentWrite::SetMaturity { agent_id, .. } | AgentWrite::SetEnabled { agent_id, .. } => {
                format!("agents/{agent_id}")
            }
            AgentWrite::CreateJob(j) => format!("jobs/{}", j.job_id),
            AgentWrite::MoveJob(m) => format!("jobs/{}", m.job_id),
            AgentWrite::Requeue { job_id, .. } => format!("jobs/{job_id}"),
            AgentWrite::AgentAllows { agent_id, .. } => format!("agents/{agent_id}"),
            AgentWrite::CreateProposal(p) => format!("proposals/{}", p.proposal_id),
            AgentWrite::DecideProposal { proposal_id, .. } => format!("proposals/{proposal_id}"),
            // Idempotency records live in the jobs table, as in DynamoDB.
            AgentWrite::PutIdempotency { record, .. } => format!("jobs/{}", record.key),
            AgentWrite::DeleteIdempotency { key } => format!("jobs/{key}"),
        };
        vec![id]
    }

    pub(super) fn check(&self, write: &AgentWrite) -> bool {
        match write {
            AgentWrite::CreateWorkspace(w) => !self.workspaces.contains_key(&w.workspace_id),
            AgentWrite::CreateAgent(a) => !self.agents.contains_key(&a.agent_id),
            AgentWrite::SetMaturity { agent_id, was, .. } => self
                .agents
                .get(agent_id)
                .is_some_and(|a| a.maturity == *was),
            AgentWrite::SetEnabled { agent_id, .. } => self.agents.contains_key(agent_id),
            AgentWrite::CreateJob(j) => !self.jobs.contains_key(&j.job_id),
            AgentWrite::MoveJob(m) => {
                m.from.can_move_to(m.to)
                    && self.jobs.get(&m.job_id).is_some_and(|j| {
                        j.status == m.from
                            && m.if_lease_before
                                .is_none_or(|t| j.lease_until.is_some_and(|l| l < t))
                    })
            }
            AgentWrite::Requeue {
                job_id, lease_was, ..
            } => self.jobs.get(job_id).is_some_and(|j| {
                j.status == JobStatus::Pending && j.lease_until == Some(*lease_was)
            }),
            AgentWrite::AgentAllows {
                agent_id,
                workspace_id,
                maturities,
            } => self.allows(agent_id, workspace_id, maturities, None),
            AgentWrite::CreateProposal(p) => !self.proposals.contains_key(&p.proposal_id),
            AgentWrite::DecideProposal {
                proposal_id, from, ..
            } => self
                .proposals
                .get(proposal_id)
                .is_some_and(|p| p.status == *from),
            AgentWrite::PutIdempotency { record, now } => self
                .idempotency
                .get(&record.key)
                .is_none_or(|r| r.expires_at <= *now),
            AgentWrite::DeleteIdempotency { .. } => true,
        }
    }

    pub(super) fn apply(&mut self, write: AgentWrite) {
        match write {
            AgentWrite::CreateWorkspace(w) => {
                self.workspaces.insert(w.workspace_id.clone(), w);
            }
            AgentWrite::CreateAgent(a) => {
                self.agents.insert(a.agent_id.clone(), a);
            }
            AgentWrite::SetMaturity {
                agent_id,
                was,
                maturity,
                at,
            } => {
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    if maturity < was {
                        a.kill_generation += 1;
                    }
                    a.maturity = maturity;
                    a.updated_at = at;
                }
            }
            AgentWrite::SetEnabled {
                agent_id,
                enabled,
                at,
            } => {
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    if !enabled {
                        a.kill_generation += 1;
                    }
                    a.enabled = enabled;
                    a.updated_at = at;
                }
            }
            AgentWrite::CreateJob(j) => {
                self.jobs.insert(j.job_id.clone(), j);
            }
            AgentWrite::Requeue {
                job_id,
                lease_until,
                requeues,
                ..
            } => {
                if let Some(j) = self.jobs.get_mut(&job_id) {
                    j.lease_until = Some(lease_until);
                    j.requeues = requeues;
                }
            }
            AgentWrite::AgentAllows { .. } => {}
            AgentWrite::MoveJob(m) => {
                if let Some(j) = self.jobs.get_mut(&m.job_id) {
                    j.status = m.to;
                    j.updated_at = m.at;
                    // As in DynamoDB: an ended job holds no lease.
                    j.lease_until = m.lease_until.filter(|_| !m.to.is_final());
                    if m.result.is_some() {
                        j.result = m.result;
                    }
                    if m.decision_event_id.is_some() {
                        j.decision_event_id = m.decision_event_id;
                    }
                    if m.error.is_some() {
                        j.error = m.error;
                    }
                }
            }
            AgentWrite::CreateProposal(p) => {
                self.proposals.insert(p.proposal_id.clone(), p);
            }
            AgentWrite::DecideProposal {
                proposal_id,
                from,
                status,
                decided_by,
                reason,
                at,
            } => {
                if let Some(p) = self.proposals.get_mut(&proposal_id) {
                    p.status = status;
                    // An approval used or expired keeps its decision.
                    if from == ProposalStatus::Pending {
                        p.decided_by = decided_by;
                        p.reason = reason;
                        p.decided_at = Some(at);
                    }
                }
            }
            AgentWrite::PutIdempotency { record, .. } => {
                self.idempotency.insert(record.key.clone(), record);
            }
            AgentWrite::DeleteIdempotency { key } => {
                self.idempotency.remove(&key);
            }
        }
    }

    /// Whether `agent_id` exists, is enabled, may work in `workspace_id`,
    /// is at one of `maturities` and, if given, still at `kill_generation`.
    pub(super) fn allows(
        &self,
        agent_id: &AgentId,
        workspace_id: &WorkspaceId,
        maturities: &[crate::domain::agents::Maturity],
        kill_generation: Option<u64>,
    ) -> bool {
        self.agents.get(agent_id).is_some_and(|a| {
            a.enabled
                && a.allowed_in(workspace_id)
                && maturities.contains(&a.maturity)
                && kill_generation.is_none_or(|g| a.kill_generation == g)
        })
    }

    /// One agent.
    pub(super) fn agent(&self, agent_id: &AgentId) -> Option<&AgentRecord> {
        self.agents.get(agent_id)
    }

    /// One workspace.
    pub(super) fn workspace(&self, workspace_id: &WorkspaceId) -> Option<&WorkspaceRecord> {
        self.workspaces.get(workspace_id)
    }

    fn live_idempotency(&self, key: &str, now: i64) -> Option<IdempotencyRecord> {
        self.idempotency
            .get(key)
            .filter(|r| r.expires_at > now)
            .cloned()
    }
}

/// Up to `limit` of `items` (already in listing order) after the one whose
/// id is `after`; `next` is set when more follow.
pub(super) fn page<T: Clone>(
    items: impl Iterator<Item = (String, T)>,
    limit: usize,
    after: Option<&str>,
    descending: bool,
) -> Page<T> {
    let mut rest = items
        .filter(|(id, _)| match after {
            None => true,
            Some(a) if descending => id.as_str() < a,
            Some(a) => id.as_str() > a,
        })
        .peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < limit {
        let Some((id, item)) = rest.next() else { break };
        last = Some(id);
        out.push(item);
    }
    let next = if rest.peek().is_some() { last } else { None };
    Page { items: out, next }
}

#[async_trait]
impl AgentStore for MemoryStore {
    async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>> {
        Ok(self.lock().agents.agents.get(agent_id).cloned())
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        Ok(self.lock().agents.agents.values().cloned().collect())
    }

    async fn get_workspace(&self, workspace_id: &WorkspaceId) -> Result<Option<WorkspaceRecord>> {
        Ok(self.lock().agents.workspaces.get(workspace_id).cloned())
    }

    async fn run_context(&self, lookup: RunLookup<'_>) -> Result<RunContext> {
        let RunLookup {
            agent_id,
            workspace_id,
            idempotency_key,
            rate_key,
            now,
        } = lookup;
        let tables = self.lock();
        let t = &tables.agents;
        Ok(RunContext {
            agent: t.agents.get(agent_id).cloned(),
            workspace: t.workspaces.get(workspace_id).cloned(),
            idempotency: idempotency_key.and_then(|k| t.live_idempotency(k, now)),
            rate_tat: rate_key.and_then(|k| tables.rates.get(k).map(|(tat, _)| *tat)),
        })
    }

    async fn get_idempotency(&self, key: &str, now: i64) -> Result<Option<IdempotencyRecord>> {
        Ok(self.lock().agents.live_idempotency(key, now))
    }

    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>> {
        Ok(self.lock().agents.jobs.get(job_id).cloned())
    }

    async fn job_and_agent(
        &self,
        job_id: &str,
        agent_id: &AgentId,
    ) -> Result<(Option<JobRecord>, Option<AgentRecord>)> {
        let tables = self.lock();
        Ok((
            tables.agents.jobs.get(job_id).cloned(),
            tables.agents.agents.get(agent_id).cloned(),
        ))
    }

    async fn list_jobs(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<JobStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<JobRecord>> {
        let tables = self.lock();
        let matching = tables
            .agents
            .jobs
            .values()
            .rev()
            .filter(|j| &j.workspace_id == workspace_id && status.is_none_or(|s| j.status == s))
            .map(|j| (j.job_id.clone(), j.clone()));
        Ok(page(matching, limit, after, true))
    }

    async fn get_proposal(&self, proposal_id: &str) -> Result<Option<ProposalRecord>> {
        Ok(self.lock().agents.proposals.get(proposal_id).cloned())
    }

    async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<JobRecord>> {
        let tables = self.lock();
        let mut due: Vec<JobRecord> = tables
            .agents
            .jobs
            .values()
            .filter(|j| {
                matches!(j.status, JobStatus::Pending | JobStatus::Running)
                    && j.lease_until.is_some_and(|l| l <= now_ms)
            })
            .cloned()
            .collect();
        due.sort_by_key(|j| j.lease_until);
        due.truncate(limit);
        Ok(due)
    }

    async fn list_proposals(
        &self,
        status: ProposalStatus,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ProposalRecord>> {
        let tables = self.lock();
        let matching = tables
            .agents
            .proposals
            .values()
            .filter(|p| p.status == status)
            .map(|p| (p.proposal_id.clone(), p.clone()));
        Ok(page(matching, limit, after, false))
    }
}
