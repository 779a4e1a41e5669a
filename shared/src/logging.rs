//! The functions' log subscriber: what `lambda_runtime`'s default one does
//! (Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON` for one
//! JSON object per line, `AWS_LAMBDA_LOG_LEVEL` before `RUST_LOG`, `INFO`
//! when neither is set; no timestamps, which CloudWatch adds), filtered by
//! [`Targets`] instead of `EnvFilter`.
//!
//! `EnvFilter` matches span fields with regular expressions, and linking
//! it put the `regex` engine (about 0.4 MB) into every bootstrap. `RUST_LOG`
//! keeps its common form, `level` or `target=level` separated by commas;
//! span and field filters (`[span{field=value}]`) are not supported, and a
//! value that does not parse is ignored, as `EnvFilter` ignores it.

use std::str::FromStr as _;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber of a Lambda function, writing to stdout.
pub fn init_lambda() {
    let var = |name: &str| std::env::var(name).ok();
    let filter = filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_writer(std::io::stdout);
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(format.json()).init();
    } else {
        registry.with(format).init();
    }
}

/// The filter: `lambda_level` for everything when it is a level, else
/// `rust_log`'s directives (`INFO` for targets they do not name), else
/// `INFO`. The `warden` command uses it too, with `RUST_LOG` alone.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    if let Some(level) = lambda_level.and_then(|l| LevelFilter::from_str(l.trim()).ok()) {
        return Targets::new().with_default(level);
    }
    let targets = rust_log
        .and_then(|directives| Targets::from_str(directives).ok())
        .unwrap_or_default();
    if targets.default_level().is_some() {
        targets
    } else {
        targets.with_default(LevelFilter::INFO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn lambdas_log_level_comes_first_then_rust_log_then_info() {
        let f = filter(Some("DEBUG"), Some("error"));
        assert!(f.would_enable("warden", &Level::DEBUG));
        assert!(!f.would_enable("warden", &Level::TRACE));

        let f = filter(None, Some("warn"));
        assert!(f.would_enable("warden", &Level::WARN));
        assert!(!f.would_enable("warden", &Level::INFO));

        let f = filter(None, None);
        assert!(f.would_enable("warden", &Level::INFO));
        assert!(!f.would_enable("warden", &Level::DEBUG));
    }

    #[test]
    fn rust_log_targets_apply_and_the_rest_stays_at_info() {
        let f = filter(None, Some("warden=debug,aws_smithy_runtime=off"));
        assert!(f.would_enable("warden::auth", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime::client", &Level::ERROR));
        assert!(f.would_enable("hyper", &Level::INFO));
        assert!(!f.would_enable("hyper", &Level::DEBUG));
    }

    #[test]
    fn a_value_that_does_not_parse_is_ignored() {
        let f = filter(Some("loud"), Some("warden[span{x=1}]=debug"));
        assert!(f.would_enable("warden", &Level::INFO));
        assert!(!f.would_enable("warden", &Level::DEBUG));
    }
}
