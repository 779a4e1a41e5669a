//! A checkpoint: one minute of the audit log, as the text a signed note
//! ([`super::note`]) carries.
//!
//! The text follows C2SP `tlog-checkpoint`'s layout (origin, tree size,
//! root hash in base64, then extension lines) so that its first three
//! lines read as any transparency log's, with two extension lines:
//!
//! ```text
//! warden.example/audit
//! 42
//! 2z6xr0CZ0BB8V3B9PCv+Dqx6KrMRzmCkz8dXq3a2wH8=
//! minute 2026-12-07T08:10Z
//! prev 6hW+ZkEDx1q0M3FvC+W6V5AkmYS5qYd2t3D9FMZbYtA=
//! ```
//!
//! Unlike a tlog checkpoint, the tree is the minute's alone (its events,
//! late ones included, in the order the checkpoint lists their ids), not
//! the whole log: the minutes are chained instead, each naming the SHA-256
//! of the whole signed note of the minute before (`prev genesis` for the
//! first). A minute with no event has size 0 and the empty tree's root.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::audit::merkle::Hash;
use crate::{Error, Result};

/// What the first checkpoint names as the one before it.
pub const GENESIS: &str = "genesis";

/// One minute's checkpoint, before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Whose log: a schema-less URL naming the deployment.
    pub origin: String,
    /// The minute it covers, in minutes since the Unix epoch.
    pub minute: i64,
    /// How many events it covers.
    pub size: u64,
    /// The Merkle root of their leaves.
    pub root: Hash,
    /// The SHA-256 of the previous minute's signed note; `None` for the
    /// first checkpoint.
    pub prev: Option<Hash>,
}

impl Checkpoint {
    /// The note text: five lines, each ending in a newline.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\nminute {}\nprev {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            minute_text(self.minute),
            self.prev
                .map_or_else(|| GENESIS.to_owned(), |h| STANDARD.encode(h))
        )
    }

    /// A checkpoint from its note text (as [`super::note::NoteKey::verify`]
    /// gives it), or an error naming the line that is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |what: &str| Error::BadRequest(format!("not a checkpoint: {what}"));
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("no final newline"))?
            .split('\n')
            .collect();
        let [origin, size, root, minute, prev] = lines[..] else {
            return Err(bad("not five lines"));
        };
        if origin.is_empty() || origin.contains(' ') {
            return Err(bad("the origin line"));
        }
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| !size.starts_with('+') && (size == "0" || !size.starts_with('0')))
            .ok_or_else(|| bad("the size line"))?;
        let root = hash_of(root).ok_or_else(|| bad("the root line"))?;
        let minute = minute
            .strip_prefix("minute ")
            .and_then(minute_from_text)
            .ok_or_else(|| bad("the minute line"))?;
        let prev = match prev.strip_prefix("prev ") {
            Some(GENESIS) => None,
            Some(h) => Some(hash_of(h).ok_or_else(|| bad("the prev line"))?),
            None => return Err(bad("the prev line")),
        };
        Ok(Self {
            origin: origin.to_owned(),
            minute,
            size,
            root,
            prev,
        })
    }
}

/// The SHA-256 of a whole signed note (text, blank line and signatures):
/// what the next checkpoint names as `prev`, and what is written to the
/// write-once store.
pub fn note_hash(note: &str) -> Hash {
    Sha256::digest(note.as_bytes()).into()
}

/// A base64 SHA-256 hash, exactly 32 bytes.
fn hash_of(text: &str) -> Option<Hash> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// A minute since the epoch as `YYYY-MM-DDTHH:MMZ`.
pub fn minute_text(minute: i64) -> String {
    let seconds = minute.saturating_mul(60);
    crate::clock::rfc3339(seconds)
        .strip_suffix(":00Z")
        .map_or_else(|| minute.to_string(), |m| format!("{m}Z"))
}

/// `YYYY-MM-DDTHH:MMZ` as minutes since the epoch.
pub fn minute_from_text(text: &str) -> Option<i64> {
    let seconds = text.strip_suffix('Z')?;
    let format = time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(&format!("{seconds}:00Z"), &format).ok()?;
    let minute = at.unix_timestamp().div_euclid(60);
    (minute_text(minute) == text).then_some(minute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{empty_root, leaf_hash, root};

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "warden.example/audit".into(),
            minute: 29_943_850,
            size: 2,
            root: root(&[leaf_hash(b"a"), leaf_hash(b"b")]),
            prev: Some(note_hash("the note before\n")),
        }
    }

    #[test]
    fn the_text_reads_back_as_the_same_checkpoint() {
        let c = checkpoint();
        let text = c.text();
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(
            text.lines().nth(3).unwrap().starts_with("minute 20"),
            "{text}"
        );
        assert!(text.lines().nth(3).unwrap().ends_with('Z'), "{text}");
        assert_eq!(Checkpoint::parse(&text).unwrap(), c);
        let first = Checkpoint {
            prev: None,
            size: 0,
            root: empty_root(),
            ..c
        };
        assert!(first.text().ends_with("\nprev genesis\n"));
        assert_eq!(Checkpoint::parse(&first.text()).unwrap(), first);
    }

    #[test]
    fn the_minute_is_written_to_the_minute() {
        // 2026-12-07T08:10:00Z is 1796631000 s, minute 29943850.
        assert_eq!(minute_text(29_943_850), "2026-12-07T08:10Z");
        assert_eq!(minute_from_text("2026-12-07T08:10Z"), Some(29_943_850));
        for bad in [
            "2026-12-07T08:10",
            "2026-12-07T08:10:00Z",
            "2026-12-07T8:10Z",
            "",
        ] {
            assert_eq!(minute_from_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_malformed_line_is_refused() {
        let text = checkpoint().text();
        let lines: Vec<&str> = text.lines().collect();
        let with = |i: usize, line: &str| {
            let mut l = lines.clone();
            l[i] = line;
            format!("{}\n", l.join("\n"))
        };
        for (i, line) in [
            (0, ""),
            (0, "has space"),
            (1, "-1"),
            (1, "+2"),
            (1, "02"),
            (1, "two"),
            (2, "not base64!"),
            (2, "AAAA"),
            (3, "minute yesterday"),
            (3, "2026-12-07T08:10Z"),
            (4, "prev"),
            (4, "prev AAAA"),
            (4, "previous genesis"),
        ] {
            assert!(
                Checkpoint::parse(&with(i, line)).is_err(),
                "line {i}: {line:?}"
            );
        }
        assert!(
            Checkpoint::parse(text.trim_end()).is_err(),
            "no final newline"
        );
        assert!(Checkpoint::parse(&format!("{text}extra\n")).is_err());
    }
}
