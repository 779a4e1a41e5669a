//! `--stack NAME` (or `WARDEN_STACK`): the deployment a command talks to,
//! read from the stack's outputs with CloudFormation `DescribeStacks`
//! instead of from ten environment variables.
//!
//! Each output of [`OUTPUT_VARIABLES`] stands for the environment variable
//! the functions are given (`template.yaml`); [`Env`] answers every lookup
//! of the command's configuration, from the stack first and then from the
//! environment. A variable that is set and says something else than the
//! stack is an error, not a silent choice: a stale `WARDEN_TABLE_PREFIX`
//! in a shell would otherwise send an operator's change to another
//! deployment's tables.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use warden::Error;

/// The environment variable holding the default of `--stack`.
pub const STACK_VARIABLE: &str = "WARDEN_STACK";

/// The stack outputs the CLI reads, each with the variable it stands for.
/// `template.yaml` has every one of them (`infra/check_template.py` holds
/// that, and `infra/moto-stack.yaml`, the stack the tests deploy in moto,
/// has exactly `template.yaml`'s outputs).
pub const OUTPUT_VARIABLES: &[(&str, &str)] = &[
    ("Environment", "WARDEN_ENV"),
    ("TablePrefix", "WARDEN_TABLE_PREFIX"),
    ("Issuer", "WARDEN_ISSUER"),
    ("Audience", "WARDEN_AUDIENCE"),
    ("EventsQueueUrl", "WARDEN_EVENTS_QUEUE_URL"),
    ("EventsDeadLetterQueueUrl", "WARDEN_EVENTS_DLQ_URL"),
    ("JobsQueueUrl", "WARDEN_JOBS_QUEUE_URL"),
    ("JobsDeadLetterQueueUrl", "WARDEN_JOBS_DLQ_URL"),
    ("OutboundQueueUrl", "WARDEN_OUTBOUND_QUEUE_URL"),
    ("OutboundDeadLetterQueueUrl", "WARDEN_OUTBOUND_DLQ_URL"),
    ("WebhookSecretArn", "WARDEN_WEBHOOK_SECRETS_ARN"),
    ("ApiKeyPepperSecretArn", "WARDEN_API_KEY_PEPPER_ARN"),
    ("SigningKeyArn", "WARDEN_SIGNING_KEY_ARN"),
    ("DecisionKeyArn", "WARDEN_DECISION_KEY_ARN"),
    ("CheckpointKeyArn", "WARDEN_CHECKPOINT_KEY_ARN"),
    ("CheckpointBucketName", "WARDEN_CHECKPOINT_BUCKET"),
    ("AuditMacSecretArn", "WARDEN_AUDIT_MAC_SECRET_ARN"),
];

/// Where a command's configuration comes from: a stack's outputs, over the
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The stack's name and the variables its outputs stand for.
    stack: Option<(String, BTreeMap<&'static str, String>)>,
}

impl Env {
    /// The process environment alone (no `--stack`).
    pub fn process() -> Self {
        Self::default()
    }

    /// The variables `outputs` (a stack's output keys and values) stand
    /// for, over the environment `lookup` reads. Refused when the stack
    /// lacks an output the CLI needs, or when a variable is set to
    /// something else than the stack says.
    pub fn from_outputs(
        stack: &str,
        outputs: &BTreeMap<String, String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let missing: Vec<&str> = OUTPUT_VARIABLES
            .iter()
            .filter(|(output, _)| !outputs.contains_key(*output))
            .map(|(output, _)| *output)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Config(format!(
                "stack {stack} has no output {}: it was deployed from an older template; update it with `sam build && sam deploy`",
                missing.join(", ")
            )));
        }
        let mut vars = BTreeMap::new();
        let mut conflicts = Vec::new();
        for (output, variable) in OUTPUT_VARIABLES {
            let value = outputs[*output].clone();
            if let Some(set) = lookup(variable).filter(|v| !v.is_empty())
                && set != value
            {
                conflicts.push(format!(
                    "{variable}={set} (the stack's {output} is {value})"
                ));
            }
            vars.insert(*variable, value);
        }
        if !conflicts.is_empty() {
            return Err(Error::Config(format!(
                "the environment contradicts stack {stack}: {}; unset the variable, or drop --stack and {STACK_VARIABLE}",
                conflicts.join("; ")
            )));
        }
        Ok(Self {
            stack: Some((stack.to_owned(), vars)),
        })
    }

    /// The value of `variable`: the stack's, else the environment's.
    pub fn var(&self, variable: &str) -> Option<String> {
        self.stack
            .as_ref()
            .and_then(|(_, vars)| vars.get(variable).cloned())
            .or_else(|| std::env::var(variable).ok())
    }

    /// The stack's name, with `--stack`.
    pub fn stack(&self) -> Option<&str> {
        self.stack.as_ref().map(|(name, _)| name.as_str())
    }
}

/// The outputs of stack `name` (DescribeStacks), as output key to value.
/// A stack that does not exist, or is not in a state whose outputs can be
/// used, is an error that says what to check.
pub async fn outputs(
    aws: &warden::aws::SdkConfig,
    name: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let region = aws
        .region()
        .map_or_else(|| "(none)".to_owned(), ToString::to_string);
    let answer = aws_sdk_cloudformation::Client::new(aws)
        .describe_stacks()
        .stack_name(name)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        // CloudFormation answers a stack it does not know with a
        // ValidationError "Stack with id NAME does not exist".
        Err(e) if e.code() == Some("ValidationError") => {
            return Err(Error::NotFound(format!(
                "no stack {name} in region {region}: check the name (`aws cloudformation describe-stacks`), AWS_REGION and the AWS account"
            )));
        }
        Err(e) => {
            return Err(warden::aws::sdk_unavailable(
                &format!("CloudFormation DescribeStacks {name} in region {region}"),
                &e,
            ));
        }
    };
    let Some(stack) = answer.stacks().first() else {
        return Err(Error::NotFound(format!(
            "no stack {name} in region {region}"
        )));
    };
    let status = stack
        .stack_status()
        .map_or("UNKNOWN", |s| s.as_str())
        .to_owned();
    if !usable(&status) {
        return Err(Error::Config(format!(
            "stack {name} is {status}: its outputs cannot be used until it is created or updated (see its events in the CloudFormation console)"
        )));
    }
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// Whether a stack in `status` has outputs that describe a deployment:
/// created or updated, or rolled back to a working state.
fn usable(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "UPDATE_IN_PROGRESS"
            | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_outputs() -> BTreeMap<String, String> {
        OUTPUT_VARIABLES
            .iter()
            .map(|(o, _)| ((*o).to_owned(), format!("value-of-{o}")))
            .collect()
    }

    #[test]
    fn every_output_stands_for_its_variable() {
        let env = Env::from_outputs("prod", &all_outputs(), |_| None).unwrap();
        assert_eq!(env.stack(), Some("prod"));
        for (output, variable) in OUTPUT_VARIABLES {
            assert_eq!(env.var(variable), Some(format!("value-of-{output}")));
        }
    }

    #[test]
    fn a_missing_output_names_it_and_says_to_update_the_stack() {
        let mut outputs = all_outputs();
        outputs.remove("EventsDeadLetterQueueUrl");
        let err = Env::from_outputs("prod", &outputs, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("EventsDeadLetterQueueUrl"), "{err}");
        assert!(err.contains("sam deploy"), "{err}");
    }

    #[test]
    fn a_variable_that_contradicts_the_stack_is_refused_and_one_that_agrees_is_not() {
        let err = Env::from_outputs("prod", &all_outputs(), |k| {
            (k == "WARDEN_TABLE_PREFIX").then(|| "other-".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("WARDEN_TABLE_PREFIX=other-") && err.contains("value-of-TablePrefix"),
            "{err}"
        );
        let agrees = Env::from_outputs("prod", &all_outputs(), |k| {
            (k == "WARDEN_TABLE_PREFIX").then(|| "value-of-TablePrefix".to_owned())
        });
        assert!(agrees.is_ok());
    }

    #[test]
    fn only_a_created_or_updated_stack_is_usable() {
        assert!(usable("CREATE_COMPLETE") && usable("UPDATE_ROLLBACK_COMPLETE"));
        for status in ["CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_COMPLETE"] {
            assert!(!usable(status), "{status}");
        }
    }
}
