//! Webhook delivery records in memory.

use std::collections::HashMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::Result;
use crate::store::webhooks::{
    Claim, DeliveryStatus, DeliveryStore, STALE_CLAIM_SECS, WebhookWrite,
};

#[derive(Debug, Clone, Copy)]
struct Delivery {
    status: DeliveryStatus,
    claimed_at: i64,
    expires_at: i64,
}

#[derive(Debug, Default)]
pub(super) struct DeliveryTables {
    deliveries: HashMap<String, Delivery>,
}

impl DeliveryTables {
    pub(super) fn item_ids(write: &WebhookWrite) -> Vec<String> {
        match write {
            WebhookWrite::DeliveryEnqueued { delivery_key } => {
                vec![format!("deliveries/{delivery_key}")]
            }
        }
    }

    pub(super) fn check(&self, write: &WebhookWrite) -> bool {
        match write {
            WebhookWrite::DeliveryEnqueued { delivery_key } => self
                .deliveries
                .get(delivery_key)
                .is_some_and(|d| d.status == DeliveryStatus::Pending),
        }
    }

    pub(super) fn apply(&mut self, write: WebhookWrite) {
        match write {
            WebhookWrite::DeliveryEnqueued { delivery_key } => {
                if let Some(d) = self.deliveries.get_mut(&delivery_key) {
                    d.status = DeliveryStatus::Enqueued;
                }
            }
        }
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim> {
        let mut tables = self.lock();
        let deliveries = &mut tables.webhooks.deliveries;
        match deliveries.get(delivery_key) {
            Some(d) if d.expires_at > now && d.status == DeliveryStatus::Enqueued => {
                return Ok(Claim::Delivered);
            }
            Some(d) if d.expires_at > now && d.claimed_at > now - STALE_CLAIM_SECS => {
                return Ok(Claim::InFlight);
            }
            _ => {}
        }
        deliveries.insert(
            delivery_key.to_owned(),
            Delivery {
                status: DeliveryStatus::Pending,
                claimed_at: now,
                expires_at,
            },
        );
        Ok(Claim::Claimed)
    }

    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()> {
        let mut tables = self.lock();
        let deliveries = &mut tables.webhooks.deliveries;
        if deliveries
            .get(delivery_key)
            .is_some_and(|d| d.status == DeliveryStatus::Pending && d.claimed_at == claimed_at)
        {
            deliveries.remove(delivery_key);
        }
        Ok(())
    }
}
