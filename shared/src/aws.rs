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
pub mod kms;
pub mod ssm;

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
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

/// A failed SDK call in words that are safe to show and to log:
/// `"<operation>: <what failed>"`, such as
/// `PutItem: ResourceNotFoundException` or
/// `TransactWriteItems: dispatch failure (connection refused)`.
///
/// Every SDK error becomes text here, and nowhere else. The SDK's own
/// `Display` and source chain are never used: a construction or dispatch
/// failure carries the whole request (a `PutItem`'s item, a user's
/// password hash, a `PutSecretValue`'s secret), and a service's message can
/// echo the values it refused (DynamoDB's validation messages do). What is
/// kept is fixed vocabulary: the service's error code, the kind of
/// failure, an I/O error's kind, a TLS error, an HTTP status.
pub fn sdk_failure<E: ProvideErrorMetadata>(
    operation: &str,
    err: &SdkError<E, HttpResponse>,
) -> String {
    let what = match err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) => safe_code(code),
            None => format!(
                "an error without a code (HTTP {})",
                service.raw().status().as_u16()
            ),
        },
        SdkError::DispatchFailure(dispatch) => {
            let detail = if dispatch.is_timeout() {
                "timed out".to_owned()
            } else if let Some(tls) = dispatch
                .as_connector_error()
                .and_then(|c| find::<rustls::Error>(c))
            {
                // rustls describes the handshake (a certificate refused),
                // never the request.
                format!("TLS: {tls}")
            } else if let Some(io) = dispatch
                .as_connector_error()
                .and_then(|c| find::<std::io::Error>(c))
            {
                io.kind().to_string()
            } else if dispatch.is_io() {
                "connection failed".to_owned()
            } else {
                // An endpoint that is not a URL (`127.0.0.1:8000` without
                // `http://`) fails here, before anything is sent.
                "the request could not be sent; is the endpoint a URL such as http://127.0.0.1:8000?"
                    .to_owned()
            };
            format!("dispatch failure ({detail})")
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::ResponseError(response) => format!(
            "unreadable response (HTTP {})",
            response.raw().status().as_u16()
        ),
        SdkError::ConstructionFailure(_) => {
            "construction failure (the request could not be built)".to_owned()
        }
        _ => "failed".to_owned(),
    };
    format!("{operation}: {what}")
}

/// [`sdk_failure`] as [`Error::Unavailable`], with no cause kept: the
/// SDK error's chain is exactly what must not reach a log or a terminal.
pub fn sdk_unavailable<E: ProvideErrorMetadata>(
    operation: &str,
    err: &SdkError<E, HttpResponse>,
) -> Error {
    Error::unavailable(sdk_failure(operation, err))
}

/// An error code as the service sent it, when it looks like one (letters,
/// digits, `.`, `_`, `:`, `#`, `-`; at most 100 characters): a
/// hostile or broken endpoint could put anything in that field.
fn safe_code(code: &str) -> String {
    let looks_like_a_code = !code.is_empty()
        && code.len() <= 100
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_#-".contains(&b));
    if looks_like_a_code {
        code.to_owned()
    } else {
        "an unrecognised error code".to_owned()
    }
}

/// The first error of type `T` in `error`'s source chain, itself included.
pub(crate) fn find<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(error);
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<T>() {
            return Some(found);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_owned()))
    }

    fn service(code: Option<&str>) -> SdkError<PutItemError, HttpResponse> {
        let mut meta = ErrorMetadata::builder()
            .message(format!("One or more parameter values were invalid: {HASH}"));
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(PutItemError::generic(meta.build()), response(400, HASH))
    }

    #[test]
    fn an_sdk_error_is_its_operation_and_its_code_never_its_request_or_message() {
        let request = format!("Request {{ body: {{\"password_hash\":{{\"S\":\"{HASH}\"}}}} }}");
        let cases: Vec<(SdkError<PutItemError, HttpResponse>, &str)> = vec![
            (
                service(Some("ValidationException")),
                "PutItem: ValidationException",
            ),
            (
                service(Some("ResourceNotFoundException")),
                "PutItem: ResourceNotFoundException",
            ),
            (service(Some(HASH)), "PutItem: an unrecognised error code"),
            (service(None), "PutItem: an error without a code (HTTP 400)"),
            (
                SdkError::dispatch_failure(ConnectorError::other(
                    format!("failed to apply endpoint `127.0.0.1:1` to request `{request}`").into(),
                    None,
                )),
                "PutItem: dispatch failure (the request could not be sent; is the endpoint a URL such as http://127.0.0.1:8000?)",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    request.clone(),
                )))),
                "PutItem: dispatch failure (connection refused)",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::timeout(request.clone().into())),
                "PutItem: dispatch failure (timed out)",
            ),
            (
                SdkError::timeout_error(request.clone()),
                "PutItem: timed out",
            ),
            (
                SdkError::construction_failure(request.clone()),
                "PutItem: construction failure (the request could not be built)",
            ),
            (
                SdkError::response_error(request.clone(), response(500, HASH)),
                "PutItem: unreadable response (HTTP 500)",
            ),
        ];
        for (err, expected) in cases {
            // The SDK's own text holds the secret; the reduction does not.
            let full = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
            assert!(full.contains(HASH), "{full}");
            let text = sdk_failure("PutItem", &err);
            assert_eq!(text, expected);
            assert!(!text.contains("argon2"), "{text}");
            let error = sdk_unavailable("PutItem", &err);
            assert!(!error.chain().contains("argon2"), "{}", error.chain());
        }
    }

    /// The real thing: an endpoint without a scheme fails the call after
    /// the request (with its item) is built, and the SDK's error quotes it.
    #[tokio::test]
    async fn a_put_to_an_endpoint_without_a_scheme_is_reduced_to_its_kind() {
        let config = from_vars(&Guards::default(), Some("127.0.0.1:1"), |name| match name {
            "AWS_REGION" => Some("us-east-1".into()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
            _ => None,
        })
        .unwrap();
        let err = aws_sdk_dynamodb::Client::new(&config)
            .put_item()
            .table_name("users")
            .item(
                "password_hash",
                aws_sdk_dynamodb::types::AttributeValue::S(HASH.into()),
            )
            .send()
            .await
            .unwrap_err();
        let full = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
        assert!(
            full.contains("argon2id"),
            "the SDK no longer quotes the request: {full}"
        );
        let text = sdk_failure("PutItem", &err);
        assert!(text.starts_with("PutItem: dispatch failure ("), "{text}");
        assert!(!text.contains("argon2"), "{text}");
    }

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
