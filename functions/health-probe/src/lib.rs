//! The `health-probe` Lambda: invoked by an EventBridge schedule every
//! minute, it runs [`warden::health::probe::probe`] (every check, one
//! stored sample, an audit event on each change of status).
//!
//! A run whose sample cannot be stored fails, so Lambda reports an error
//! (and the missing sample counts as unknown in the uptime).

use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use warden::audit::Origin;
use warden::health::probe::probe;
use warden::state::HealthState;

/// Handles one scheduled event: `{"status", "failing": [...]}` on success.
pub async fn handler(
    state: &HealthState,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let run = probe(state, origin(&event.payload)).await?;
    Ok(json!({
        "status": run.sample.status,
        "failing": run.sample.failing,
    }))
}

/// The schedule's rule, from the EventBridge event's `resources` (its ARN).
fn origin(event: &Value) -> Origin {
    let rule = event
        .get("resources")
        .and_then(|r| r.get(0))
        .and_then(Value::as_str)
        .unwrap_or("schedule")
        .to_owned();
    Origin::Schedule { rule }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_names_the_schedules_rule() {
        let event = json!({
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/warden-health-probe"]
        });
        assert_eq!(
            origin(&event),
            Origin::Schedule {
                rule: "arn:aws:events:us-east-1:123456789012:rule/warden-health-probe".into()
            }
        );
        assert_eq!(
            origin(&json!({})),
            Origin::Schedule {
                rule: "schedule".into()
            }
        );
    }
}
