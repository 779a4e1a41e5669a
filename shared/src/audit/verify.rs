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

use crate::Result;
use crate::audit::AuditEvent;
use crate::audit::checkpoint::{Checkpoint, minute_text, note_hash};
use crate::audit::checkpointer::LOOKBACK_MINUTES;
use crate::audit::copies::CheckpointCopies;
use crate::audit::mac::{MacCheck, MacKey};
use crate::audit::note::NoteKey;
use crate::audit::{ledger, merkle};
use crate::store::{AuditStore, CheckpointRecord, CheckpointStore, LedgerEvent};

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
    /// An event is not where its id and time place it (the partition of
    /// its day and shard): an item written by hand.
    EventMisplaced {
        /// The event.
        event_id: String,
        /// What is out of place.
        why: String,
    },
    /// A checkpoint (not the newest) has no write-once copy: the copy was
    /// never written, or the checkpoint was replaced along with its copy's
    /// absence hidden.
    CopyMissing {
        /// Its minute.
        minute: i64,
    },
    /// No checkpoint exists at all: the checkpointer has not run yet, or
    /// every checkpoint was deleted.
    NoCheckpoints,
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
            Self::EventMisplaced { event_id, why } => {
                write!(f, "event {event_id} is misplaced: {why}")
            }
            Self::CopyMissing { minute } => write!(
                f,
                "the checkpoint of {} has no write-once copy (it was never copied, or was replaced)",
                m(minute)
            ),
            Self::NoCheckpoints => f.write_str(
                "no checkpoint exists: the checkpointer has not run yet, or every checkpoint was deleted",
            ),
            Self::ChainEndsEarly { minute } => write!(
                f,
                "the newest checkpoint is of {}: newer ones are missing, or the checkpointer stopped",
                m(minute)
            ),
        }
    }
}

/// One stretch of the chain, checked on its own: what [`verify`] reads at a
/// time, so that a long range never has to fit in memory.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    /// The checkpoint just before the first, already checked; `None` when
    /// there is none to check against (the chain starts in this chunk).
    pub before: Option<&'a CheckpointRecord>,
    /// With no `before`: the minute before the first is past the retention
    /// (its checkpoint may be deleted), so the first's `prev` is not
    /// checked.
    pub before_expired: bool,
    /// The checkpoints to check, oldest first.
    pub checkpoints: &'a [CheckpointRecord],
    /// The checkpoints just after them (up to [`LOOKBACK_MINUTES`]), read
    /// only for the late events they cover.
    pub later: &'a [CheckpointRecord],
    /// Every event of the chunk's minutes, of the lookback before them and
    /// of the later checkpoints' minutes.
    pub events: &'a [LedgerEvent],
    /// The events checked one by one (MAC, place) are those whose time is
    /// in this window, so that over several chunks each is checked once.
    pub own_events: std::ops::RangeInclusive<i64>,
    /// An event in no checkpoint counts as added only if it is older than
    /// this (milliseconds): the newest checkpoint's end minus the grace.
    /// A younger one may be a late arrival the next checkpoint covers.
    pub added_before: i64,
}

/// The first failure of one chunk against `key` (and, given, the audit MAC
/// key `mac`): each of its own events' place and MAC; then, minute by
/// minute, each checkpoint's signature, text, chain and leaves; then the
/// events of its minutes that no checkpoint covers.
pub fn check_chunk(key: &NoteKey, mac: Option<&MacKey>, chunk: &Chunk<'_>) -> Option<Failure> {
    let mut own: Vec<&LedgerEvent> = chunk
        .events
        .iter()
        .filter(|e| chunk.own_events.contains(&e.event.at_millis))
        .collect();
    own.sort_by(|a, b| a.event.event_id.cmp(&b.event.event_id));
    for stored in own {
        let event_id = stored.event.event_id.clone();
        if let Some(why) = ledger::misplacement(&stored.event, stored.misplaced_in.as_deref()) {
            return Some(Failure::EventMisplaced { event_id, why });
        }
        match mac.map(|mac| mac.check(&stored.event)) {
            None | Some(MacCheck::Valid) => {}
            Some(MacCheck::Invalid) => return Some(Failure::EventChanged { event_id }),
            Some(MacCheck::Missing) => return Some(Failure::EventUnsealed { event_id }),
        }
    }
    let by_id: HashMap<&str, &AuditEvent> = chunk
        .events
        .iter()
        .map(|e| (e.event.event_id.as_str(), &e.event))
        .collect();
    let mut before = chunk.before;
    for record in chunk.checkpoints {
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
        match before {
            Some(prev) if minute != prev.minute + 1 => {
                return Some(Failure::CheckpointMissing {
                    minute: prev.minute + 1,
                });
            }
            Some(prev) if checkpoint.prev != Some(note_hash(&prev.note)) => {
                return Some(Failure::ChainBroken { minute });
            }
            // The first checkpoint read names one before it: that one is
            // gone (the caller reads it when it exists).
            None if checkpoint.prev.is_some() && !chunk.before_expired => {
                return Some(Failure::CheckpointMissing { minute: minute - 1 });
            }
            _ => {}
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
        }
        if merkle::root(&leaves) != checkpoint.root {
            return Some(Failure::EventsChanged { minute });
        }
        before = Some(record);
    }
    let (Some(first), Some(last)) = (chunk.checkpoints.first(), chunk.checkpoints.last()) else {
        return None;
    };
    // Every event stamped in a checkpointed minute must be covered (late
    // ones by a later checkpoint).
    let covered: HashSet<&str> = chunk
        .checkpoints
        .iter()
        .chain(chunk.later)
        .flat_map(|c| c.leaves.iter().map(String::as_str))
        .collect();
    let mut added: Vec<&AuditEvent> = chunk
        .events
        .iter()
        .map(|e| &e.event)
        .filter(|e| {
            let of = e.at_millis.div_euclid(MINUTE_MS);
            (first.minute..=last.minute).contains(&of)
                && e.at_millis < chunk.added_before
                && !covered.contains(e.event_id.as_str())
        })
        .collect();
    added.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    added.first().map(|e| Failure::EventAdded {
        event_id: e.event_id.clone(),
    })
}

/// The first failure of `checkpoints` (oldest first, the whole chain from
/// its start) against `events` (every event of their minutes and the grace
/// after them) and `key`, at `now_ms` with grace `grace_ms`: one
/// [`Chunk`], and the chain's end. `None` when all holds. With the audit
/// MAC key (`mac`), every event's MAC is checked too, those no checkpoint
/// covers yet included, so an event changed or forged by someone without
/// the key is named even within the grace.
pub fn first_failure(
    key: &NoteKey,
    mac: Option<&MacKey>,
    checkpoints: &[CheckpointRecord],
    events: &[AuditEvent],
    now_ms: i64,
    grace_ms: i64,
) -> Option<Failure> {
    let events: Vec<LedgerEvent> = events
        .iter()
        .map(|e| LedgerEvent {
            event: e.clone(),
            misplaced_in: None,
        })
        .collect();
    let chunk = Chunk {
        before: None,
        before_expired: false,
        checkpoints,
        later: &[],
        events: &events,
        own_events: i64::MIN..=i64::MAX,
        added_before: checkpoints
            .last()
            .map_or(i64::MIN, |c| (c.minute + 1) * MINUTE_MS - grace_ms),
    };
    check_chunk(key, mac, &chunk)
        .or_else(|| chain_end(checkpoints.last()?.minute, now_ms, grace_ms))
}

/// [`Failure::ChainEndsEarly`] if the newest checkpoint, of `newest`, is
/// older than the grace and the slack at `now_ms`.
fn chain_end(newest: i64, now_ms: i64, grace_ms: i64) -> Option<Failure> {
    ((newest + 1) * MINUTE_MS + grace_ms + CHAIN_SLACK_MS < now_ms)
        .then_some(Failure::ChainEndsEarly { minute: newest })
}

/// Where [`verify`] reads.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The audit log.
    pub audit: &'a dyn AuditStore,
    /// The checkpoints.
    pub checkpoints: &'a dyn CheckpointStore,
    /// The write-once copies, when the verifier can read them.
    pub copies: Option<&'a dyn CheckpointCopies>,
}

/// What [`verify`] checks against.
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    /// The pinned checkpoint key.
    pub key: &'a NoteKey,
    /// The audit MAC key, when the verifier holds it.
    pub mac: Option<&'a MacKey>,
    /// The grace G, in milliseconds.
    pub grace_ms: i64,
    /// How long events are kept (`WARDEN_AUDIT_RETENTION_DAYS`).
    pub retention_days: i64,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Events checked (their place and MAC, and each covered one's leaf).
    pub events: usize,
    /// The first and last minute checked.
    pub minutes: Option<(i64, i64)>,
    /// The minutes before this one were in the range but are past the
    /// retention minus two days: expired, not checked.
    pub expired_before: Option<i64>,
    /// The first failure; `None` when all holds.
    pub failure: Option<Failure>,
}

/// How many minutes of checkpoints [`verify`] reads at a time.
const CHUNK_MINUTES: i64 = 30;

/// Verifies the ledger from `since_ms` to `until_ms` at `now_ms`: reads the
/// checkpoints and events [`CHUNK_MINUTES`] at a time, checks each chunk
/// ([`check_chunk`]) and the write-once copies, and stops at the first
/// failure. Calls `progress` after each chunk. Checkpoints past the
/// retention minus two days are skipped (DynamoDB's TTL deletes late, so
/// their events may be partly gone), and reported so.
pub async fn verify(
    sources: Sources<'_>,
    settings: Settings<'_>,
    (since_ms, until_ms): (i64, i64),
    now_ms: i64,
    progress: &mut (dyn FnMut(&Report) + Send),
) -> Result<Report> {
    let mut report = Report::default();
    let Some(newest) = sources.checkpoints.latest_checkpoint().await? else {
        report.failure = Some(Failure::NoCheckpoints);
        return Ok(report);
    };
    let retained_from = (now_ms - (settings.retention_days - 2) * 86_400_000).div_euclid(MINUTE_MS);
    let since = since_ms.div_euclid(MINUTE_MS);
    let first = since.max(retained_from);
    if since < retained_from {
        report.expired_before = Some(retained_from);
    }
    let last = until_ms.div_euclid(MINUTE_MS).min(newest.minute);
    let mut before = if first > retained_from {
        sources
            .checkpoints
            .checkpoints(first - 1, first - 1)
            .await?
            .pop()
    } else {
        None
    };
    if let Some(b) = &before
        && settings.key.verify(&b.note).is_err()
    {
        report.failure = Some(Failure::BadSignature { minute: b.minute });
        return Ok(report);
    }
    let mut a = first;
    while a <= last {
        let b = (a + CHUNK_MINUTES - 1).min(last);
        let records = sources
            .checkpoints
            .checkpoints(a, (b + LOOKBACK_MINUTES).min(newest.minute))
            .await?;
        let split = records.partition_point(|c| c.minute <= b);
        let (chunk_records, later) = records.split_at(split);
        let end_ms = if b == newest.minute {
            now_ms
        } else {
            ((b + LOOKBACK_MINUTES).min(newest.minute) + 1) * MINUTE_MS - 1
        };
        let events = sources
            .audit
            .ledger_events((a - LOOKBACK_MINUTES) * MINUTE_MS, end_ms)
            .await?;
        let own_end = if b == last {
            end_ms
        } else {
            (b + 1) * MINUTE_MS - 1
        };
        let own = a * MINUTE_MS..=own_end;
        let copied = match sources.copies {
            Some(copies) => check_copies(copies, chunk_records, (a, b), newest.minute).await?,
            None => None,
        };
        let checked = if chunk_records.is_empty() {
            // Minutes with no checkpoint after one that exists.
            before.as_ref().map(|p| Failure::CheckpointMissing {
                minute: p.minute + 1,
            })
        } else {
            check_chunk(
                settings.key,
                settings.mac,
                &Chunk {
                    before: before.as_ref(),
                    before_expired: a == first && first - 1 < retained_from,
                    checkpoints: chunk_records,
                    later,
                    events: &events,
                    own_events: own.clone(),
                    added_before: (newest.minute + 1) * MINUTE_MS - settings.grace_ms,
                },
            )
        };
        // A bad signature is named first; then what the copies say, which is
        // more precise than the chain (a checkpoint replaced, not the one
        // after it broken).
        let failure = match checked {
            Some(bad @ Failure::BadSignature { .. }) => Some(bad),
            other => copied.or(other),
        };
        report.events += events
            .iter()
            .filter(|e| own.contains(&e.event.at_millis))
            .count();
        if let Some(failure) = failure {
            report.failure = Some(failure);
            return Ok(report);
        }
        if let Some(c) = chunk_records.last() {
            report.checkpoints += chunk_records.len();
            let from = report.minutes.map_or(chunk_records[0].minute, |m| m.0);
            report.minutes = Some((from, c.minute));
            before = Some(c.clone());
        }
        progress(&report);
        a = b + 1;
    }
    // The chain reaches the present: the copies show checkpoints deleted
    // from its end at once, and a chain that stops is seen after the slack.
    if until_ms.div_euclid(MINUTE_MS) > newest.minute {
        if let Some(copies) = sources.copies {
            let beyond = copies
                .recorded(newest.minute + 1, until_ms.div_euclid(MINUTE_MS))
                .await?;
            if let Some(minute) = beyond.keys().next() {
                report.failure = Some(Failure::CheckpointMissing { minute: *minute });
                return Ok(report);
            }
        }
        if until_ms >= now_ms - settings.grace_ms - CHAIN_SLACK_MS {
            report.failure = chain_end(newest.minute, now_ms, settings.grace_ms);
        }
    }
    Ok(report)
}

/// The first failure of `records` (the chunk of minutes `a..=b`) against
/// the write-once copies: a copied minute with no checkpoint, a checkpoint
/// whose hash was never copied (but the newest, whose copy the next run
/// repairs), or one whose minute has another hash.
async fn check_copies(
    copies: &dyn CheckpointCopies,
    records: &[CheckpointRecord],
    (a, b): (i64, i64),
    newest: i64,
) -> Result<Option<Failure>> {
    let recorded = copies.recorded(a, b).await?;
    let stored: HashMap<i64, &CheckpointRecord> = records.iter().map(|c| (c.minute, c)).collect();
    for (minute, hashes) in &recorded {
        let minute = *minute;
        match stored.get(&minute) {
            None => return Ok(Some(Failure::CheckpointMissing { minute })),
            Some(c) if !hashes.contains(&note_hash(&c.note)) => {
                return Ok(Some(Failure::CheckpointChanged { minute }));
            }
            Some(_) => {}
        }
    }
    Ok(records
        .iter()
        .find(|c| c.minute != newest && !recorded.contains_key(&c.minute))
        .map(|c| Failure::CopyMissing { minute: c.minute }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::checkpointer::Checkpointer;
    use crate::audit::note::{LocalNoteSigner, NoteSigner as _};
    use crate::audit::{EventType, Origin, Severity};
    use crate::store::memory::MemoryStore;
    use crate::store::{AuditQuery, Transactions as _, Write};

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

        // An event inserted in a checkpointed minute older than the
        // newest checkpoint minus the grace (the events are newest first).
        let mut l = ledger().await;
        let mut forged = l.events.last().unwrap().clone();
        forged.event_id = crate::clock::ulid_at(forged.at_millis);
        l.events.push(forged.clone());
        assert_eq!(
            check(&l),
            Some(Failure::EventAdded {
                event_id: forged.event_id
            })
        );
        // One in the newest checkpoint's minute may be a late arrival that
        // the next checkpoint covers: not yet added.
        let mut l = ledger().await;
        let mut late = l.events[0].clone();
        late.event_id = crate::clock::ulid_at(late.at_millis);
        l.events.push(late);
        assert_eq!(check(&l), None);

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
