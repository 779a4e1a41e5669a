//! The audit ledger on both store adapters: checkpoints are stored and read
//! back whole (their leaves paged on DynamoDB), the checkpointer chains one
//! per minute, and `verify` holds a clean range and names each kind of
//! tampering done to the tables directly, as someone with write access to
//! them (not to the keys) could. DynamoDB runs through the real SDK against
//! the emulator (skipped without `WARDEN_TEST_AWS_ENDPOINT`, failing
//! without it under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use secrecy::SecretString;
use warden::Error;
use warden::audit::checkpointer::Checkpointer;
use warden::audit::copies::{CheckpointCopies, MemoryCopies};
use warden::audit::mac::MacKey;
use warden::audit::note::{LocalNoteSigner, NoteKey, NoteSigner};
use warden::audit::verify::{self, Failure, Report, Settings, Sources};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::clock::ManualClock;
use warden::store::dynamo::DynamoStore;
use warden::store::memory::MemoryStore;
use warden::store::{AuditStore, CheckpointRecord, CheckpointStore, Transactions, Write};

/// 2026-12-07T08:10:00Z.
const T0: i64 = 1_796_631_000_000;
const MINUTE: i64 = 60_000;
const GRACE_MS: i64 = 70_000;
const ORIGIN: &str = "warden.test/audit";

trait LedgerStore: AuditStore + CheckpointStore + Transactions {}
impl<T: AuditStore + CheckpointStore + Transactions> LedgerStore for T {}

fn mac_key() -> MacKey {
    MacKey::new(&SecretString::from(
        "ledger-store-test-mac-key-0123456789abcdef".to_owned(),
    ))
    .unwrap()
}

/// The writers' clock: each event is written at its own time (a sealing
/// store refuses one more than a minute from its clock).
fn writer_clock() -> Arc<ManualClock> {
    WRITER_CLOCK.with(Clone::clone)
}

thread_local! {
    static WRITER_CLOCK: Arc<ManualClock> = Arc::new(ManualClock::at_millis(T0));
}

/// Writes `event` through `store` (sealed), the writer's clock set to its
/// time.
async fn write(store: &dyn LedgerStore, event: AuditEvent) {
    writer_clock().set_millis(event.at_millis);
    store.transact(vec![Write::Audit(event)]).await.unwrap();
}

/// One store, and the direct access to its tables that tampering needs.
enum Backend {
    Memory(Arc<MemoryStore>),
    Dynamo {
        store: Arc<DynamoStore>,
        /// The same tables, without the MAC key: writes as someone
        /// without it would.
        unsealed: Box<DynamoStore>,
        prefix: String,
    },
}

impl Backend {
    async fn new(dynamo: bool) -> Option<Self> {
        if !dynamo {
            return Some(Backend::Memory(Arc::new(
                MemoryStore::new()
                    .with_audit_mac(mac_key())
                    .with_writer_clock(writer_clock()),
            )));
        }
        let (store, prefix) = warden::testing::dynamo_store().await?;
        Some(Backend::Dynamo {
            store: Arc::new(
                store
                    .clone()
                    .with_audit_mac(mac_key())
                    .with_writer_clock(writer_clock()),
            ),
            unsealed: Box::new(store),
            prefix,
        })
    }

    fn store(&self) -> Arc<dyn LedgerStore> {
        match self {
            Backend::Memory(s) => s.clone(),
            Backend::Dynamo { store, .. } => store.clone(),
        }
    }

    fn client(&self) -> (&aws_sdk_dynamodb::Client, &str) {
        match self {
            Backend::Dynamo {
                unsealed, prefix, ..
            } => (unsealed.client(), prefix),
            Backend::Memory(_) => unreachable!("the memory store has no client"),
        }
    }

    fn audit_key(event: &AuditEvent) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("bucket".into(), AttributeValue::S(event.bucket())),
            ("event_id".into(), AttributeValue::S(event.event_id.clone())),
        ])
    }

    /// Sets the stored event's actor, leaving its MAC as it was.
    async fn change_actor(&self, event: &AuditEvent, actor: &str) {
        match self {
            Backend::Memory(s) => s.tamper_audit(|log| {
                log.get_mut(&event.event_id).unwrap().actor = actor.into();
            }),
            Backend::Dynamo { .. } => {
                let (client, prefix) = self.client();
                client
                    .update_item()
                    .table_name(format!("{prefix}audit-log"))
                    .set_key(Some(Self::audit_key(event)))
                    .update_expression("SET actor = :a")
                    .expression_attribute_values(":a", AttributeValue::S(actor.into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn delete_event(&self, event: &AuditEvent) {
        match self {
            Backend::Memory(s) => s.tamper_audit(|log| {
                log.remove(&event.event_id).unwrap();
            }),
            Backend::Dynamo { .. } => {
                let (client, prefix) = self.client();
                client
                    .delete_item()
                    .table_name(format!("{prefix}audit-log"))
                    .set_key(Some(Self::audit_key(event)))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Writes `event` as it is (its MAC, if any, included), past the
    /// store's sealing.
    async fn insert_event(&self, event: AuditEvent) {
        match self {
            Backend::Memory(s) => s.tamper_audit(|log| {
                log.insert(event.event_id.clone(), event);
            }),
            Backend::Dynamo { unsealed, .. } => {
                unsealed.transact(vec![Write::Audit(event)]).await.unwrap();
            }
        }
    }

    /// Moves the stored event to another shard of its day (DynamoDB), or
    /// gives it an id not made at its time (the embedded store, which has
    /// no partitions).
    async fn misplace(&self, event: &AuditEvent) {
        match self {
            Backend::Memory(s) => s.tamper_audit(|log| {
                let mut moved = log.remove(&event.event_id).unwrap();
                moved.at_millis += 1;
                log.insert(moved.event_id.clone(), moved);
            }),
            Backend::Dynamo { .. } => {
                let (client, prefix) = self.client();
                let table = format!("{prefix}audit-log");
                let mut item = client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(Self::audit_key(event)))
                    .send()
                    .await
                    .unwrap()
                    .item
                    .unwrap();
                let bucket = event.bucket();
                let (day, shard) = bucket.split_once('#').unwrap();
                let other = (shard.parse::<u32>().unwrap() + 1) % 16;
                item.insert("bucket".into(), AttributeValue::S(format!("{day}#{other}")));
                self.delete_event(event).await;
                client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Replaces the note of `minute`'s checkpoint.
    async fn set_note(&self, minute: i64, note: &str) {
        match self {
            Backend::Memory(s) => s.tamper_checkpoints(|c| {
                c.get_mut(&minute).unwrap().note = note.into();
            }),
            Backend::Dynamo { .. } => {
                let (client, prefix) = self.client();
                client
                    .update_item()
                    .table_name(format!("{prefix}checkpoints"))
                    .set_key(Some(checkpoint_key(minute, "note")))
                    .update_expression("SET note = :n")
                    .expression_attribute_values(":n", AttributeValue::S(note.into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Deletes `minute`'s checkpoint (its note and its one page).
    async fn delete_checkpoint(&self, minute: i64) {
        match self {
            Backend::Memory(s) => s.tamper_checkpoints(|c| {
                c.remove(&minute).unwrap();
            }),
            Backend::Dynamo { .. } => {
                let (client, prefix) = self.client();
                for entry in ["note", "leaves 0001"] {
                    client
                        .delete_item()
                        .table_name(format!("{prefix}checkpoints"))
                        .set_key(Some(checkpoint_key(minute, entry)))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    }
}

fn checkpoint_key(minute: i64, entry: &str) -> HashMap<String, AttributeValue> {
    let text = warden::audit::checkpoint::minute_text(minute);
    HashMap::from([
        ("log".into(), AttributeValue::S("audit".into())),
        ("entry".into(), AttributeValue::S(format!("{text} {entry}"))),
    ])
}

fn event_at(at_millis: i64, actor: &str) -> AuditEvent {
    AuditEvent::new(
        EventType::LoginSuccess,
        Severity::Info,
        Origin::Cli {
            operator: "ledger-test".into(),
        },
        at_millis,
        365,
    )
    .actor(actor)
    .detail("n", at_millis)
}

/// A ledger of five minutes of three events each, checkpointed, on one
/// backend: the store, its signer, its copies and the events written.
struct Ledger {
    backend: Backend,
    signer: Arc<LocalNoteSigner>,
    copies: Arc<MemoryCopies>,
    events: Vec<AuditEvent>,
    /// The first minute with events.
    start: i64,
    now: i64,
}

impl Ledger {
    async fn new(dynamo: bool) -> Option<Self> {
        let backend = Backend::new(dynamo).await?;
        let (signer, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
        let mut ledger = Ledger {
            backend,
            signer: Arc::new(signer),
            copies: Arc::new(MemoryCopies::new()),
            events: Vec::new(),
            start: 0,
            now: T0,
        };
        ledger.checkpointer().run(T0).await.unwrap();
        ledger.start = ledger.checkpointer().last_closed_minute(T0) + 1;
        let store = ledger.backend.store();
        for minute in ledger.start..ledger.start + 5 {
            for i in 0..3 {
                let event = event_at(minute * MINUTE + i * 1000, &format!("user:{minute}-{i}"));
                write(store.as_ref(), event).await;
            }
        }
        ledger.events = store
            .ledger_events(T0 - 86_400_000, T0 + 86_400_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        ledger.now = T0 + 5 * MINUTE;
        ledger.checkpointer().run(ledger.now).await.unwrap();
        Some(ledger)
    }

    fn checkpointer(&self) -> Checkpointer {
        let store = self.backend.store();
        Checkpointer::new(store.clone(), store, self.signer.clone(), ORIGIN, GRACE_MS)
            .with_copies(self.copies.clone())
    }

    fn key(&self) -> &NoteKey {
        self.signer.key()
    }

    async fn verify_with(&self, mac: Option<&MacKey>, copies: bool) -> Report {
        self.verify_since(mac, copies, T0 - 60 * MINUTE, 365).await
    }

    async fn verify_since(
        &self,
        mac: Option<&MacKey>,
        copies: bool,
        since: i64,
        retention_days: i64,
    ) -> Report {
        let store = self.backend.store();
        let copies: Option<&dyn CheckpointCopies> = copies.then_some(self.copies.as_ref());
        verify::verify(
            Sources {
                audit: store.as_ref(),
                checkpoints: store.as_ref(),
                copies,
            },
            Settings {
                key: self.key(),
                mac,
                grace_ms: GRACE_MS,
                retention_days,
            },
            (since, self.now),
            self.now,
            &mut |_| {},
        )
        .await
        .unwrap()
    }

    async fn failure(&self) -> Option<Failure> {
        self.verify_with(Some(&mac_key()), true).await.failure
    }

    async fn records(&self) -> Vec<CheckpointRecord> {
        self.backend
            .store()
            .checkpoints(T0 / MINUTE - 1440, T0 / MINUTE + 1440)
            .await
            .unwrap()
    }

    /// The minute of the checkpoint that covers `event`.
    async fn minute_of(&self, event: &AuditEvent) -> i64 {
        self.records()
            .await
            .into_iter()
            .find(|c| c.leaves.contains(&event.event_id))
            .unwrap()
            .minute
    }
}

async fn a_clean_range_verifies_and_counts_what_it_checked(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let report = l.verify_with(Some(&mac_key()), true).await;
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.events, 15);
    assert_eq!(report.checkpoints, 6, "the first run's and five minutes");
    // Without the MAC key and without the copies, too.
    assert_eq!(l.verify_with(None, false).await.failure, None);
    // A range reaching past the retention minus two days (3 days kept):
    // that part is reported expired, not checked; the rest is.
    let report = l
        .verify_since(Some(&mac_key()), true, T0 - 2 * 86_400_000, 3)
        .await;
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(
        report.expired_before,
        Some((l.now - 86_400_000).div_euclid(MINUTE))
    );
    assert_eq!(report.checkpoints, 6);
}

async fn a_changed_event_is_named(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let target = l.events[4].clone();
    l.backend.change_actor(&target, "user:mallory").await;
    assert_eq!(
        l.failure().await,
        Some(Failure::EventChanged {
            event_id: target.event_id.clone()
        })
    );
    // Without the MAC key, the checkpoint's root names the minute.
    let minute = l.minute_of(&target).await;
    assert_eq!(
        l.verify_with(None, true).await.failure,
        Some(Failure::EventsChanged { minute })
    );
}

async fn a_deleted_event_is_named(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let target = l.events[7].clone();
    let minute = l.minute_of(&target).await;
    l.backend.delete_event(&target).await;
    assert_eq!(
        l.failure().await,
        Some(Failure::EventMissing {
            event_id: target.event_id,
            minute
        })
    );
}

async fn an_inserted_event_is_named_with_or_without_a_valid_mac(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    // Without the key: no MAC at all, then a made-up one.
    let mut forged = event_at(l.events[2].at_millis + 5, "user:mallory");
    l.backend.insert_event(forged.clone()).await;
    assert_eq!(
        l.failure().await,
        Some(Failure::EventUnsealed {
            event_id: forged.event_id.clone()
        })
    );
    l.backend.delete_event(&forged).await;
    forged.mac = Some("00".repeat(32));
    l.backend.insert_event(forged.clone()).await;
    assert_eq!(
        l.failure().await,
        Some(Failure::EventChanged {
            event_id: forged.event_id.clone()
        })
    );
    // With a valid MAC (someone holding the key): its minute is
    // checkpointed and it is in no checkpoint.
    l.backend.delete_event(&forged).await;
    mac_key().seal(&mut forged).unwrap();
    l.backend.insert_event(forged.clone()).await;
    assert_eq!(
        l.failure().await,
        Some(Failure::EventAdded {
            event_id: forged.event_id
        })
    );
}

async fn a_misplaced_event_is_named(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let target = l.events[9].clone();
    l.backend.misplace(&target).await;
    match l.failure().await {
        Some(Failure::EventMisplaced { event_id, why }) => {
            assert_eq!(event_id, target.event_id);
            assert!(
                why.contains(if dynamo { "partition" } else { "id" }),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
}

async fn an_altered_dropped_or_resigned_checkpoint_is_named(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let records = l.records().await;
    let original = records[2].note.clone();
    let m = records[2].minute;

    // Altered: its size changed in the text.
    let altered = original.replacen("\n3\n", "\n2\n", 1);
    assert_ne!(altered, original);
    l.backend.set_note(m, &altered).await;
    assert_eq!(l.failure().await, Some(Failure::BadSignature { minute: m }));

    // Signed again by another key.
    let (other, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let text = warden::audit::note::split(&original).unwrap().0.to_owned();
    l.backend
        .set_note(m, &other.sign_note(&text).await.unwrap())
        .await;
    assert_eq!(l.failure().await, Some(Failure::BadSignature { minute: m }));

    // Signed again by the right key (a new signature, same text): the
    // next checkpoint's `prev` and the write-once copy both disagree.
    l.backend
        .set_note(m, &l.signer.sign_note(&text).await.unwrap())
        .await;
    assert_eq!(
        l.failure().await,
        Some(Failure::CheckpointChanged { minute: m })
    );
    assert_eq!(
        l.verify_with(Some(&mac_key()), false).await.failure,
        Some(Failure::ChainBroken { minute: m + 1 })
    );

    // Dropped.
    l.backend.delete_checkpoint(m).await;
    assert_eq!(
        l.failure().await,
        Some(Failure::CheckpointMissing { minute: m })
    );
    assert_eq!(
        l.verify_with(Some(&mac_key()), false).await.failure,
        Some(Failure::CheckpointMissing { minute: m })
    );
}

async fn the_newest_checkpoints_deleted_with_their_events_are_named(dynamo: bool) {
    let Some(l) = Ledger::new(dynamo).await else {
        return;
    };
    let records = l.records().await;
    let cut = &records[4..];
    for record in cut {
        for event in l
            .events
            .iter()
            .filter(|e| record.leaves.contains(&e.event_id))
        {
            l.backend.delete_event(event).await;
        }
        l.backend.delete_checkpoint(record.minute).await;
    }
    // The write-once copies show it at once.
    assert_eq!(
        l.failure().await,
        Some(Failure::CheckpointMissing {
            minute: cut[0].minute
        })
    );
    // Without them, once the grace and the slack have passed.
    assert_eq!(l.verify_with(None, false).await.failure, None);
    let mut later = l;
    later.now += 10 * MINUTE;
    assert_eq!(
        later.verify_with(None, false).await.failure,
        Some(Failure::ChainEndsEarly {
            minute: records[3].minute
        })
    );
}

async fn a_late_event_is_covered_by_the_next_checkpoint_not_flagged(dynamo: bool) {
    let Some(mut l) = Ledger::new(dynamo).await else {
        return;
    };
    let newest = l.records().await.last().unwrap().minute;
    // Events of already checkpointed minutes, written through the store
    // (sealed), land now: one of the newest checkpoint's minute, within
    // the lookback of the next checkpoint, and one of the first minute,
    // beyond it.
    let late = event_at(newest * MINUTE + 30_000, "user:late");
    write(l.backend.store().as_ref(), late.clone()).await;
    let too_late = event_at(l.start * MINUTE + 30_000, "user:too-late");
    write(l.backend.store().as_ref(), too_late.clone()).await;
    // The first is within the grace of the newest checkpoint: not added
    // (yet); the second is older, in no checkpoint: added.
    assert_eq!(
        l.failure().await,
        Some(Failure::EventAdded {
            event_id: too_late.event_id.clone()
        })
    );
    l.now += MINUTE;
    let written = l.checkpointer().run(l.now).await.unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(
        written[0].late,
        vec![late.event_id.clone()],
        "the next checkpoint covers the late one, marked late"
    );
    assert_eq!(
        l.failure().await,
        Some(Failure::EventAdded {
            event_id: too_late.event_id.clone()
        }),
        "one later than the lookback stays in no checkpoint"
    );
    l.backend.delete_event(&too_late).await;
    assert_eq!(l.failure().await, None);
}

async fn checkpoints_are_written_once_and_read_back_whole(dynamo: bool) {
    let Some(backend) = Backend::new(dynamo).await else {
        return;
    };
    let store = backend.store();
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    // More leaves than one DynamoDB page holds, some late.
    let leaves: Vec<String> = (0..10_050).map(|i| format!("01KTEST{i:019}")).collect();
    let record = |minute: i64, note: &str, leaves: Vec<String>| CheckpointRecord {
        minute,
        note: note.into(),
        late: leaves.iter().step_by(1000).cloned().collect(),
        leaves,
        expires_at: 1_900_000_000,
    };
    let big = record(29_943_850, "note one\n", leaves);
    store.put_checkpoint(big.clone()).await.unwrap();
    let empty = record(29_943_851, "note two\n", Vec::new());
    store.put_checkpoint(empty.clone()).await.unwrap();
    let refused = store
        .put_checkpoint(record(29_943_851, "another\n", Vec::new()))
        .await;
    assert!(
        matches!(refused, Err(Error::ConditionFailed)),
        "{refused:?}"
    );

    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(empty.clone())
    );
    let both = store.checkpoints(29_943_800, 29_943_900).await.unwrap();
    assert_eq!(both, vec![big.clone(), empty]);
    assert_eq!(
        store.checkpoints(29_943_850, 29_943_850).await.unwrap(),
        vec![big]
    );
    assert!(
        store
            .checkpoints(29_943_852, 29_943_900)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .checkpoints(29_943_851, 29_943_850)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_newest_of_many_checkpoints_is_the_latest(dynamo: bool) {
    let Some(backend) = Backend::new(dynamo).await else {
        return;
    };
    let store = backend.store();
    for minute in 29_943_000..29_943_300 {
        let leaves = vec![format!("01KTEST{minute:019}")];
        store
            .put_checkpoint(CheckpointRecord {
                minute,
                note: format!("note {minute}\n"),
                late: Vec::new(),
                leaves,
                expires_at: 1_900_000_000,
            })
            .await
            .unwrap();
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.minute, minute);
    }
}

async fn catching_up_hours_of_minutes_runs_after_runs(dynamo: bool) {
    let Some(backend) = Backend::new(dynamo).await else {
        return;
    };
    let store = backend.store();
    let (signer, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let checkpointer = Checkpointer::new(
        store.clone(),
        store.clone(),
        Arc::new(signer),
        ORIGIN,
        GRACE_MS,
    );
    checkpointer.run(T0).await.unwrap();
    let genesis = checkpointer.last_closed_minute(T0);
    for m in 0..400 {
        write(
            store.as_ref(),
            event_at(T0 + m * MINUTE + 5_000, "user:catch-up"),
        )
        .await;
    }
    let mut now = T0;
    let mut total = 1;
    for run in 0..4 {
        now += 120 * MINUTE;
        let written = checkpointer.run(now).await.unwrap();
        total += written.len();
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(
            latest.minute,
            checkpointer.last_closed_minute(now),
            "run {run}: {} written",
            written.len()
        );
    }
    assert_eq!(
        total as i64,
        checkpointer.last_closed_minute(now) - genesis + 1
    );
}

macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(false).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(true).await;
                }
            )*
        }
    };
}

on_both_stores!(
    checkpoints_are_written_once_and_read_back_whole,
    a_clean_range_verifies_and_counts_what_it_checked,
    a_changed_event_is_named,
    a_deleted_event_is_named,
    an_inserted_event_is_named_with_or_without_a_valid_mac,
    a_misplaced_event_is_named,
    an_altered_dropped_or_resigned_checkpoint_is_named,
    the_newest_checkpoints_deleted_with_their_events_are_named,
    a_late_event_is_covered_by_the_next_checkpoint_not_flagged,
    the_newest_of_many_checkpoints_is_the_latest,
    catching_up_hours_of_minutes_runs_after_runs,
);
