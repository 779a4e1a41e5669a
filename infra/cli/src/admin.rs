//! Administration commands: `tables create`, `users add`,
//! `users set-password`, `users disable`, `users enable`, `users list`,
//! `users roles`, `users revoke-all`, `config check`, `workspaces add`,
//! `agents register|set-maturity|disable|enable|list`,
//! `tools register|list|remove`, `apikeys create|revoke|list`, `audit query`, `webhooks set-secret`,
//! `jwt-key rotate`, `health`.
//!
//! Every command that changes state first learns who runs it
//! ([`operator`]) and names them in its audit event, as actor and origin:
//! in the same DynamoDB transaction as the change, or, for a Secrets
//! Manager write (which no DynamoDB transaction can include), right after
//! the write succeeded.

use std::sync::Arc;

use aws_sdk_kms::types::{KeySpec as KmsKeySpec, KeyUsageType};
use secrecy::SecretString;
use warden::Error;
use warden::agents::{
    self,
    registry::{NewAgent, NewTool},
};
use warden::audit::query;
use warden::audit::{AuditEvent, Auditor, EventType, Origin, Severity as Importance};
use warden::auth::api_keys::{self, KeySpec, NewKey};
use warden::auth::login::create_user;
use warden::auth::password_policy;
use warden::auth::pepper::Pepper;
use warden::auth::revocation::{self, RevokeAllOutcome, RolesOutcome};
use warden::auth::signing::{ACCESS_KEY_SET, KeySet, NewKey as NewSigningKey, Signer as _};
use warden::aws::Guards;
use warden::aws::kms::KmsSigner;
use warden::clock::{Clock, SystemClock, rfc3339};
use warden::config::{Check, Config, Environment, Finding, Findings, Severity};
use warden::domain::agents::{
    AgentId, AgentRecord, ApiKeyRecord, Maturity, WorkspaceId, WorkspaceRecord,
};
use warden::domain::tools::{ToolName, ToolRecord};
use warden::domain::{Role, UserRecord, Username};
use warden::health::{self, report::HealthReport};
use warden::secrets::SecretsManager;
use warden::secrets::rotation::{self, SecretWriter};
use warden::state::{Accounts, Registry};
use warden::store::AuthWrite;
use warden::store::dynamo::DynamoStore;
use warden::store::dynamo::tables::{self, TableReport};
use warden::store::{SessionStore as _, Transactions as _, UserStore as _, Write};
use warden::webhook::SchemeKind;
use warden::webhook::rotation::set_source_secret;
use warden::wiring::api_key_pepper;

use crate::seed::OPERATOR;
use crate::serve::aws_config;

/// Who runs a command that changes state, as its audit events name them
/// (actor and origin). Against an endpoint on this machine (`--endpoint`
/// on a loopback address: an emulator) it is `local`: no AWS identity
/// stands behind an emulator's dummy credentials. Otherwise (AWS itself,
/// or an `--endpoint` elsewhere, such as a VPC endpoint) it is the ARN of
/// the AWS caller identity
/// (STS GetCallerIdentity), the identity CloudTrail also records; when it
/// cannot be learned the command refuses to change anything, so no change
/// is made without an operator to name.
pub async fn operator(
    aws: &warden::aws::SdkConfig,
    endpoint: Option<&str>,
) -> Result<String, Error> {
    Ok(operator_and_clock(aws, endpoint).await?.0)
}

/// [`operator`], and the clock the command stamps its audit events with:
/// AWS's, from the `Date` header of the GetCallerIdentity answer (a
/// laptop's clock may be minutes off, and writers refuse an event more
/// than a minute from their clock: see README "The audit ledger"); this
/// machine's against a loopback endpoint, which runs on it.
pub async fn operator_and_clock(
    aws: &warden::aws::SdkConfig,
    endpoint: Option<&str>,
) -> Result<(String, Arc<dyn Clock>), Error> {
    if endpoint.is_some_and(is_loopback) {
        return Ok((OPERATOR.to_owned(), Arc::new(SystemClock)));
    }
    let date = ServiceDate::default();
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(aws)
            .interceptor(date.clone())
            .build(),
    );
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        warden::aws::sdk_unavailable(
            "STS GetCallerIdentity (the operator named in the audit log)",
            &e,
        )
    })?;
    let arn = out
        .arn()
        .map(str::to_owned)
        .ok_or_else(|| Error::internal("GetCallerIdentity answered no ARN"))?;
    let clock: Arc<dyn Clock> = match date.millis() {
        Some(at) => Arc::new(warden::clock::OffsetClock::towards(at)),
        None => Arc::new(SystemClock),
    };
    Ok((arn, clock))
}

/// Records the `Date` header of an AWS answer: the service's time.
#[derive(Debug, Clone, Default)]
struct ServiceDate(Arc<std::sync::Mutex<Option<String>>>);

impl ServiceDate {
    /// The recorded time, in milliseconds since the epoch. The header has
    /// whole seconds: half a second is added, the middle of that second.
    fn millis(&self) -> Option<i64> {
        let text = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()?;
        warden::clock::http_date_millis(&text).map(|ms| ms + 500)
    }
}

impl aws_sdk_sts::config::Intercept for ServiceDate {
    fn name(&self) -> &'static str {
        "ServiceDate"
    }

    fn read_after_transmit(
        &self,
        context: &aws_sdk_sts::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_sts::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sts::config::ConfigBag,
    ) -> Result<(), aws_sdk_sts::error::BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(date.to_owned());
        }
        Ok(())
    }
}

/// Whether `endpoint` (a URL) names this machine.
fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One command's connection: the configuration, the AWS SDK configuration
/// (at `endpoint` when given), and for a command that changes state, who
/// runs it.
struct Admin {
    config: Config,
    aws: warden::aws::SdkConfig,
    operator: String,
    /// The audit MAC key a changing command seals its events with, read
    /// with the operator's credentials.
    mac: Option<warden::audit::mac::MacKey>,
    /// The time its events are stamped with ([`operator_and_clock`]).
    clock: Arc<dyn Clock>,
}

impl Admin {
    /// A read-only command's connection: no operator is needed.
    async fn reader(endpoint: Option<&str>, config: Config) -> Self {
        let aws = aws_config(&config.aws, endpoint).await;
        Self {
            config,
            aws,
            operator: OPERATOR.to_owned(),
            mac: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A changing command's connection: the operator is learned first.
    async fn writer(endpoint: Option<&str>, config: Config) -> Result<Self, Error> {
        let aws = aws_config(&config.aws, endpoint).await;
        let (operator, clock) = operator_and_clock(&aws, endpoint).await?;
        // At a development endpoint, the key `warden serve` seals with
        // there; in AWS, the stack's secret.
        let endpoint_aws = endpoint.filter(|e| is_loopback(e)).map(|_| &aws);
        let mac = crate::ledger::mac_key(&config, endpoint_aws, Some(&aws), false).await?;
        Ok(Self {
            config,
            aws,
            operator,
            mac,
            clock,
        })
    }

    fn origin(&self) -> Origin {
        Origin::Cli {
            operator: self.operator.clone(),
        }
    }

    fn store(&self) -> DynamoStore {
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            &self.config.table_prefix,
        );
        match &self.mac {
            Some(key) => store
                .with_audit_mac(key.clone())
                .with_writer_clock(self.clock.clone()),
            None => store,
        }
    }

    /// The accounts over the tables, for user administration. No signing
    /// key is read: nothing here issues a token.
    fn accounts(&self) -> Result<Accounts, Error> {
        Accounts::new(
            self.config.clone(),
            Arc::new(self.store()),
            self.clock.clone(),
        )
    }

    fn registry(&self) -> Registry {
        Registry::new(
            self.config.clone(),
            Arc::new(self.store()),
            self.clock.clone(),
        )
    }

    fn secrets(&self) -> SecretWriter {
        SecretWriter::new(aws_sdk_secretsmanager::Client::new(&self.aws))
    }

    /// An audit event of this command, its operator as actor.
    fn event(&self, event_type: EventType, severity: Importance) -> AuditEvent {
        Auditor::new(self.clock.clone(), self.config.audit_retention_days).event(
            event_type,
            severity,
            self.origin(),
        )
    }

    /// Writes the audit event of a Secrets Manager change that has been
    /// made: it cannot share the change's transaction, so it follows it.
    /// When it fails, the error says that the change itself stands.
    async fn audit_after(&self, event: AuditEvent, change: &str) -> Result<(), Error> {
        self.store()
            .transact(vec![Write::Audit(event)])
            .await
            .map_err(|e| {
                Error::unavailable(format!(
                    "{change} was made, but its audit event could not be written ({}); record it by hand",
                    e.chain()
                ))
            })
    }
}

/// Creates every table under the configured prefix at `endpoint` (or the
/// default AWS configuration), with `guards` on each call, and completes
/// the tables that exist (a missing index, TTL off): what was done to
/// each ([`tables::create_all`]).
pub async fn create_tables(
    endpoint: Option<&str>,
    prefix: &str,
    guards: &Guards,
) -> Result<Vec<TableReport>, Error> {
    let aws = aws_config(guards, endpoint).await;
    tables::create_all(&aws_sdk_dynamodb::Client::new(&aws), prefix).await
}

/// What `tables create` did to one table, in words: `created`, `added
/// index ...`, `turned TTL on (...)`, or `exists, unchanged`.
pub fn table_changes(report: &TableReport) -> String {
    let mut changes = Vec::new();
    if report.created {
        changes.push("created".to_owned());
    }
    for index in &report.indexes_created {
        changes.push(format!("added index {index}"));
    }
    if report.ttl_enabled {
        changes.push(format!("turned TTL on ({})", tables::TTL_ATTRIBUTE));
    }
    if changes.is_empty() {
        "exists, unchanged".to_owned()
    } else {
        changes.join("; ")
    }
}

/// Which of the tables under `prefix` do not exist at `endpoint` (or in
/// the AWS configuration's region), as an error message that names them
/// and says how to create them; `None` when none is missing or the tables
/// cannot be listed. Called when a command failed with
/// `ResourceNotFoundException`, which does not say which table.
pub async fn missing_tables(
    prefix: &str,
    endpoint: Option<&str>,
    stack: Option<&str>,
) -> Option<String> {
    let aws = aws_config(&Guards::default(), endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let mut existing = std::collections::BTreeSet::new();
    let mut pages = client.list_tables().into_paginator().items().send();
    while let Some(name) = pages.next().await {
        existing.insert(name.ok()?);
    }
    let missing: Vec<String> = tables::ALL
        .iter()
        .map(|t| t.name(prefix))
        .filter(|name| !existing.contains(name))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let place = match endpoint {
        Some(url) => format!("at {url}"),
        None => format!(
            "in region {}",
            aws.region()
                .map_or_else(|| "(none)".to_owned(), ToString::to_string)
        ),
    };
    let how = match stack {
        Some(stack) => format!(
            "stack {stack} names them but they are gone; see the stack's resources in CloudFormation"
        ),
        None => format!(
            "create them with `warden tables create` (WARDEN_TABLE_PREFIX={prefix}), or name a deployed stack with --stack NAME"
        ),
    };
    Some(format!(
        "{} table{} missing {place}: {}; {how}",
        missing.len(),
        if missing.len() == 1 { " is" } else { "s are" },
        missing.join(", ")
    ))
}

/// Creates a user in DynamoDB with the given roles; returns its id.
pub async fn add_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    password: &SecretString,
    roles: &[Role],
) -> Result<String, Error> {
    // Before any AWS call; `create_user` checks it again.
    password_policy::check(password, config.password_min_length)?;
    let admin = Admin::writer(endpoint, config).await?;
    let user = create_user(
        &admin.accounts()?,
        admin.origin(),
        username,
        password,
        roles,
    )
    .await?;
    Ok(user.user_id)
}

/// Sets a user's password in DynamoDB and revokes every token they hold;
/// returns the user's new generation.
pub async fn set_password(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    password: &SecretString,
) -> Result<u64, Error> {
    // Before any AWS call; `set_password` checks it again.
    password_policy::check(password, config.password_min_length)?;
    let admin = Admin::writer(endpoint, config).await?;
    let outcome = revocation::set_password(
        &admin.accounts()?,
        admin.origin(),
        &admin.operator,
        username,
        password,
    )
    .await?;
    Ok(outcome.generation)
}

/// Disables a user in DynamoDB: no more logins, and every token it holds
/// dies in the same write. Returns the user's new generation.
pub async fn disable_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
) -> Result<u64, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    let outcome = revocation::disable_user(
        &admin.accounts()?,
        admin.origin(),
        &admin.operator,
        username,
    )
    .await?;
    Ok(outcome.generation)
}

/// Enables a disabled user in DynamoDB.
pub async fn enable_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
) -> Result<(), Error> {
    let admin = Admin::writer(endpoint, config).await?;
    revocation::enable_user(
        &admin.accounts()?,
        admin.origin(),
        &admin.operator,
        username,
    )
    .await
}

/// Every user (username, roles, disabled; the caller prints no hash).
pub async fn list_users(endpoint: Option<&str>, config: Config) -> Result<Vec<UserRecord>, Error> {
    Admin::reader(endpoint, config)
        .await
        .store()
        .list_users()
        .await
}

/// Replaces a user's roles; every token they hold dies in the same write
/// (see [`revocation::set_roles`]).
pub async fn set_roles(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    roles: &[Role],
) -> Result<RolesOutcome, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    revocation::set_roles(
        &admin.accounts()?,
        admin.origin(),
        &admin.operator,
        username,
        roles,
    )
    .await
}

/// Revokes every token of a user at once, as `POST /auth/revoke-all` does.
pub async fn revoke_all(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    reason: &str,
) -> Result<RevokeAllOutcome, Error> {
    if reason.trim().is_empty() {
        return Err(Error::BadRequest("--reason must say why".into()));
    }
    let admin = Admin::writer(endpoint, config).await?;
    revocation::revoke_all_of(
        &admin.accounts()?,
        admin.origin(),
        &admin.operator,
        username,
        reason.trim(),
    )
    .await
}

/// Every configuration finding; with `WARDEN_SIGNING_KEY_ARN` set, also
/// whether that KMS key can be read and is an RSA key of 2048 bits or more
/// (its `kid` shown), and with `WARDEN_ISSUER_PARAMETER`, whether the
/// issuer it holds is an origin.
pub async fn check_config(lookup: impl Fn(&str) -> Option<String>) -> Findings {
    check_config_at(lookup, None).await
}

/// [`check_config`] with AWS at `endpoint` (an emulator).
pub async fn check_config_at(
    lookup: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
) -> Findings {
    let (config, mut findings) = Config::load(lookup);
    let Some(config) = config else {
        return findings;
    };
    if config.signing_key_arn.is_none() && config.issuer_parameter.is_none() {
        return findings;
    }
    let aws = aws_config(&config.aws, endpoint).await;
    if let Some(arn) = &config.signing_key_arn {
        let signer = KmsSigner::new(aws_sdk_kms::Client::new(&aws));
        findings.0.push(match signer.public_key(arn).await {
            Ok(key) => Finding::ok(
                Check::SigningKey,
                format!("the KMS key {arn} is readable: RSA {} bits, kid {}", key.bits(), key.thumbprint()),
            ),
            Err(e) => Finding::new(
                Check::SigningKey,
                Severity::Error,
                format!("the KMS key {arn} cannot be read: {}", e.chain()),
                "set WARDEN_SIGNING_KEY_ARN to the stack's SigningKeyArn output, with kms:GetPublicKey allowed",
            ),
        });
    }
    if let Some(name) = config.issuer_parameter.clone() {
        findings.0.push(
            match warden::wiring::read_issuer_with(&config, &aws).await {
                Ok(Some(issuer)) => {
                    Finding::ok(Check::Issuer, format!("issuer {issuer} (from {name})"))
                }
                Ok(None) => Finding::ok(
                    Check::Issuer,
                    format!("issuer {} (WARDEN_ISSUER)", config.issuer),
                ),
                Err(e) => Finding::new(
                    Check::Issuer,
                    Severity::Error,
                    format!("the issuer parameter {name}: {}", e.chain()),
                    "deploy the stack (it writes the parameter) or set WARDEN_ISSUER",
                ),
            },
        );
    }
    findings
}

/// Whether every person without role `admin` is a member of a workspace
/// (one who is not sees no workspace at all: every run, job and proposal
/// answers `404`). Read from the tables at `endpoint`, or outside
/// development from the AWS configuration; `None` (not checked) in
/// development without an endpoint, or when the configuration cannot be
/// read. A store that does not answer is a warning saying so.
pub async fn check_memberships(
    lookup: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
) -> Option<Finding> {
    let (config, _) = Config::load(lookup);
    let config = config?;
    if endpoint.is_none() && config.env == warden::config::Environment::Development {
        return None;
    }
    let admin = Admin::reader(endpoint, config).await;
    let store = admin.store();
    let finding = |severity, message: String| Finding {
        check: Check::Memberships,
        severity,
        message,
        remediation: "add each to a workspace: warden workspaces add-member WORKSPACE USERNAME"
            .into(),
    };
    let users = match store.list_users().await {
        Ok(users) => users,
        Err(e) => {
            return Some(finding(
                Severity::Warning,
                format!("memberships not checked: {}", e),
            ));
        }
    };
    let mut without = Vec::new();
    for user in users.iter().filter(|u| !u.roles.contains(&Role::Admin)) {
        match store.revocation_state("-", "-", &user.user_id).await {
            Ok(state) if state.workspaces.is_empty() => without.push(user.username.to_string()),
            Ok(_) => {}
            Err(e) => {
                return Some(finding(
                    Severity::Warning,
                    format!("memberships not checked: {}", e),
                ));
            }
        }
    }
    Some(if without.is_empty() {
        finding(
            Severity::Ok,
            format!(
                "every one of {} users is a member of a workspace or an admin",
                users.len()
            ),
        )
    } else {
        finding(
            Severity::Warning,
            format!(
                "{} users are members of no workspace and see none: {}",
                without.len(),
                without.join(", ")
            ),
        )
    })
}

/// `warden health`: the configuration findings of `warden config check`
/// (the same code) and the report of `GET /security/health` for the
/// deployment `lookup` describes, its AWS clients pointed at `endpoint`
/// when given. The findings alone when the configuration cannot be read.
pub async fn health_report(
    lookup: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
) -> Result<(Findings, HealthReport), Findings> {
    let findings = check_config_at(&lookup, endpoint).await;
    let Some(config) = Config::load(&lookup).0 else {
        return Err(findings);
    };
    let aws = aws_config(&config.aws, endpoint).await;
    let mut state = warden::wiring::health_with(config, &aws).await;
    state.findings = findings.clone();
    Ok((findings, health::endpoints::health_report(&state).await))
}

/// A health report's checks as a table: status, name, latency, detail.
pub fn report_listing(report: &HealthReport) -> crate::output::Listing {
    use crate::output::{Column, Listing};
    let mut listing = Listing::new(&[
        Column::text("STATUS"),
        Column::text("CHECK"),
        Column::number("MS"),
        Column::text("DETAIL"),
    ]);
    for c in &report.checks {
        listing.push(
            vec![
                c.status.as_str().to_owned(),
                c.name.clone(),
                c.latency_ms.to_string(),
                c.detail.clone(),
            ],
            c,
        );
    }
    listing
}

/// Below the checks: uptime, the last incident, then the overall status.
pub fn render_summary(report: &HealthReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let u = &report.uptime;
    let _ = writeln!(
        out,
        "uptime    24h {}% ({}% unknown), 7d {}% ({}% unknown), 30d {}% ({}% unknown)",
        u.pct_24h, u.unknown_pct_24h, u.pct_7d, u.unknown_pct_7d, u.pct_30d, u.unknown_pct_30d
    );
    let _ = match &u.last_incident {
        None => writeln!(out, "incident  none in 30 days"),
        Some(i) => writeln!(
            out,
            "incident  {} to {} ({})",
            i.start,
            i.end.as_deref().unwrap_or("now, still open"),
            i.checks.join(", ")
        ),
    };
    let _ = writeln!(
        out,
        "report    {} (each check's timeout: {} ms)",
        report.status, report.check_timeout_ms
    );
    out
}

/// Adds a workspace.
pub async fn add_workspace(
    endpoint: Option<&str>,
    config: Config,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<WorkspaceRecord, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    agents::registry::add_workspace(&admin.registry(), admin.origin(), workspace_id, name).await
}

/// Makes a user a member of a workspace (`member`), or no longer one.
/// Returns the user's id.
pub async fn set_membership(
    endpoint: Option<&str>,
    config: Config,
    workspace_id: &WorkspaceId,
    username: &Username,
    member: bool,
) -> Result<String, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    let users = admin.store();
    agents::registry::set_membership(
        &admin.registry(),
        &users,
        admin.origin(),
        workspace_id,
        username,
        member,
    )
    .await
}

/// Registers an agent.
pub async fn register_agent(
    endpoint: Option<&str>,
    config: Config,
    agent: NewAgent,
) -> Result<AgentRecord, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    agents::registry::register_agent(&admin.registry(), admin.origin(), agent).await
}

/// Changes an agent's maturity.
pub async fn set_maturity(
    endpoint: Option<&str>,
    config: Config,
    agent_id: &AgentId,
    maturity: Maturity,
) -> Result<AgentRecord, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    agents::registry::set_maturity(&admin.registry(), admin.origin(), agent_id, maturity).await
}

/// Flips an agent's kill switch.
pub async fn set_enabled(
    endpoint: Option<&str>,
    config: Config,
    agent_id: &AgentId,
    enabled: bool,
) -> Result<(), Error> {
    let admin = Admin::writer(endpoint, config).await?;
    agents::registry::set_enabled(&admin.registry(), admin.origin(), agent_id, enabled).await
}

/// Every agent.
pub async fn list_agents(
    endpoint: Option<&str>,
    config: Config,
) -> Result<Vec<AgentRecord>, Error> {
    Admin::reader(endpoint, config)
        .await
        .registry()
        .store
        .list_agents()
        .await
}

/// What `warden tools register` did: the registration made, and the one
/// it replaced, if the tool was registered already.
#[derive(Debug)]
pub struct ToolRegistered {
    /// The tool as registered now, with its new version.
    pub tool: ToolRecord,
    /// The registration it replaced (its pending proposals and unused
    /// approvals are now void), if any.
    pub replaced: Option<ToolRecord>,
}

/// Registers a tool, or registers it again: every registration has a new
/// version, which voids the pending proposals and unused approvals of the
/// one it replaces ([`agents::registry::register_tool`]).
pub async fn register_tool(
    endpoint: Option<&str>,
    config: Config,
    tool: NewTool,
) -> Result<ToolRegistered, Error> {
    let admin = Admin::writer(endpoint, config).await?;
    let registry = admin.registry();
    // Read only to tell the operator what the registration replaced; the
    // registration itself does not depend on it (it replaces whatever is
    // stored, and its audit event names the version it replaced).
    let replaced = registry.store.get_tool(&tool.name).await?;
    let tool = agents::registry::register_tool(&registry, admin.origin(), tool).await?;
    Ok(ToolRegistered { tool, replaced })
}

/// Removes a tool: its calls are refused and its pending proposals and
/// unused approvals are void. An unknown tool is [`Error::NotFound`].
pub async fn remove_tool(
    endpoint: Option<&str>,
    config: Config,
    name: &ToolName,
) -> Result<(), Error> {
    let admin = Admin::writer(endpoint, config).await?;
    agents::registry::remove_tool(&admin.registry(), admin.origin(), name).await
}

/// Every tool, by name.
pub async fn list_tools(endpoint: Option<&str>, config: Config) -> Result<Vec<ToolRecord>, Error> {
    Admin::reader(endpoint, config)
        .await
        .registry()
        .store
        .list_tools()
        .await
}

/// Creates an API key; the whole key is returned to be shown once. An
/// agent's key names the person it is for (`for_user`, stored by id as
/// `created_by`: they cannot approve what the key asks for). The
/// pepper must be one that the deployed functions share: from
/// `WARDEN_API_KEY_PEPPER_ARN` (the stack's `ApiKeyPepperSecretArn`), or
/// in development `WARDEN_API_KEY_PEPPER`, or at a development endpoint
/// the secret `warden serve --dynamodb-endpoint` uses
/// ([`crate::serve::endpoint_pepper`]). A pepper generated for this process
/// would make the key useless.
pub async fn create_key(
    endpoint: Option<&str>,
    config: Config,
    mut spec: KeySpec,
    for_user: Option<&Username>,
) -> Result<NewKey, Error> {
    let pepper = match endpoint {
        Some(endpoint)
            if !crate::serve::pepper_configured(&config)
                && config.env == Environment::Development =>
        {
            let aws = aws_config(&config.aws, Some(endpoint)).await;
            Pepper::new(&crate::serve::endpoint_pepper(&aws, &config.table_prefix).await?)?
        }
        _ if !crate::serve::pepper_configured(&config) => {
            return Err(Error::Config(
                "no API-key pepper: use --stack NAME (or set WARDEN_API_KEY_PEPPER_ARN to the stack's ApiKeyPepperSecretArn); in development, --endpoint URL uses the pepper `warden serve --dynamodb-endpoint URL` uses".into(),
            ));
        }
        _ => {
            let secrets = match &config.api_key_pepper_arn {
                Some(_) => Some(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                    &aws_config(&config.aws, None).await,
                ))),
                None => None,
            };
            api_key_pepper(&config, secrets.as_ref().map(|s| s as _)).await?
        }
    };
    let admin = Admin::writer(endpoint, config).await?;
    if let Some(username) = for_user {
        let user = admin
            .store()
            .get_user(username)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no user {username}: add them first")))?;
        spec.created_by = Some(user.user_id);
    }
    api_keys::create_key(&admin.registry(), &pepper, admin.origin(), spec).await
}

/// Revokes an API key at once. `key` is its id, or the whole key (its
/// secret is dropped, never shown); returns the id revoked.
pub async fn revoke_key(
    endpoint: Option<&str>,
    config: Config,
    key: &str,
) -> Result<String, Error> {
    // Checked before anything is asked of AWS: a refusal quotes nothing.
    let key_id = api_keys::key_id_in(key)?;
    let admin = Admin::writer(endpoint, config).await?;
    api_keys::revoke_key(&admin.registry(), admin.origin(), &key_id).await?;
    Ok(key_id)
}

/// Every API key (never a secret: the store holds none).
pub async fn list_keys(endpoint: Option<&str>, config: Config) -> Result<Vec<ApiKeyRecord>, Error> {
    Admin::reader(endpoint, config)
        .await
        .registry()
        .store
        .list_api_keys()
        .await
}

/// `warden audit query`: the events of the last `since_secs`, newest
/// first, at most `limit`, of `actor` (through the actor index) and of
/// `event_type` when given, under the rules of [`query`] (a window longer
/// than [`query::MAX_SINCE_WITHOUT_ACTOR_SECS`] needs an actor), the query
/// `GET /audit` runs too.
pub async fn audit_query(
    endpoint: Option<&str>,
    config: Config,
    actor: Option<String>,
    event_type: Option<EventType>,
    since_secs: i64,
    limit: usize,
) -> Result<Vec<AuditEvent>, Error> {
    let request = query::Request {
        actor,
        event_type,
        since_secs,
        limit,
        before: None,
    };
    // The functions' clocks, not this machine's, stamped the events: the
    // window's end allows for this clock running behind
    // ([`query::CLOCK_SKEW_SECS`]).
    let query = request.at(SystemClock.now_millis(), query::Surface::Cli)?;
    let store = Admin::reader(endpoint, config).await.store();
    let query = match &query.actor {
        Some(actor) => warden::store::AuditQuery {
            actor: Some(resolve_actor(&store, actor).await?),
            ..query
        },
        None => query,
    };
    query::events(&store, &query).await
}

/// The actor `--actor` names, as the audit log writes it: a username is
/// looked up and becomes `user:<its id>`; a user id (bare or `user:<id>`,
/// both forms read: see [`query::actor_forms`]), `key:<id>`,
/// `webhook:<source>`, an operator's ARN, `local`, `health-probe` or
/// `anonymous` is taken as it is.
/// An unknown username is an error, not an empty answer.
async fn resolve_actor(store: &DynamoStore, actor: &str) -> Result<String, Error> {
    // The actors that are not people: an operator's ARN, `local`, the
    // health probe, and `anonymous` (a request no credential names).
    let system = [OPERATOR, warden::health::probe::PROBE_ACTOR, "anonymous"];
    if actor.contains(':') || system.contains(&actor) || query::is_event_id(actor) {
        return Ok(actor.to_owned());
    }
    let not_found = || {
        Error::NotFound(format!(
            "no user named {actor}; --actor takes a username, a user id (`warden users list`), key:<id>, webhook:<source>, an operator's ARN or local"
        ))
    };
    let username = Username::parse(actor).map_err(|_| not_found())?;
    match store.get_user(&username).await? {
        Some(user) => Ok(warden::audit::user_actor(&user.user_id)),
        None => Err(not_found()),
    }
}

/// One audit event as the cells of `audit query`'s table: time, type,
/// severity, actor, subject, the origin (an HTTP request's id and client
/// IP, the queue message, the schedule, the CLI), then the details as
/// compact JSON.
pub fn event_cells(e: &AuditEvent) -> Vec<String> {
    let origin = match &e.origin {
        Origin::Http { ip, request_id, .. } => format!("http request_id={request_id} ip={ip}"),
        Origin::Cli { .. } => "cli".to_owned(),
        Origin::Queue { message_id } => format!("queue message_id={message_id}"),
        Origin::Schedule { rule } => format!("schedule rule={rule}"),
    };
    vec![
        query::rfc3339_millis(e.at_millis),
        e.event_type.as_str().to_owned(),
        e.severity.as_str().to_owned(),
        e.actor.clone(),
        e.subject.clone().unwrap_or_else(|| "-".to_owned()),
        origin,
        serde_json::Value::Object(e.details.clone()).to_string(),
    ]
}

/// What `warden webhooks set-secret` did.
#[derive(Debug)]
pub struct WebhookSecretSet {
    /// The source's scheme.
    pub scheme: SchemeKind,
    /// Whether the source was added.
    pub created: bool,
    /// Whether the source's previous secret still verifies.
    pub kept_previous: bool,
    /// How many older secrets were dropped.
    pub dropped: usize,
    /// The sources secret's new version id.
    pub version_id: String,
}

/// `warden webhooks set-secret`: makes `secret` the current secret of
/// `source` in the webhook sources secret (`WARDEN_WEBHOOK_SECRETS_ARN`),
/// as a new version, keeping the source's current secret as the previous
/// one ([`set_source_secret`]). A source that does not exist is added only
/// when `scheme` is given. Audited (`WEBHOOK_SECRET_ROTATED`) right after
/// the write. A write that lands between this command's read and its own
/// is detected afterwards and reported as an error (its change would be
/// lost: run the command again).
pub async fn set_webhook_secret(
    endpoint: Option<&str>,
    config: Config,
    source: &str,
    secret: &SecretString,
    scheme: Option<SchemeKind>,
) -> Result<WebhookSecretSet, Error> {
    let arn = config.webhook_secrets_arn.clone().ok_or_else(|| {
        Error::Config(
            "set WARDEN_WEBHOOK_SECRETS_ARN to the webhook sources secret the functions read"
                .into(),
        )
    })?;
    let admin = Admin::writer(endpoint, config).await?;
    let secrets = admin.secrets();
    let (read_version, document) = secrets.current(&arn).await?;
    let change = {
        use secrecy::ExposeSecret as _;
        set_source_secret(document.expose_secret(), source, secret, scheme)?
    };
    let version_id = secrets.put(&arn, &change.document).await?;
    let event = admin
        .event(EventType::WebhookSecretRotated, Importance::Warning)
        .subject(format!("webhook:{source}"))
        .detail("source", source)
        .detail("scheme", change.scheme.as_str())
        .detail("created", change.created)
        .detail("kept_previous", change.kept_previous)
        .detail("dropped", change.dropped)
        .detail("version_id", version_id.as_str())
        .detail("previous_version_id", read_version.as_str());
    admin
        .audit_after(event, &format!("the new secret of webhook source {source}"))
        .await?;
    let versions = secrets.versions(&arn).await?;
    let previous = rotation::staged(&versions, rotation::PREVIOUS).map(|v| v.version_id.as_str());
    if previous != Some(read_version.as_str()) {
        return Err(Error::Conflict(format!(
            "the sources secret changed while this command ran (version {version_id} is current, but it replaced {} instead of {read_version}); another change may be lost: check the secret and run the command again",
            previous.unwrap_or("nothing")
        )));
    }
    Ok(WebhookSecretSet {
        scheme: change.scheme,
        created: change.created,
        kept_previous: change.kept_previous,
        dropped: change.dropped,
        version_id,
    })
}

/// What `warden signing-key rotate` or `retire` did: the key set after it.
#[derive(Debug)]
pub struct KeySetChanged {
    /// The key made, if one was (its ARN and `kid`).
    pub new_key: Option<NewSigningKey>,
    /// The key set as stored now.
    pub set: KeySet,
}

/// The signing keys of a deployment: KMS (at `endpoint`) and the key set
/// item beside the denylist.
struct SigningKeys {
    admin: Admin,
    kms: aws_sdk_kms::Client,
}

impl SigningKeys {
    async fn open(endpoint: Option<&str>, config: Config) -> Result<Self, Error> {
        let admin = Admin::writer(endpoint, config).await?;
        let kms = aws_sdk_kms::Client::new(&admin.aws);
        Ok(Self { admin, kms })
    }

    /// The stored key set, or the stack's first key alone before any
    /// change; every `kid` filled in.
    async fn current(&self) -> Result<KeySet, Error> {
        let stored = self.admin.store().key_set(ACCESS_KEY_SET).await?;
        let mut set = match stored {
            Some(set) => set,
            None => {
                let arn = self.admin.config.signing_key_arn.as_deref().ok_or_else(|| {
                    Error::Config(
                        "no key set is stored yet: set WARDEN_SIGNING_KEY_ARN to the stack's SigningKeyArn output".into(),
                    )
                })?;
                KeySet::initial(arn)
            }
        };
        let signer = KmsSigner::new(self.kms.clone());
        for key in set.keys.iter_mut().filter(|k| k.kid.is_empty()) {
            key.kid = signer.public_key(&key.arn).await?.thumbprint();
        }
        Ok(set)
    }

    /// A new RSA_2048 signing key with the key policy and tags of `like`
    /// (the key signing now), so that the same functions may sign and
    /// verify with it and the same tag grants cover it.
    async fn create_like(&self, like: &str) -> Result<NewSigningKey, Error> {
        let policy = self
            .kms
            .get_key_policy()
            .key_id(like)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| warden::aws::sdk_unavailable("KMS GetKeyPolicy", &e))?
            .policy
            .ok_or_else(|| Error::internal("KMS GetKeyPolicy answered no policy"))?;
        let tags = self
            .kms
            .list_resource_tags()
            .key_id(like)
            .send()
            .await
            .map_err(|e| warden::aws::sdk_unavailable("KMS ListResourceTags", &e))?
            .tags
            .unwrap_or_default();
        if !tags.iter().any(|t| t.tag_key == SIGNING_TAG) {
            return Err(Error::Config(format!(
                "the signing key {like} has no {SIGNING_TAG} tag to copy: the functions' IAM grants follow that tag"
            )));
        }
        let created = self
            .kms
            .create_key()
            .key_spec(KmsKeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .policy(policy)
            .set_tags(Some(tags))
            .description("Warden access token signing key (warden signing-key)")
            .send()
            .await
            .map_err(|e| warden::aws::sdk_unavailable("KMS CreateKey", &e))?;
        let arn = created
            .key_metadata
            .map(|m| m.arn)
            .and_then(|arn| arn.filter(|a| !a.is_empty()))
            .ok_or_else(|| Error::internal("KMS CreateKey answered no ARN"))?;
        let kid = KmsSigner::new(self.kms.clone())
            .public_key(&arn)
            .await?
            .thumbprint();
        Ok(NewSigningKey { arn, kid })
    }

    /// Stores `set` with its audit `event` in one transaction (conditioned
    /// on the version read). When it cannot be stored, a key made for it
    /// is scheduled for deletion, so nothing is left half done.
    async fn store(
        &self,
        set: KeySet,
        new_key: Option<NewSigningKey>,
        event: AuditEvent,
    ) -> Result<KeySetChanged, Error> {
        let written = self
            .admin
            .store()
            .transact(vec![
                Write::Auth(AuthWrite::PutKeySet {
                    name: ACCESS_KEY_SET.into(),
                    set: set.clone(),
                }),
                Write::Audit(event),
            ])
            .await;
        if let Err(e) = written {
            if let Some(key) = &new_key {
                let deletion = self
                    .kms
                    .schedule_key_deletion()
                    .key_id(&key.arn)
                    .pending_window_in_days(7)
                    .send()
                    .await;
                if let Err(e) = deletion {
                    tracing::warn!(
                        arn = %key.arn,
                        error = %warden::aws::sdk_failure("KMS ScheduleKeyDeletion", &e),
                        "the unused new key could not be scheduled for deletion; schedule it by hand"
                    );
                }
            }
            return Err(match e {
                Error::ConditionFailed => Error::Conflict(
                    "the key set changed while this command ran; run it again".into(),
                ),
                e => e,
            });
        }
        Ok(KeySetChanged { new_key, set })
    }
}

/// The tag every signing key carries, which the functions' IAM grants
/// follow (`template.yaml`).
pub const SIGNING_TAG: &str = "warden:signing";

/// `warden signing-key rotate`: makes a new KMS key like the one signing
/// now and appends it to the key set, published at once and signing from
/// `now + 2 h 6 min` (API.md "The key set"); the key signing now signs
/// until then and is retired 16.5 minutes later. Nothing has to run at the
/// switch. Refused while a rotation is under way. Audited
/// (`SIGNING_KEY_ROTATED`) in the same transaction.
pub async fn rotate_signing_key(
    endpoint: Option<&str>,
    config: Config,
) -> Result<KeySetChanged, Error> {
    let keys = SigningKeys::open(endpoint, config).await?;
    let now = SystemClock.now_secs();
    let set = keys.current().await?;
    let signing = set
        .signing(now)
        .ok_or_else(|| {
            Error::Conflict(
                "no key signs now; `warden signing-key retire KID --now` replaces one".into(),
            )
        })?
        .clone();
    // Checked before a key is made: a refused rotation leaves nothing.
    set.check_rotation(now)?;
    let new = keys.create_like(&signing.arn).await?;
    let rotated = set.rotated(new.clone(), now)?;
    let switch = rotated.keys.last().map(|k| k.sign_from).unwrap_or(now);
    let event = keys
        .admin
        .event(EventType::SigningKeyRotated, Importance::Warning)
        .subject(format!("signing-key:{}", new.kid))
        .detail("kid", new.kid.as_str())
        .detail("key_arn", new.arn.as_str())
        .detail("previous_kid", signing.kid.as_str())
        .detail("signs_from", rfc3339(switch))
        .detail("version", rotated.version);
    keys.store(rotated, Some(new), event).await
}

/// `warden signing-key retire KID --now`: the key is refused everywhere
/// from the next key set re-read (a minute at most). Retiring the key that
/// signs also makes a replacement that signs at once (API Gateway's JWT
/// authorizers may refuse its tokens until they fetch the key set again,
/// up to 2 hours). Audited (`SIGNING_KEY_RETIRED`, critical) in the same
/// transaction.
pub async fn retire_signing_key(
    endpoint: Option<&str>,
    config: Config,
    kid: &str,
) -> Result<KeySetChanged, Error> {
    let keys = SigningKeys::open(endpoint, config).await?;
    let now = SystemClock.now_secs();
    let set = keys.current().await?;
    let target = set
        .keys
        .iter()
        .find(|k| k.kid == kid && !k.retired(now))
        .ok_or_else(|| Error::NotFound(format!("no live key {kid} in the key set")))?
        .clone();
    let replacement = if target.signs(now) {
        Some(keys.create_like(&target.arn).await?)
    } else {
        None
    };
    let retired = set.retired_now(kid, now, replacement.clone())?;
    let mut event = keys
        .admin
        .event(EventType::SigningKeyRetired, Importance::Critical)
        .subject(format!("signing-key:{kid}"))
        .detail("kid", kid)
        .detail("key_arn", target.arn.as_str())
        .detail("version", retired.version);
    if let Some(new) = &replacement {
        event = event.detail("replacement_kid", new.kid.as_str());
    }
    keys.store(retired, replacement, event).await
}

/// `warden signing-key list`: the key set as stored (or the stack's first
/// key before any change).
pub async fn signing_keys(endpoint: Option<&str>, config: Config) -> Result<KeySet, Error> {
    SigningKeys::open(endpoint, config).await?.current().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_endpoints_on_this_machine_make_the_operator_local() {
        for local in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:8000",
            "127.0.0.2",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "https://vpce-0123.dynamodb.us-east-1.vpce.amazonaws.com",
            "http://10.0.0.5:8000",
            "http://127.0.0.1.example.com",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}
