//! Test support for the business actions: run an action as the run handler
//! (validate) and the worker (run) do, and say what a client would see.

use serde_json::Value;

use crate::agents::catalogue::{catalogue, Action, Failure, Outcome};
use crate::domain::agents::AgentType;

/// The catalogue's `name` action of `agent`.
pub fn action(agent: AgentType, name: &str) -> &'static dyn Action {
    catalogue()
        .find(agent, name)
        .unwrap_or_else(|| panic!("{agent:?} {name} is in the catalogue"))
}

/// Validates then runs `input`, as the run handler and the worker do.
pub fn outcome(agent: AgentType, name: &str, input: &Value) -> Outcome {
    let a = action(agent, name);
    if let Err(e) = a.validate(input) {
        panic!("the input is valid, but: {e}");
    }
    match a.run(input) {
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
    let a = action(agent, name);
    let err = a.validate(&input).expect_err("the input is refused");
    assert!(a.run(&input).is_err(), "the worker refuses it too");
    err.field()
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
