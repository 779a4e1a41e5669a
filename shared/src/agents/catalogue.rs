//! The action catalogue: every business action, its agent type, its
//! complexity and its input, behind one trait the worker runs.
//!
//! The actions are the `warden-business` crate's (`business/` at the
//! workspace root), each a [`BusinessAction`]: it reads its input from the
//! run's JSON text (a missing field, a wrong type or an unknown enum value
//! is refused at submission with the field's path), checks what parsing
//! cannot say (ranges, unique ids) and computes, purely, an [`Outcome`] or
//! a [`Failure`]. No clock, no store, no network: an external effect is
//! returned as an [`Effect`] and the worker carries it out. Here they are
//! registered with their agent type, name and complexity
//! ([`warden_business::register_all`], the catalogue's table) and looked up
//! by agent type and name ([`Catalogue::find`]) as the type-erased
//! [`Action`]; a caller that holds the input as a JSON value serialises it
//! once.

use std::sync::OnceLock;

pub use warden_business::{BusinessAction, Effect, Failure, InvalidInput, Outcome, Register};

use crate::domain::agents::{AgentType, Complexity};

/// The largest result a job keeps, as JSON: 128 KiB. A job's input (up to
/// the 256 KiB request body) and its result share one DynamoDB item, which
/// holds 400 KB; a bigger result ends the job `FAILED` saying so (split the
/// input), rather than a write the store refuses.
pub const MAX_RESULT_BYTES: usize = 128 * 1024;

/// An action, type-erased: what the run handler and the worker use.
pub trait Action: Send + Sync {
    /// The agent type that has it.
    fn agent_type(&self) -> AgentType;
    /// Its name.
    fn name(&self) -> &'static str;
    /// Its complexity.
    fn complexity(&self) -> Complexity;
    /// Parses and checks `input`, the JSON text of the run's input, and
    /// computes it, refusing what the computation finds invalid (at
    /// submission; a rule that would fail the job does not refuse it).
    fn validate(&self, input: &str) -> Result<(), InvalidInput>;
    /// Parses, checks and computes `input` (in the worker).
    fn run(&self, input: &str) -> Result<Outcome, Failure>;
}

/// An action's type, with what the catalogue says of it.
struct Erased<A> {
    agent: AgentType,
    name: &'static str,
    complexity: Complexity,
    action: std::marker::PhantomData<fn() -> A>,
}

impl<A: BusinessAction> Action for Erased<A> {
    fn agent_type(&self) -> AgentType {
        self.agent
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn complexity(&self) -> Complexity {
        self.complexity
    }

    fn validate(&self, input: &str) -> Result<(), InvalidInput> {
        A::validate(input)
    }

    fn run(&self, input: &str) -> Result<Outcome, Failure> {
        A::run(input)
    }
}

/// Every action Warden can run.
pub struct Catalogue {
    actions: Vec<Box<dyn Action>>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.actions.iter().map(|a| (a.agent_type(), a.name())))
            .finish()
    }
}

impl Catalogue {
    /// An empty catalogue, to fill through [`Register::with`].
    pub fn empty() -> Self {
        Self {
            actions: Vec::new(),
        }
    }

    /// The action `name` of `agent_type`, if it has one.
    pub fn find(&self, agent_type: AgentType, name: &str) -> Option<&dyn Action> {
        self.actions
            .iter()
            .find(|a| a.agent_type() == agent_type && a.name() == name)
            .map(|a| &**a)
    }

    /// Every action, in catalogue order.
    pub fn actions(&self) -> impl Iterator<Item = &dyn Action> {
        self.actions.iter().map(|a| &**a)
    }

    /// The names of `agent_type`'s actions, for error messages.
    pub fn names(&self, agent_type: AgentType) -> Vec<&'static str> {
        self.actions
            .iter()
            .filter(|a| a.agent_type() == agent_type)
            .map(|a| a.name())
            .collect()
    }
}

/// Adds the action `A` as `name`, an action of `agent_type` of
/// `complexity` ([`warden_business::register_all`] lists them all).
impl Register for Catalogue {
    fn with<A: BusinessAction>(
        mut self,
        agent_type: AgentType,
        name: &'static str,
        complexity: Complexity,
    ) -> Self {
        self.actions.push(Box::new(Erased::<A> {
            agent: agent_type,
            name,
            complexity,
            action: std::marker::PhantomData,
        }));
        self
    }
}

/// The catalogue of every business action, built once.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| warden_business::register_all(Catalogue::empty()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_action_is_documented_in_the_openapi_file_with_its_complexity() {
        let spec = include_str!("../../../infra/openapi.yaml");
        for action in super::catalogue().actions() {
            let (agent, name) = (action.agent_type(), action.name());
            let row = format!("| `{agent}` | `{name}` | {} |", action.complexity().level());
            assert!(spec.contains(&row), "the catalogue table lacks {row}");
            // ActionInputs: one `oneOf` branch; ActionResults: one `if`.
            let input_tie = format!("properties: {{action: {{const: {name}}}, input: {{$ref: ");
            let result_tie = format!("properties: {{action: {{const: {name}}}}}}}");
            assert_eq!(
                (
                    spec.matches(&input_tie).count(),
                    spec.matches(&result_tie).count()
                ),
                (1, 1),
                "ActionInputs and ActionResults each tie {name} to its schemas"
            );
        }
    }
}
