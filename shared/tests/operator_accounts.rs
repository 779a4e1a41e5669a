//! The account operations of the operator's CLI (`warden users roles`,
//! `warden users revoke-all`), on both stores: a roles change is a
//! generation rise that ends every session, the same roles change nothing,
//! and each change is audited with the operator as actor.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use secrecy::SecretString;
use warden::Error;
use warden::audit::{EventType, Origin};
use warden::auth::login::create_user;
use warden::auth::revocation::{RolesOutcome, revoke_all_of, set_password, set_roles};
use warden::clock::SystemClock;
use warden::domain::{Role, SessionRecord, Username};
use warden::state::Accounts;
use warden::store::{AuthStore, AuthWrite};

const OPERATOR: &str = "arn:aws:iam::123456789012:user/ops";

fn accounts(store: Arc<dyn AuthStore>) -> Accounts {
    Accounts::new(warden::testing::config(), store, Arc::new(SystemClock)).unwrap()
}

fn origin() -> Origin {
    Origin::Cli {
        operator: OPERATOR.into(),
    }
}

/// A user with `roles` and one live session.
async fn user_with_a_session(accounts: &Accounts, name: &str, roles: &[Role]) -> Username {
    let username = Username::parse(name).unwrap();
    let user = create_user(
        accounts,
        origin(),
        &username,
        &SecretString::from("a long enough password"),
        roles,
    )
    .await
    .unwrap();
    let now = warden::clock::Clock::now_secs(&SystemClock);
    let session = SessionRecord {
        user_id: user.user_id.clone(),
        session_id: ulid::Ulid::new().to_string(),
        refresh_hash: "h".into(),
        used_refresh_hashes: vec![],
        generation: 0,
        roles: roles.to_vec(),
        ip: "203.0.113.1".into(),
        user_agent: "tests".into(),
        created_at: now,
        last_used_at: now,
        expires_at: now + 3600,
    };
    accounts
        .store
        .transact(vec![AuthWrite::PutSession(session).into()])
        .await
        .unwrap();
    username
}

async fn a_roles_change_raises_the_generation_and_ends_every_session(accounts: Accounts) {
    let dave = user_with_a_session(&accounts, "dave", &[Role::User, Role::Admin]).await;
    let user = accounts.store.get_user(&dave).await.unwrap().unwrap();
    let outcome = set_roles(&accounts, origin(), OPERATOR, &dave, &[Role::User])
        .await
        .unwrap();
    let RolesOutcome::Changed { from, revoked } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(from, [Role::Admin, Role::User]);
    assert_eq!((revoked.generation, revoked.revoked_count), (1, 1));
    let after = accounts.store.get_user(&dave).await.unwrap().unwrap();
    assert_eq!(after.roles, [Role::User]);
    assert_eq!(after.generation, 1);
    let now = warden::clock::Clock::now_secs(&SystemClock);
    assert!(
        accounts
            .store
            .list_sessions(&user.user_id, now)
            .await
            .unwrap()
            .is_empty()
    );
    // The operator also created the user, possibly within the same
    // millisecond: pick the event by its type, not its place.
    let events = accounts.store.audit_by_actor(OPERATOR, 10).await.unwrap();
    let event = events
        .iter()
        .find(|e| e.event_type == EventType::UserRolesChanged)
        .unwrap();
    assert_eq!(
        event.subject.as_deref(),
        Some(warden::audit::user_actor(&user.user_id).as_str())
    );
    assert_eq!(event.details["from"], "admin,user");
    assert_eq!(event.details["to"], "user");
    assert_eq!(event.origin, origin());
}

async fn the_same_roles_change_nothing_and_no_role_is_refused(accounts: Accounts) {
    let erin = user_with_a_session(&accounts, "erin", &[Role::Approver, Role::User]).await;
    let before = accounts.store.audit_by_actor(OPERATOR, 10).await.unwrap();
    let outcome = set_roles(
        &accounts,
        origin(),
        OPERATOR,
        &erin,
        &[Role::User, Role::Approver, Role::User],
    )
    .await
    .unwrap();
    assert_eq!(outcome, RolesOutcome::Unchanged);
    let user = accounts.store.get_user(&erin).await.unwrap().unwrap();
    assert_eq!(user.generation, 0);
    assert_eq!(
        accounts.store.audit_by_actor(OPERATOR, 10).await.unwrap(),
        before
    );
    let refused = set_roles(&accounts, origin(), OPERATOR, &erin, &[]).await;
    assert!(matches!(refused, Err(Error::BadRequest(_))), "{refused:?}");
    let ghost = Username::parse("ghost").unwrap();
    let refused = set_roles(&accounts, origin(), OPERATOR, &ghost, &[Role::User]).await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
}

async fn revoke_all_of_a_user_is_audited_with_the_reason(accounts: Accounts) {
    let fay = user_with_a_session(&accounts, "fay", &[Role::User]).await;
    let outcome = revoke_all_of(&accounts, origin(), OPERATOR, &fay, "laptop stolen")
        .await
        .unwrap();
    assert_eq!((outcome.generation, outcome.revoked_count), (1, 1));
    let events = accounts.store.audit_by_actor(OPERATOR, 10).await.unwrap();
    let event = events
        .iter()
        .find(|e| e.event_type == EventType::AllTokensRevoked)
        .unwrap();
    assert_eq!(event.details["reason"], "laptop stolen");
    assert_eq!(event.details["username"], "fay");
}

/// The message of `refused`, which must be a `400` (`BadRequest`).
fn bad_request<T: std::fmt::Debug>(refused: Result<T, Error>) -> String {
    match refused {
        Err(e @ Error::BadRequest(_)) => {
            assert_eq!(e.status(), 400);
            e.to_string()
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

async fn a_password_that_breaks_the_policy_is_refused_by_create_and_set_password(
    accounts: Accounts,
) {
    let secret = |s: &str| SecretString::from(s.to_owned());
    let ivy = Username::parse("ivy").unwrap();
    let short = create_user(&accounts, origin(), &ivy, &secret("elevenchars"), &[]).await;
    assert_eq!(
        bad_request(short),
        "the password must be at least 12 characters"
    );
    let common = create_user(&accounts, origin(), &ivy, &secret("QWERTY123456"), &[]).await;
    assert_eq!(
        bad_request(common),
        "the password is one of the most common passwords; choose another"
    );
    assert!(accounts.store.get_user(&ivy).await.unwrap().is_none());

    let gil = user_with_a_session(&accounts, "gil", &[Role::User]).await;
    let long = set_password(
        &accounts,
        origin(),
        OPERATOR,
        &gil,
        &secret(&"x".repeat(129)),
    )
    .await;
    assert_eq!(
        bad_request(long),
        "the password must be at most 128 characters"
    );
    // Refused before any write: the generation (and the session) stand.
    assert_eq!(
        accounts
            .store
            .get_user(&gil)
            .await
            .unwrap()
            .unwrap()
            .generation,
        0
    );
    let changed = set_password(
        &accounts,
        origin(),
        OPERATOR,
        &gil,
        &secret(&"x".repeat(128)),
    )
    .await
    .unwrap();
    assert_eq!(changed.generation, 1);
}

async fn the_minimum_comes_from_the_configuration(store: Arc<dyn AuthStore>) {
    let (config, findings) = warden::config::Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        "WARDEN_PASSWORD_MIN_LENGTH" => Some("16".into()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    let accounts = Accounts::new(config.unwrap(), store, Arc::new(SystemClock)).unwrap();
    let jo = Username::parse("jo").unwrap();
    let refused = create_user(
        &accounts,
        origin(),
        &jo,
        &SecretString::from("fifteen chars!!"),
        &[],
    )
    .await;
    assert_eq!(
        bad_request(refused),
        "the password must be at least 16 characters"
    );
    create_user(
        &accounts,
        origin(),
        &jo,
        &SecretString::from("sixteen chars!!!"),
        &[],
    )
    .await
    .unwrap();
}

warden::on_both_stores!(
    |store| accounts(store as Arc<dyn AuthStore>);
    a_roles_change_raises_the_generation_and_ends_every_session,
    the_same_roles_change_nothing_and_no_role_is_refused,
    revoke_all_of_a_user_is_audited_with_the_reason,
    a_password_that_breaks_the_policy_is_refused_by_create_and_set_password,
);

#[tokio::test]
async fn the_minimum_comes_from_the_configuration_in_memory() {
    the_minimum_comes_from_the_configuration(Arc::new(warden::store::memory::MemoryStore::new()))
        .await;
}
