//! Users, sessions and the denylist in DynamoDB: the Users, ActiveTokens
//! and RevokedTokens tables (and the failure counters of unknown usernames,
//! kept in RateLimits).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::item::{Item, get_list, get_n, get_opt_n, get_opt_s, get_s, list, n, s};
use super::{DynamoStore, Expr, build_err, unavailable};
use crate::Result;
use crate::auth::signing::KeySet;
use crate::domain::agents::WorkspaceId;
use crate::domain::{FailureCount, RevocationState, Role, SessionRecord, UserRecord, Username};
use crate::store::auth::{
    AccountChange, AuthWrite, DelegationLookup, DelegationState, SessionStore, TokenLookup,
    UserStore,
};
use crate::store::keys::{self, RevocationKey};

/// A user's generation condition: the stored value is `:g`, or absent and
/// `:g` is zero (items written before generations existed).
const GENERATION_IS: &str = "(#g = :g OR (attribute_not_exists(#g) AND :g = :zero))";

fn revoked_key(key: String) -> Item {
    Item::from([("key".to_owned(), s(key))])
}

fn session_key(user_id: &str, session_id: &str) -> Item {
    Item::from([
        ("user_id".to_owned(), s(user_id)),
        ("session_id".to_owned(), s(session_id)),
    ])
}

fn user_key(username: &Username) -> Item {
    Item::from([("username".to_owned(), s(username.as_str()))])
}

/// The user's part of a denylist state, from its `user#` record (absent:
/// the user is gone).
fn user_state(record: Option<&Item>) -> Result<RevocationState> {
    let Some(item) = record else {
        return Ok(RevocationState::default());
    };
    Ok(RevocationState {
        user_exists: true,
        generation: get_opt_n(item, "generation")?.unwrap_or(0),
        username: get_opt_s(item, "username"),
        workspaces: memberships(item)?,
        ..RevocationState::default()
    })
}

/// The RevokedTokens items one token's check reads: its `jti`, its
/// parent's, its session and its user's `user#` record.
pub(super) fn token_keys(token: &TokenLookup<'_>) -> Vec<Item> {
    let mut keys = vec![
        revoked_key(RevocationKey::Token(token.jti.to_owned()).storage_key()),
        revoked_key(RevocationKey::Session(token.session_id.to_owned()).storage_key()),
        revoked_key(keys::generation(token.user_id)),
    ];
    if let Some(parent) = token.parent_jti {
        keys.push(revoked_key(
            RevocationKey::Token(parent.to_owned()).storage_key(),
        ));
    }
    keys
}

/// The denylist state of `token` from the RevokedTokens items read for it
/// ([`token_keys`]); an entry counts while it exists.
pub(super) fn token_state(token: &TokenLookup<'_>, found: &[Item]) -> Result<RevocationState> {
    let mut live = std::collections::HashMap::new();
    for item in found {
        live.insert(get_s(item, "key")?, item);
    }
    let denied = |key: RevocationKey| live.contains_key(&key.storage_key());
    let mut state = user_state(live.get(&keys::generation(token.user_id)).copied())?;
    state.token_revoked = denied(RevocationKey::Token(token.jti.to_owned()))
        || token
            .parent_jti
            .is_some_and(|p| denied(RevocationKey::Token(p.to_owned())));
    state.session_revoked = denied(RevocationKey::Session(token.session_id.to_owned()));
    Ok(state)
}

impl DynamoStore {
    /// Reads the denylist entries `keys` and the user's `user#` record, and
    /// the `extra` item, in one BatchGetItem. An entry counts while it
    /// exists: it is written to outlive the token it blocks, and if DynamoDB
    /// has not deleted it yet, that only errs on the safe side. Returns
    /// whether each key is denied, the user's record as (exists,
    /// generation), and the extra items found.
    async fn denylist(
        &self,
        keys: &[RevocationKey],
        user_id: &str,
        extra: Option<(&str, Item)>,
    ) -> Result<(Vec<bool>, RevocationState, Vec<Item>)> {
        let storage: Vec<String> = keys.iter().map(RevocationKey::storage_key).collect();
        let mut wanted: Vec<Item> = storage.iter().map(|k| revoked_key(k.clone())).collect();
        wanted.push(revoked_key(keys::generation(user_id)));
        let mut request = vec![(self.tables.revoked_tokens.as_str(), wanted)];
        let extra_table = extra.as_ref().map(|(table, _)| *table);
        if let Some((table, key)) = extra {
            request.push((table, vec![key]));
        }
        let mut found = self.batch_get(request).await?;
        let mut live = std::collections::HashMap::new();
        for item in found
            .remove(&self.tables.revoked_tokens)
            .unwrap_or_default()
        {
            live.insert(get_s(&item, "key")?, item);
        }
        let denied = storage.iter().map(|k| live.contains_key(k)).collect();
        let user = user_state(live.get(&keys::generation(user_id)))?;
        let rest = extra_table
            .and_then(|t| found.remove(t))
            .unwrap_or_default();
        Ok((denied, user, rest))
    }

    pub(super) fn auth_items(&self, write: AuthWrite) -> Result<Vec<TransactWriteItem>> {
        let t = &self.tables;
        let one = |x: Result<TransactWriteItem>| x.map(|i| vec![i]);
        match write {
            AuthWrite::SetMembership {
                user_id,
                workspace_id,
                member,
            } => one(Expr::default()
                .name("#k", "key")
                .name("#ws", "workspaces")
                .value(
                    ":ws",
                    AttributeValue::Ss(vec![workspace_id.as_str().to_owned()]),
                )
                .update(
                    &t.revoked_tokens,
                    revoked_key(keys::generation(&user_id)),
                    if member {
                        "ADD #ws :ws"
                    } else {
                        "DELETE #ws :ws"
                    },
                    Some("attribute_exists(#k)"),
                )),
            AuthWrite::CreateUser(u) => {
                let user = Expr::default().name("#u", "username").put(
                    &t.users,
                    user_item(&u),
                    "attribute_not_exists(#u)",
                )?;
                let mut record = revoked_key(keys::generation(&u.user_id));
                record.insert("generation".into(), n(u.generation));
                record.insert("username".into(), s(u.username.as_str()));
                let generation = Expr::default().name("#k", "key").put(
                    &t.revoked_tokens,
                    record,
                    "attribute_not_exists(#k)",
                )?;
                Ok(vec![user, generation])
            }
            AuthWrite::LoginSucceeded {
                username,
                expected_generation,
                new_password_hash,
            } => {
                let mut expr = Expr::default()
                    .name("#u", "username")
                    .name("#f", "failed_logins")
                    .name("#lf", "last_failed_at")
                    .name("#g", "generation")
                    .value(":zero", n(0))
                    .value(":g", n(expected_generation));
                let mut update = "SET #f = :zero".to_owned();
                if let Some(hash) = new_password_hash {
                    expr = expr.name("#h", "password_hash").value(":h", s(hash));
                    update.push_str(", #h = :h");
                }
                update.push_str(" REMOVE #lf");
                one(expr.update(
                    &t.users,
                    user_key(&username),
                    &update,
                    Some(&format!("attribute_exists(#u) AND {GENERATION_IS}")),
                ))
            }
            AuthWrite::LoginFailed { username, at } => one(Expr::default()
                .name("#u", "username")
                .name("#f", "failed_logins")
                .name("#lf", "last_failed_at")
                .value(":zero", n(0))
                .value(":one", n(1))
                .value(":at", n(at))
                .update(
                    &t.users,
                    user_key(&username),
                    "SET #f = if_not_exists(#f, :zero) + :one, #lf = :at",
                    Some("attribute_exists(#u)"),
                )),
            AuthWrite::UnknownLoginFailed {
                username,
                at,
                expires_at,
                first,
            } => {
                let count = if first {
                    "#f = :one"
                } else {
                    "#f = if_not_exists(#f, :zero) + :one"
                };
                let mut expr = Expr::default()
                    .name("#f", "failures")
                    .name("#lf", "last_failed_at")
                    .name("#exp", "expires_at")
                    .value(":one", n(1))
                    .value(":at", n(at))
                    .value(":exp", n(expires_at));
                if !first {
                    expr = expr.value(":zero", n(0));
                }
                one(expr.update(
                    &t.rate_limits,
                    Item::from([("key".to_owned(), s(keys::unknown_user_failures(&username)))]),
                    &format!("SET {count}, #lf = :at, #exp = :exp"),
                    None,
                ))
            }
            AuthWrite::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                change,
            } => {
                let next = expected_generation + 1;
                let mut expr = Expr::default()
                    .name("#u", "username")
                    .name("#g", "generation")
                    .value(":g", n(expected_generation))
                    .value(":next", n(next))
                    .value(":zero", n(0));
                let mut update = "SET #g = :next".to_owned();
                match change {
                    AccountChange::None => {}
                    AccountChange::Password(hash) => {
                        expr = expr
                            .name("#h", "password_hash")
                            .name("#f", "failed_logins")
                            .name("#lf", "last_failed_at")
                            .value(":h", s(hash));
                        update.push_str(", #h = :h, #f = :zero REMOVE #lf");
                    }
                    AccountChange::Disable => {
                        expr = expr
                            .name("#d", "disabled")
                            .value(":true", AttributeValue::Bool(true));
                        update.push_str(", #d = :true");
                    }
                    AccountChange::Roles(roles) => {
                        expr = expr.name("#r", "roles").value(":r", roles_attr(&roles));
                        update.push_str(", #r = :r");
                    }
                }
                let user = expr.update(
                    &t.users,
                    user_key(&username),
                    &update,
                    Some(&format!("attribute_exists(#u) AND {GENERATION_IS}")),
                )?;
                let record = Expr::default()
                    .name("#k", "key")
                    .name("#g", "generation")
                    .value(":g", n(expected_generation))
                    .value(":next", n(next))
                    .update(
                        &t.revoked_tokens,
                        revoked_key(keys::generation(&user_id)),
                        "SET #g = :next",
                        Some("attribute_exists(#k) AND #g = :g"),
                    )?;
                Ok(vec![user, record])
            }
            AuthWrite::EnableUser { username } => one(Expr::default()
                .name("#u", "username")
                .name("#d", "disabled")
                .value(":false", AttributeValue::Bool(false))
                .update(
                    &t.users,
                    user_key(&username),
                    "SET #d = :false",
                    Some("attribute_exists(#u)"),
                )),
            AuthWrite::PutSession(session) => one(Expr::default().name("#s", "session_id").put(
                &t.active_tokens,
                session_item(&session),
                "attribute_not_exists(#s)",
            )),
            AuthWrite::RotateRefresh {
                user_id,
                session_id,
                expected_refresh_hash,
                new_refresh_hash,
                used_refresh_hashes,
                at,
                expires_at,
            } => one(Expr::default()
                .name("#rh", "refresh_hash")
                .name("#used", "used_refresh_hashes")
                .name("#lu", "last_used_at")
                .name("#exp", "expires_at")
                .value(":expected", s(expected_refresh_hash))
                .value(":new", s(new_refresh_hash))
                .value(":used", list(used_refresh_hashes))
                .value(":at", n(at))
                .value(":exp", n(expires_at))
                .update(
                    &t.active_tokens,
                    session_key(&user_id, &session_id),
                    "SET #rh = :new, #used = :used, #lu = :at, #exp = :exp",
                    Some("#rh = :expected AND #exp > :at"),
                )),
            AuthWrite::DeleteSession {
                user_id,
                session_id,
            } => {
                let d = Delete::builder()
                    .table_name(&t.active_tokens)
                    .set_key(Some(session_key(&user_id, &session_id)))
                    .build()
                    .map_err(build_err)?;
                Ok(vec![TransactWriteItem::builder().delete(d).build()])
            }
            AuthWrite::Deny { key, expires_at } => {
                let mut entry = revoked_key(key.storage_key());
                entry.insert("expires_at".into(), n(expires_at));
                let p = Put::builder()
                    .table_name(&t.revoked_tokens)
                    .set_item(Some(entry))
                    .build()
                    .map_err(build_err)?;
                Ok(vec![TransactWriteItem::builder().put(p).build()])
            }
            AuthWrite::PutKeySet { name, set } => {
                let mut item = revoked_key(keys::key_set(&name));
                let keys = serde_json::to_string(&set.keys)
                    .map_err(|e| crate::Error::internal_from("encoding a key set", e))?;
                item.insert("keys".into(), s(keys));
                item.insert("version".into(), n(set.version));
                // Every name and value given is used: DynamoDB refuses others.
                let put = match set.version.checked_sub(1).filter(|&v| v > 0) {
                    Some(previous) => Expr::default()
                        .name("#v", "version")
                        .value(":v", n(previous))
                        .put(&t.revoked_tokens, item, "#v = :v"),
                    None => Expr::default().name("#k", "key").put(
                        &t.revoked_tokens,
                        item,
                        "attribute_not_exists(#k)",
                    ),
                }?;
                Ok(vec![put])
            }
        }
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn get_user(&self, username: &Username) -> Result<Option<UserRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .set_key(Some(user_key(username)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem users", e))?;
        out.item.as_ref().map(user_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_for_login(
        &self,
        username: &Username,
        now: i64,
    ) -> Result<(Option<UserRecord>, FailureCount)> {
        let counter = Item::from([("key".to_owned(), s(keys::unknown_user_failures(username)))]);
        let mut found = self
            .batch_get(vec![
                (self.tables.users.as_str(), vec![user_key(username)]),
                (self.tables.rate_limits.as_str(), vec![counter]),
            ])
            .await?;
        let user = match found.remove(&self.tables.users).unwrap_or_default().first() {
            Some(item) => Some(user_from(item)?),
            None => None,
        };
        let failures = match found
            .remove(&self.tables.rate_limits)
            .unwrap_or_default()
            .first()
        {
            Some(item) if get_n::<i64>(item, "expires_at")? > now => FailureCount {
                failures: get_n(item, "failures")?,
                last_failed_at: get_opt_n(item, "last_failed_at")?,
            },
            _ => FailureCount::default(),
        };
        Ok((user, failures))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id), err(level = "debug"))]
    async fn user_generation(&self, user_id: &str) -> Result<Option<(Username, u64)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.revoked_tokens)
            .key("key", s(keys::generation(user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem generation", e))?;
        match out.item {
            Some(item) => Ok(Some((
                Username::from_stored(get_s(&item, "username")?),
                get_n(&item, "generation")?,
            ))),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let mut users = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.tables.users)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("Scan users", e))?;
            for item in page.items() {
                users.push(user_from(item)?);
            }
        }
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok(users)
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id, session_id = %session_id), err(level = "debug"))]
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)> {
        let keys = [RevocationKey::Session(session_id.to_owned())];
        let extra = (
            self.tables.active_tokens.as_str(),
            session_key(user_id, session_id),
        );
        let (denied, user, sessions) = self.denylist(&keys, user_id, Some(extra)).await?;
        let session = match sessions.first() {
            Some(item) => Some(session_from(item)?).filter(|s| s.expires_at > now),
            None => None,
        };
        Ok((
            session,
            RevocationState {
                session_revoked: denied[0],
                ..user
            },
        ))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id), err(level = "debug"))]
    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        let mut sessions = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.active_tokens)
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", "user_id")
            .expression_attribute_values(":u", s(user_id))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("Query active tokens", e))?;
            for item in page.items() {
                let session = session_from(item)?;
                if session.expires_at > now {
                    sessions.push(session);
                }
            }
        }
        Ok(sessions)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %session_id, user_id = %user_id), err(level = "debug"))]
    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState> {
        let keys = [
            RevocationKey::Token(jti.to_owned()),
            RevocationKey::Session(session_id.to_owned()),
        ];
        let (denied, user, _) = self.denylist(&keys, user_id, None).await?;
        Ok(RevocationState {
            token_revoked: denied[0],
            session_revoked: denied[1],
            ..user
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %lookup.token.user_id, key_id = %lookup.key_id), err(level = "debug"))]
    async fn delegation_state(&self, lookup: DelegationLookup<'_>) -> Result<DelegationState> {
        let t = &self.tables;
        let mut request = vec![
            (t.revoked_tokens.as_str(), token_keys(&lookup.token)),
            (
                t.agents.as_str(),
                vec![super::agents::agent_key(lookup.agent_id)],
            ),
        ];
        // DynamoDB refuses an empty key value: an empty id names no key.
        if !lookup.key_id.is_empty() {
            request.push((
                t.api_keys.as_str(),
                vec![Item::from([("key_id".to_owned(), s(lookup.key_id))])],
            ));
        }
        let mut found = self.batch_get(request).await?;
        let revoked = found.remove(&t.revoked_tokens).unwrap_or_default();
        Ok(DelegationState {
            revocation: token_state(&lookup.token, &revoked)?,
            key: found
                .remove(&t.api_keys)
                .and_then(|items| items.into_iter().next())
                .as_ref()
                .map(super::api_keys::api_key_from)
                .transpose()?,
            agent: found
                .remove(&t.agents)
                .and_then(|items| items.into_iter().next())
                .as_ref()
                .map(super::agents::agent_from)
                .transpose()?,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name), err(level = "debug"))]
    async fn key_set(&self, name: &str) -> Result<Option<KeySet>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.revoked_tokens)
            .key("key", s(keys::key_set(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem key set", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let keys = serde_json::from_str(&get_s(&item, "keys")?).map_err(|e| {
            crate::Error::internal_from(format!("the stored key set {name} does not read"), e)
        })?;
        Ok(Some(KeySet {
            keys,
            version: get_n(&item, "version")?,
        }))
    }
}

/// The workspaces a `user#` record lists (a string set; absent when the
/// user is a member of none), sorted.
fn memberships(item: &Item) -> Result<Vec<WorkspaceId>> {
    let Some(value) = item.get("workspaces") else {
        return Ok(Vec::new());
    };
    let names = value
        .as_ss()
        .map_err(|_| super::item::corrupt("workspaces"))?;
    let mut workspaces = names
        .iter()
        .map(|w| WorkspaceId::parse(w).map_err(|_| super::item::corrupt("workspaces")))
        .collect::<Result<Vec<_>>>()?;
    workspaces.sort();
    Ok(workspaces)
}

fn roles_attr(roles: &[Role]) -> AttributeValue {
    list(roles.iter().map(|r| r.as_str()))
}

fn get_roles(item: &Item) -> Result<Vec<Role>> {
    get_list(item, "roles")?
        .iter()
        .map(|r| Role::parse(r).map_err(|_| super::item::corrupt("roles")))
        .collect()
}

/// The item of a user.
fn user_item(u: &UserRecord) -> Item {
    let mut item = Item::from([
        ("username".into(), s(u.username.as_str())),
        ("user_id".into(), s(&u.user_id)),
        ("password_hash".into(), s(&u.password_hash)),
        ("roles".into(), roles_attr(&u.roles)),
        ("disabled".into(), AttributeValue::Bool(u.disabled)),
        ("failed_logins".into(), n(u.failed_logins)),
        ("generation".into(), n(u.generation)),
        ("created_at".into(), n(u.created_at)),
    ]);
    if let Some(at) = u.last_failed_at {
        item.insert("last_failed_at".into(), n(at));
    }
    item
}

/// A user from its item.
fn user_from(item: &Item) -> Result<UserRecord> {
    Ok(UserRecord {
        username: Username::from_stored(get_s(item, "username")?),
        user_id: get_s(item, "user_id")?,
        password_hash: get_s(item, "password_hash")?,
        roles: get_roles(item)?,
        disabled: item
            .get("disabled")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        failed_logins: get_opt_n(item, "failed_logins")?.unwrap_or(0),
        last_failed_at: get_opt_n(item, "last_failed_at")?,
        generation: get_opt_n(item, "generation")?.unwrap_or(0),
        created_at: get_opt_n(item, "created_at")?.unwrap_or(0),
    })
}

/// The item of a session.
fn session_item(x: &SessionRecord) -> Item {
    Item::from([
        ("user_id".into(), s(&x.user_id)),
        ("session_id".into(), s(&x.session_id)),
        ("refresh_hash".into(), s(&x.refresh_hash)),
        (
            "used_refresh_hashes".into(),
            list(x.used_refresh_hashes.iter().cloned()),
        ),
        ("generation".into(), n(x.generation)),
        ("roles".into(), roles_attr(&x.roles)),
        ("ip".into(), s(&x.ip)),
        ("user_agent".into(), s(&x.user_agent)),
        ("created_at".into(), n(x.created_at)),
        ("last_used_at".into(), n(x.last_used_at)),
        ("expires_at".into(), n(x.expires_at)),
    ])
}

/// A session from its item.
fn session_from(item: &Item) -> Result<SessionRecord> {
    Ok(SessionRecord {
        user_id: get_s(item, "user_id")?,
        session_id: get_s(item, "session_id")?,
        refresh_hash: get_s(item, "refresh_hash")?,
        used_refresh_hashes: get_list(item, "used_refresh_hashes")?,
        generation: get_n(item, "generation")?,
        roles: get_roles(item)?,
        ip: get_opt_s(item, "ip").unwrap_or_default(),
        user_agent: get_opt_s(item, "user_agent").unwrap_or_default(),
        created_at: get_n(item, "created_at")?,
        last_used_at: get_n(item, "last_used_at")?,
        expires_at: get_n(item, "expires_at")?,
    })
}
