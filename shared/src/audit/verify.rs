//! Verifying the ledger: the checkpoints of a range against the events the
//! table holds and the pinned checkpoint key. What `warden audit verify`
//! runs, over what it read.
//!
//! The first failure is named, in this order of checks per minute: the
//! checkpoint's signature, its text (its minute), the chain (no minute
//! missing, each `prev` the hash of the note before), each event it lists
//! (present, and together hashing to its root), then the events no
//! checkpoint covers although their minute was closed, and a chain that
//! stops more than G + 5 minutes before now.

use std::collections::{HashMap, HashSet};

use crate::audit::AuditEvent;
use crate::audit::checkpoint::{Checkpoint, minute_text, note_hash};
use crate::audit::mac::{MacCheck, MacKey};
use crate::audit::note::NoteKey;
use crate::audit::{ledger, merkle};
use crate::store::CheckpointRecord;

/// One minute in milliseconds.
const MINUTE_MS: i64 = 60_000;

/// How long after its last checkpoint's minute a chain may stop, beyond
/// the grace, before it counts as cut short.
const CHAIN_SLACK_MS: i64 = 5 * MINUTE_MS;

/// What is wrong, first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A checkpoint's signature does not verify with the pinned key.
    BadSignature {
        /// Its minute.
        minute: i64,
    },
    /// A checkpoint's text does not match the item it is stored in.
    CheckpointChanged {
        /// Its minute.
        minute: i64,
    },
    /// A minute between two checkpoints has none.
    CheckpointMissing {
        /// The minute.
        minute: i64,
    },
    /// A checkpoint's `prev` is not the hash of the one before it.
    ChainBroken {
        /// The minute of the checkpoint whose `prev` does not match.
        minute: i64,
    },
    /// An event a checkpoint lists is not in the table.
    EventMissing {
        /// The event.
        event_id: String,
        /// The checkpoint's minute.
        minute: i64,
    },
    /// An event's MAC does not hold: it was changed, or forged by someone
    /// without the MAC key.
    EventChanged {
        /// The event.
        event_id: String,
    },
    /// An event has no MAC, though the verifier holds the key every
    /// writer seals with: written by someone without it.
    EventUnsealed {
        /// The event.
        event_id: String,
    },
    /// A checkpoint's events, as the table holds them, do not hash to its
    /// root: one of them was changed.
    EventsChanged {
        /// The checkpoint's minute.
        minute: i64,
    },
    /// An event of a checkpointed minute that no checkpoint covers.
    EventAdded {
        /// The event.
        event_id: String,
    },
    /// The newest checkpoint is older than the grace and five minutes:
    /// the newest checkpoints (and maybe their events) were removed, or
    /// the checkpointer stopped.
    ChainEndsEarly {
        /// The newest checkpoint's minute.
        minute: i64,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = |minute: &i64| minute_text(*minute);
        match self {
            Self::BadSignature { minute } => write!(
                f,
                "the checkpoint of {} is not signed by the pinned key (changed, or signed by another key)",
                m(minute)
            ),
            Self::CheckpointChanged { minute } => {
                write!(f, "the checkpoint of {} was changed", m(minute))
            }
            Self::CheckpointMissing { minute } => {
                write!(f, "the checkpoint of {} is missing", m(minute))
            }
            Self::ChainBroken { minute } => write!(
                f,
                "the checkpoint of {} does not follow the one before it (a checkpoint was replaced)",
                m(minute)
            ),
            Self::EventMissing { event_id, minute } => write!(
                f,
                "event {event_id} of the checkpoint of {} is missing from the table",
                m(minute)
            ),
            Self::EventChanged { event_id } => write!(
                f,
                "event {event_id} does not match its MAC: it was changed, or forged without the MAC key"
            ),
            Self::EventUnsealed { event_id } => write!(
                f,
                "event {event_id} has no MAC: it was not written by Warden"
            ),
            Self::EventsChanged { minute } => write!(
                f,
                "the events of the checkpoint of {} do not hash to its root: one was changed",
                m(minute)
            ),
            Self::EventAdded { event_id } => write!(
                f,
                "event {event_id} is in no checkpoint, though its minute was checkpointed (added)"
            ),
            Self::ChainEndsEarly { minute } => write!(
                f,
                "the newest checkpoint is of {}: newer ones are missing, or the checkpointer stopped",
                m(minute)
            ),
        }
    }
}

/// The first failure of `checkpoints` (oldest first, consecutive minutes
/// expected) against `events` (every event of their minutes, the lookback
/// before them and the grace after them) and `key`, at `now_ms` with grace
/// `grace_ms`; `None` when all holds. With the audit MAC key (`mac`), every
/// event's MAC is checked too, those no checkpoint covers yet included, so
/// an event changed or forged by someone without the key is named even
/// within the grace.
pub fn first_failure(
    key: &NoteKey,
    mac: Option<&MacKey>,
    checkpoints: &[CheckpointRecord],
    events: &[AuditEvent],
    now_ms: i64,
    grace_ms: i64,
) -> Option<Failure> {
    if let Some(mac) = mac {
        let mut sorted: Vec<&AuditEvent> = events.iter().collect();
        sorted.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        for event in sorted {
            let event_id = event.event_id.clone();
            match mac.check(event) {
                MacCheck::Valid => {}
                MacCheck::Invalid => return Some(Failure::EventChanged { event_id }),
                MacCheck::Missing => return Some(Failure::EventUnsealed { event_id }),
            }
        }
    }
    let by_id: HashMap<&str, &AuditEvent> =
        events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    let mut covered: HashSet<&str> = HashSet::new();
    let mut before: Option<&CheckpointRecord> = None;
    for record in checkpoints {
        let minute = record.minute;
        let Ok(text) = key.verify(&record.note) else {
            return Some(Failure::BadSignature { minute });
        };
        let Ok(checkpoint) = Checkpoint::parse(text) else {
            return Some(Failure::CheckpointChanged { minute });
        };
        if checkpoint.minute != minute || checkpoint.size as usize != record.leaves.len() {
            return Some(Failure::CheckpointChanged { minute });
        }
        if let Some(prev) = before {
            if minute != prev.minute + 1 {
                return Some(Failure::CheckpointMissing {
                    minute: prev.minute + 1,
                });
            }
            if checkpoint.prev != Some(note_hash(&prev.note)) {
                return Some(Failure::ChainBroken { minute });
            }
        }
        let mut leaves = Vec::with_capacity(record.leaves.len());
        for id in &record.leaves {
            let Some(event) = by_id.get(id.as_str()) else {
                return Some(Failure::EventMissing {
                    event_id: id.clone(),
                    minute,
                });
            };
            match ledger::leaf(event) {
                Ok(leaf) => leaves.push(leaf),
                Err(_) => return Some(Failure::EventsChanged { minute }),
            }
            covered.insert(id.as_str());
        }
        if merkle::root(&leaves) != checkpoint.root {
            return Some(Failure::EventsChanged { minute });
        }
        before = Some(record);
    }
    let (Some(first), Some(last)) = (checkpoints.first(), checkpoints.last()) else {
        return None;
    };
    // Every event stamped in a checkpointed minute must be covered by the
    // end of the range (late ones by a later checkpoint).
    let mut added: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| {
            let of = e.at_millis.div_euclid(MINUTE_MS);
            (first.minute..=last.minute).contains(&of) && !covered.contains(e.event_id.as_str())
        })
        .collect();
    added.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    if let Some(e) = added.first() {
        return Some(Failure::EventAdded {
            event_id: e.event_id.clone(),
        });
    }
    if (last.minute + 1) * MINUTE_MS + grace_ms + CHAIN_SLACK_MS < now_ms {
        return Some(Failure::ChainEndsEarly {
            minute: last.minute,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::checkpointer::Checkpointer;
    use crate::audit::note::{LocalNoteSigner, NoteSigner as _};
    use crate::audit::{EventType, Origin, Severity};
    use crate::store::memory::MemoryStore;
    use crate::store::{
        AuditQuery, AuditStore as _, CheckpointStore as _, Transactions as _, Write,
    };

    const GRACE_MS: i64 = 70_000;
    const T0: i64 = 1_796_631_000_000;

    #[derive(Clone)]
    struct Ledger {
        key: NoteKey,
        signer: Arc<LocalNoteSigner>,
        checkpoints: Vec<CheckpointRecord>,
        events: Vec<AuditEvent>,
        now: i64,
    }

    /// Five minutes of a few events each, checkpointed.
    async fn ledger() -> Ledger {
        let store = Arc::new(MemoryStore::new());
        let (signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let signer = Arc::new(signer);
        let key = signer.key().clone();
        let checkpointer = Checkpointer::new(
            store.clone(),
            store.clone(),
            signer.clone(),
            "warden.example/audit",
            GRACE_MS,
        );
        checkpointer.run(T0).await.unwrap();
        let start = checkpointer.last_closed_minute(T0) + 1;
        for minute in start..start + 5 {
            for i in 0..3 {
                let event = AuditEvent::new(
                    EventType::LoginSuccess,
                    Severity::Info,
                    Origin::Cli {
                        operator: "local".into(),
                    },
                    minute * MINUTE_MS + i * 1000,
                    365,
                )
                .actor(format!("user:{minute}-{i}"));
                store.transact(vec![Write::Audit(event)]).await.unwrap();
            }
        }
        let now = T0 + 5 * MINUTE_MS;
        checkpointer.run(now).await.unwrap();
        let checkpoints = store.checkpoints(i64::MIN, i64::MAX).await.unwrap();
        let events = store
            .query_audit(&AuditQuery {
                actor: None,
                event_type: None,
                since_millis: 0,
                until_millis: i64::MAX,
                limit: 1000,
                before: None,
            })
            .await
            .unwrap();
        Ledger {
            key,
            signer,
            checkpoints,
            events,
            now,
        }
    }

    fn check(l: &Ledger) -> Option<Failure> {
        first_failure(&l.key, None, &l.checkpoints, &l.events, l.now, GRACE_MS)
    }

    #[tokio::test]
    async fn a_clean_range_verifies() {
        let l = ledger().await;
        assert_eq!(l.checkpoints.len(), 6);
        assert_eq!(l.events.len(), 15);
        assert_eq!(check(&l), None);
    }

    #[tokio::test]
    async fn each_kind_of_tampering_is_named() {
        let clean = ledger().await;
        let minute_of = |l: &Ledger, id: &str| {
            l.checkpoints
                .iter()
                .find(|c| c.leaves.iter().any(|x| x == id))
                .unwrap()
                .minute
        };

        // One field of one event changed in the table.
        let mut l = ledger().await;
        let id = l.events[4].event_id.clone();
        l.events[4].details.insert("forged".into(), true.into());
        let minute = minute_of(&l, &id);
        assert_eq!(check(&l), Some(Failure::EventsChanged { minute }));

        // An event deleted.
        let mut l = ledger().await;
        let gone = l.events.remove(7);
        let minute = minute_of(&l, &gone.event_id);
        assert_eq!(
            check(&l),
            Some(Failure::EventMissing {
                event_id: gone.event_id,
                minute
            })
        );

        // An event inserted in a checkpointed minute.
        let mut l = ledger().await;
        let mut forged = l.events[2].clone();
        forged.event_id = crate::clock::ulid_at(forged.at_millis);
        l.events.push(forged.clone());
        assert_eq!(
            check(&l),
            Some(Failure::EventAdded {
                event_id: forged.event_id
            })
        );

        // A checkpoint altered: its signature no longer verifies.
        let mut l = ledger().await;
        let m = l.checkpoints[2].minute;
        l.checkpoints[2].note = l.checkpoints[2].note.replacen("\n3\n", "\n2\n", 1);
        assert_eq!(check(&l), Some(Failure::BadSignature { minute: m }));

        // A checkpoint dropped.
        let mut l = ledger().await;
        let dropped = l.checkpoints.remove(3);
        assert_eq!(
            check(&l),
            Some(Failure::CheckpointMissing {
                minute: dropped.minute
            })
        );

        // The newest checkpoints deleted with their events.
        let mut l = ledger().await;
        let cut = l.checkpoints.split_off(4);
        let removed: HashSet<String> = cut.iter().flat_map(|c| c.leaves.clone()).collect();
        l.events.retain(|e| !removed.contains(&e.event_id));
        // Seen once the grace and the slack have passed since the cut: the
        // checkpoints of the S3 write-once copy show it at once.
        l.now += 10 * MINUTE_MS;
        assert_eq!(
            check(&l),
            Some(Failure::ChainEndsEarly {
                minute: l.checkpoints[3].minute
            })
        );

        // A checkpoint re-signed by another key.
        let mut l = ledger().await;
        let (other, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let text = crate::audit::note::split(&l.checkpoints[1].note)
            .unwrap()
            .0
            .to_owned();
        l.checkpoints[1].note = other.sign_note(&text).await.unwrap();
        let m = l.checkpoints[1].minute;
        assert_eq!(check(&l), Some(Failure::BadSignature { minute: m }));

        // A checkpoint replaced by one signed with the right key but a
        // different chain (rewritten by someone holding the key).
        let mut l = ledger().await;
        let mut c = Checkpoint::parse(l.key.verify(&l.checkpoints[3].note).unwrap()).unwrap();
        c.prev = Some(note_hash("another history\n"));
        l.checkpoints[3].note = l.signer.sign_note(&c.text()).await.unwrap();
        let m = l.checkpoints[3].minute;
        assert_eq!(check(&l), Some(Failure::ChainBroken { minute: m }));

        // Every failure reads as a sentence naming the minute or the event.
        assert!(
            Failure::EventAdded {
                event_id: "01X".into()
            }
            .to_string()
            .contains("01X")
        );
        assert_eq!(check(&clean), None);
    }

    #[tokio::test]
    async fn with_the_mac_key_a_changed_or_forged_event_is_named_even_within_the_grace() {
        let mac = MacKey::new(&secrecy::SecretString::from(
            "verify-audit-mac-key-0123456789abcdef0123".to_owned(),
        ))
        .unwrap();
        let mut l = ledger().await;
        for e in &mut l.events {
            mac.seal(e).unwrap();
        }
        // Sealing changed the leaves: checkpoint them again as a sealing
        // writer would have.
        let store = Arc::new(MemoryStore::new());
        for e in &l.events {
            store.transact(vec![Write::Audit(e.clone())]).await.unwrap();
        }
        let checkpointer = Checkpointer::new(
            store.clone(),
            store.clone(),
            l.signer.clone(),
            "warden.example/audit",
            GRACE_MS,
        );
        checkpointer.run(T0).await.unwrap();
        checkpointer.run(l.now).await.unwrap();
        l.checkpoints = store.checkpoints(i64::MIN, i64::MAX).await.unwrap();
        let check = |l: &Ledger| {
            first_failure(
                &l.key,
                Some(&mac),
                &l.checkpoints,
                &l.events,
                l.now,
                GRACE_MS,
            )
        };
        assert_eq!(check(&l), None);

        // One field changed: the event is named, not just its minute.
        let mut changed = l.clone();
        changed.events[6].actor = "user:someone-else".into();
        let id = changed.events[6].event_id.clone();
        assert_eq!(
            check(&changed),
            Some(Failure::EventChanged { event_id: id })
        );

        // Within the grace, where no checkpoint covers it yet: a forged MAC,
        // and none at all.
        let mut recent = event_now(l.now - 1000);
        recent.mac = Some("00".repeat(32));
        let mut forged = l.clone();
        forged.events.push(recent.clone());
        assert_eq!(
            check(&forged),
            Some(Failure::EventChanged {
                event_id: recent.event_id.clone()
            })
        );
        forged.events.last_mut().unwrap().mac = None;
        assert_eq!(
            check(&forged),
            Some(Failure::EventUnsealed {
                event_id: recent.event_id
            })
        );
    }

    fn event_now(at_millis: i64) -> AuditEvent {
        AuditEvent::new(
            EventType::LoginSuccess,
            Severity::Info,
            Origin::Cli {
                operator: "local".into(),
            },
            at_millis,
            365,
        )
    }
}
