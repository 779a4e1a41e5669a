//! API keys in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::agents::{ApiKeyRecord, KeyLimit};
use crate::store::api_keys::{ApiKeyStore, ApiKeyWrite};
use crate::store::{TatOutcome, TatWrite};
use crate::{Error, Result};

#[derive(Debug, Default)]
pub(super) struct KeyTables {
    keys: BTreeMap<String, ApiKeyRecord>,
}

impl KeyTables {
    /// One key.
    pub(super) fn key(&self, key_id: &str) -> Option<&ApiKeyRecord> {
        self.keys.get(key_id)
    }

    pub(super) fn item_ids(write: &ApiKeyWrite) -> Vec<String> {
        match write {
            ApiKeyWrite::Create(k) => vec![format!("api_keys/{}", k.key_id)],
            ApiKeyWrite::Revoke { key_id, .. } => vec![format!("api_keys/{key_id}")],
        }
    }

    pub(super) fn check(&self, write: &ApiKeyWrite) -> bool {
        match write {
            ApiKeyWrite::Create(k) => !self.keys.contains_key(&k.key_id),
            ApiKeyWrite::Revoke { key_id, .. } => self
                .keys
                .get(key_id)
                .is_some_and(|k| k.revoked_at.is_none()),
        }
    }

    pub(super) fn apply(&mut self, write: ApiKeyWrite) {
        match write {
            ApiKeyWrite::Create(k) => {
                self.keys.insert(k.key_id.clone(), k);
            }
            ApiKeyWrite::Revoke { key_id, at } => {
                if let Some(k) = self.keys.get_mut(&key_id) {
                    k.revoked_at = Some(at);
                }
            }
        }
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
        Ok(self.lock().api_keys.keys.get(key_id).cloned())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        Ok(self.lock().api_keys.keys.values().cloned().collect())
    }

    async fn record_key_use(
        &self,
        key_id: &str,
        limit: KeyLimit,
        write: TatWrite,
        now: i64,
    ) -> Result<TatOutcome> {
        let mut tables = self.lock();
        let key = tables
            .api_keys
            .keys
            .get_mut(key_id)
            .ok_or(Error::ConditionFailed)?;
        if key.revoked_at.is_some() {
            return Err(Error::ConditionFailed);
        }
        let tat = match limit {
            KeyLimit::Run => &mut key.tat,
            KeyLimit::Read => &mut key.read_tat,
        };
        if !write.condition.holds(*tat) {
            return Ok(Err(*tat));
        }
        *tat = Some(write.applied_to(*tat));
        key.usage_count += 1;
        key.last_used_at = Some(now);
        Ok(Ok(()))
    }
}
