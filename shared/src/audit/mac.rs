//! A MAC per audit event: HMAC-SHA256 of the event's canonical form
//! ([`super::ledger::canonical`], `mac` left out) under a key in Secrets
//! Manager that only the writing functions and the operator read.
//!
//! It needs no round trip (the writer computes it before its transaction)
//! and catches an event forged or changed by someone who can write the
//! table but not read the key, even before a checkpoint covers it. It does
//! not catch a change by someone holding the key, nor an event deleted
//! before its checkpoint: the signed checkpoints catch those.

use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::audit::AuditEvent;
use crate::audit::ledger::canonical_unsealed;
use crate::{Error, Result};

/// The shortest MAC key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The audit MAC key. Its bytes are never shown.
#[derive(Clone)]
pub struct MacKey(Hmac<Sha256>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

/// What an event's MAC says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacCheck {
    /// It matches: the event is as its writer wrote it.
    Valid,
    /// It does not: the event was changed, or forged without the key.
    Invalid,
    /// The event has none.
    Missing,
}

impl MacKey {
    /// The key from its secret text; at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(secret: &SecretString) -> Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(Error::Config(format!(
                "the audit MAC key is shorter than {MIN_KEY_BYTES} bytes"
            )));
        }
        Hmac::new_from_slice(bytes)
            .map(Self)
            .map_err(|e| Error::Config(format!("the audit MAC key is unusable: {e}")))
    }

    /// The MAC of `event` (its `mac` left out), hex.
    fn mac_of(&self, event: &AuditEvent) -> Result<String> {
        let mut mac = self.0.clone();
        mac.update(canonical_unsealed(event)?.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Sets `event.mac`: the last step before it is written.
    pub fn seal(&self, event: &mut AuditEvent) -> Result<()> {
        event.mac = Some(self.mac_of(event)?);
        Ok(())
    }

    /// Whether `event`'s MAC holds.
    pub fn check(&self, event: &AuditEvent) -> MacCheck {
        let Some(stored) = &event.mac else {
            return MacCheck::Missing;
        };
        match self.mac_of(event) {
            Ok(mac) if bool::from(mac.as_bytes().ct_eq(stored.as_bytes())) => MacCheck::Valid,
            _ => MacCheck::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EventType, Origin, Severity, ledger};

    fn key(text: &str) -> MacKey {
        MacKey::new(&SecretString::from(text.to_owned())).unwrap()
    }

    fn event() -> AuditEvent {
        AuditEvent::new(
            EventType::AgentDisabled,
            Severity::Warning,
            Origin::Cli {
                operator: "local".into(),
            },
            1_796_631_000_000,
            365,
        )
        .subject("agent:buyer")
        .detail("reason", "runaway")
    }

    #[test]
    fn a_sealed_event_checks_and_any_change_or_other_key_does_not() {
        let k = key("audit-mac-key-0123456789abcdef0123456789abcdef");
        let mut e = event();
        assert_eq!(k.check(&e), MacCheck::Missing);
        k.seal(&mut e).unwrap();
        assert_eq!(e.mac.as_deref().map(str::len), Some(64));
        assert_eq!(k.check(&e), MacCheck::Valid);
        // The MAC is part of the leaf.
        let sealed_leaf = ledger::leaf(&e).unwrap();
        let mut unsealed = e.clone();
        unsealed.mac = None;
        assert_ne!(ledger::leaf(&unsealed).unwrap(), sealed_leaf);

        let mut changed = e.clone();
        changed.details.insert("reason".into(), "routine".into());
        assert_eq!(k.check(&changed), MacCheck::Invalid);
        let mut forged = event();
        key("someone-else-s-key-0123456789abcdef0123456789")
            .seal(&mut forged)
            .unwrap();
        assert_eq!(k.check(&forged), MacCheck::Invalid);
        // Read back from JSON (as from the table), it still checks.
        let read: AuditEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(k.check(&read), MacCheck::Valid);
    }

    #[test]
    fn a_short_key_is_refused_and_never_shown() {
        assert!(MacKey::new(&SecretString::from("short".to_owned())).is_err());
        let k = key("audit-mac-key-0123456789abcdef0123456789abcdef");
        assert!(!format!("{k:?}").contains("audit-mac-key"));
    }
}
