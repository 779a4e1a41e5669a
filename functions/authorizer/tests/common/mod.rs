//! What the authorizer's test binaries share: the event API Gateway sends.

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::json;

/// The payload 2.0 request API Gateway sends the authorizer for
/// `GET /example`, with `authorization` as the header and identity source
/// (none when `None`), under `request_id`.
pub fn authorizer_request(
    authorization: Option<&str>,
    request_id: &str,
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut headers = serde_json::Map::new();
    if let Some(value) = authorization {
        headers.insert("authorization".into(), json!(value));
    }
    serde_json::from_value(json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/example",
        "identitySource": authorization.map(|a| vec![a]).unwrap_or_default(),
        "routeKey": "GET /example",
        "rawPath": "/example",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": request_id, "routeKey": "GET /example", "stage": "$default",
            "time": "23/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_410_000_000_i64,
            "http": {"method": "GET", "path": "/example", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"}
        }
    }))
    .unwrap()
}
