//! Counts that matter, as CloudWatch embedded metrics (EMF).
//!
//! Inside Lambda each count is one JSON line on stdout, which CloudWatch
//! Logs turns into a metric in the `Warden` namespace, per function. Outside
//! Lambda (`warden serve`, tests) nothing is printed.

use serde_json::json;

/// A counted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A login succeeded.
    LoginSucceeded,
    /// A login was refused (wrong password, unknown or disabled user).
    LoginFailed,
    /// A request was refused by a rate limit.
    RateLimited,
    /// A refresh token was reused and its session revoked.
    RefreshTokenReused,
    /// A webhook delivery was accepted and enqueued.
    WebhookAccepted,
    /// A webhook delivery was refused.
    WebhookRejected,
    /// A webhook delivery enqueued before came again (a provider retry):
    /// answered `200 duplicate`, not a rejection.
    WebhookDuplicate,
    /// An agent run was queued.
    AgentRunQueued,
    /// An agent run became a proposal.
    AgentRunProposed,
    /// An agent run was refused by governance (at submission or run time).
    AgentRunBlocked,
    /// A job ended `SUCCESS`.
    JobSucceeded,
    /// A job ended `FAILED`.
    JobFailed,
    /// A health probe run found a required check failing (the alarm's metric).
    HealthFailing,
}

impl Metric {
    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::LoginSucceeded => "LoginSucceeded",
            Metric::LoginFailed => "LoginFailed",
            Metric::RateLimited => "RateLimited",
            Metric::RefreshTokenReused => "RefreshTokenReused",
            Metric::WebhookAccepted => "WebhookAccepted",
            Metric::WebhookRejected => "WebhookRejected",
            Metric::WebhookDuplicate => "WebhookDuplicate",
            Metric::AgentRunQueued => "AgentRunQueued",
            Metric::AgentRunProposed => "AgentRunProposed",
            Metric::AgentRunBlocked => "AgentRunBlocked",
            Metric::JobSucceeded => "JobSucceeded",
            Metric::JobFailed => "JobFailed",
            Metric::HealthFailing => "HealthFailing",
        }
    }
}

/// Counts one occurrence of `metric` (a no-op outside Lambda).
pub fn count(metric: Metric) {
    if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        let now = crate::clock::Clock::now_millis(&crate::clock::SystemClock);
        println!("{}", emf_line(metric, &function, now));
    }
}

/// One EMF document: the metric, its unit and the `Function` dimension.
fn emf_line(metric: Metric, function: &str, timestamp_millis: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": "Warden",
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}]
            }]
        },
        "Function": function,
        metric.name(): 1
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_the_metric_its_unit_and_dimension() {
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            Metric::LoginFailed,
            "warden-login",
            1_700_000_000_000,
        ))
        .unwrap();
        assert_eq!(line["LoginFailed"], 1);
        assert_eq!(line["Function"], "warden-login");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Warden");
        assert_eq!(directive["Metrics"][0]["Name"], "LoginFailed");
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }
}
