//! The issuer read at cold start from the stack's SSM parameter (API.md
//! "Issuer") through the hand-signed `GetParameter`
//! (`warden::aws::ssm`), against the emulator: the parameter is put with
//! the real SDK's SSM client, so the two must agree on the wire format and
//! the signature.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use warden::Error;
use warden::config::Config;
use warden::testing;

/// A staging configuration naming the parameter `name`.
fn staging(name: &str) -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("staging".into()),
        "WARDEN_ISSUER_PARAMETER" => Some(name.to_owned()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

#[tokio::test]
async fn the_issuer_comes_from_the_stacks_parameter_and_a_path_or_none_refuses_the_start() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let aws = testing::aws_config(&endpoint).await;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    let name = format!("/warden/test-{}/issuer", ulid::Ulid::new());
    let put = |value: &'static str| {
        let (ssm, name) = (ssm.clone(), name.clone());
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        }
    };

    // Not there yet: the start fails, naming the parameter.
    let missing = warden::wiring::read_issuer_with(&staging(&name), &aws).await;
    match missing {
        Err(Error::Unavailable { context, .. }) => {
            assert!(
                context.contains(&name) && context.contains("ParameterNotFound"),
                "{context}"
            );
        }
        other => panic!("expected a refused start, got {other:?}"),
    }

    put("https://abc123.execute-api.us-east-1.amazonaws.com/").await;
    let issuer = warden::wiring::read_issuer_with(&staging(&name), &aws)
        .await
        .unwrap();
    assert_eq!(
        issuer.as_deref(),
        Some("https://abc123.execute-api.us-east-1.amazonaws.com"),
        "the trailing slash is dropped"
    );
    assert_eq!(
        warden::aws::ssm::get_parameter(&aws, &name).await.unwrap(),
        "https://abc123.execute-api.us-east-1.amazonaws.com/"
    );

    // A value that is not an origin refuses the start.
    put("https://auth.example.com/v1").await;
    assert!(matches!(
        warden::wiring::read_issuer_with(&staging(&name), &aws).await,
        Err(Error::Config(_))
    ));

    // WARDEN_ISSUER wins: the parameter is not read at all.
    let mut explicit = staging(&name);
    explicit.issuer = "https://auth.example.com".into();
    assert_eq!(
        warden::wiring::read_issuer_with(&explicit, &aws)
            .await
            .unwrap(),
        None
    );
}
