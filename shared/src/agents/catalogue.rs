//! The action catalogue: every business action, its agent type, its
//! complexity and its input, behind one trait the worker runs.
//!
//! An action is written as a [`BusinessAction`]: a typed `Input` parsed
//! from the run's JSON (a missing field, a wrong type or an unknown enum
//! value is refused at submission with the field's path), a `check` of
//! what parsing cannot say (ranges, unique ids), and a pure `compute` from
//! that input to an [`Outcome`] or a [`Failure`]. No clock, no store, no
//! network: an external effect is returned as an [`Effect`] and the worker
//! carries it out. [`Catalogue::find`] looks an action up by agent type and
//! name, as the type-erased [`Action`].

use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::business;
use crate::domain::agents::{AgentType, Complexity};

/// Input that does not parse: `400` at submission, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    /// The field's path inside `input`, e.g. `lines[2].quantity` (0-based
    /// indices; empty for the input itself).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidInput {
    /// An error about the field at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The path as the client sees it: `input.<path>`.
    pub fn field(&self) -> String {
        if self.path.is_empty() {
            "input".to_owned()
        } else if self.path.starts_with('[') {
            format!("input{}", self.path)
        } else {
            format!("input.{}", self.path)
        }
    }
}

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field(), self.reason)
    }
}

/// A business rule that failed on input that parsed: the job ends `FAILED`
/// with this message, which names the record (e.g. `lines[1] "Mystery
/// gadget": no price from any source`). Never a guessed figure instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An external effect an action asks for; the worker carries it out before
/// it marks the job `SUCCESS`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish this message to the outbound queue (FIFO, the job id as the
    /// deduplication id) for a downstream integration.
    PublishOutbound(Value),
}

/// The largest result a job keeps, as JSON: 128 KiB. A job's input (up to
/// the 256 KiB request body) and its result share one DynamoDB item, which
/// holds 400 KB; a bigger result ends the job `FAILED` saying so (split the
/// input), rather than a write the store refuses.
pub const MAX_RESULT_BYTES: usize = 128 * 1024;

/// What a successful action returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The job's `result`.
    pub result: Value,
    /// The effects to carry out, in order.
    pub effects: Vec<Effect>,
}

impl Outcome {
    /// A result with no effect.
    pub fn result(result: impl Serialize) -> Result<Self, Failure> {
        Ok(Self {
            result: to_value(result)?,
            effects: Vec::new(),
        })
    }
}

/// Serialises a result; a failure here is a bug, reported as the job's
/// error rather than a panic.
pub fn to_value(v: impl Serialize) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure(format!("the result could not be serialised: {e}")))
}

/// One business action, typed. Implement this; [`Catalogue`] erases it.
pub trait BusinessAction: Send + Sync + 'static {
    /// The parsed input; `Option` fields accept absent and `null` alike.
    type Input: DeserializeOwned;
    /// The agent type that has the action.
    const AGENT: AgentType;
    /// The action's name in `POST /agents/{id}/runs`.
    const NAME: &'static str;
    /// What it does, which decides who may run it.
    const COMPLEXITY: Complexity;

    /// What parsing cannot say: ranges, unique ids, totals within bounds.
    fn check(input: &Self::Input) -> Result<(), InvalidInput>;

    /// The action itself: a pure function of its input.
    fn compute(input: Self::Input) -> Result<Outcome, Failure>;
}

/// An action, type-erased: what the run handler and the worker use.
pub trait Action: Send + Sync {
    /// The agent type that has it.
    fn agent_type(&self) -> AgentType;
    /// Its name.
    fn name(&self) -> &'static str;
    /// Its complexity.
    fn complexity(&self) -> Complexity;
    /// Parses and checks `input` (at submission).
    fn validate(&self, input: &Value) -> Result<(), InvalidInput>;
    /// Parses `input` and computes (in the worker).
    fn run(&self, input: &Value) -> Result<Outcome, Failure>;
}

/// Parses `input` as `T`, naming the failing field's path.
///
/// A missing field is named itself (`lines[1].sku`), not the object that
/// lacks it (`lines[1]`), like every other invalid field.
pub fn parse_input<T: DeserializeOwned>(input: &Value) -> Result<T, InvalidInput> {
    serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        let mut path = if path == "." { String::new() } else { path };
        let reason = e.into_inner().to_string();
        // serde appends " at line L column C" for text input; values have none.
        if let Some(field) = missing_field(&reason) {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
        }
        InvalidInput::new(path, reason)
    })
}

/// The field named by serde's "missing field `name`" error, if it is one.
fn missing_field(reason: &str) -> Option<&str> {
    reason
        .strip_prefix("missing field `")?
        .strip_suffix('`')
        .filter(|f| !f.is_empty())
}

struct Erased<A>(std::marker::PhantomData<fn() -> A>);

impl<A: BusinessAction> Action for Erased<A> {
    fn agent_type(&self) -> AgentType {
        A::AGENT
    }

    fn name(&self) -> &'static str {
        A::NAME
    }

    fn complexity(&self) -> Complexity {
        A::COMPLEXITY
    }

    fn validate(&self, input: &Value) -> Result<(), InvalidInput> {
        A::check(&parse_input::<A::Input>(input)?)
    }

    fn run(&self, input: &Value) -> Result<Outcome, Failure> {
        // Input was validated at submission; validating again costs little
        // and keeps a corrupted stored input from being computed on.
        let parsed = parse_input::<A::Input>(input).map_err(|e| Failure(e.to_string()))?;
        A::check(&parsed).map_err(|e| Failure(e.to_string()))?;
        A::compute(parsed)
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
    /// An empty catalogue, to fill with [`Catalogue::with`].
    pub fn empty() -> Self {
        Self {
            actions: Vec::new(),
        }
    }

    /// Adds the action `A`.
    pub fn with<A: BusinessAction>(mut self) -> Self {
        self.actions
            .push(Box::new(Erased::<A>(std::marker::PhantomData)));
        self
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

/// The catalogue of every business action, built once.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(business::catalogue)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::parse_input;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: u64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        lines: Vec<Line>,
    }

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

    #[test]
    fn parse_errors_name_the_field_a_missing_one_included() {
        let field = |v| {
            parse_input::<Order>(&v)
                .expect_err("the input is refused")
                .field()
        };
        assert_eq!(
            field(json!({"lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": "2"}]})),
            "input.lines[1].quantity"
        );
        assert_eq!(
            field(json!({"lines": [{"sku": "A", "quantity": 1}, {"quantity": 2}]})),
            "input.lines[1].sku"
        );
        assert_eq!(field(json!({})), "input.lines");
        assert_eq!(field(json!([])), "input");
    }
}
