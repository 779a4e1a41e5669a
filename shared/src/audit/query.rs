//! The audit log's one query, as `warden audit query` and `GET /audit` ask
//! it: the events of a window reaching back from now (`since`, a duration
//! such as `30m`, `24h` or `7d`), newest first, optionally of one actor
//! (through the actor index) and of one type, at most `limit` of them and,
//! for the next page, only those older than an event already shown
//! (`before`). The command line and the URL name the parameters their own
//! way ([`Surface`]); the rules are these, once.

use serde::Serialize;
use serde_json::Value;

use crate::audit::{AuditEvent, EventType};
use crate::store::{AuditQuery, AuditStore};
use crate::{Error, Result};

/// The longest window (`since`).
pub const MAX_SINCE_SECS: i64 = 365 * 86_400;

/// The longest window read without an actor: every day costs 16 queries
/// (one per shard), so a month is 496.
pub const MAX_SINCE_WITHOUT_ACTOR_SECS: i64 = 31 * 86_400;

/// How far the asker's clock may be from the clocks that stamped the
/// events (an operator's machine, another function): added to the end of
/// the window, so a clock running behind does not hide the newest events.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// The window when none is given.
pub const DEFAULT_SINCE: &str = "24h";

/// `GET /audit`'s page size when none is given.
pub const DEFAULT_PAGE: usize = 50;

/// `GET /audit`'s largest page.
pub const MAX_PAGE: usize = 200;

/// The longest actor, in bytes of UTF-8: DynamoDB's limit on a partition
/// key (the actor index's), beyond which a read would fail rather than
/// find nothing.
pub const MAX_ACTOR_BYTES: usize = 2048;

/// Where the query is asked from: its refusals name the parameters as the
/// asker wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `warden audit query --since ...`.
    Cli,
    /// `GET /audit?since=...`.
    Http,
}

impl Surface {
    /// How this asker writes the parameter `name`.
    fn name(self, name: &str) -> String {
        match self {
            Surface::Cli => format!("--{name}"),
            Surface::Http => name.to_owned(),
        }
    }
}

/// A query as asked, its parameters read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Only this actor's events.
    pub actor: Option<String>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
    /// How far back from now, in seconds ([`parse_since`]).
    pub since_secs: i64,
    /// At most this many events (the newest).
    pub limit: usize,
    /// Only events older than this one (an event id): the next page.
    pub before: Option<String>,
}

impl Request {
    /// The store's query at `now_millis`. A window longer than
    /// [`MAX_SINCE_WITHOUT_ACTOR_SECS`] needs an actor; an actor is 1 to
    /// [`MAX_ACTOR_BYTES`] bytes; the limit is at least 1.
    pub fn at(&self, now_millis: i64, surface: Surface) -> Result<AuditQuery> {
        let name = |param| surface.name(param);
        if let Some(actor) = &self.actor
            && (actor.is_empty() || actor.len() > MAX_ACTOR_BYTES)
        {
            return Err(Error::BadRequest(format!(
                "{} must be 1 to {MAX_ACTOR_BYTES} bytes",
                name("actor")
            )));
        }
        if self.actor.is_none() && self.since_secs > MAX_SINCE_WITHOUT_ACTOR_SECS {
            return Err(Error::BadRequest(format!(
                "without {}, {} is at most 31d (each day is 16 queries); name an actor to look further back",
                name("actor"),
                name("since")
            )));
        }
        if self.limit == 0 {
            return Err(Error::BadRequest(format!(
                "{} must be at least 1",
                name("limit")
            )));
        }
        Ok(AuditQuery {
            actor: self.actor.clone(),
            event_type: self.event_type,
            since_millis: now_millis.saturating_sub(self.since_secs.saturating_mul(1000)),
            until_millis: now_millis.saturating_add(CLOCK_SKEW_SECS * 1000),
            limit: self.limit,
            before: self.before.clone(),
        })
    }

    /// `GET /audit`'s query parameters: `actor`, `type`, `since` (default
    /// [`DEFAULT_SINCE`]), `limit` (1 to [`MAX_PAGE`], default
    /// [`DEFAULT_PAGE`]) and `next` (an event id, as the previous page
    /// gave it). A repeated parameter counts once, its first value, as on
    /// every listing; others are ignored.
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let since_secs = parse_since(get("since").unwrap_or(DEFAULT_SINCE), Surface::Http)?;
        let event_type = get("type").map(parse_event_type).transpose()?;
        let limit = crate::http::page_limit(get("limit"), DEFAULT_PAGE, MAX_PAGE)?;
        let before = get("next")
            .map(|next| {
                if is_event_id(next) {
                    Ok(next.to_owned())
                } else {
                    Err(Error::BadRequest(
                        "next must be the event id a previous page gave (a ULID)".into(),
                    ))
                }
            })
            .transpose()?;
        Ok(Self {
            actor: get("actor").map(str::to_owned),
            event_type,
            since_secs,
            limit,
            before,
        })
    }
}

/// At most 64 characters of what the asker wrote, quoted and escaped, for
/// a refusal that names it.
fn quoted(text: &str) -> String {
    let head: String = text.chars().take(64).collect();
    if head.len() < text.len() {
        format!("{head:?}...")
    } else {
        format!("{head:?}")
    }
}

/// Parses `since`: a whole number of minutes, hours or days (`30m`, `24h`,
/// `7d`), at least one minute and at most [`MAX_SINCE_SECS`]. Returns
/// seconds.
pub fn parse_since(text: &str, surface: Surface) -> Result<i64> {
    let bad = || {
        Error::BadRequest(format!(
            "{} {} is not a duration like 30m, 24h or 7d (a whole number of minutes, hours or days, at most 365d)",
            surface.name("since"),
            quoted(text)
        ))
    };
    let trimmed = text.trim();
    // The unit is the last character, whatever its width in bytes.
    let Some((at, unit)) = trimmed.char_indices().next_back() else {
        return Err(bad());
    };
    let number = &trimmed[..at];
    let unit_secs = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = number.parse().map_err(|_| bad())?;
    match n.checked_mul(unit_secs) {
        Some(secs) if secs > 0 && secs <= MAX_SINCE_SECS => Ok(secs),
        _ => Err(bad()),
    }
}

/// Parses `type`: an event type's name, in any case (`login_failed` is
/// `LOGIN_FAILED`); an unknown one is refused with the list of them all.
pub fn parse_event_type(text: &str) -> Result<EventType> {
    EventType::parse(&text.trim().to_ascii_uppercase()).ok_or_else(|| {
        Error::BadRequest(format!(
            "unknown event type {}; the event types are: {}",
            quoted(text),
            EventType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Whether `text` is an event id as Warden writes them: a ULID in its
/// canonical form (26 characters of Crockford's base 32, upper case, the
/// first at most `7`), exactly what `GET /audit`'s `next` takes.
pub fn is_event_id(text: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = text.as_bytes();
    bytes.len() == 26
        && (b'0'..=b'7').contains(&bytes[0])
        && bytes.iter().all(|b| ALPHABET.contains(b))
}

/// One page of `GET /audit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The events, newest first, each as [`event_json`] renders it.
    pub events: Vec<Value>,
    /// The last event's id when the page is full (pass it as `next` for
    /// the events before it), else `None`.
    pub next: Option<String>,
}

/// The forms under which the log holds `actor`'s events. A user is named
/// `user:<id>` everywhere ([`crate::audit::user_actor`]); a user id given
/// bare or so prefixed is also looked for bare, as events written before
/// that (auth events named users by their bare id) carry it. Any other
/// actor is itself.
pub fn actor_forms(actor: &str) -> Vec<String> {
    let id = actor
        .strip_prefix(crate::audit::USER_PREFIX)
        .unwrap_or(actor);
    if is_event_id(id) {
        vec![crate::audit::user_actor(id), id.to_owned()]
    } else {
        vec![actor.to_owned()]
    }
}

/// The events `query` asks for, newest first, at most its limit: of each
/// form of its actor ([`actor_forms`]), merged.
pub async fn events(store: &dyn AuditStore, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
    let Some(actor) = &query.actor else {
        return store.query_audit(query).await;
    };
    let mut events = Vec::new();
    for form in actor_forms(actor) {
        let one = AuditQuery {
            actor: Some(form),
            ..query.clone()
        };
        events.extend(store.query_audit(&one).await?);
    }
    // Event ids are ULIDs: by id is by time.
    events.sort_by(|a, b| b.event_id.cmp(&a.event_id));
    events.dedup_by(|a, b| a.event_id == b.event_id);
    events.truncate(query.limit);
    Ok(events)
}

/// The page `request` asks for at `now_millis`.
pub async fn page(store: &dyn AuditStore, request: &Request, now_millis: i64) -> Result<Page> {
    let query = request.at(now_millis, Surface::Http)?;
    let events = events(store, &query).await?;
    let next = (events.len() == query.limit)
        .then(|| events.last().map(|e| e.event_id.clone()))
        .flatten();
    Ok(Page {
        events: events.iter().map(event_json).collect(),
        next,
    })
}

/// One audit event as JSON: the stored record, with `at` (RFC 3339 with
/// milliseconds) beside `at_millis`. What `warden audit query --json`
/// prints, one per line, and `GET /audit` lists.
pub fn event_json(e: &AuditEvent) -> Value {
    let mut value = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("at".into(), rfc3339_millis(e.at_millis).into());
    }
    value
}

/// An instant in milliseconds as RFC 3339 with milliseconds, UTC
/// ([`crate::clock::rfc3339_millis`]); the number itself for an instant
/// RFC 3339 cannot write.
pub fn rfc3339_millis(at_millis: i64) -> String {
    crate::clock::rfc3339_millis(at_millis).unwrap_or_else(|| at_millis.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn refusal(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::BadRequest(detail)) => detail,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn since_takes_a_whole_number_and_one_unit_and_never_panics() {
        assert_eq!(parse_since("30m", Surface::Cli).ok(), Some(1_800));
        assert_eq!(parse_since(" 7d ", Surface::Cli).ok(), Some(604_800));
        assert_eq!(
            parse_since("365d", Surface::Http).ok(),
            Some(MAX_SINCE_SECS)
        );
        for bad in [
            "",
            "m",
            "5ø",
            "é",
            "ø5",
            "1.5h",
            "-1h",
            "+1h",
            "0d",
            "366d",
            "3 d",
            "5x",
            "99999999999999999999d",
        ] {
            assert!(parse_since(bad, Surface::Cli).is_err(), "{bad}");
        }
        // Each surface names the parameter its own way.
        assert!(refusal(parse_since("5x", Surface::Cli)).starts_with(r#"--since "5x" is not"#));
        assert!(refusal(parse_since("5x", Surface::Http)).starts_with(r#"since "5x" is not"#));
        // A long value is cut in the refusal.
        let long = "9".repeat(1000);
        assert!(refusal(parse_since(&long, Surface::Http)).len() < 200);
    }

    #[test]
    fn an_event_type_is_read_in_any_case_and_an_unknown_one_lists_them_all() {
        assert_eq!(
            parse_event_type("agent_disabled").ok(),
            Some(EventType::AgentDisabled)
        );
        assert_eq!(
            parse_event_type("Login_Failed").ok(),
            Some(EventType::LoginFailed)
        );
        let detail = refusal(parse_event_type("LOGIN_MAYBE"));
        assert!(detail.contains(r#""LOGIN_MAYBE""#), "{detail}");
        for t in EventType::ALL {
            assert!(detail.contains(t.as_str()), "{detail}");
        }
    }

    #[test]
    fn event_ids_are_canonical_ulids() {
        let id = ulid::Ulid::new().to_string();
        assert!(is_event_id(&id));
        assert!(is_event_id("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(is_event_id("00000000000000000000000000"));
        for bad in [
            "",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01J9Z7Q4M3X8K2V6N5T1R0W9Y",
            "01J9Z7Q4M3X8K2V6N5T1R0W9YCC",
            "01j9z7q4m3x8k2v6n5t1r0w9yc",
            "01J9Z7Q4M3X8K2V6N5T1R0W9YI",
            "01J9Z7Q4M3X8K2V6N5T1R0W9YU",
            "01J9Z7Q4M3X8K2V6N5T1R0W9Y\u{e9}",
        ] {
            assert!(!is_event_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_url_parameters_have_defaults_and_bounds() {
        let read = Request::from_params(&[]).unwrap();
        assert_eq!(
            read,
            Request {
                actor: None,
                event_type: None,
                since_secs: 86_400,
                limit: DEFAULT_PAGE,
                before: None,
            }
        );
        let id = ulid::Ulid::new().to_string();
        let read = Request::from_params(&params(&[
            ("actor", "u-1"),
            ("type", "token_revoked"),
            ("since", "90d"),
            ("limit", "200"),
            ("next", &id),
            // The first of a repeated parameter counts; unknown ones are
            // ignored.
            ("limit", "x"),
            ("page", "2"),
        ]))
        .unwrap();
        assert_eq!(
            read,
            Request {
                actor: Some("u-1".into()),
                event_type: Some(EventType::TokenRevoked),
                since_secs: 90 * 86_400,
                limit: 200,
                before: Some(id),
            }
        );
        for (name, value, says) in [
            ("limit", "0", "limit must be a number from 1 to 200"),
            ("limit", "201", "limit must be a number from 1 to 200"),
            ("limit", "ten", "limit must be a number from 1 to 200"),
            ("limit", "", "limit must be a number from 1 to 200"),
            ("next", "", "next must be the event id"),
            ("next", "bm90LWFuLWlk", "next must be the event id"),
            ("since", "", "since \"\" is not a duration"),
            ("since", "1y", "since \"1y\" is not a duration"),
            ("type", "", "unknown event type \"\""),
        ] {
            let detail = refusal(Request::from_params(&params(&[(name, value)])));
            assert!(detail.starts_with(says), "{name}={value}: {detail}");
        }
    }

    #[test]
    fn the_window_reaches_back_from_now_with_room_for_clock_skew() {
        const NOW: i64 = 1_795_521_630_000;
        let request = Request {
            actor: None,
            event_type: Some(EventType::LoginFailed),
            since_secs: 3_600,
            limit: 10,
            before: Some("01J9Z7Q4M3X8K2V6N5T1R0W9YC".into()),
        };
        assert_eq!(
            request.at(NOW, Surface::Http).unwrap(),
            AuditQuery {
                actor: None,
                event_type: Some(EventType::LoginFailed),
                since_millis: NOW - 3_600_000,
                until_millis: NOW + 60_000,
                limit: 10,
                before: Some("01J9Z7Q4M3X8K2V6N5T1R0W9YC".into()),
            }
        );
        // Without an actor, at most 31 days; with one, up to a year.
        let month = Request {
            since_secs: 32 * 86_400,
            ..request.clone()
        };
        let detail = refusal(month.at(NOW, Surface::Cli));
        assert!(
            detail.starts_with("without --actor, --since is at most 31d"),
            "{detail}"
        );
        let detail = refusal(month.at(NOW, Surface::Http));
        assert!(
            detail.starts_with("without actor, since is at most 31d"),
            "{detail}"
        );
        let by_actor = Request {
            actor: Some("u-1".into()),
            ..month
        };
        assert!(by_actor.at(NOW, Surface::Http).is_ok());
        // An actor DynamoDB could not look up is refused, not sent.
        for actor in [String::new(), "é".repeat(1025)] {
            let bad = Request {
                actor: Some(actor),
                ..request.clone()
            };
            assert!(
                refusal(bad.at(NOW, Surface::Http)).starts_with("actor must be 1 to 2048 bytes")
            );
        }
        let none = Request {
            limit: 0,
            ..request
        };
        assert_eq!(
            refusal(none.at(NOW, Surface::Cli)),
            "--limit must be at least 1"
        );
    }

    #[test]
    fn the_contract_lists_every_event_type() {
        // `GET /audit` answers any of them: infra/openapi.yaml's enum must
        // hold exactly these, or a client's schema would refuse a page.
        let spec = include_str!("../../../infra/openapi.yaml");
        let block = spec
            .split("\n    AuditEventType:\n")
            .nth(1)
            .and_then(|rest| rest.split("\n    AuditOrigin:").next())
            .expect("infra/openapi.yaml has no AuditEventType schema");
        let listed: std::collections::BTreeSet<&str> = block
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .filter(|word| word.len() > 2 && word.contains('_'))
            .collect();
        let ours: std::collections::BTreeSet<&str> =
            EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(listed, ours);
    }

    #[test]
    fn an_event_renders_as_its_record_with_its_time() {
        let e = AuditEvent::new(
            EventType::AgentDisabled,
            crate::audit::Severity::Warning,
            crate::audit::Origin::Cli {
                operator: "local".into(),
            },
            1_795_521_630_042,
            30,
        );
        let json = event_json(&e);
        assert_eq!(json["at"], "2026-11-24T12:00:30.042Z");
        assert_eq!(json["event_type"], "AGENT_DISABLED");
        assert_eq!(json["actor"], "local");
        assert_eq!(json["event_id"], e.event_id.as_str());
        assert_eq!(json["origin"]["kind"], "cli");
    }
}
