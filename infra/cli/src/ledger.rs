//! The audit ledger on this machine: `warden serve`'s stand-ins for the
//! checkpointer's KMS key and S3 bucket, and the audit MAC key at a
//! development endpoint.
//!
//! - The checkpoint key: the PEM `WARDEN_CHECKPOINT_KEY_FILE` names
//!   (development only), else with a data directory its
//!   `checkpoint-key.pem`, generated on the first start and kept, else one
//!   generated for this process.
//! - The write-once copies: the data directory's `checkpoints.log`, opened
//!   for appending only ([`FileCopies`]); with the embedded store and no
//!   data directory, in memory, as the log they cover is.
//! - The audit MAC key: `WARDEN_AUDIT_MAC_KEY` (development), the secret
//!   `WARDEN_AUDIT_MAC_SECRET_ARN` names, or at a development endpoint the
//!   secret `<prefix>audit-mac-key` there (created once, read by `warden
//!   audit verify --endpoint` too), else one generated for this process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use warden::Error;
use warden::audit::checkpointer::Checkpointer;
use warden::audit::copies::{CheckpointCopies, FileCopies, MemoryCopies};
use warden::audit::mac::MacKey;
use warden::audit::note::{LocalNoteSigner, NoteSigner as _};
use warden::config::Config;

/// The file of the write-once copies in a data directory.
pub const COPIES_FILE: &str = "checkpoints.log";

/// The checkpoint key kept in a data directory.
pub const KEY_FILE: &str = "checkpoint-key.pem";

/// The data directory `warden serve --dynamodb-endpoint` uses when none is
/// given: `.warden` in the current directory.
pub const DEFAULT_DATA_DIR: &str = ".warden";

/// The checkpoint signer of `warden serve` (see the module's documentation).
pub fn local_checkpoint_signer(
    config: &Config,
    data_dir: Option<&Path>,
) -> Result<LocalNoteSigner, Error> {
    let origin = config.ledger_origin();
    if let Some(file) = &config.checkpoint_key_file {
        let pem = std::fs::read_to_string(file).map_err(|e| {
            Error::Config(format!(
                "WARDEN_CHECKPOINT_KEY_FILE {file} cannot be read: {e}"
            ))
        })?;
        return LocalNoteSigner::from_pem(&origin, &pem);
    }
    let Some(dir) = data_dir else {
        return Ok(LocalNoteSigner::generate(&origin)?.0);
    };
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(pem) => LocalNoteSigner::from_pem(&origin, &pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (signer, pem) = LocalNoteSigner::generate(&origin)?;
            write_private(&path, &pem)?;
            Ok(signer)
        }
        Err(e) => Err(Error::Config(format!(
            "{} cannot be read: {e}",
            path.display()
        ))),
    }
}

/// Writes `text` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::Config(format!("{} cannot be created: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::Config(format!("{} cannot be written: {e}", path.display())))
}

/// The data directory, created if missing.
pub fn data_dir(dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Config(format!("data directory {}: {e}", dir.display())))?;
    Ok(dir.to_path_buf())
}

/// `warden serve`'s checkpointer over `store`: the local signer and the
/// data directory's copies (in memory without one).
pub fn local_checkpointer<S>(
    config: &Config,
    store: Arc<S>,
    data_dir: Option<&Path>,
) -> Result<Checkpointer, Error>
where
    S: warden::store::AuditStore + warden::store::CheckpointStore + 'static,
{
    let signer = local_checkpoint_signer(config, data_dir)?;
    let copies: Arc<dyn CheckpointCopies> = match data_dir {
        Some(dir) => Arc::new(FileCopies::new(dir.join(COPIES_FILE))),
        None => Arc::new(MemoryCopies::new()),
    };
    tracing::info!(
        key_id = %hex::encode(signer.key().id()),
        "audit ledger: checkpoints signed by {}",
        signer.key().name()
    );
    Ok(Checkpointer::for_deployment(
        config,
        store,
        Arc::new(signer),
        copies,
    ))
}

/// Runs `checkpointer` every minute (five seconds in), as the schedule runs
/// the checkpointer function in AWS. Stops when the task is dropped.
pub fn start_checkpointer(checkpointer: Arc<Checkpointer>) -> tokio::task::JoinHandle<()> {
    use warden::clock::Clock as _;
    tokio::spawn(async move {
        let clock = warden::clock::SystemClock;
        loop {
            if let Err(e) = checkpointer.run(clock.now_millis()).await {
                tracing::warn!(error = %e, "audit ledger: the checkpoints were not written");
            }
            let now = clock.now_millis();
            let next = (now.div_euclid(60_000) + 1) * 60_000 + 5_000;
            let wait = u64::try_from(next - now).unwrap_or(60_000);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
    })
}

/// The secret holding the audit MAC key of the tables under `prefix` at a
/// development endpoint: `<prefix>audit-mac-key`.
pub fn endpoint_mac_name(prefix: &str) -> String {
    format!("{prefix}audit-mac-key")
}

/// The audit MAC key of `warden serve` and of the CLI: from the
/// configuration when it names one ([`warden::wiring::audit_mac_key`]);
/// else at a development endpoint the secret [`endpoint_mac_name`] there
/// (created the first time); else, when `generate`, one for this process.
pub async fn mac_key(
    config: &Config,
    endpoint_aws: Option<&warden::aws::SdkConfig>,
    aws: Option<&warden::aws::SdkConfig>,
    generate: bool,
) -> Result<Option<MacKey>, Error> {
    let secrets = aws
        .map(|aws| warden::secrets::SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)));
    if config.audit_mac_key.is_some() || config.audit_mac_secret_arn.is_some() {
        return warden::wiring::audit_mac_key(config, secrets.as_ref().map(|s| s as _)).await;
    }
    if let Some(aws) = endpoint_aws {
        let name = endpoint_mac_name(&config.table_prefix);
        let value = crate::serve::endpoint_secret(
            aws,
            &name,
            "Warden development audit MAC key (warden serve --dynamodb-endpoint)",
        )
        .await?;
        return MacKey::new(&value).map(Some);
    }
    if generate {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        return MacKey::new(&SecretString::from(hex::encode(bytes))).map(Some);
    }
    Ok(None)
}

/// What `warden audit verify|prove|public-key` read: the tables, and
/// where the checkpoint key, the copies and the MAC key are.
pub struct Access {
    config: Config,
    aws: warden::aws::SdkConfig,
    store: warden::store::dynamo::DynamoStore,
    /// The development endpoint, when the tables are at one.
    endpoint: Option<String>,
    data_dir: Option<PathBuf>,
}

impl Access {
    /// The ledger of the deployment `config` describes, or of the tables at
    /// `endpoint`, with `warden serve`'s data directory `data_dir` (default
    /// `.warden`, when it exists and an endpoint is given).
    pub async fn open(endpoint: Option<&str>, config: Config, data_dir: Option<&Path>) -> Self {
        let aws = crate::serve::aws_config(&config.aws, endpoint).await;
        let store = warden::store::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            &config.table_prefix,
        );
        let data_dir = data_dir.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from(DEFAULT_DATA_DIR);
            (endpoint.is_some() && default.is_dir()).then_some(default)
        });
        Self {
            config,
            aws,
            store,
            endpoint: endpoint.map(str::to_owned),
            data_dir,
        }
    }

    /// The checkpoint key's public half as a PEM: from KMS
    /// (`WARDEN_CHECKPOINT_KEY_ARN`), else `warden serve`'s
    /// (`WARDEN_CHECKPOINT_KEY_FILE`, or the data directory's key).
    pub async fn public_key_pem(&self) -> Result<String, Error> {
        let origin = self.config.ledger_origin();
        if let Some(arn) = &self.config.checkpoint_key_arn {
            let signer = warden::audit::note::KmsNoteSigner::new(
                aws_sdk_kms::Client::new(&self.aws),
                arn,
                &origin,
            )
            .await?;
            return Ok(signer.key().to_pem());
        }
        let file = match (&self.config.checkpoint_key_file, &self.data_dir) {
            (Some(file), _) => PathBuf::from(file),
            (None, Some(dir)) if dir.join(KEY_FILE).is_file() => dir.join(KEY_FILE),
            _ => {
                return Err(Error::Config(
                    "no checkpoint key: set WARDEN_CHECKPOINT_KEY_ARN (or use --stack NAME), or give --data-dir DIR of a `warden serve --dynamodb-endpoint`".into(),
                ));
            }
        };
        let pem = std::fs::read_to_string(&file)
            .map_err(|e| Error::Config(format!("{} cannot be read: {e}", file.display())))?;
        Ok(LocalNoteSigner::from_pem(&origin, &pem)?.key().to_pem())
    }

    /// The write-once copies: the bucket (`WARDEN_CHECKPOINT_BUCKET`), else
    /// the data directory's file; `None` when neither is known.
    fn copies(&self) -> Option<Box<dyn CheckpointCopies>> {
        if let Some(bucket) = &self.config.checkpoint_bucket {
            return Some(Box::new(warden::audit::copies::S3Copies::new(
                warden::wiring::s3_client(&self.aws),
                bucket,
            )));
        }
        let file = self.data_dir.as_ref()?.join(COPIES_FILE);
        file.is_file()
            .then(|| Box::new(FileCopies::new(file)) as Box<dyn CheckpointCopies>)
    }

    /// The audit MAC key, with the operator's credentials (`None` when
    /// the deployment names none).
    async fn mac(&self) -> Result<Option<MacKey>, Error> {
        let endpoint_aws = self.endpoint.as_ref().map(|_| &self.aws);
        mac_key(&self.config, endpoint_aws, Some(&self.aws), false).await
    }

    /// `warden audit verify`: the report over `since_ms..=until_ms`, a
    /// line of progress per chunk on `progress`.
    pub async fn verify(
        &self,
        pinned: Option<&str>,
        (since_ms, until_ms): (i64, i64),
        now_ms: i64,
        progress: &mut (dyn FnMut(&warden::audit::verify::Report) + Send),
    ) -> Result<Verified, Error> {
        use warden::store::CheckpointStore as _;
        let pem = match pinned {
            Some(pem) => pem.to_owned(),
            None => self.public_key_pem().await?,
        };
        // The key's name is the log's origin, as each checkpoint's first
        // line states it; the key itself is the pinned one.
        let origin = match self.store.latest_checkpoint().await? {
            Some(c) => c.note.lines().next().unwrap_or_default().to_owned(),
            None => self.config.ledger_origin(),
        };
        let key = warden::audit::note::NoteKey::from_pem(&origin, &pem)?;
        let mac = self.mac().await?;
        let copies = self.copies();
        let report = warden::audit::verify::verify(
            warden::audit::verify::Sources {
                audit: &self.store,
                checkpoints: &self.store,
                copies: copies.as_deref(),
            },
            warden::audit::verify::Settings {
                key: &key,
                mac: mac.as_ref(),
                grace_ms: self.config.ledger_grace_ms(),
                retention_days: self.config.audit_retention_days,
            },
            (since_ms, until_ms),
            now_ms,
            progress,
        )
        .await?;
        Ok(Verified {
            report,
            mac_checked: mac.is_some(),
            copies_checked: copies.is_some(),
        })
    }

    /// `warden audit prove EVENT_ID`: the proof's text.
    pub async fn prove(&self, event_id: &str) -> Result<String, Error> {
        Ok(
            warden::audit::proof::prove(&self.store, &self.store, event_id)
                .await?
                .text(),
        )
    }
}

/// What `warden audit verify` found, and what it could check.
#[derive(Debug)]
pub struct Verified {
    /// The report.
    pub report: warden::audit::verify::Report,
    /// Whether every event's MAC was checked (the MAC key was read).
    pub mac_checked: bool,
    /// Whether the write-once copies were compared.
    pub copies_checked: bool,
}

impl Verified {
    /// The summary line of a ledger that holds.
    pub fn summary(&self) -> String {
        use warden::audit::checkpoint::minute_text;
        let r = &self.report;
        let range = r.minutes.map_or_else(
            || "no checkpoint in the range".to_owned(),
            |(a, b)| format!("{} to {}", minute_text(a), minute_text(b)),
        );
        let mut line = format!(
            "the ledger holds: {} checkpoints ({range}), {} events",
            r.checkpoints, r.events
        );
        if !self.mac_checked {
            line.push_str("; MACs not checked (no audit MAC key)");
        }
        if !self.copies_checked {
            line.push_str("; no write-once copies compared");
        }
        if let Some(m) = r.expired_before {
            line.push_str(&format!(
                "; before {}: expired, not checked",
                minute_text(m)
            ));
        }
        line
    }

    /// The report as one JSON document (`--output json`).
    pub fn json(&self) -> serde_json::Value {
        use warden::audit::checkpoint::minute_text;
        let r = &self.report;
        serde_json::json!({
            "ok": r.failure.is_none(),
            "checkpoints": r.checkpoints,
            "events": r.events,
            "from": r.minutes.map(|m| minute_text(m.0)),
            "to": r.minutes.map(|m| minute_text(m.1)),
            "expired_before": r.expired_before.map(minute_text),
            "mac_checked": self.mac_checked,
            "copies_checked": self.copies_checked,
            "failure": r.failure.as_ref().map(ToString::to_string),
        })
    }
}

/// A time of `--since`/`--until`: RFC 3339 (`2026-12-07T08:00:00Z`), or a
/// duration back from `now_ms` (`30m`, `24h`, `7d`).
pub fn parse_time(text: &str, flag: &str, now_ms: i64) -> Result<i64, Error> {
    let format = time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(text.trim(), &format) {
        return i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| Error::BadRequest(format!("{flag} {text} is out of range")));
    }
    warden::audit::query::parse_since(text, warden::audit::query::Surface::Cli)
        .map(|secs| now_ms - secs * 1000)
        .map_err(|_| {
            Error::BadRequest(format!(
                "{flag} {text:?} is neither an RFC 3339 time (2026-12-07T08:00:00Z) nor a duration back from now (30m, 24h, 7d)"
            ))
        })
}
