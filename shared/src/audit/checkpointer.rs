//! The checkpointer: exactly one signed checkpoint per minute of the audit
//! log, empty minutes included, chained, never forked.
//!
//! A minute is checkpointed once its end is at least G old (the grace: the
//! longest a writer's transaction can take plus the largest writer clock
//! error accepted), so every event stamped in it has had time to land.
//! Each run starts after the newest stored checkpoint (or, on the very
//! first run, at the newest closed minute: the ledger covers what comes
//! after it exists) and catches up minute by minute. Each checkpoint is a
//! conditional put: a duplicate or concurrent run that lost it reads the
//! stored one and chains on from it, so there is one chain.
//!
//! A checkpoint's leaves are the minute's events, plus every event of an
//! already checkpointed minute within [`LOOKBACK_MINUTES`] that no
//! checkpoint covers yet (it landed after its minute was closed): those
//! are listed as late. Leaves are in event-id order.

use std::collections::HashSet;
use std::sync::Arc;

use crate::audit::checkpoint::{Checkpoint, note_hash};
use crate::audit::copies::CheckpointCopies;
use crate::audit::note::NoteSigner;
use crate::audit::{AuditEvent, ledger, merkle};
use crate::store::{AuditStore, CheckpointRecord, CheckpointStore, LedgerEvent};
use crate::{Error, Result};

/// How far back a checkpoint looks for late events, in minutes. A late
/// event landed more than the grace after its minute ended: its writer's
/// transaction outlived the writer's own timeout on DynamoDB's side, which
/// takes seconds, not minutes. Three minutes covers that many times over,
/// and keeps each run's read to four minutes of events; `warden audit
/// verify` names anything later as added.
pub const LOOKBACK_MINUTES: i64 = 3;

/// How many minutes of events one read covers while catching up.
pub const WINDOW_MINUTES: i64 = 10;

/// What a window's checkpoints are made from (see [`Checkpointer::run`]).
struct Window {
    /// Every event of the window and its lookback, in no set order.
    events: Vec<AuditEvent>,
    /// The minutes checkpointed so far, the lookback's and the window's.
    checkpointed: HashSet<i64>,
    /// The events those checkpoints cover.
    covered: HashSet<String>,
}

impl Window {
    /// Counts `record` as written: its minute checkpointed, its leaves
    /// covered.
    fn checkpointed(&mut self, record: &CheckpointRecord) {
        self.checkpointed.insert(record.minute);
        self.covered.extend(record.leaves.iter().cloned());
    }
}

/// The most minutes one run checkpoints: a checkpointer far behind (the
/// schedule stopped for hours) catches up over several runs.
pub const MAX_MINUTES_PER_RUN: i64 = 120;

/// How much longer than the events it covers a checkpoint is kept, in
/// days: verification reports checkpoints past the retention minus two
/// days as expired (DynamoDB's TTL deletes late), and their chain stays
/// whole a while after.
pub const KEPT_AFTER_EVENTS_DAYS: i64 = 7;

/// One minute in milliseconds.
const MINUTE_MS: i64 = 60_000;

/// Writes the checkpoints (see the module's documentation).
pub struct Checkpointer {
    audit: Arc<dyn AuditStore>,
    checkpoints: Arc<dyn CheckpointStore>,
    signer: Arc<dyn NoteSigner>,
    origin: String,
    grace_ms: i64,
    retention_days: i64,
    copies: Option<Arc<dyn CheckpointCopies>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("origin", &self.origin)
            .field("grace_ms", &self.grace_ms)
            .finish_non_exhaustive()
    }
}

impl Checkpointer {
    /// A checkpointer of the log `audit`, writing to `checkpoints`, signing
    /// with `signer`, naming the log `origin`, with a grace of `grace_ms`.
    pub fn new(
        audit: Arc<dyn AuditStore>,
        checkpoints: Arc<dyn CheckpointStore>,
        signer: Arc<dyn NoteSigner>,
        origin: &str,
        grace_ms: i64,
    ) -> Self {
        Self {
            audit,
            checkpoints,
            signer,
            origin: origin.to_owned(),
            grace_ms,
            retention_days: 365,
            copies: None,
        }
    }

    /// The checkpointer of the deployment `config` describes, over `store`:
    /// the log named [`crate::config::Config::ledger_origin`], its grace and
    /// retention, signing with `signer` and copying to `copies`. The
    /// checkpointer function's and `warden serve`'s.
    pub fn for_deployment<S>(
        config: &crate::config::Config,
        store: Arc<S>,
        signer: Arc<dyn NoteSigner>,
        copies: Arc<dyn CheckpointCopies>,
    ) -> Self
    where
        S: AuditStore + CheckpointStore + 'static,
    {
        Self::new(
            store.clone(),
            store,
            signer,
            &config.ledger_origin(),
            config.ledger_grace_ms(),
        )
        .with_retention_days(config.audit_retention_days)
        .with_copies(copies)
    }

    /// This checkpointer, copying each checkpoint's hash to `copies` (the
    /// write-once store, [`crate::audit::copies`]).
    pub fn with_copies(mut self, copies: Arc<dyn CheckpointCopies>) -> Self {
        self.copies = Some(copies);
        self
    }

    /// Copies `record`'s hash to the write-once store, if there is one.
    async fn copy(&self, record: &CheckpointRecord) -> Result<()> {
        match &self.copies {
            Some(copies) => copies.record(record.minute, &note_hash(&record.note)).await,
            None => Ok(()),
        }
    }

    /// This checkpointer, for events kept `days` (`WARDEN_AUDIT_RETENTION_DAYS`;
    /// 365 unless set): each checkpoint is kept [`KEPT_AFTER_EVENTS_DAYS`]
    /// longer than the events it covers.
    pub fn with_retention_days(mut self, days: i64) -> Self {
        self.retention_days = days;
        self
    }

    /// The newest minute whose end is at least the grace old at `now_ms`.
    pub fn last_closed_minute(&self, now_ms: i64) -> i64 {
        (now_ms - self.grace_ms).div_euclid(MINUTE_MS) - 1
    }

    /// Checkpoints every closed minute after the newest checkpoint (at most
    /// [`MAX_MINUTES_PER_RUN`]); the checkpoints this run wrote. The events
    /// are read [`WINDOW_MINUTES`] at a time with the lookback before them,
    /// once for every checkpoint of the window.
    pub async fn run(&self, now_ms: i64) -> Result<Vec<CheckpointRecord>> {
        let last = self.last_closed_minute(now_ms);
        let mut prev = self.checkpoints.latest_checkpoint().await?;
        if let Some(newest) = &prev {
            // Repairs a copy lost between the put and the copy of the last
            // run (a copy is idempotent).
            self.copy(newest).await?;
        }
        let first = prev.as_ref().map_or(last, |p| p.minute + 1);
        let end = last.min(first + MAX_MINUTES_PER_RUN - 1);
        let mut written = Vec::new();
        let mut start = first;
        while start <= end {
            let stop = (start + WINDOW_MINUTES - 1).min(end);
            let mut window = self.window(start, stop).await?;
            for minute in start..=stop {
                let record = self.checkpoint_of(minute, prev.as_ref(), &window).await?;
                let stored = match self.checkpoints.put_checkpoint(record.clone()).await {
                    Ok(()) => {
                        written.push(record.clone());
                        record
                    }
                    // Another run wrote this minute first: chain on from its.
                    Err(Error::ConditionFailed) => self
                        .checkpoints
                        .checkpoints(minute, minute)
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            Error::internal(format!(
                                "the checkpoint of minute {minute} exists and cannot be read"
                            ))
                        })?,
                    Err(e) => return Err(e),
                };
                self.copy(&stored).await?;
                window.checkpointed(&stored);
                prev = Some(stored);
            }
            start = stop + 1;
        }
        Ok(written)
    }

    /// What the checkpoints of minutes `start..=stop` are made from: the
    /// events from [`LOOKBACK_MINUTES`] before `start` to the end of
    /// `stop`, and the checkpoints of the lookback.
    async fn window(&self, start: i64, stop: i64) -> Result<Window> {
        let from = start - LOOKBACK_MINUTES;
        let mut window = Window {
            events: self
                .audit
                .ledger_events(from * MINUTE_MS, (stop + 1) * MINUTE_MS - 1)
                .await?
                .into_iter()
                .map(|LedgerEvent { event, .. }| event)
                .collect(),
            checkpointed: HashSet::new(),
            covered: HashSet::new(),
        };
        for earlier in self.checkpoints.checkpoints(from, start - 1).await? {
            window.checkpointed(&earlier);
        }
        Ok(window)
    }

    /// The signed checkpoint of `minute`, chained to `prev`, from `window`.
    async fn checkpoint_of(
        &self,
        minute: i64,
        prev: Option<&CheckpointRecord>,
        window: &Window,
    ) -> Result<CheckpointRecord> {
        let mut leaves: Vec<(&AuditEvent, bool)> = Vec::new();
        for event in &window.events {
            let of = event.at_millis.div_euclid(MINUTE_MS);
            if of == minute {
                leaves.push((event, false));
            } else if of < minute
                && of >= minute - LOOKBACK_MINUTES
                && window.checkpointed.contains(&of)
                && !window.covered.contains(event.event_id.as_str())
            {
                leaves.push((event, true));
            }
        }
        leaves.sort_by(|a, b| a.0.event_id.cmp(&b.0.event_id));
        let hashes = leaves
            .iter()
            .map(|(e, _)| ledger::leaf(e))
            .collect::<Result<Vec<_>>>()?;
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            minute,
            size: hashes.len() as u64,
            root: merkle::root(&hashes),
            prev: prev.map(|p| note_hash(&p.note)),
        };
        let note = self.signer.sign_note(&checkpoint.text()).await?;
        Ok(CheckpointRecord {
            minute,
            note,
            late: leaves
                .iter()
                .filter(|(_, late)| *late)
                .map(|(e, _)| e.event_id.clone())
                .collect(),
            leaves: leaves
                .into_iter()
                .map(|(e, _)| e.event_id.clone())
                .collect(),
            expires_at: (minute + 1) * 60 + (self.retention_days + KEPT_AFTER_EVENTS_DAYS) * 86_400,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::note::{LocalNoteSigner, NoteKey};
    use crate::audit::{EventType, Origin, Severity};
    use crate::store::memory::MemoryStore;
    use crate::store::{AuditQuery, Transactions as _, Write};

    const GRACE_MS: i64 = 70_000;
    /// 2026-12-07T08:10:00Z.
    const T0: i64 = 1_796_631_000_000;

    struct World {
        store: Arc<MemoryStore>,
        key: NoteKey,
        checkpointer: Checkpointer,
    }

    fn world() -> World {
        let store = Arc::new(MemoryStore::new());
        let (signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let key = signer.key().clone();
        let checkpointer = Checkpointer::new(
            store.clone(),
            store.clone(),
            Arc::new(signer),
            "warden.example/audit",
            GRACE_MS,
        );
        World {
            store,
            key,
            checkpointer,
        }
    }

    async fn event_at(store: &MemoryStore, at_millis: i64) -> String {
        let event = AuditEvent::new(
            EventType::LoginSuccess,
            Severity::Info,
            Origin::Cli {
                operator: "local".into(),
            },
            at_millis,
            365,
        );
        let id = event.event_id.clone();
        store.transact(vec![Write::Audit(event)]).await.unwrap();
        id
    }

    /// Checks the stored chain: each note verifies, each `prev` is the hash
    /// of the note before, minutes follow one another.
    async fn assert_chain(w: &World) -> Vec<Checkpoint> {
        let all = w.store.checkpoints(i64::MIN, i64::MAX).await.unwrap();
        let mut parsed: Vec<Checkpoint> = Vec::new();
        for (i, record) in all.iter().enumerate() {
            let c = Checkpoint::parse(w.key.verify(&record.note).unwrap()).unwrap();
            assert_eq!(c.minute, record.minute);
            assert_eq!(c.size as usize, record.leaves.len());
            if i == 0 {
                assert_eq!(c.prev, None);
            } else {
                assert_eq!(c.minute, parsed[i - 1].minute + 1, "no gap");
                assert_eq!(c.prev, Some(note_hash(&all[i - 1].note)), "chained");
            }
            parsed.push(c);
        }
        parsed
    }

    #[tokio::test]
    async fn one_checkpoint_a_minute_empty_minutes_included_chained() {
        let w = world();
        let first = w.checkpointer.run(T0).await.unwrap();
        // The first run: the newest closed minute only.
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].minute, w.checkpointer.last_closed_minute(T0));
        // Three minutes later: three more, and a second run at the same
        // time writes nothing.
        let later = w.checkpointer.run(T0 + 3 * MINUTE_MS).await.unwrap();
        assert_eq!(later.len(), 3);
        assert!(
            w.checkpointer
                .run(T0 + 3 * MINUTE_MS)
                .await
                .unwrap()
                .is_empty()
        );
        let chain = assert_chain(&w).await;
        assert_eq!(chain.len(), 4);
        assert!(
            chain
                .iter()
                .all(|c| c.size == 0 && c.root == merkle::empty_root())
        );
    }

    #[tokio::test]
    async fn a_minutes_events_are_its_leaves_once_the_grace_has_passed() {
        let w = world();
        w.checkpointer.run(T0).await.unwrap();
        let minute = w.checkpointer.last_closed_minute(T0) + 1;
        let ids = [
            event_at(&w.store, minute * MINUTE_MS + 5).await,
            event_at(&w.store, minute * MINUTE_MS + 59_999).await,
        ];
        // Not yet: the minute's end is not G old.
        let now = (minute + 1) * MINUTE_MS + GRACE_MS - 1;
        assert!(w.checkpointer.run(now).await.unwrap().is_empty());
        let written = w.checkpointer.run(now + 1).await.unwrap();
        assert_eq!(written.len(), 1);
        let mut want = ids.to_vec();
        want.sort();
        assert_eq!(written[0].leaves, want);
        assert!(written[0].late.is_empty());
        let chain = assert_chain(&w).await;
        let events = w
            .store
            .query_audit(&AuditQuery {
                actor: None,
                event_type: None,
                since_millis: 0,
                until_millis: i64::MAX,
                limit: 10,
                before: None,
            })
            .await
            .unwrap();
        let mut events: Vec<AuditEvent> = events;
        events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        let leaves: Vec<_> = events.iter().map(|e| ledger::leaf(e).unwrap()).collect();
        assert_eq!(chain.last().unwrap().root, merkle::root(&leaves));
    }

    #[tokio::test]
    async fn an_event_that_lands_after_its_minute_is_covered_late() {
        let w = world();
        w.checkpointer.run(T0).await.unwrap();
        let closed = w.checkpointer.last_closed_minute(T0);
        // Stamped in the checkpointed minute, written only now.
        let late = event_at(&w.store, closed * MINUTE_MS + 30_000).await;
        let written = w.checkpointer.run(T0 + MINUTE_MS).await.unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].leaves, std::slice::from_ref(&late));
        assert_eq!(written[0].late, std::slice::from_ref(&late));
        // Covered once: the next checkpoint does not list it again.
        let next = w.checkpointer.run(T0 + 2 * MINUTE_MS).await.unwrap();
        assert!(next[0].leaves.is_empty(), "{next:?}");
        assert_chain(&w).await;
    }

    #[tokio::test]
    async fn two_checkpointers_never_fork_the_chain() {
        let w = world();
        let (other_signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let other = Checkpointer::new(
            w.store.clone(),
            w.store.clone(),
            Arc::new(other_signer),
            "warden.example/audit",
            GRACE_MS,
        );
        w.checkpointer.run(T0).await.unwrap();
        // Both catch up over the same minutes, interleaved.
        let (a, b) = tokio::join!(
            w.checkpointer.run(T0 + 5 * MINUTE_MS),
            other.run(T0 + 5 * MINUTE_MS)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 5, "each minute written once");
        let all = w.store.checkpoints(i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(all.len(), 6);
        // One chain: each prev is the stored note before it (whichever key
        // signed it).
        for pair in all.windows(2) {
            let text = crate::audit::note::split(&pair[1].note).unwrap().0;
            let c = Checkpoint::parse(text).unwrap();
            assert_eq!(c.prev, Some(note_hash(&pair[0].note)));
        }
    }

    /// A view of the checkpoints that misses the newest ones: what a run
    /// that read before another's writes sees.
    struct Stale {
        inner: Arc<MemoryStore>,
        latest: CheckpointRecord,
    }

    #[async_trait::async_trait]
    impl CheckpointStore for Stale {
        async fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>> {
            Ok(Some(self.latest.clone()))
        }
        async fn checkpoints(&self, from: i64, to: i64) -> Result<Vec<CheckpointRecord>> {
            self.inner.checkpoints(from, to).await
        }
        async fn put_checkpoint(&self, record: CheckpointRecord) -> Result<()> {
            self.inner.put_checkpoint(record).await
        }
    }

    #[tokio::test]
    async fn a_run_that_loses_a_minute_chains_on_from_the_stored_checkpoint() {
        let w = world();
        let genesis = w.checkpointer.run(T0).await.unwrap().remove(0);
        w.checkpointer.run(T0 + 3 * MINUTE_MS).await.unwrap();
        let (other_signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let stale = Checkpointer::new(
            w.store.clone(),
            Arc::new(Stale {
                inner: w.store.clone(),
                latest: genesis,
            }),
            Arc::new(other_signer),
            "warden.example/audit",
            GRACE_MS,
        );
        // Its three puts fail (the minutes are written); it reads each
        // stored checkpoint and writes only the minute after them.
        let written = stale.run(T0 + 4 * MINUTE_MS).await.unwrap();
        assert_eq!(written.len(), 1);
        let all = w.store.checkpoints(i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(all.len(), 5);
        // The one it wrote follows the newest stored one, as every other
        // follows the one before it.
        for pair in all.windows(2) {
            let text = crate::audit::note::split(&pair[1].note).unwrap().0;
            let c = Checkpoint::parse(text).unwrap();
            assert_eq!(c.minute, pair[0].minute + 1);
            assert_eq!(c.prev, Some(note_hash(&pair[0].note)));
        }
        assert_eq!(written[0], all[4]);
    }
}
