//! A self-contained proof that one audit event is in a signed checkpoint:
//! what `warden audit prove EVENT_ID` prints and `warden audit check-proof
//! FILE --key PUBKEY.pem` checks with no AWS access.
//!
//! C2SP `tlog-proof` does not fit per-minute trees (its proofs are against
//! a log's cumulative tree), so the format is Warden's own, in the same
//! spirit: a header, a blank line, then the signed checkpoint verbatim.
//!
//! ```text
//! warden audit proof
//! event {"actor":"user:01M9...","at_millis":...}
//! index 3
//! path 2z6xr0CZ0BB8V3B9PCv+Dqx6KrMRzmCkz8dXq3a2wH8=
//! path 6hW+ZkEDx1q0M3FvC+W6V5AkmYS5qYd2t3D9FMZbYtA=
//!
//! warden.example/audit
//! 5
//! ...
//! — warden.example/audit <signature>
//! ```
//!
//! `event` is the event's canonical form (JCS, [`super::ledger`]);
//! `index` its place among the checkpoint's leaves; each `path` line a
//! sibling hash of its audit path, leaf end first (RFC 6962). The key is
//! never taken from the proof: the checker is given it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use std::collections::HashMap;

use crate::audit::AuditEvent;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::checkpointer::LOOKBACK_MINUTES;
use crate::audit::ledger::canonical;
use crate::audit::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::audit::note::NoteKey;
use crate::store::{AuditStore, CheckpointStore};
use crate::{Error, Result};

/// The proof that `event_id` is in a signed checkpoint, from the stores:
/// the checkpoint whose leaves list it (its minute's, or for a late event
/// one of the [`LOOKBACK_MINUTES`] after), its events' leaves as the table
/// holds them, and the event's audit path among them. What `warden audit
/// prove` prints.
pub async fn prove(
    audit: &dyn AuditStore,
    checkpoints: &dyn CheckpointStore,
    event_id: &str,
) -> Result<Proof> {
    const MINUTE_MS: i64 = 60_000;
    let at = ulid::Ulid::from_string(event_id)
        .ok()
        .filter(|id| id.to_string() == event_id)
        .and_then(|id| i64::try_from(id.timestamp_ms()).ok())
        .ok_or_else(|| Error::BadRequest(format!("{event_id:?} is not an event id")))?;
    let minute = at.div_euclid(MINUTE_MS);
    let record = checkpoints
        .checkpoints(minute, minute + LOOKBACK_MINUTES)
        .await?
        .into_iter()
        .find(|c| c.leaves.iter().any(|l| l == event_id))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no checkpoint covers event {event_id}: it does not exist, or its minute is not checkpointed yet (a minute is, once its end is the grace old)"
            ))
        })?;
    let events: HashMap<String, AuditEvent> = audit
        .ledger_events(
            (record.minute - LOOKBACK_MINUTES) * MINUTE_MS,
            (record.minute + 1) * MINUTE_MS - 1,
        )
        .await?
        .into_iter()
        .map(|e| (e.event.event_id.clone(), e.event))
        .collect();
    let mut leaves = Vec::with_capacity(record.leaves.len());
    for id in &record.leaves {
        let event = events.get(id).ok_or_else(|| {
            Error::Conflict(format!(
                "event {id}, a leaf of the same checkpoint, is missing from the table: run `warden audit verify`"
            ))
        })?;
        leaves.push(crate::audit::ledger::leaf(event)?);
    }
    let index = record
        .leaves
        .iter()
        .position(|l| l == event_id)
        .ok_or_else(|| Error::internal("the leaf vanished"))?;
    let path = crate::audit::merkle::inclusion_path(index, &leaves)
        .ok_or_else(|| Error::internal("no audit path for a leaf in range"))?;
    let event = events
        .get(event_id)
        .ok_or_else(|| Error::NotFound(format!("event {event_id} is not in the table")))?;
    Ok(Proof {
        event: canonical(event)?,
        index: index as u64,
        path,
        checkpoint: record.note,
    })
}

/// The first line of a proof.
pub const HEADER: &str = "warden audit proof";

/// A proof of one event's inclusion in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The event's canonical form.
    pub event: String,
    /// Its place among the checkpoint's leaves.
    pub index: u64,
    /// Its audit path, leaf end first.
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What a proof that checked out shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Proven {
    /// The event.
    pub event: AuditEvent,
    /// The checkpoint that covers it, its signature verified.
    pub checkpoint: Checkpoint,
}

impl Proof {
    /// The proof as text.
    pub fn text(&self) -> String {
        let mut out = format!("{HEADER}\nevent {}\nindex {}\n", self.event, self.index);
        for h in &self.path {
            out.push_str(&format!("path {}\n", STANDARD.encode(h)));
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// A proof from its text, or an error naming what is malformed.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |what: &str| Error::BadRequest(format!("not a proof: {what}"));
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not \"warden audit proof\""));
        }
        let event = lines
            .next()
            .and_then(|l| l.strip_prefix("event "))
            .ok_or_else(|| bad("no event line"))?
            .to_owned();
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("no index line"))?;
        let mut path = Vec::new();
        for line in lines {
            let hash = line
                .strip_prefix("path ")
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| bad("a path line is not a base64 SHA-256 hash"))?;
            path.push(hash);
        }
        Ok(Self {
            event,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Checks the proof against `key` alone: the checkpoint's signature,
    /// the event's canonical form, and its audit path up to the
    /// checkpoint's root. An error says which failed.
    pub fn check(&self, key: &NoteKey) -> Result<Proven> {
        let text = key.verify(&self.checkpoint)?;
        let checkpoint = Checkpoint::parse(text)?;
        let event: AuditEvent = serde_json::from_str(&self.event)
            .map_err(|e| Error::BadRequest(format!("the event is not an audit event: {e}")))?;
        if canonical(&event)? != self.event {
            return Err(Error::BadRequest(
                "the event is not in its canonical form (JCS): it was changed".into(),
            ));
        }
        let fits = usize::try_from(self.index)
            .ok()
            .zip(usize::try_from(checkpoint.size).ok())
            .is_some_and(|(index, size)| {
                verify_inclusion(
                    index,
                    size,
                    &leaf_hash(self.event.as_bytes()),
                    &self.path,
                    &checkpoint.root,
                )
            });
        if !fits {
            return Err(Error::BadRequest(format!(
                "the event is not leaf {} of the checkpoint of {}: the event, the path or the index was changed",
                self.index,
                crate::audit::checkpoint::minute_text(checkpoint.minute)
            )));
        }
        Ok(Proven { event, checkpoint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{inclusion_path, root};
    use crate::audit::note::{LocalNoteSigner, NoteSigner as _};
    use crate::audit::{EventType, Origin, Severity};

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn events(n: usize) -> Vec<AuditEvent> {
        (0..n)
            .map(|i| {
                AuditEvent::new(
                    EventType::LoginSuccess,
                    Severity::Info,
                    Origin::Cli {
                        operator: "local".into(),
                    },
                    1_796_631_000_000 + i as i64,
                    365,
                )
                .actor(format!("user:{i}"))
            })
            .collect()
    }

    /// A signed checkpoint of `events` and the proof of event `index`.
    fn prove(signer: &LocalNoteSigner, events: &[AuditEvent], index: usize) -> Proof {
        let canon: Vec<String> = events.iter().map(|e| canonical(e).unwrap()).collect();
        let leaves: Vec<Hash> = canon.iter().map(|c| leaf_hash(c.as_bytes())).collect();
        let checkpoint = Checkpoint {
            origin: "warden.example/audit".into(),
            minute: 29_943_850,
            size: leaves.len() as u64,
            root: root(&leaves),
            prev: None,
        };
        Proof {
            event: canon[index].clone(),
            index: index as u64,
            path: inclusion_path(index, &leaves).unwrap(),
            checkpoint: block(signer.sign_note(&checkpoint.text())).unwrap(),
        }
    }

    #[test]
    fn a_proof_reads_back_and_checks_against_the_pinned_key() {
        let (signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let events = events(5);
        let proof = prove(&signer, &events, 3);
        let text = proof.text();
        assert!(text.starts_with("warden audit proof\nevent {"), "{text}");
        let read = Proof::parse(&text).unwrap();
        assert_eq!(read, proof);
        let proven = read.check(signer.key()).unwrap();
        assert_eq!(proven.event, events[3]);
        assert_eq!(proven.checkpoint.size, 5);
    }

    #[test]
    fn an_altered_event_path_index_or_key_fails() {
        let (signer, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let proof = prove(&signer, &events(5), 3);
        let key = signer.key();

        let mut changed = proof.clone();
        changed.event = changed.event.replace("user:3", "user:9");
        assert!(changed.check(key).is_err(), "an event changed");
        let mut spaced = proof.clone();
        spaced.event = spaced.event.replacen(':', ": ", 1);
        let err = spaced.check(key).unwrap_err().to_string();
        assert!(err.contains("canonical"), "{err}");
        let mut path = proof.clone();
        path.path[0][0] ^= 1;
        assert!(path.check(key).is_err(), "a path changed");
        let mut index = proof.clone();
        index.index = 2;
        assert!(index.check(key).is_err(), "an index changed");
        index.index = 5;
        assert!(index.check(key).is_err(), "an index past the tree");
        let (other, _) = LocalNoteSigner::generate("warden.example/audit").unwrap();
        let err = proof.check(other.key()).unwrap_err().to_string();
        assert!(err.contains("no signature of the key"), "{err}");
        let mut note = proof.clone();
        note.checkpoint = note.checkpoint.replacen("\n5\n", "\n6\n", 1);
        assert!(note.check(key).is_err(), "a checkpoint changed");
        for bad in [
            "",
            "warden audit proof\n",
            "other\nevent {}\nindex 0\n\nx\n",
        ] {
            assert!(Proof::parse(bad).is_err(), "{bad:?}");
        }
    }
}
