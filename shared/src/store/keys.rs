//! Every storage key Warden builds, in one place, so that the shape of a key
//! is decided once and both adapters agree on it.

use crate::domain::Username;

/// A RevokedTokens denylist key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevocationKey {
    /// One access token, by `jti`.
    Token(String),
    /// Every token of one login session, by `sid`.
    Session(String),
}

/// The prefix of a token's denylist key.
pub const TOKEN_PREFIX: &str = "jti#";
/// The prefix of a session's denylist key.
pub const SESSION_PREFIX: &str = "sid#";
/// The prefix of a user's generation record key.
pub const GENERATION_PREFIX: &str = "user#";

impl RevocationKey {
    /// The stored key: `jti#<id>` or `sid#<id>`.
    pub fn storage_key(&self) -> String {
        match self {
            RevocationKey::Token(jti) => format!("{TOKEN_PREFIX}{jti}"),
            RevocationKey::Session(sid) => format!("{SESSION_PREFIX}{sid}"),
        }
    }
}

/// The RevokedTokens key of the key set item `name`: `keyset#<name>`.
pub fn key_set(name: &str) -> String {
    format!("keyset#{name}")
}

/// The RevokedTokens key of a user's generation record: `user#<id>`.
pub fn generation(user_id: &str) -> String {
    format!("{GENERATION_PREFIX}{user_id}")
}

/// `prefix` and `id` written into `buf`, which is cleared first: a key for
/// a lookup, where building a `String` per key would be an allocation each
/// (the embedded store's revocation check asks for three per request).
pub fn key_in<'b>(buf: &'b mut String, prefix: &str, id: &str) -> &'b str {
    buf.clear();
    buf.push_str(prefix);
    buf.push_str(id);
    buf
}

/// The RateLimits key of the per-IP login limit: `login-ip#<ip>`.
pub fn login_ip(ip: &str) -> String {
    format!("login-ip#{ip}")
}

/// The RateLimits key of a person's run limit: `runs#<user id>`.
pub fn user_runs(user_id: &str) -> String {
    format!("runs#{user_id}")
}

/// The RateLimits key that lets a person's refused runs be audited once a
/// minute: `runs-audited#<user id>`.
pub fn user_runs_audited(user_id: &str) -> String {
    format!("runs-audited#{user_id}")
}

/// The RateLimits key counting failed logins of a username that has no
/// account: `login-fail#<username>`.
pub fn unknown_user_failures(username: &Username) -> String {
    format!("login-fail#{username}")
}

/// The WebhookDeliveries key of one delivery: `<source>#<delivery id>`.
pub fn delivery(source: &str, delivery_id: &str) -> String {
    format!("{source}#{delivery_id}")
}

/// The AgentJobs key of a run request's idempotency record:
/// `idem#<caller>#<sha-256 of the client's key>`. Hashing bounds the
/// length and keeps arbitrary header text out of the key.
pub fn idempotency(caller: &str, client_key: &str) -> String {
    use sha2::{Digest as _, Sha256};
    format!(
        "idem#{caller}#{}",
        hex::encode(Sha256::digest(client_key.as_bytes()))
    )
}

/// The Agents-table key of a registered tool: `tool#<name>` (an agent id
/// never holds a `#`, so tools and agents cannot collide).
pub fn tool(name: &crate::domain::tools::ToolName) -> String {
    format!("{TOOL_PREFIX}{name}")
}

/// How every tool's Agents-table key starts.
pub const TOOL_PREFIX: &str = "tool#";

/// The ToolCalls key of an exact call's item: `exact#<exact_call_key>`.
pub fn exact_call(exact_call_key: &str) -> String {
    format!("exact#{exact_call_key}")
}

/// The ToolCalls key of an agent's pending tool-call proposals in a
/// workspace: `pending#<agent>#<workspace>`.
pub fn pending_slots(
    agent_id: &crate::domain::agents::AgentId,
    workspace_id: &crate::domain::agents::WorkspaceId,
) -> String {
    format!("pending#{agent_id}#{workspace_id}")
}

/// The ToolCalls key of a tool call's idempotency record:
/// `idem#<caller>#<sha-256 of the client's key>`, as for runs but in the
/// tool calls' own table.
pub fn tool_idempotency(caller: &str, client_key: &str) -> String {
    idempotency(caller, client_key)
}

/// The HealthSamples partition of one UTC day of probe samples:
/// `probe#YYYY-MM-DD` (`day` counts days since the epoch). A report reads
/// the days of its window side by side, each one small page.
pub fn health_day(day: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    format!(
        "probe#{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Number of partitions one day of audit events is spread over.
pub const AUDIT_SHARDS: u32 = 16;

/// The AuditLog partition key of an event: `YYYY-MM-DD#<shard>`, the UTC
/// day of `at_millis` and the shard derived from the event id (FNV-1a:
/// cheap and stable across releases, unlike std's hasher), so one day's
/// writes spread over [`AUDIT_SHARDS`] partitions.
pub fn audit_bucket(at_millis: i64, event_id: &str) -> String {
    let hash = event_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    audit_day_bucket(at_millis.div_euclid(86_400_000), hash % AUDIT_SHARDS)
}

/// Every AuditLog partition that can hold events of `day` (days since the
/// epoch, UTC): one per shard.
pub fn audit_day_buckets(day: i64) -> impl Iterator<Item = String> {
    (0..AUDIT_SHARDS).map(move |shard| audit_day_bucket(day, shard))
}

fn audit_day_bucket(day: i64, shard: u32) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}#{shard}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_in_a_buffer_is_the_stored_key() {
        let mut buf = String::from("left over from an earlier lookup");
        assert_eq!(
            key_in(&mut buf, TOKEN_PREFIX, "01J"),
            RevocationKey::Token("01J".into()).storage_key()
        );
        assert_eq!(
            key_in(&mut buf, SESSION_PREFIX, "01K"),
            RevocationKey::Session("01K".into()).storage_key()
        );
        assert_eq!(key_in(&mut buf, GENERATION_PREFIX, "u1"), generation("u1"));
        assert_eq!(generation("u1"), "user#u1");
    }
}
