//! The webhook-receive handler, called as a function: deliveries signed the
//! way each provider signs them are enqueued exactly once; anything else is
//! refused with nothing enqueued and nothing recorded but the audit event.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use warden::audit::{AuditEvent, EventType, Severity};
use warden::clock::{Clock, ManualClock};
use warden::queue::{MemoryQueue, OutgoingMessage, Queue, SqsQueue};
use warden::state::WebhookState;
use warden::store::memory::MemoryStore;
use warden::store::{Claim, WebhookStore};
use warden::webhook::{MAX_BODY_BYTES, SigningKey, Sources};
use warden::{Error, testing};

/// Header name and value pairs.
type Headers = Vec<(String, String)>;

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sources() -> Sources {
    Sources::from_json(
        &json!([
            {"name": "slack", "scheme": "slack", "secrets": ["slack-signing-secret"]},
            {"name": "gh", "scheme": "github", "secrets": ["github-secret"]},
            {"name": "stripe", "scheme": "stripe", "secrets": ["whsec_stripe_new", "whsec_stripe_old"]},
            {"name": "std", "scheme": "standard", "secrets": [STANDARD_SECRET]}
        ])
        .to_string(),
    )
    .unwrap()
}

/// A queue that fails while armed, then behaves like the memory queue.
#[derive(Default)]
struct FlakyQueue {
    inner: MemoryQueue,
    failing: AtomicBool,
}

#[async_trait]
impl Queue for FlakyQueue {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), Error> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::unavailable("injected fault: SQS unavailable"));
        }
        self.inner.send(message).await
    }
}

struct Harness {
    state: WebhookState,
    queue: Arc<FlakyQueue>,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new(store: Arc<dyn WebhookStore>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let queue = Arc::new(FlakyQueue::default());
        Self {
            state: testing::webhook_state(store, sources(), queue.clone(), clock.clone()),
            queue,
            clock,
        }
    }

    fn memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    async fn post(
        &self,
        source: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (StatusCode, Value) {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = testing::api_request(
            "POST",
            &format!("/webhooks/{source}"),
            &headers,
            Body::Binary(body.to_vec()),
            "192.0.2.80",
        );
        let response = warden_webhook_receive::handler(&self.state, req)
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let bytes: &[u8] = response.body().as_ref();
        (status, serde_json::from_slice(bytes).unwrap_or(Value::Null))
    }

    fn enqueued(&self) -> Vec<Value> {
        self.queue
            .inner
            .messages()
            .iter()
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }

    /// Whether the deliveries table holds a record for this key: claiming it
    /// succeeds only when nothing was there.
    async fn recorded(&self, key: &str) -> bool {
        self.state
            .store
            .claim_delivery(key, self.now(), self.now() + 60)
            .await
            .unwrap()
            != Claim::Claimed
    }

    /// The audit events of `event_type` about deliveries from `source`.
    async fn audited(&self, source: &str, event_type: EventType) -> Vec<AuditEvent> {
        self.state
            .store
            .audit_by_actor(&format!("webhook:{source}"), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .collect()
    }

    /// The details of the `WEBHOOK_REJECTED` events about `source`.
    async fn rejections(&self, source: &str) -> Vec<Value> {
        self.audited(source, EventType::WebhookRejected)
            .await
            .into_iter()
            .map(|e| Value::Object(e.details))
            .collect()
    }
}

fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(SigningKey::new(secret).sign(parts))
}

/// Slack's documented algorithm: `v0=` + hex HMAC of `v0:{ts}:{body}`.
fn slack(secret: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let sig = hmac_hex(secret.as_bytes(), &[format!("v0:{ts}:").as_bytes(), body]);
    vec![
        ("x-slack-request-timestamp".into(), ts.to_string()),
        ("x-slack-signature".into(), format!("v0={sig}")),
    ]
}

/// GitHub's: `sha256=` + hex HMAC of the body.
fn github(secret: &str, id: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        (
            "x-hub-signature-256".into(),
            format!("sha256={}", hmac_hex(secret.as_bytes(), &[body])),
        ),
        ("x-github-delivery".into(), id.into()),
        ("x-github-event".into(), "push".into()),
    ]
}

/// Stripe's: `t={ts},v1=` + hex HMAC of `{ts}.{body}`, one `v1` per secret.
fn stripe(secrets: &[&str], ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let sigs: Vec<String> = secrets
        .iter()
        .map(|s| {
            format!(
                "v1={}",
                hmac_hex(s.as_bytes(), &[format!("{ts}.").as_bytes(), body])
            )
        })
        .collect();
    vec![(
        "stripe-signature".into(),
        format!("t={ts},{}", sigs.join(",")),
    )]
}

/// Standard Webhooks': `v1,` + base64 HMAC of `{id}.{ts}.{body}` with the
/// key the `whsec_` secret decodes to.
fn standard(secret: &str, id: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let sig = BASE64.encode(SigningKey::new(&key).sign(&[format!("{id}.{ts}.").as_bytes(), body]));
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.to_string()),
        ("webhook-signature".into(), format!("v1,{sig}")),
    ]
}

fn stripe_event(id: &str) -> Vec<u8> {
    json!({"id": id, "object": "event", "type": "invoice.paid"})
        .to_string()
        .into_bytes()
}

async fn every_scheme_is_accepted_once_and_a_redelivery_is_a_duplicate(h: Harness) {
    let now = h.now();
    let slack_body =
        br#"{"type":"event_callback","event_id":"Ev01","event":{"type":"app_mention"}}"#;
    let gh_body = br#"{"ref":"refs/heads/main"}"#;
    let stripe_body = stripe_event("evt_01");
    let std_body = br#"{"type":"invoice.paid","data":{}}"#;
    let deliveries: Vec<(&str, Headers, Vec<u8>, &str, &str)> = vec![
        (
            "slack",
            slack("slack-signing-secret", now, slack_body),
            slack_body.to_vec(),
            "Ev01",
            "app_mention",
        ),
        (
            "gh",
            github("github-secret", "gh-01", gh_body),
            gh_body.to_vec(),
            "gh-01",
            "push",
        ),
        (
            "stripe",
            stripe(&["whsec_stripe_new"], now, &stripe_body),
            stripe_body.clone(),
            "evt_01",
            "invoice.paid",
        ),
        (
            "std",
            standard(STANDARD_SECRET, "msg_01", now, std_body),
            std_body.to_vec(),
            "msg_01",
            "invoice.paid",
        ),
    ];
    for (source, headers, body, id, event_type) in &deliveries {
        let (status, reply) = h.post(source, headers, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{source}: {reply}");
        assert_eq!(reply, json!({"status": "accepted", "delivery_id": id}));
        let (status, reply) = h.post(source, headers, body).await;
        assert_eq!(status, StatusCode::OK, "{source}");
        assert_eq!(reply, json!({"status": "duplicate", "delivery_id": id}));
        let message = h
            .enqueued()
            .into_iter()
            .find(|m| m["source"] == *source)
            .unwrap();
        assert_eq!(message["delivery_id"], *id);
        assert_eq!(message["event_type"], *event_type);
        assert_eq!(
            message["payload"].as_str().unwrap().as_bytes(),
            body.as_slice()
        );
    }
    assert_eq!(h.enqueued().len(), 4, "each delivery enqueued exactly once");
    // A redelivery is a provider's retry, answered `200`: audited as a
    // duplicate, not as a rejection (which an alarm counts as attacks).
    for (source, _, _, id, event_type) in &deliveries {
        assert_eq!(h.rejections(source).await, Vec::<Value>::new(), "{source}");
        let duplicates = h.audited(source, EventType::WebhookDuplicate).await;
        assert_eq!(duplicates.len(), 1, "{source}: {duplicates:?}");
        assert_eq!(duplicates[0].severity, Severity::Info);
        assert_eq!(
            Value::Object(duplicates[0].details.clone()),
            json!({"source": source, "delivery_id": id, "event_type": event_type})
        );
        assert_eq!(
            h.audited(source, EventType::WebhookAccepted).await.len(),
            1,
            "{source}"
        );
    }
}

async fn bad_deliveries_are_refused_with_nothing_enqueued_or_recorded(h: Harness) {
    let now = h.now();
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let stripe_body = stripe_event("evt_bad");
    let std_body = br#"{"type":"t"}"#.to_vec();
    let slack_body = br#"{"type":"event_callback","event_id":"EvBad"}"#.to_vec();
    let mut cases: Vec<(&str, Headers, Vec<u8>, StatusCode, &str)> = vec![
        (
            "gh",
            github("github-secret", "gh-bad", &body),
            b"{\"ref\":\"refs/heads/evil\"}".to_vec(),
            StatusCode::UNAUTHORIZED,
            "tampered body",
        ),
        (
            "gh",
            github("wrong-secret", "gh-bad", &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "wrong secret",
        ),
        (
            "gh",
            vec![("x-github-delivery".into(), "gh-bad".into())],
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "missing signature",
        ),
        (
            "gh",
            vec![
                ("x-hub-signature-256".into(), "sha1=abc".into()),
                ("x-github-delivery".into(), "gh-bad".into()),
            ],
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "malformed signature",
        ),
        (
            "stripe",
            stripe(&["whsec_stripe_new"], now - 301, &stripe_body),
            stripe_body.clone(),
            StatusCode::UNAUTHORIZED,
            "301 s old",
        ),
        (
            "stripe",
            stripe(&["whsec_stripe_new"], now + 301, &stripe_body),
            stripe_body.clone(),
            StatusCode::UNAUTHORIZED,
            "301 s ahead",
        ),
        (
            "std",
            standard(STANDARD_SECRET, "msg_bad", now - 301, &std_body),
            std_body.clone(),
            StatusCode::UNAUTHORIZED,
            "standard stale",
        ),
        (
            "slack",
            slack("slack-signing-secret", now + 301, &slack_body),
            slack_body.clone(),
            StatusCode::UNAUTHORIZED,
            "slack ahead",
        ),
        (
            "nobody",
            github("github-secret", "gh-bad", &body),
            body.clone(),
            StatusCode::NOT_FOUND,
            "unknown source",
        ),
        (
            "gh",
            github("github-secret", "gh-bad", b""),
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "empty body",
        ),
    ];
    // Rightly signed, but sent as neither JSON nor a form.
    let mut plain = github("github-secret", "gh-bad", &body);
    plain.push(("content-type".into(), "text/plain".into()));
    cases.push((
        "gh",
        plain,
        body.clone(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "text/plain",
    ));
    let huge = vec![b'x'; MAX_BODY_BYTES + 1];
    cases.push((
        "gh",
        github("github-secret", "gh-bad", &huge),
        huge.clone(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "256 KiB + 1",
    ));
    for (source, headers, body, status, what) in cases {
        let (got, reply) = h.post(source, &headers, &body).await;
        assert_eq!(got, status, "{what}: {reply}");
        assert_eq!(reply["status"], status.as_u16(), "{what}: problem+json");
    }
    assert!(h.enqueued().is_empty(), "nothing may be enqueued");
    for key in [
        "gh#gh-bad",
        "stripe#evt_bad",
        "std#msg_bad",
        "slack#EvBad",
        "nobody#gh-bad",
    ] {
        assert!(!h.recorded(key).await, "{key} must not be recorded");
    }
    let reasons: Vec<Value> = h
        .rejections("gh")
        .await
        .iter()
        .map(|d| d["reason"].clone())
        .collect();
    for reason in [
        "bad_signature",
        "missing_signature",
        "malformed_signature",
        "empty_body",
        "too_large",
        "unsupported_media_type",
    ] {
        assert!(reasons.contains(&json!(reason)), "{reason} in {reasons:?}");
    }
    assert!(
        h.rejections("stripe")
            .await
            .iter()
            .any(|d| d["reason"] == "stale")
    );
    assert!(
        h.rejections("nobody")
            .await
            .iter()
            .any(|d| d["reason"] == "unknown_source")
    );
    // The audit records name the reason, never the body.
    for d in h.rejections("gh").await {
        assert!(!d.to_string().contains("refs/heads"), "{d}");
    }
}

async fn either_of_two_rotating_secrets_is_accepted(h: Harness) {
    let now = h.now();
    for (i, secret) in ["whsec_stripe_new", "whsec_stripe_old"].iter().enumerate() {
        let body = stripe_event(&format!("evt_rot_{i}"));
        let (status, _) = h
            .post("stripe", &stripe(&[secret], now, &body), &body)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{secret}");
    }
    // Several signatures in one header: one valid one suffices.
    let body = stripe_event("evt_rot_multi");
    let (status, _) = h
        .post(
            "stripe",
            &stripe(&["whsec_unknown", "whsec_stripe_old"], now, &body),
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h.enqueued().len(), 3);
}

async fn ten_concurrent_copies_are_enqueued_once(h: Harness) {
    let h = Arc::new(h);
    let body = br#"{"action":"opened"}"#.to_vec();
    let headers = github("github-secret", "gh-concurrent", &body);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (h, headers, body) = (h.clone(), headers.clone(), body.clone());
            tokio::spawn(async move { h.post("gh", &headers, &body).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::ACCEPTED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::ACCEPTED, StatusCode::OK, StatusCode::CONFLICT].contains(s))
    );
    assert_eq!(h.enqueued().len(), 1);
    // Once accepted, every later copy is a plain duplicate.
    assert_eq!(h.post("gh", &headers, &body).await.0, StatusCode::OK);
}

async fn an_enqueue_failure_is_503_and_the_retry_is_accepted_once(h: Harness) {
    let now = h.now();
    let body = br#"{"type":"payment.created"}"#.to_vec();
    let headers = standard(STANDARD_SECRET, "msg_retry", now, &body);
    h.queue.failing.store(true, Ordering::SeqCst);
    let (status, reply) = h.post("std", &headers, &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!reply.to_string().contains("injected"), "{reply}");
    assert!(h.enqueued().is_empty());
    h.queue.failing.store(false, Ordering::SeqCst);
    let (status, _) = h.post("std", &headers, &body).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the retry is not a false duplicate"
    );
    assert_eq!(h.post("std", &headers, &body).await.0, StatusCode::OK);
    assert_eq!(h.enqueued().len(), 1);
}

async fn slack_url_verification_is_answered_after_verification(h: Harness) {
    let now = h.now();
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, reply) = h
        .post("slack", &slack("slack-signing-secret", now, body), body)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reply,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    let (status, _) = h
        .post("slack", &slack("not-the-secret", now, body), body)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no challenge without a valid signature"
    );
    assert!(h.enqueued().is_empty());
}

async fn a_body_of_exactly_256_kib_is_accepted(h: Harness) {
    let mut body = br#"{"pad":""#.to_vec();
    body.resize(MAX_BODY_BYTES - 2, b'a');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), MAX_BODY_BYTES);
    let (status, reply) = h
        .post("gh", &github("github-secret", "gh-big", &body), &body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
}

/// What providers send: JSON (any `+json`, or no content type at all) and
/// forms (Slack's slash commands); anything else is `415`, recorded, and
/// nothing is enqueued.
async fn json_and_form_deliveries_are_taken_and_other_content_types_are_415(h: Harness) {
    let json_body = br#"{"ref":"refs/heads/main"}"#;
    let form_body = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D";
    let cases: [(&str, &[u8], StatusCode); 7] = [
        ("application/json", json_body, StatusCode::ACCEPTED),
        (
            "application/json; charset=utf-8",
            json_body,
            StatusCode::ACCEPTED,
        ),
        (
            "application/cloudevents+json",
            json_body,
            StatusCode::ACCEPTED,
        ),
        (
            "application/x-www-form-urlencoded",
            form_body,
            StatusCode::ACCEPTED,
        ),
        (
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
            form_body,
            StatusCode::ACCEPTED,
        ),
        ("text/plain", json_body, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "application/octet-stream",
            json_body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (i, (content_type, body, status)) in cases.into_iter().enumerate() {
        let mut headers = github("github-secret", &format!("gh-ct-{i}"), body);
        headers.push(("content-type".into(), content_type.into()));
        let (got, reply) = h.post("gh", &headers, body).await;
        assert_eq!(got, status, "{content_type}: {reply}");
    }
    assert_eq!(h.enqueued().len(), 5);
    let refused = h
        .rejections("gh")
        .await
        .iter()
        .filter(|d| d["reason"] == "unsupported_media_type")
        .count();
    assert_eq!(refused, 2);
}

async fn a_standard_signature_list_is_accepted_when_any_entry_matches(h: Harness) {
    let now = h.now();
    let body = br#"{"type":"invoice.paid"}"#.to_vec();
    let mut headers = standard(STANDARD_SECRET, "msg_list", now, &body);
    let (name, right) = headers.pop().unwrap();
    assert_eq!(name, "webhook-signature");
    // A sender listing an old or foreign signature first, as in a rotation.
    headers.push((name.clone(), format!("v1,Zm9vYmFy {right}")));
    let (status, reply) = h.post("std", &headers, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(
        reply,
        json!({"status": "accepted", "delivery_id": "msg_list"})
    );
    assert_eq!(h.enqueued().len(), 1);

    // No usable entry at all: malformed; usable ones, none right: bad.
    let wrong = standard("whsec_AAAAAAAAAAAAAAAAAAAAAA==", "msg_list2", now, &body);
    for (list, reason) in [
        ("v1,Zm9vYmFy v2,x nocomma".to_owned(), "malformed_signature"),
        (format!("v1,Zm9vYmFy {}", wrong[2].1), "bad_signature"),
    ] {
        headers.pop();
        headers.push((name.clone(), list.clone()));
        headers[0].1 = "msg_list2".into();
        let (status, _) = h.post("std", &headers, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{list}");
        assert!(
            h.rejections("std")
                .await
                .iter()
                .any(|d| d["reason"] == reason),
            "{list}: {reason}"
        );
    }
    assert_eq!(h.enqueued().len(), 1);
    assert!(!h.recorded("std#msg_list2").await);
}

warden::on_both_stores!(
    Harness::new;
    every_scheme_is_accepted_once_and_a_redelivery_is_a_duplicate,
    bad_deliveries_are_refused_with_nothing_enqueued_or_recorded,
    either_of_two_rotating_secrets_is_accepted,
    ten_concurrent_copies_are_enqueued_once,
    an_enqueue_failure_is_503_and_the_retry_is_accepted_once,
    slack_url_verification_is_answered_after_verification,
    a_body_of_exactly_256_kib_is_accepted,
    a_standard_signature_list_is_accepted_when_any_entry_matches,
    json_and_form_deliveries_are_taken_and_other_content_types_are_415,
);

#[tokio::test]
async fn an_api_gateway_event_with_a_base64_body_is_verified_over_the_decoded_bytes() {
    let h = Harness::memory();
    // Not UTF-8: API Gateway delivers it base64-encoded.
    let body: Vec<u8> = vec![0xff, 0xfe, b'{', b'}', 0x00, 0x80];
    let headers: serde_json::Map<String, Value> = github("github-secret", "gh-binary", &body)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let event = json!({
        "version": "2.0", "routeKey": "POST /webhooks/{source}", "rawPath": "/webhooks/gh", "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d", "requestId": "gw-1",
            "routeKey": "POST /webhooks/{source}", "stage": "$default", "time": "t", "timeEpoch": 0,
            "http": {"method": "POST", "path": "/webhooks/gh", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "GitHub-Hookshot"}
        },
        "pathParameters": {"source": "gh"},
        "body": BASE64.encode(&body),
        "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = warden_webhook_receive::handler(&h.state, req)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let message = &h.enqueued()[0];
    assert_eq!(message["payload_encoding"], "base64");
    assert_eq!(
        BASE64.decode(message["payload"].as_str().unwrap()).unwrap(),
        body
    );
}

#[test]
fn a_source_without_a_secret_or_with_a_malformed_one_stops_start_up() {
    for (config, named) in [
        (
            json!([{"name": "gh", "scheme": "github", "secrets": []}]),
            "no secret",
        ),
        (json!([{"name": "gh", "scheme": "github"}]), "no secret"),
        (
            json!([{"name": "std", "scheme": "standard", "secrets": ["plain"]}]),
            "whsec_",
        ),
        (
            json!([{"name": "x", "scheme": "carrier-pigeon", "secrets": ["s"]}]),
            "unknown variant",
        ),
        (
            json!([{"name": "a b", "scheme": "github", "secrets": ["s"]}]),
            "letters",
        ),
        (
            json!([{"name": "gh", "scheme": "github", "secrets": ["s"]}, {"name": "gh", "scheme": "slack", "secrets": ["t"]}]),
            "twice",
        ),
        // A secret where a list belongs: the error (which is logged) says
        // what was wrong, not the secret.
        (
            json!([{"name": "gh", "scheme": "github", "secrets": "s3cr3t-value"}]),
            "invalid type: string, expected a sequence",
        ),
        (
            json!([{"name": "gh", "scheme": "github", "secrets": [1234567]}]),
            "invalid type: integer, expected a string",
        ),
    ] {
        let err = Sources::from_json(&config.to_string()).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().contains(named), "{err}");
        for secret in ["s3cr3t-value", "1234567"] {
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }
}

/// A fresh FIFO queue in the emulator: its client and URL.
async fn fifo_queue(endpoint: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&testing::aws_config(endpoint).await);
    let name = format!(
        "warden-events-{}.fifo",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let fifo = [(QueueAttributeName::FifoQueue, "true")];
    let url = testing::create_queue(&sqs, &name, &fifo).await;
    (sqs, url)
}

/// Up to ten messages waiting on the queue at `url`.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10);
    received.send().await.unwrap().messages.unwrap_or_default()
}

/// A delivery to `source` as a bare request (no API Gateway context).
fn bare_request(source: &str, headers: &[(String, String)], body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("/webhooks/{source}"));
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Body::Binary(body)).unwrap()
}

/// A new sources secret holding `sources`: its ARN.
async fn sources_secret(secrets: &aws_sdk_secretsmanager::Client, sources: Value) -> String {
    let name = format!("warden-webhooks-{}", ulid::Ulid::new());
    testing::create_secret(secrets, &name, &sources.to_string()).await
}

/// A new value of the sources secret `arn`: `sources`.
async fn put_sources(secrets: &aws_sdk_secretsmanager::Client, arn: &str, sources: Value) {
    let put = secrets.put_secret_value().secret_id(arn);
    put.secret_string(sources.to_string()).send().await.unwrap();
}

/// A production configuration from `vars` alone.
fn production_config(vars: &[(&str, String)]) -> warden::config::Config {
    let (config, findings) = warden::config::Config::load(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            // Every function is told where its issuer is.
            .or_else(|| (k == "WARDEN_ISSUER").then(|| "https://auth.example.com".to_owned()))
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

#[tokio::test]
async fn the_sqs_adapter_sends_through_the_sdk_and_a_fifo_queue_drops_a_repeated_send() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let (sqs, url) = fifo_queue(&endpoint).await;
    let queue = SqsQueue::new(sqs.clone(), &url);
    let message = OutgoingMessage {
        body: r#"{"delivery_id":"d1"}"#.into(),
        group_id: "gh".into(),
        deduplication_id: "dedupe-d1".into(),
    };
    queue.send(&message).await.unwrap();
    queue.send(&message).await.unwrap();
    let received = receive(&sqs, &url).await;
    let bodies: Vec<&str> = received.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, vec![r#"{"delivery_id":"d1"}"#]);

    // A queue that does not exist: the send fails, it does not pretend.
    let missing = SqsQueue::new(sqs, &format!("{endpoint}/123456789012/no-such-queue.fifo"));
    assert!(matches!(
        missing.send(&message).await,
        Err(Error::Unavailable { .. })
    ));
}

#[tokio::test]
async fn on_dynamodb_and_sqs_an_accepted_delivery_reaches_the_queue_once() {
    let Some((store, _)) = testing::dynamo_store().await else {
        return;
    };
    let (sqs, url) = fifo_queue(&testing::aws_endpoint().unwrap()).await;
    let clock = Arc::new(ManualClock::starting_now());
    let state = testing::webhook_state(
        Arc::new(store),
        sources(),
        Arc::new(SqsQueue::new(sqs.clone(), &url)),
        clock.clone(),
    );
    let body = br#"{"type":"invoice.paid"}"#.to_vec();
    let headers = standard(STANDARD_SECRET, "msg_sqs", clock.now_secs(), &body);
    for expected in [StatusCode::ACCEPTED, StatusCode::OK] {
        let req = bare_request("std", &headers, body.clone());
        let response = warden_webhook_receive::handler(&state, req).await.unwrap();
        assert_eq!(response.status(), expected);
    }
    let received = receive(&sqs, &url).await;
    assert_eq!(received.len(), 1);
    let message: Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(message["delivery_id"], "msg_sqs");
    assert_eq!(message["source"], "std");
}

/// Round trips per accepted delivery, counted on the wire: one conditional
/// claim and one transaction (mark + audit) in DynamoDB, plus the SQS send.
#[tokio::test]
async fn on_dynamodb_an_accepted_delivery_costs_two_dynamodb_round_trips() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let h = Harness::new(Arc::new(store));
    let body = br#"{"action":"opened"}"#.to_vec();
    let headers = github("github-secret", "gh-trips", &body);
    assert_eq!(h.post("gh", &headers, &body).await.0, StatusCode::ACCEPTED);
    assert_eq!(log.take(), ["PutItem", "TransactWriteItems"]);
    assert_eq!(h.enqueued().len(), 1, "and one SQS send");
    assert_eq!(h.post("gh", &headers, &body).await.0, StatusCode::OK);
    assert_eq!(
        log.take(),
        ["PutItem", "TransactWriteItems"],
        "claim refused, duplicate audited"
    );
}

/// The production start-up path: sources from a Secrets Manager secret, the
/// queue from `WARDEN_EVENTS_QUEUE_URL`; an incomplete source refuses it.
#[tokio::test]
async fn in_production_the_sources_come_from_secrets_manager_and_a_secretless_one_stops_start_up() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let aws = testing::aws_config(&endpoint).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let create = |value: Value| {
        let secrets = secrets.clone();
        async move { sources_secret(&secrets, value).await }
    };
    let config_for = |arn: &str| {
        production_config(&[
            ("WARDEN_ENV", "production".to_owned()),
            (
                "WARDEN_ISSUER_PARAMETER",
                "/warden/unused/issuer".to_owned(),
            ),
            ("WARDEN_WEBHOOK_SECRETS_ARN", arn.to_owned()),
            (
                "WARDEN_EVENTS_QUEUE_URL",
                format!("{endpoint}/123456789012/events.fifo"),
            ),
        ])
    };

    let good = create(json!([{"name": "gh", "scheme": "github", "secrets": ["s1", "s2"]}])).await;
    let state = warden::wiring::webhooks_with(config_for(&good), &aws)
        .await
        .unwrap();
    assert_eq!(state.sources.current().get("gh").unwrap().secret_count(), 2);

    let bad = create(json!([{"name": "gh", "scheme": "github", "secrets": []}])).await;
    let err = warden::wiring::webhooks_with(config_for(&bad), &aws)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no secret"), "{err}");

    let mut no_queue = config_for(&good);
    no_queue.events_queue_url = None;
    assert!(warden::wiring::webhooks_with(no_queue, &aws).await.is_err());
}

/// `warden webhooks set-secret` writes a new secret into the sources secret:
/// a warm function accepts deliveries signed with it at once (a delivery no
/// secret verifies makes it read the sources again, at most once per cache
/// TTL), and picks up a new source within one TTL, without a redeploy.
#[tokio::test]
async fn a_warm_function_follows_the_sources_secret_without_a_redeploy() {
    let Some((endpoint, prefix)) = testing::emulator_tables().await else {
        return;
    };
    let aws = testing::aws_config(&endpoint).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let arn = sources_secret(
        &secrets,
        json!([{"name": "gh", "scheme": "github", "secrets": ["old"]}]),
    )
    .await;
    let (_, queue_url) = fifo_queue(&endpoint).await;
    let config = production_config(&[
        ("WARDEN_ENV", "production".to_owned()),
        (
            "WARDEN_ISSUER_PARAMETER",
            "/warden/unused/issuer".to_owned(),
        ),
        ("WARDEN_WEBHOOK_SECRETS_ARN", arn.clone()),
        ("WARDEN_EVENTS_QUEUE_URL", queue_url),
        ("WARDEN_TABLE_PREFIX", prefix),
        ("WARDEN_SECRET_CACHE_TTL_SECS", "1".to_owned()),
    ]);
    let state = warden::wiring::webhooks_with(config, &aws).await.unwrap();
    let deliver = |source: &'static str, secret: &'static str, id: &'static str| {
        let state = &state;
        async move {
            let body = br#"{"zen":"rotate"}"#.to_vec();
            let req = bare_request(source, &github(secret, id, &body), body);
            warden_webhook_receive::handler(state, req)
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(deliver("gh", "old", "d1").await, StatusCode::ACCEPTED);

    // The rotation: the new secret first, the old one kept, and a new source.
    let rotated = json!([
        {"name": "gh", "scheme": "github", "secrets": ["new", "old"]},
        {"name": "gh2", "scheme": "github", "secrets": ["other"]}
    ]);
    put_sources(&secrets, &arn, rotated).await;
    assert_eq!(
        deliver("gh", "new", "d2").await,
        StatusCode::ACCEPTED,
        "at once"
    );
    assert_eq!(deliver("gh", "old", "d3").await, StatusCode::ACCEPTED);
    assert_eq!(
        deliver("gh", "forged", "d4").await,
        StatusCode::UNAUTHORIZED,
        "a bad signature is still refused"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        deliver("gh2", "other", "d5").await,
        StatusCode::ACCEPTED,
        "after one TTL"
    );

    // The next rotation drops "old": one TTL later it no longer verifies.
    let rotated = json!([{"name": "gh", "scheme": "github", "secrets": ["newer", "new"]}]);
    put_sources(&secrets, &arn, rotated).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        deliver("gh", "old", "d6").await,
        StatusCode::UNAUTHORIZED,
        "rotated out"
    );
    assert_eq!(deliver("gh", "newer", "d7").await, StatusCode::ACCEPTED);
}
