//! One SSM call, `GetParameter`, made by hand: the issuer is read once per
//! cold start (API.md "Issuer"), and the SDK's SSM client (its endpoint
//! rules, its hundreds of operations' shared code) would add about 0.3 MB
//! to every zipped bootstrap for that one read, pushing agent-run past the
//! 3 MB budget (`infra/bench/sizes.sh`). The request is the SDK's own wire
//! format (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.GetParameter`), signed
//! with the SDK's SigV4 signer (`aws-sigv4`) under the credentials the SDK
//! configuration holds, and sent over Warden's HTTP/1.1 client with the
//! configured connect and read timeouts. It is tested against the emulator.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use serde::Deserialize;

use crate::aws::SdkConfig;
use crate::{Error, Result};

/// The answer's part Warden reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParameterOutput {
    parameter: Parameter,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Parameter {
    value: String,
}

/// The value of the String parameter `name`, through `aws` (its region,
/// credentials, endpoint override and timeouts). Any failure is
/// [`Error::Unavailable`] naming the parameter, never its value.
pub async fn get_parameter(aws: &SdkConfig, name: &str) -> Result<String> {
    let failed = |why: String| Error::unavailable(format!("SSM GetParameter {name}: {why}"));
    let region = aws
        .region()
        .ok_or_else(|| failed("no region".into()))?
        .to_string();
    let endpoint = aws
        .endpoint_url()
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("https://ssm.{region}.amazonaws.com"));
    let credentials = aws
        .credentials_provider()
        .ok_or_else(|| failed("no credentials".into()))?
        .provide_credentials()
        .await
        .map_err(|_| failed("the credentials could not be read".into()))?;
    let body = serde_json::to_vec(&serde_json::json!({ "Name": name }))
        .map_err(|e| failed(e.to_string()))?;
    let host = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, rest)| rest)
        .to_owned();
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AmazonSSM.GetParameter"),
        ("host", host.as_str()),
    ];
    let identity: Identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("ssm")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(e.to_string()))?
        .into();
    let url = format!("{endpoint}/");
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| failed(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(e.to_string()))?
        .into_parts();
    let mut request = http::Request::post(&url);
    for (header, value) in headers {
        request = request.header(header, value);
    }
    let mut request = request
        .body(SdkBody::from(body))
        .map_err(|e| failed(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    let timeouts = aws.timeout_config();
    let (status, answer) = super::http_client::send(
        request,
        timeouts.and_then(|t| t.connect_timeout()),
        timeouts.and_then(|t| t.read_timeout()),
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        // The error's type only (`ParameterNotFound`, `AccessDeniedException`).
        let kind = serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let kind = kind.rsplit('#').next().unwrap_or_default().to_owned();
        return Err(failed(format!("{status} {kind}")));
    }
    let output: GetParameterOutput =
        serde_json::from_slice(&answer).map_err(|_| failed("an unreadable answer".into()))?;
    Ok(output.parameter.value)
}
