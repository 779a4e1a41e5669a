//! The one place AWS SDK clients get their configuration: one HTTPS client
//! ([`https_client`]), region and credentials from the environment Lambda
//! sets ([`sdk_config`]), explicit timeouts and a bounded retry policy
//! ([`Guards`]).
//!
//! # Timeouts and retries
//!
//! Without them a dependency that accepts connections but never answers
//! holds a request until Lambda kills it: the SDK's defaults set a connect
//! timeout only, and no limit on waiting for a response. With them every SDK
//! call fails within [`Guards::operation_timeout`] with a timeout error,
//! which the adapters turn into [`crate::Error::Unavailable`] (`503`).
//!
//! # The defaults and the budget they fit
//!
//! API Gateway gives up after 29 s and each function's Lambda timeout is
//! 10 s (`template.yaml`). DynamoDB answers in milliseconds, SQS and
//! Secrets Manager in tens of them, so:
//!
//! - connect 1 s: a TCP and TLS handshake inside a region takes tens of
//!   milliseconds; a second means the endpoint is not there.
//! - attempt 2 s: two orders of magnitude over a normal answer, so a live
//!   but slow dependency still gets through, and a hung one leaves room
//!   for a second attempt on a fresh connection.
//! - operation 4 s: the cap on one call, retries and backoff included.
//! - 3 attempts: enough to ride out a throttle or a dropped connection
//!   (fast failures); against a hung endpoint the operation timeout ends
//!   the call during the second attempt.
//!
//! A failing request meets at most [`CALLS_IN_SERIES`] timed-out calls one
//! after the other (webhook-receive releases its claim after a failed
//! `SendMessage`), so with the defaults it is answered within 8 s: inside
//! the Lambda timeout, far inside API Gateway's.
//!
//! # Why not aws-config's default chain
//!
//! A Lambda function finds its role's credentials and its region in
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and
//! `AWS_REGION`, which Lambda sets for the life of the execution
//! environment. aws-config's chain also links profile files, web identity
//! and assume-role (an STS client), ECS and IMDS providers, none of which a
//! function can use, into every bootstrap. The operator CLI, run by people
//! with profiles, keeps that chain (`infra/cli/src/serve.rs`), on
//! [`builder`]'s HTTPS client and guards.

pub mod dependencies;
mod http_client;

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_types::region::Region;
use aws_types::sdk_config::{
    RetryConfig, SharedCredentialsProvider, SharedHttpClient, TimeoutConfig,
};

use crate::{Error, Result};

/// Every SDK client's configuration type.
pub use aws_types::SdkConfig;

pub use crate::guards::{
    API_GATEWAY_TIMEOUT, CALLS_IN_SERIES, Guards, GuardsView, LAMBDA_TIMEOUT, WORKER_LAMBDA_TIMEOUT,
};

impl Guards {
    /// The SDK timeouts. The read timeout stays unset: the attempt timeout
    /// already bounds the wait for the first byte, and the whole response
    /// after it.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The standard retry strategy (exponential backoff with jitter, a retry
    /// quota) with [`Guards::max_attempts`]. The SDK refuses zero attempts,
    /// so zero means one.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts.max(1))
    }
}

/// The HTTPS client every SDK client uses: HTTP/1.1 on hyper, rustls on
/// ring, the system's root certificates (`shared/src/aws/http_client.rs`). Connect
/// timeouts come from [`Guards`] through the SDK configuration.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(http_client::Http1Client::new())
}

/// An SDK configuration without region and credentials: the latest
/// behaviour version, [`https_client`], `guards`, and `endpoint` when given
/// (a local emulator).
pub fn builder(guards: &Guards, endpoint: Option<&str>) -> aws_types::sdk_config::Builder {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(guards.timeout_config())
        .retry_config(guards.retry_config());
    builder.set_endpoint_url(endpoint.map(str::to_owned));
    builder
}

/// A Lambda function's SDK configuration: [`builder`] with the region and
/// credentials of the process environment, and `AWS_ENDPOINT_URL` as the
/// endpoint when `endpoint` is `None` (an emulator under
/// `cargo lambda watch`). Fails, so the function never serves, when the
/// region or the credentials are missing.
pub fn sdk_config(guards: &Guards, endpoint: Option<&str>) -> Result<SdkConfig> {
    from_vars(guards, endpoint, |name| std::env::var(name).ok())
}

/// [`sdk_config`] over the variables `var` returns (empty counts as unset).
fn from_vars(
    guards: &Guards,
    endpoint: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<SdkConfig> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| Error::Config("AWS_REGION is not set (Lambda sets it)".into()))?;
    let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(Error::Config(
            "AWS credentials are not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
             (Lambda sets them from the function's role)"
                .into(),
        ));
    };
    let credentials = Credentials::new(
        key_id,
        secret,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let endpoint = endpoint
        .map(str::to_owned)
        .or_else(|| var("AWS_ENDPOINT_URL"));
    Ok(builder(guards, endpoint.as_deref())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_default_guards_answer_well_inside_the_lambda_and_api_gateway_timeouts() {
        let g = Guards::default();
        assert_eq!(g.call_worst_case(), Duration::from_secs(4));
        assert_eq!(g.request_worst_case(), Duration::from_secs(8));
        assert!(g.request_worst_case() < LAMBDA_TIMEOUT);
        assert!(g.request_worst_case() < API_GATEWAY_TIMEOUT);
        assert!(g.connect_timeout <= g.attempt_timeout);
        assert!(g.attempt_timeout <= g.operation_timeout);
    }

    #[test]
    fn the_worst_case_is_the_attempts_when_they_end_before_the_operation_timeout() {
        let g = Guards {
            connect_timeout: Duration::from_millis(100),
            attempt_timeout: Duration::from_millis(300),
            operation_timeout: Duration::from_secs(20),
            max_attempts: 3,
        };
        // 3 x 300 ms, plus backoffs of at most 1 s and 2 s.
        assert_eq!(g.call_worst_case(), Duration::from_millis(3_900));
        let one = Guards {
            max_attempts: 0,
            ..g
        };
        assert_eq!(one.call_worst_case(), Duration::from_millis(300));
    }

    #[test]
    fn the_sdk_configuration_carries_every_guard() {
        let g = Guards::default();
        let t = g.timeout_config();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(4)));
        assert_eq!(g.retry_config().max_attempts(), 3);
        let zero = Guards {
            max_attempts: 0,
            ..g
        };
        assert_eq!(zero.retry_config().max_attempts(), 1);
    }

    #[test]
    fn guards_serialize_as_milliseconds_under_their_report_names() {
        let json = serde_json::to_value(Guards::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "connect_timeout_ms": 1000,
                "attempt_timeout_ms": 2000,
                "operation_timeout_ms": 4000,
                "max_attempts": 3
            })
        );
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
        ("AWS_SESSION_TOKEN", "session"),
    ];

    #[tokio::test]
    async fn a_lambda_configuration_has_the_guards_and_the_environments_region_and_credentials() {
        use aws_credential_types::provider::ProvideCredentials as _;
        let g = Guards::default();
        let sdk = from_vars(&g, None, vars(LAMBDA)).unwrap();
        assert_eq!(sdk.timeout_config(), Some(&g.timeout_config()));
        assert_eq!(sdk.retry_config().map(RetryConfig::max_attempts), Some(3));
        assert_eq!(sdk.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(sdk.endpoint_url(), None);
        assert!(sdk.http_client().is_some());
        let creds = sdk
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(creds.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(creds.secret_access_key(), "wJalrXUtnFEMI");
        assert_eq!(creds.session_token(), Some("session"));
    }

    #[test]
    fn the_endpoint_is_the_given_one_else_aws_endpoint_url() {
        let g = Guards::default();
        let with_env = [LAMBDA, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:5")]].concat();
        let sdk = from_vars(&g, None, vars(&with_env)).unwrap();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5"));
        let sdk = from_vars(&g, Some("http://127.0.0.1:9"), vars(&with_env)).unwrap();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn a_missing_region_or_missing_credentials_stop_the_function_from_starting() {
        let g = Guards::default();
        let without = |name: &str| {
            let pairs: Vec<(&str, &str)> =
                LAMBDA.iter().copied().filter(|(k, _)| *k != name).collect();
            from_vars(&g, None, vars(&pairs))
        };
        for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let err = without(name).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{name}: {err:?}");
            assert!(!err.to_string().contains("wJalrXUtnFEMI"), "{err}");
        }
        // The default region also counts; a session token is optional.
        let pairs = [
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let sdk = from_vars(&g, None, vars(&pairs)).unwrap();
        assert_eq!(sdk.region().map(Region::as_ref), Some("us-east-2"));
        // Empty is unset.
        let empty = [LAMBDA, &[("AWS_REGION", "")]].concat();
        let empty: Vec<_> = empty
            .into_iter()
            .filter(|(k, v)| *k != "AWS_REGION" || v.is_empty())
            .collect();
        assert!(from_vars(&g, None, vars(&empty)).is_err());
    }
}
