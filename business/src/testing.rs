//! Test support for the business actions: run an action as submission
//! (validate) and the worker (run) do, on the JSON text of a value as
//! Warden sends it, and say what a client would see.

use std::sync::OnceLock;

use serde_json::Value;

use crate::{
    AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome, Register, register_all,
};

/// An action as the tests reach it: by agent type and name, like Warden's
/// catalogue, with its input given as a JSON value.
#[derive(Clone, Copy)]
pub struct Action {
    agent: AgentType,
    name: &'static str,
    validate: fn(&str) -> Result<(), InvalidInput>,
    run: fn(&str) -> Result<Outcome, Failure>,
}

impl Action {
    /// Parses, checks and computes `input`, serialised once, as submission
    /// does: refused only for what the computation finds invalid.
    pub fn validate(&self, input: &Value) -> Result<(), InvalidInput> {
        (self.validate)(&input.to_string())
    }

    /// Parses, checks and computes `input`, as the worker does.
    pub fn run(&self, input: &Value) -> Result<Outcome, Failure> {
        (self.run)(&input.to_string())
    }
}

/// Every action, registered as Warden's catalogue registers them.
struct Index(Vec<Action>);

impl Register for Index {
    fn with<A: BusinessAction>(
        mut self,
        agent: AgentType,
        name: &'static str,
        _: Complexity,
    ) -> Self {
        self.0.push(Action {
            agent,
            name,
            validate: A::validate,
            run: A::run,
        });
        self
    }
}

/// The `name` action of `agent`.
pub fn action(agent: AgentType, name: &str) -> Action {
    static INDEX: OnceLock<Vec<Action>> = OnceLock::new();
    INDEX
        .get_or_init(|| register_all(Index(Vec::new())).0)
        .iter()
        .find(|a| a.agent == agent && a.name == name)
        .copied()
        .unwrap_or_else(|| panic!("{agent:?} {name} is registered"))
}

/// Validates then runs `input`, as the run handler and the worker do.
pub fn outcome(agent: AgentType, name: &str, input: &Value) -> Outcome {
    outcome_of_text(agent, name, &input.to_string())
}

/// Validates then runs `input` given as JSON text, the client's own digits
/// kept (a fraction is read from its literal).
fn outcome_of_text(agent: AgentType, name: &str, input: &str) -> Outcome {
    let a = action(agent, name);
    if let Err(e) = (a.validate)(input) {
        panic!("the input is valid, but: {e}");
    }
    match (a.run)(input) {
        Ok(out) => out,
        Err(e) => panic!("the action succeeds, but: {e}"),
    }
}

/// The result of an action that has no effect.
pub fn result(agent: AgentType, name: &str, input: Value) -> Value {
    let out = outcome(agent, name, &input);
    assert!(out.effects.is_empty(), "{name} has no effect");
    out.result
}

/// The field a client is told is invalid (`input.<path>`), after checking
/// that the worker refuses the same input too.
pub fn invalid_field(agent: AgentType, name: &str, input: Value) -> String {
    invalid_field_in_text(agent, name, &input.to_string())
}

/// The field a client is told is invalid for `input` given as JSON text,
/// the client's own digits kept (a fraction is read from its literal), at
/// submission and in the worker alike.
pub fn invalid_field_in_text(agent: AgentType, name: &str, input: &str) -> String {
    let a = action(agent, name);
    let err = (a.validate)(input).expect_err("the input is refused");
    assert!((a.run)(input).is_err(), "the worker refuses it too");
    err.field()
}

/// The result of input given as JSON text (see [`invalid_field_in_text`]).
pub fn result_of_text(agent: AgentType, name: &str, input: &str) -> Value {
    outcome_of_text(agent, name, input).result
}

/// The failure of an action whose input is valid but whose rule fails.
pub fn failure(agent: AgentType, name: &str, input: Value) -> Failure {
    let a = action(agent, name);
    if let Err(e) = a.validate(&input) {
        panic!("the input is valid (the rule fails later), but: {e}");
    }
    a.run(&input).expect_err("the action fails")
}

/// For a property test: the action either refuses `input` at submission or
/// answers (a result or a business failure), and the worker agrees with the
/// submission's verdict. A panic or an overflow fails the test by itself.
pub fn refuses_or_answers(agent: AgentType, name: &str, input: &Value) -> bool {
    let a = action(agent, name);
    match a.validate(input) {
        Err(_) => a.run(input).is_err(),
        Ok(()) => {
            let _ = a.run(input);
            true
        }
    }
}

/// Asserts, for each `(input, field)`, that `input` is refused naming
/// `field` (`input.<path>`), at submission and in the worker.
pub fn invalid_fields<'a>(
    agent: AgentType,
    name: &str,
    cases: impl IntoIterator<Item = (Value, &'a str)>,
) {
    for (input, field) in cases {
        assert_eq!(invalid_field(agent, name, input.clone()), field, "{input}");
    }
}

/// `base` (an object) with `key` set to `value`.
pub fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

/// `base` (an object) without `key`.
pub fn without(base: &Value, key: &str) -> Value {
    let mut v = base.clone();
    if let Some(object) = v.as_object_mut() {
        object.remove(key);
    }
    v
}

/// The worked example of `action` in the contract
/// (`contract_examples.json`): its input, and the result it gives.
pub fn contract_example(action: &str) -> (Value, Value) {
    let all: Value = serde_json::from_str(include_str!("contract_examples.json"))
        .expect("the contract's examples are JSON");
    let example = all["examples"]
        .as_array()
        .and_then(|examples| examples.iter().find(|e| e["action"] == action))
        .unwrap_or_else(|| panic!("the contract has an example of {action}"));
    (example["input"].clone(), example["result"].clone())
}

/// A JSON number read from its decimal text, as a client would send it.
pub fn number(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON number")
}

/// Asserts that the action `name` of `agent` gives the result of its
/// worked example in the contract ([`contract_example`]).
pub fn gives_the_contract_example(agent: AgentType, name: &str) {
    let (input, expected) = contract_example(name);
    assert_eq!(result(agent, name, input), expected, "{name}");
}

/// What the tests of the agent type `$agent` (e.g. `Accounting`) share,
/// for its `mod.rs` to hold in its `test_support` module and each action's
/// tests to import whole: what they use (`json!` and `Value`, proptest's
/// prelude, [`Failure`](crate::Failure),
/// [`MAX_CENTS`](crate::fields::MAX_CENTS), this module's [`with`],
/// [`without`] and [`number`]), `AGENT`, and the helpers above for it,
/// taking the action's name: `action`, `outcome`, `result`,
/// `invalid_field`, `invalid_fields`, `invalid_field_in_text`,
/// `result_of_text`, `failure` and `gives_the_contract_example`.
macro_rules! agent_helpers {
    ($agent:ident) => {
        #[allow(unused_imports)]
        pub(crate) use proptest::prelude::*;
        #[allow(unused_imports)]
        pub(crate) use serde_json::{Value, json};
        #[allow(unused_imports)]
        pub(crate) use $crate::testing::{self, number, with, without};
        #[allow(unused_imports)]
        pub(crate) use $crate::{Failure, fields::MAX_CENTS};

        /// The agent type whose actions these tests run.
        pub(crate) const AGENT: $crate::AgentType = $crate::AgentType::$agent;

        #[allow(dead_code)]
        pub(crate) fn action(name: &str) -> $crate::testing::Action {
            $crate::testing::action(AGENT, name)
        }

        #[allow(dead_code)]
        pub(crate) fn outcome(name: &str, input: serde_json::Value) -> $crate::Outcome {
            $crate::testing::outcome(AGENT, name, &input)
        }

        #[allow(dead_code)]
        pub(crate) fn result(name: &str, input: serde_json::Value) -> serde_json::Value {
            $crate::testing::result(AGENT, name, input)
        }

        #[allow(dead_code)]
        pub(crate) fn invalid_field(name: &str, input: serde_json::Value) -> String {
            $crate::testing::invalid_field(AGENT, name, input)
        }

        #[allow(dead_code)]
        pub(crate) fn invalid_fields<'a>(
            name: &str,
            cases: impl IntoIterator<Item = (serde_json::Value, &'a str)>,
        ) {
            $crate::testing::invalid_fields(AGENT, name, cases)
        }

        #[allow(dead_code)]
        pub(crate) fn invalid_field_in_text(name: &str, input: &str) -> String {
            $crate::testing::invalid_field_in_text(AGENT, name, input)
        }

        #[allow(dead_code)]
        pub(crate) fn result_of_text(name: &str, input: &str) -> serde_json::Value {
            $crate::testing::result_of_text(AGENT, name, input)
        }

        #[allow(dead_code)]
        pub(crate) fn failure(name: &str, input: serde_json::Value) -> $crate::Failure {
            $crate::testing::failure(AGENT, name, input)
        }

        #[allow(dead_code)]
        pub(crate) fn gives_the_contract_example(name: &str) {
            $crate::testing::gives_the_contract_example(AGENT, name)
        }
    };
}
pub(crate) use agent_helpers;
