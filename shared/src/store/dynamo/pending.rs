//! TEMPORARY: replaced by the agents and api_keys modules on merge.
#![allow(missing_docs, unused_variables)]
use super::DynamoStore;
use crate::domain::agents::*;
use crate::store::agents::*;
use crate::store::api_keys::*;
use crate::store::TatCondition;
use crate::{Error, Result};
use async_trait::async_trait;
fn no<T>() -> Result<T> {
    Err(Error::internal("pending"))
}
#[async_trait]
impl AgentStore for DynamoStore {
    async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>> {
        no()
    }
    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        no()
    }
    async fn get_workspace(&self, workspace_id: &WorkspaceId) -> Result<Option<WorkspaceRecord>> {
        no()
    }
    async fn run_context(
        &self,
        agent_id: &AgentId,
        workspace_id: &WorkspaceId,
        idempotency_key: Option<&str>,
        now: i64,
    ) -> Result<RunContext> {
        no()
    }
    async fn get_idempotency(&self, key: &str, now: i64) -> Result<Option<IdempotencyRecord>> {
        no()
    }
    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>> {
        no()
    }
    async fn job_and_agent(
        &self,
        job_id: &str,
        agent_id: &AgentId,
    ) -> Result<(Option<JobRecord>, Option<AgentRecord>)> {
        no()
    }
    async fn list_jobs(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<JobStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<JobRecord>> {
        no()
    }
    async fn get_proposal(&self, proposal_id: &str) -> Result<Option<ProposalRecord>> {
        no()
    }
    async fn list_proposals(
        &self,
        status: ProposalStatus,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ProposalRecord>> {
        no()
    }
}
#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
        no()
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        no()
    }
    async fn record_key_use(
        &self,
        key_id: &str,
        condition: TatCondition,
        new_tat: i64,
        now: i64,
    ) -> Result<std::result::Result<(), Option<i64>>> {
        no()
    }
}
