//! One conformance suite for every store adapter: the embedded memory store
//! and DynamoDB through the real AWS SDK, against the emulator that
//! `infra/test.sh` starts. Each check runs against both.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use warden::Error;
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::domain::{RevocationState, Role, SessionRecord, UserRecord, Username};
use warden::store::memory::MemoryStore;
use warden::store::{
    AccountChange, AgentWrite, ApiKeyWrite, AuditQuery, AuthStore, AuthWrite, DelegationLookup,
    RegistryStore, RevocationKey, TatCondition, TatWrite, TokenLookup, ToolCallLookup,
    WebhookStore, Write,
};

/// Every port of both adapters, for the checks below.
trait Store: AuthStore + WebhookStore + RegistryStore {}
impl<T: AuthStore + WebhookStore + RegistryStore> Store for T {}

fn name(s: &str) -> Username {
    Username::parse(s).unwrap()
}

const NOW: i64 = 1_900_000_000;

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: Username::parse(name).unwrap(),
        user_id: format!("id-{name}-{}", ulid::Ulid::new()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec![Role::User, Role::Approver],
        disabled: false,
        failed_logins: 0,
        last_failed_at: None,
        generation: 0,
        created_at: NOW,
    }
}

fn session(user_id: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        user_id: user_id.into(),
        session_id: ulid::Ulid::new().to_string(),
        refresh_hash: "hash-1".into(),
        used_refresh_hashes: vec![],
        generation: 0,
        roles: vec![Role::User],
        ip: "203.0.113.9".into(),
        user_agent: "tests".into(),
        created_at: NOW,
        last_used_at: NOW,
        expires_at,
    }
}

fn audit(actor: &str, at_millis: i64) -> AuditEvent {
    AuditEvent::new(
        EventType::LoginSuccess,
        Severity::Info,
        Origin::Http {
            ip: "203.0.113.9".into(),
            user_agent: "tests".into(),
            request_id: ulid::Ulid::new().to_string(),
        },
        at_millis,
        30,
    )
    .actor(actor)
    .detail("k", "v")
}

/// Creates `user`, who must not exist yet.
async fn add(store: &dyn Store, user: &UserRecord) {
    let create = AuthWrite::CreateUser(user.clone());
    store.transact(vec![create.into()]).await.unwrap();
}

/// The stored record of `username`, who must exist.
async fn stored(store: &dyn Store, username: &str) -> UserRecord {
    store.get_user(&name(username)).await.unwrap().unwrap()
}

/// The live session `session_id` of `user_id` at `now`, and the
/// revocation state around it.
async fn session_at(
    store: &dyn Store,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> (Option<SessionRecord>, RevocationState) {
    store
        .session_with_revocation(user_id, session_id, now)
        .await
        .unwrap()
}

/// A failed login of `username` at `at`.
fn login_failed(username: &str, at: i64) -> Write {
    let username = name(username);
    AuthWrite::LoginFailed { username, at }.into()
}

/// A login of `username` read at `expected_generation`, storing
/// `new_password_hash` when given.
fn login_succeeded(
    username: &str,
    expected_generation: u64,
    new_password_hash: Option<&str>,
) -> Write {
    AuthWrite::LoginSucceeded {
        username: name(username),
        expected_generation,
        new_password_hash: new_password_hash.map(str::to_owned),
    }
    .into()
}

/// What setting the rate state of `k` to `new_tat` under `condition`
/// answers.
async fn tat(store: &dyn Store, condition: TatCondition, new_tat: i64) -> Result<(), Option<i64>> {
    let write = TatWrite { condition, new_tat };
    store.update_tat("k", write, NOW).await.unwrap()
}

async fn users_are_created_once_and_read_back(store: &dyn Store) {
    let alice = user("alice");
    add(store, &alice).await;
    assert_eq!(
        store.get_user(&name("alice")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_user(&name("bob")).await.unwrap(), None);
    let again = store
        .transact(vec![Write::Auth(AuthWrite::CreateUser(user("alice")))])
        .await;
    assert!(matches!(again, Err(Error::ConditionFailed)), "{again:?}");
    let state = store
        .revocation_state("j", "s", &alice.user_id)
        .await
        .unwrap();
    assert_eq!(state.generation, 0);
}

async fn a_transaction_with_one_failed_condition_changes_nothing(store: &dyn Store) {
    let alice = user("alice");
    add(store, &alice).await;
    add(store, &user("bob")).await;
    let s = session(&alice.user_id, NOW + 100);
    let event = audit(&alice.user_id, NOW * 1000);
    let result = store
        .transact(vec![
            Write::Auth(AuthWrite::PutSession(s.clone())),
            login_failed("alice", NOW),
            Write::Audit(event.clone()),
            // Fails: the user exists already.
            Write::Auth(AuthWrite::CreateUser(user("bob"))),
        ])
        .await;
    assert!(matches!(result, Err(Error::ConditionFailed)), "{result:?}");
    let (found, _) = session_at(store, &alice.user_id, &s.session_id, NOW).await;
    assert_eq!(found, None, "the session must not exist");
    assert_eq!(stored(store, "alice").await.failed_logins, 0);
    assert!(
        store
            .audit_by_actor(&alice.user_id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The same writes without the failing one all land.
    store
        .transact(vec![
            Write::Auth(AuthWrite::PutSession(s.clone())),
            Write::Audit(event.clone()),
        ])
        .await
        .unwrap();
    let (found, _) = session_at(store, &alice.user_id, &s.session_id, NOW).await;
    assert_eq!(found, Some(s));
    assert_eq!(
        store.audit_by_actor(&alice.user_id, 10).await.unwrap(),
        vec![event]
    );
}

async fn two_writes_to_one_item_in_one_transaction_are_refused(store: &dyn Store) {
    add(store, &user("alice")).await;
    let failed = login_failed("alice", NOW);
    let result = store.transact(vec![failed.clone(), failed]).await;
    assert!(matches!(result, Err(Error::Internal { .. })), "{result:?}");
    assert_eq!(stored(store, "alice").await.failed_logins, 0);
}

async fn login_outcomes_count_failures_and_guard_the_generation(store: &dyn Store) {
    let alice = user("alice");
    add(store, &alice).await;
    for i in 0..3 {
        store
            .transact(vec![login_failed("alice", NOW + i)])
            .await
            .unwrap();
    }
    let u = stored(store, "alice").await;
    assert_eq!((u.failed_logins, u.last_failed_at), (3, Some(NOW + 2)));
    let stale = store
        .transact(vec![login_succeeded("alice", 7, None)])
        .await;
    assert!(matches!(stale, Err(Error::ConditionFailed)));
    store
        .transact(vec![login_succeeded("alice", 0, Some("$argon2id$new"))])
        .await
        .unwrap();
    let u = stored(store, "alice").await;
    assert_eq!(
        (u.failed_logins, u.last_failed_at, u.password_hash.as_str()),
        (0, None, "$argon2id$new")
    );
    let missing = store.transact(vec![login_failed("nobody", NOW)]).await;
    assert!(matches!(missing, Err(Error::ConditionFailed)));
}

async fn raising_the_generation_is_a_compare_and_set_on_both_records(store: &dyn Store) {
    let alice = user("alice");
    add(store, &alice).await;
    assert_eq!(
        store.user_generation(&alice.user_id).await.unwrap(),
        Some((name("alice"), 0))
    );
    assert_eq!(store.user_generation("nobody").await.unwrap(), None);
    let raise = |expected: u64, hash: Option<&str>| {
        Write::Auth(AuthWrite::RaiseGeneration {
            username: name("alice"),
            user_id: alice.user_id.clone(),
            expected_generation: expected,
            change: hash.map_or(AccountChange::None, |h| {
                AccountChange::Password(h.to_owned())
            }),
        })
    };
    store.transact(vec![raise(0, None)]).await.unwrap();
    let stale = store.transact(vec![raise(0, None)]).await;
    assert!(matches!(stale, Err(Error::ConditionFailed)), "{stale:?}");
    store
        .transact(vec![login_failed("alice", NOW)])
        .await
        .unwrap();
    store
        .transact(vec![raise(1, Some("$argon2id$new"))])
        .await
        .unwrap();
    let u = stored(store, "alice").await;
    assert_eq!(
        (u.generation, u.password_hash.as_str(), u.failed_logins),
        (2, "$argon2id$new", 0)
    );
    assert_eq!(
        store.user_generation(&alice.user_id).await.unwrap(),
        Some((name("alice"), 2))
    );
    let state = store
        .revocation_state("j", "s", &alice.user_id)
        .await
        .unwrap();
    assert_eq!(state.generation, 2);
    // A login that read the old generation is cancelled.
    let late_login = store
        .transact(vec![login_succeeded("alice", 1, None)])
        .await;
    assert!(matches!(late_login, Err(Error::ConditionFailed)));
}

async fn expired_sessions_are_absent_but_denylist_entries_outlive_their_ttl(store: &dyn Store) {
    let s = session("u1", NOW + 10);
    store
        .transact(vec![
            Write::Auth(AuthWrite::PutSession(s.clone())),
            Write::Auth(AuthWrite::Deny {
                key: RevocationKey::Token("j1".into()),
                expires_at: NOW + 10,
            }),
            Write::Auth(AuthWrite::Deny {
                key: RevocationKey::Session(s.session_id.clone()),
                expires_at: NOW + 10,
            }),
        ])
        .await
        .unwrap();
    let (found, state) = session_at(store, "u1", &s.session_id, NOW + 9).await;
    assert!(found.is_some() && state.session_revoked);
    // At expires_at the session is gone for every reader, deleted or not.
    let (found, _) = session_at(store, "u1", &s.session_id, NOW + 10).await;
    assert!(found.is_none());
    assert!(
        store
            .list_sessions("u1", NOW + 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A denylist entry blocks for as long as it exists, TTL passed or not:
    // only the token's own expiry may end it.
    let state = store
        .revocation_state("j1", &s.session_id, "u1")
        .await
        .unwrap();
    assert!(state.token_revoked && state.session_revoked);
    let other = store.revocation_state("j2", "s2", "u1").await.unwrap();
    assert!(!other.token_revoked && !other.session_revoked);
}

async fn refresh_rotation_is_a_compare_and_set(store: &dyn Store) {
    let s = session("u1", NOW + 100);
    store
        .transact(vec![Write::Auth(AuthWrite::PutSession(s.clone()))])
        .await
        .unwrap();
    let rotate = |expected: &str| {
        Write::Auth(AuthWrite::RotateRefresh {
            user_id: "u1".into(),
            session_id: s.session_id.clone(),
            expected_refresh_hash: expected.into(),
            new_refresh_hash: "hash-2".into(),
            used_refresh_hashes: vec!["hash-1".into()],
            at: NOW + 5,
            expires_at: NOW + 200,
        })
    };
    assert!(matches!(
        store.transact(vec![rotate("wrong")]).await,
        Err(Error::ConditionFailed)
    ));
    store.transact(vec![rotate("hash-1")]).await.unwrap();
    assert!(matches!(
        store.transact(vec![rotate("hash-1")]).await,
        Err(Error::ConditionFailed)
    ));
    let (found, _) = session_at(store, "u1", &s.session_id, NOW + 5).await;
    let found = found.unwrap();
    assert_eq!(
        (
            found.refresh_hash.as_str(),
            found.used_refresh_hashes.clone()
        ),
        ("hash-2", vec!["hash-1".to_owned()])
    );
    assert_eq!((found.last_used_at, found.expires_at), (NOW + 5, NOW + 200));
    store
        .transact(vec![Write::Auth(AuthWrite::DeleteSession {
            user_id: "u1".into(),
            session_id: s.session_id.clone(),
        })])
        .await
        .unwrap();
    let (found, _) = session_at(store, "u1", &s.session_id, NOW + 5).await;
    assert!(found.is_none());
}

async fn sessions_are_listed_per_user(store: &dyn Store) {
    let a1 = session("ua", NOW + 100);
    let a2 = session("ua", NOW + 200);
    let b1 = session("ub", NOW + 100);
    let old = session("ua", NOW - 1);
    for s in [&a1, &a2, &b1, &old] {
        store
            .transact(vec![Write::Auth(AuthWrite::PutSession(s.clone()))])
            .await
            .unwrap();
    }
    let mut ids: Vec<_> = store
        .list_sessions("ua", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    ids.sort();
    let mut want = vec![a1.session_id, a2.session_id];
    want.sort();
    assert_eq!(ids, want);
}

async fn audit_events_read_back_newest_first(store: &dyn Store) {
    let events: Vec<_> = (0..3)
        .map(|i| audit("actor-1", NOW * 1000 + i * 1000))
        .collect();
    for e in &events {
        store.transact(vec![Write::Audit(e.clone())]).await.unwrap();
    }
    store
        .transact(vec![Write::Audit(audit("actor-2", NOW * 1000))])
        .await
        .unwrap();
    let read = store.audit_by_actor("actor-1", 10).await.unwrap();
    let want: Vec<_> = events.into_iter().rev().collect();
    assert_eq!(read, want);
    assert_eq!(store.audit_by_actor("actor-1", 2).await.unwrap().len(), 2);
    let duplicate = store.transact(vec![Write::Audit(want[0].clone())]).await;
    assert!(matches!(duplicate, Err(Error::ConditionFailed)));
}

/// An event read back is the event written, its MAC included, so that its
/// MAC and its ledger leaf check out from either store.
async fn a_sealed_audit_event_reads_back_whole_and_still_checks(store: &dyn Store) {
    use warden::audit::mac::{MacCheck, MacKey};
    let key = MacKey::new(&secrecy::SecretString::from(
        "conformance-audit-mac-key-0123456789abcdef".to_owned(),
    ))
    .unwrap();
    let mut event = audit("sealed-actor", NOW * 1000 + 7).detail("n", 12.5);
    key.seal(&mut event).unwrap();
    store
        .transact(vec![Write::Audit(event.clone())])
        .await
        .unwrap();
    let read = store.audit_by_actor("sealed-actor", 1).await.unwrap();
    assert_eq!(read, [event.clone()]);
    assert_eq!(key.check(&read[0]), MacCheck::Valid);
    assert_eq!(
        warden::audit::ledger::leaf(&read[0]).unwrap(),
        warden::audit::ledger::leaf(&event).unwrap()
    );
}

async fn audit_queries_read_the_window_newest_first_by_actor_and_type(store: &dyn Store) {
    const HOUR: i64 = 3_600_000;
    let now = NOW * 1000;
    // Three days of events (so several day buckets and their shards), of
    // two actors and two types, written out of order.
    let mut written = Vec::new();
    for i in 0..24 {
        let at = now - i * 3 * HOUR;
        let actor = if i % 2 == 0 { "ops" } else { "someone" };
        let mut e = audit(actor, at);
        if i % 3 == 0 {
            e.event_type = EventType::UserDisabled;
        }
        written.push(e);
    }
    for e in written.iter().rev() {
        store.transact(vec![Write::Audit(e.clone())]).await.unwrap();
    }
    // One in the future of the window: never returned.
    store
        .transact(vec![Write::Audit(audit("ops", now + HOUR))])
        .await
        .unwrap();
    let query =
        |actor: Option<&str>, t: Option<EventType>, since_hours: i64, limit: usize| AuditQuery {
            actor: actor.map(str::to_owned),
            event_type: t,
            since_millis: now - since_hours * HOUR,
            until_millis: now,
            limit,
            before: None,
        };
    let want = |f: &dyn Fn(&AuditEvent) -> bool, since_hours: i64| -> Vec<AuditEvent> {
        let mut v: Vec<_> = written
            .iter()
            .filter(|e| e.at_millis >= now - since_hours * HOUR && f(e))
            .cloned()
            .collect();
        v.sort_by(|a, b| b.event_id.cmp(&a.event_id));
        v
    };
    // Every bucket of the last 48 hours (three UTC days at most).
    let all = store
        .query_audit(&query(None, None, 48, 100))
        .await
        .unwrap();
    assert_eq!(all, want(&|_| true, 48));
    assert_eq!(all.len(), 17);
    assert!(all.windows(2).all(|w| w[0].at_millis >= w[1].at_millis));
    // The limit keeps the newest.
    let newest = store.query_audit(&query(None, None, 48, 5)).await.unwrap();
    assert_eq!(newest, all[..5].to_vec());
    // By type, across the buckets.
    let disabled = store
        .query_audit(&query(None, Some(EventType::UserDisabled), 72, 100))
        .await
        .unwrap();
    assert_eq!(
        disabled,
        want(&|e| e.event_type == EventType::UserDisabled, 72)
    );
    assert_eq!(disabled.len(), 8);
    // By actor (the actor index), with the window and the type.
    let ops = store
        .query_audit(&query(Some("ops"), None, 24, 100))
        .await
        .unwrap();
    assert_eq!(ops, want(&|e| e.actor == "ops", 24));
    assert_eq!(ops.len(), 5);
    let ops_disabled = store
        .query_audit(&query(Some("ops"), Some(EventType::UserDisabled), 72, 2))
        .await
        .unwrap();
    let all_ops_disabled = want(
        &|e| e.actor == "ops" && e.event_type == EventType::UserDisabled,
        72,
    );
    assert_eq!(all_ops_disabled.len(), 4);
    assert_eq!(ops_disabled, all_ops_disabled[..2].to_vec());
    // Nothing in an empty window.
    let past = AuditQuery {
        since_millis: now - 200 * HOUR,
        until_millis: now - 100 * HOUR,
        ..query(None, None, 0, 100)
    };
    assert!(store.query_audit(&past).await.unwrap().is_empty());
}

async fn audit_pages_end_before_an_event_id_with_no_duplicate_and_no_gap(store: &dyn Store) {
    const HOUR: i64 = 3_600_000;
    let now = NOW * 1000;
    // 40 events over three UTC days, of two actors and two types, five of
    // them in one millisecond (their ids differ only in their random part).
    let mut written = Vec::new();
    for i in 0..40 {
        let at = if i < 5 {
            now - HOUR
        } else {
            now - i * 5_000_000
        };
        let mut e = audit(if i % 3 == 0 { "ops" } else { "someone" }, at);
        if i % 2 == 0 {
            e.event_type = EventType::UserDisabled;
        }
        written.push(e);
    }
    for e in written.iter().rev() {
        store.transact(vec![Write::Audit(e.clone())]).await.unwrap();
    }
    let query = |actor: Option<&str>, t: Option<EventType>, before: Option<String>| AuditQuery {
        actor: actor.map(str::to_owned),
        event_type: t,
        since_millis: now - 72 * HOUR,
        until_millis: now,
        limit: 7,
        before,
    };
    // Every page ends where the next begins: together they are the whole
    // window, newest first, each event once.
    for (actor, t) in [
        (None, None),
        (None, Some(EventType::UserDisabled)),
        (Some("ops"), None),
        (Some("someone"), Some(EventType::LoginSuccess)),
    ] {
        let mut want: Vec<AuditEvent> = written
            .iter()
            .filter(|e| actor.is_none_or(|a| e.actor == a))
            .filter(|e| t.is_none_or(|t| e.event_type == t))
            .cloned()
            .collect();
        want.sort_by(|a, b| b.event_id.cmp(&a.event_id));
        let (mut read, mut before, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = store
                .query_audit(&query(actor, t, before.clone()))
                .await
                .unwrap();
            assert!(page.len() <= 7);
            pages += 1;
            let full = page.len() == 7;
            before = page.last().map(|e| e.event_id.clone());
            read.extend(page);
            if !full {
                break;
            }
        }
        assert_eq!(read, want, "{actor:?} {t:?}");
        assert_eq!(pages, want.len() / 7 + 1, "{actor:?} {t:?}");
    }
    // `before` is exclusive, and bounds the window whatever it names.
    let all = store
        .query_audit(&AuditQuery {
            limit: 100,
            ..query(None, None, None)
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 40);
    let middle = all[10].event_id.clone();
    let after_middle = store
        .query_audit(&AuditQuery {
            limit: 100,
            ..query(None, None, Some(middle))
        })
        .await
        .unwrap();
    assert_eq!(after_middle, all[11..].to_vec());
    for (before, want) in [
        // Newer than every event: the first page.
        ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", all.len()),
        // The smallest id, and one older than the window: nothing.
        ("00000000000000000000000000", 0),
        (
            &ulid::Ulid::from_parts(u64::try_from(now - 100 * HOUR).unwrap(), 0).to_string(),
            0,
        ),
    ] {
        let read = store
            .query_audit(&AuditQuery {
                limit: 100,
                ..query(None, None, Some(before.to_owned()))
            })
            .await
            .unwrap();
        assert_eq!(read.len(), want, "{before}");
    }
}

async fn users_are_listed_and_roles_change_with_the_generation(store: &dyn Store) {
    let (bob, alice) = (user("bob"), user("alice"));
    for u in [&bob, &alice] {
        store
            .transact(vec![AuthWrite::CreateUser(u.clone()).into()])
            .await
            .unwrap();
    }
    let listed: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(listed, vec![name("alice"), name("bob")]);
    let change = AuthWrite::RaiseGeneration {
        username: name("bob"),
        user_id: bob.user_id.clone(),
        expected_generation: 0,
        change: AccountChange::Roles(vec![Role::Admin]),
    };
    store.transact(vec![change.clone().into()]).await.unwrap();
    let after = stored(store, "bob").await;
    assert_eq!(after.roles, vec![Role::Admin]);
    assert_eq!(after.generation, 1);
    assert_eq!(
        store.user_generation(&bob.user_id).await.unwrap(),
        Some((name("bob"), 1))
    );
    // A change read at the old generation is cancelled.
    assert!(matches!(
        store.transact(vec![change.into()]).await,
        Err(Error::ConditionFailed)
    ));
    let alice_after = stored(store, "alice").await;
    assert_eq!(alice_after.roles, alice.roles);
}

async fn rate_state_updates_only_under_their_condition(store: &dyn Store) {
    assert_eq!(tat(store, TatCondition::Equals(5), 10).await, Err(None));
    assert_eq!(
        tat(store, TatCondition::AbsentOrAtMost(0), 100).await,
        Ok(())
    );
    assert_eq!(
        tat(store, TatCondition::AbsentOrAtMost(99), 200).await,
        Err(Some(100))
    );
    assert_eq!(
        tat(store, TatCondition::Equals(99), 200).await,
        Err(Some(100))
    );
    assert_eq!(tat(store, TatCondition::Equals(100), 200).await, Ok(()));
    assert_eq!(
        tat(store, TatCondition::AbsentOrAtMost(200), 300).await,
        Ok(())
    );
    // Within the allowance the write adds: 300 + 50 twice, no conflict
    // between the two; outside it (at most 400 now, or not after 400) it
    // answers the current time.
    assert_eq!(tat(store, TatCondition::Within(250, 400), 50).await, Ok(()));
    assert_eq!(tat(store, TatCondition::Within(250, 400), 50).await, Ok(()));
    assert_eq!(
        tat(store, TatCondition::Within(250, 399), 50).await,
        Err(Some(400))
    );
    assert_eq!(
        tat(store, TatCondition::Within(400, 500), 50).await,
        Err(Some(400))
    );
    assert_eq!(tat(store, TatCondition::Equals(400), 450).await, Ok(()));
}

/// A key set of `kids`, all published and signing since 0, at `version`.
fn key_set(kids: &[&str], version: u64) -> warden::auth::signing::KeySet {
    warden::auth::signing::KeySet {
        keys: kids
            .iter()
            .map(|kid| warden::auth::signing::KeyEntry {
                arn: format!("arn:aws:kms:us-east-1:1:key/{kid}"),
                kid: (*kid).to_owned(),
                publish_from: 0,
                sign_from: 0,
                sign_until: Some(1_900_000_000),
                retire_at: None,
            })
            .collect(),
        version,
    }
}

fn put_key_set(name: &str, set: warden::auth::signing::KeySet) -> Write {
    AuthWrite::PutKeySet {
        name: name.into(),
        set,
    }
    .into()
}

async fn the_key_set_is_read_consistently_and_each_write_is_a_compare_and_set_on_its_version(
    store: &dyn Store,
) {
    let name = format!("test-{}", ulid::Ulid::new());
    assert_eq!(store.key_set(&name).await.unwrap(), None, "never written");
    // The first write must find none; a second "first" write is refused.
    store
        .transact(vec![put_key_set(&name, key_set(&["k1"], 1))])
        .await
        .unwrap();
    assert!(matches!(
        store
            .transact(vec![put_key_set(&name, key_set(&["other"], 1))])
            .await,
        Err(Error::ConditionFailed)
    ));
    assert_eq!(
        store.key_set(&name).await.unwrap(),
        Some(key_set(&["k1"], 1))
    );
    // The next version writes over version 1 only, once.
    store
        .transact(vec![put_key_set(&name, key_set(&["k1", "k2"], 2))])
        .await
        .unwrap();
    for stale in [key_set(&["k3"], 2), key_set(&["k3"], 4)] {
        assert!(matches!(
            store.transact(vec![put_key_set(&name, stale)]).await,
            Err(Error::ConditionFailed)
        ));
    }
    assert_eq!(
        store.key_set(&name).await.unwrap(),
        Some(key_set(&["k1", "k2"], 2)),
        "every field read back as written"
    );
    // With its audit event in one transaction: a failed condition writes
    // neither.
    let event = AuditEvent::new(
        EventType::SigningKeyRotated,
        Severity::Warning,
        Origin::Cli {
            operator: "tests".into(),
        },
        1_800_000_000_000,
        30,
    );
    assert!(matches!(
        store
            .transact(vec![
                put_key_set(&name, key_set(&["k9"], 2)),
                event.clone().into()
            ])
            .await,
        Err(Error::ConditionFailed)
    ));
    store
        .transact(vec![
            put_key_set(&name, key_set(&["k1", "k2", "k3"], 3)),
            event.into(),
        ])
        .await
        .unwrap();
    assert_eq!(store.key_set(&name).await.unwrap().unwrap().version, 3);
}

/// A delegated token's standing is one read: its own and its parent's
/// `jti`, its session, its user's record, the actor key and the agent
/// (`delegation_state`); the tool-call context reads the same denylist
/// items and the user's run-limit state with everything else.
async fn a_delegated_tokens_standing_is_read_whole_in_one_call(store: &dyn Store) {
    use warden::domain::agents::{
        AgentId, AgentRecord, AgentType, ApiKeyRecord, KeyOwner, Maturity, WorkspaceId,
    };
    let alice = user("alice");
    add(store, &alice).await;
    let s = session(&alice.user_id, NOW + 100);
    let books = AgentId::parse("books").unwrap();
    let agent = AgentRecord {
        agent_id: books.clone(),
        agent_type: AgentType::Accounting,
        maturity: Maturity::Autonomous,
        enabled: true,
        workspaces: vec![WorkspaceId::parse("acme").unwrap()],
        kill_generation: 4,
        created_at: NOW,
        updated_at: NOW,
    };
    let key_id = ulid::Ulid::new().to_string();
    let key = ApiKeyRecord {
        key_id: key_id.clone(),
        secret_hmac: "ab".repeat(32),
        owner: KeyOwner::Agent(books.clone()),
        scopes: vec!["tools:call".into()],
        expires_at: None,
        rate_limit_per_hour: 600,
        revoked_at: None,
        created_at: NOW,
        created_by: Some(alice.user_id.clone()),
        usage_count: 0,
        last_used_at: None,
        tat: None,
        read_tat: None,
    };
    store
        .transact(vec![
            Write::Auth(AuthWrite::PutSession(s.clone())),
            AgentWrite::CreateWorkspace(warden::domain::agents::WorkspaceRecord {
                workspace_id: WorkspaceId::parse("acme").unwrap(),
                name: "Acme".into(),
                created_at: NOW,
            })
            .into(),
            AgentWrite::CreateAgent(agent.clone()).into(),
            ApiKeyWrite::Create(key.clone()).into(),
        ])
        .await
        .unwrap();
    let token = TokenLookup {
        jti: "delegated-jti",
        parent_jti: Some("parent-jti"),
        session_id: &s.session_id,
        user_id: &alice.user_id,
    };
    let lookup = DelegationLookup {
        token,
        key_id: &key_id,
        agent_id: &books,
    };
    let standing = store.delegation_state(lookup).await.unwrap();
    assert!(standing.revocation.user_exists);
    assert!(!standing.revocation.token_revoked && !standing.revocation.session_revoked);
    assert_eq!(standing.key, Some(key.clone()));
    assert_eq!(standing.agent, Some(agent.clone()));

    // The parent's jti denied counts as the token's own.
    let deny = |key| {
        Write::Auth(AuthWrite::Deny {
            key,
            expires_at: NOW + 100,
        })
    };
    store
        .transact(vec![deny(RevocationKey::Token("parent-jti".into()))])
        .await
        .unwrap();
    let standing = store.delegation_state(lookup).await.unwrap();
    assert!(standing.revocation.token_revoked);
    // Without the parent, the token alone stands; a person's own token
    // reads no parent.
    let own = DelegationLookup {
        token: TokenLookup {
            parent_jti: None,
            ..token
        },
        ..lookup
    };
    assert!(
        !store
            .delegation_state(own)
            .await
            .unwrap()
            .revocation
            .token_revoked
    );
    store
        .transact(vec![
            deny(RevocationKey::Token("delegated-jti".into())),
            deny(RevocationKey::Session(s.session_id.clone())),
        ])
        .await
        .unwrap();
    let standing = store.delegation_state(own).await.unwrap();
    assert!(standing.revocation.token_revoked && standing.revocation.session_revoked);

    // An unknown key, agent or user reads as absent.
    let ghost = AgentId::parse("ghost").unwrap();
    let unknown = store
        .delegation_state(DelegationLookup {
            token: TokenLookup {
                user_id: "nobody",
                ..token
            },
            key_id: "01UNKNOWNKEY0000000000000",
            agent_id: &ghost,
        })
        .await
        .unwrap();
    assert!(!unknown.revocation.user_exists);
    assert_eq!((unknown.key, unknown.agent), (None, None));

    // The tool-call context reads the same denylist state, and the run
    // limit's state, with the rest.
    let rate_key = format!("runs#{}", alice.user_id);
    let write = TatWrite {
        condition: TatCondition::AbsentOrAtMost(0),
        new_tat: 1234,
    };
    store
        .update_tat(&rate_key, write, NOW + 60)
        .await
        .unwrap()
        .unwrap();
    let tool = warden::domain::tools::ToolName::parse("read_file").unwrap();
    let workspace = WorkspaceId::parse("acme").unwrap();
    let exact = "ab".repeat(32);
    let ctx = store
        .tool_call_context(ToolCallLookup {
            key_id: Some(&key_id),
            agent_id: &books,
            workspace_id: &workspace,
            tool: &tool,
            exact_call_key: &exact,
            idempotency_key: None,
            token: Some(token),
            rate_key: Some(&rate_key),
            now: NOW,
        })
        .await
        .unwrap();
    assert_eq!(
        ctx.revocation,
        Some(store.delegation_state(lookup).await.unwrap().revocation)
    );
    assert_eq!(ctx.rate_tat, Some(1234));
    assert_eq!(ctx.api_key, Some(key));
    assert_eq!(ctx.agent, Some(agent));
    // Without a token or a rate key, neither is read.
    let bare = store
        .tool_call_context(ToolCallLookup {
            key_id: None,
            agent_id: &books,
            workspace_id: &workspace,
            tool: &tool,
            exact_call_key: &exact,
            idempotency_key: None,
            token: None,
            rate_key: None,
            now: NOW,
        })
        .await
        .unwrap();
    assert_eq!((bare.revocation, bare.rate_tat), (None, None));
}

/// A key's two limits (API.md: runs, and reads such as polling a job) are
/// two GCRA states on its one item: a use counted against one neither
/// reads nor moves the other, each answers its own state on a failed
/// condition, both count as usage, and a revoked key counts neither.
async fn a_keys_run_and_read_limits_are_separate_states(store: &dyn Store) {
    use warden::domain::agents::{AgentId, ApiKeyRecord, KeyLimit, KeyOwner};
    let id = ulid::Ulid::new().to_string();
    let key_id = id.as_str();
    let key = ApiKeyRecord {
        key_id: id.clone(),
        secret_hmac: "ef".repeat(32),
        owner: KeyOwner::Agent(AgentId::parse("books").unwrap()),
        scopes: vec!["agents:run".into()],
        expires_at: None,
        rate_limit_per_hour: 5,
        revoked_at: None,
        created_at: NOW,
        created_by: None,
        usage_count: 0,
        last_used_at: None,
        tat: None,
        read_tat: None,
    };
    store
        .transact(vec![ApiKeyWrite::Create(key).into()])
        .await
        .unwrap();
    let use_key = |limit, condition, new_tat, now| async move {
        let write = TatWrite { condition, new_tat };
        store.record_key_use(key_id, limit, write, now).await
    };
    let state = || async {
        let k = store.get_api_key(key_id).await.unwrap().unwrap();
        (k.tat, k.read_tat, k.usage_count, k.last_used_at)
    };

    // A run sets the run state only.
    let first = TatCondition::AbsentOrAtMost(0);
    assert_eq!(
        use_key(KeyLimit::Run, first, 100, NOW).await.unwrap(),
        Ok(())
    );
    assert_eq!(state().await, (Some(100), None, 1, Some(NOW)));
    // The read state is still absent: a condition on it sees nothing.
    let on_run_state = TatCondition::Equals(100);
    assert_eq!(
        use_key(KeyLimit::Read, on_run_state, 900, NOW)
            .await
            .unwrap(),
        Err(None)
    );
    // A read sets the read state only.
    assert_eq!(
        use_key(KeyLimit::Read, first, 500, NOW + 1).await.unwrap(),
        Ok(())
    );
    assert_eq!(state().await, (Some(100), Some(500), 2, Some(NOW + 1)));
    // Within its allowance a read adds to its own state.
    let within = TatCondition::Within(400, 600);
    assert_eq!(
        use_key(KeyLimit::Read, within, 50, NOW + 2).await.unwrap(),
        Ok(())
    );
    assert_eq!(state().await, (Some(100), Some(550), 3, Some(NOW + 2)));
    // A failed condition answers that limit's own state, and changes nothing.
    assert_eq!(
        use_key(KeyLimit::Run, TatCondition::Equals(550), 1, NOW + 3)
            .await
            .unwrap(),
        Err(Some(100))
    );
    assert_eq!(
        use_key(KeyLimit::Read, TatCondition::Equals(100), 1, NOW + 3)
            .await
            .unwrap(),
        Err(Some(550))
    );
    assert_eq!(state().await, (Some(100), Some(550), 3, Some(NOW + 2)));
    // A run within its own allowance leaves the read state alone.
    assert_eq!(
        use_key(KeyLimit::Run, TatCondition::Within(50, 150), 20, NOW + 4)
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(state().await, (Some(120), Some(550), 4, Some(NOW + 4)));

    // Revoked: neither limit counts a use.
    let revoke = ApiKeyWrite::Revoke {
        key_id: id.clone(),
        at: NOW + 5,
    };
    store.transact(vec![revoke.into()]).await.unwrap();
    for limit in [KeyLimit::Run, KeyLimit::Read] {
        let refused = use_key(limit, TatCondition::AbsentOrAtMost(i64::MAX), 1, NOW + 6).await;
        assert!(
            matches!(refused, Err(Error::ConditionFailed)),
            "{refused:?}"
        );
    }
    assert_eq!(state().await, (Some(120), Some(550), 4, Some(NOW + 4)));
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&warden::store::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some((store, _)) = warden::testing::dynamo_store().await {
                        super::$check(&store).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    users_are_created_once_and_read_back,
    a_keys_run_and_read_limits_are_separate_states,
    a_transaction_with_one_failed_condition_changes_nothing,
    two_writes_to_one_item_in_one_transaction_are_refused,
    login_outcomes_count_failures_and_guard_the_generation,
    raising_the_generation_is_a_compare_and_set_on_both_records,
    expired_sessions_are_absent_but_denylist_entries_outlive_their_ttl,
    refresh_rotation_is_a_compare_and_set,
    sessions_are_listed_per_user,
    audit_events_read_back_newest_first,
    a_sealed_audit_event_reads_back_whole_and_still_checks,
    audit_queries_read_the_window_newest_first_by_actor_and_type,
    audit_pages_end_before_an_event_id_with_no_duplicate_and_no_gap,
    users_are_listed_and_roles_change_with_the_generation,
    rate_state_updates_only_under_their_condition,
    the_key_set_is_read_consistently_and_each_write_is_a_compare_and_set_on_its_version,
    a_delegated_tokens_standing_is_read_whole_in_one_call,
);

#[test]
fn the_memory_store_is_a_store() {
    fn assert_store<T: Store>() {}
    assert_store::<MemoryStore>();
}
