//! The `health-probe` Lambda: invoked by an EventBridge schedule every
//! minute, it runs [`warden::health::probe::probe`] (every check, one
//! stored sample, an audit event on each change of status).
//!
//! A run whose sample cannot be stored fails, so Lambda reports an error
//! (and the missing sample counts as unknown in the uptime).

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use warden::audit::Origin;
use warden::health::probe::{probe, scheduled_at};
use warden::state::HealthState;

/// Handles one scheduled event: `{"status", "failing": [...], "recorded"}`
/// on success. The sample is stamped with the minute the event was
/// scheduled for (its `time`), so a second delivery of the same event
/// stores nothing more (`recorded: false`).
pub async fn handler(
    state: &HealthState,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let at_ms = scheduled_at(
        event.payload.get("time").and_then(Value::as_str),
        state.clock.now_millis(),
    );
    let run = probe(state, origin(&event.payload), at_ms).await?;
    Ok(json!({
        "status": run.sample.status,
        "failing": run.sample.failing,
        "recorded": run.recorded,
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
