//! What an action is: the [`BusinessAction`] trait, what it returns
//! ([`Outcome`], [`Effect`]) and how it says no ([`InvalidInput`] at
//! submission, [`Failure`] when a business rule fails, [`Problem`] for
//! either while computing).
//!
//! An action is its input: the type the JSON text of the run's `input`
//! parses into ([`BusinessAction::parse`]), by default with serde, naming
//! the failing field's path (a missing field, an unknown one, a wrong type
//! or an unknown enum value is refused at submission). The text is the
//! client's own, byte for byte: Warden keeps a run's input as received,
//! so a fraction is read from the digits the client wrote
//! ([`crate::fields::decimal_in`]), never from a double. The input then
//! says what parsing cannot ([`BusinessAction::check`]: unique ids,
//! ranges), and a pure [`BusinessAction::compute`] turns it into the job's
//! result or a [`Problem`]. No clock, no store, no network: an external
//! effect is returned as an [`Effect`] for the caller to carry out. Who
//! has the action, its name and its complexity are not the action's to
//! say: the catalogue gives them ([`Register`],
//! [`register_all`](crate::register_all)).
//!
//! Every input type refuses a field it does not define
//! (`#[serde(deny_unknown_fields)]`): a typo (`taxrate`) must never
//! silently change a figure. Only fields documented as free objects
//! (`draft_invoice`'s line `metadata`, the `services` map keyed by data)
//! take any key.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::agent::{AgentType, Complexity};

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

impl std::error::Error for InvalidInput {}

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

impl Failure {
    /// `Ok` when there is no problem, else the failure naming each, in
    /// order, separated by `; `.
    pub fn unless_any(problems: Vec<String>) -> Result<(), Failure> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Failure(problems.join("; ")))
        }
    }
}

impl std::error::Error for Failure {}

/// Input refused when the job runs (it was accepted at submission, or it
/// was stored since and changed) fails the job with the same message.
impl From<InvalidInput> for Failure {
    fn from(invalid: InvalidInput) -> Self {
        Failure(invalid.to_string())
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

    /// A result that is also published, exactly as it is, to the outbound
    /// queue ([`Effect::PublishOutbound`]).
    pub fn published(result: impl Serialize) -> Result<Self, Failure> {
        let result = to_value(result)?;
        Ok(Self {
            effects: vec![Effect::PublishOutbound(result.clone())],
            result,
        })
    }
}

/// Serialises a result; a failure here is a bug, reported as the job's
/// error rather than a panic.
pub fn to_value(v: impl Serialize) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure(format!("the result could not be serialised: {e}")))
}

/// What computing can find wrong: input to refuse, or a business rule
/// that fails the job. Submission computes too ([`BusinessAction::validate`])
/// and refuses only the first; the worker fails the job either way.
#[derive(Debug)]
pub enum Problem {
    /// Refused at submission: `400` naming the field (e.g. a total past
    /// the limit, which only computing finds).
    Invalid(InvalidInput),
    /// The job fails with this message (e.g. a line no source prices).
    Fails(Failure),
}

impl From<InvalidInput> for Problem {
    fn from(invalid: InvalidInput) -> Self {
        Problem::Invalid(invalid)
    }
}

impl From<Failure> for Problem {
    fn from(failure: Failure) -> Self {
        Problem::Fails(failure)
    }
}

/// In the worker, the job fails either way.
impl From<Problem> for Failure {
    fn from(problem: Problem) -> Self {
        match problem {
            Problem::Invalid(e) => e.into(),
            Problem::Fails(f) => f,
        }
    }
}

/// One business action, implemented by its input: what the run's `input`
/// parses into, what it must satisfy and what it computes. The catalogue
/// says who has it, its name and its complexity ([`Register::with`]).
pub trait BusinessAction: DeserializeOwned + 'static {
    /// Whether the result is also published, exactly as it is, to the
    /// outbound queue ([`Effect::PublishOutbound`]) for a downstream
    /// integration.
    const PUBLISHED: bool = false;

    /// Reads the input from its JSON text. By default serde does, naming
    /// the failing field ([`parse_json`]); fractions read their own digits
    /// from the text (see the module docs). `Option` fields accept absent
    /// and `null` alike.
    fn parse(input: &str) -> Result<Self, InvalidInput> {
        parse_json(input)
    }

    /// What the input must satisfy that parsing cannot say and computing
    /// does not find: unique ids, ranges. Input that fails it is refused
    /// at submission, naming the field; the worker checks again.
    fn check(&self) -> Result<(), InvalidInput>;

    /// The action itself, a pure function of its input: the job's result,
    /// or the [`Problem`] (input to refuse, a rule that fails the job).
    fn compute(&self) -> Result<impl Serialize, Problem>;

    /// Parses, checks and computes `input`: what submission does. Input
    /// that only computing finds wrong (a total past the limit) is refused
    /// here too; a business rule fails the job later, in the worker.
    fn validate(input: &str) -> Result<(), InvalidInput> {
        let input = Self::parse(input)?;
        input.check()?;
        match input.compute() {
            Err(Problem::Invalid(e)) => Err(e),
            Ok(_) | Err(Problem::Fails(_)) => Ok(()),
        }
    }

    /// Parses, checks and computes `input`: what the worker does. Input
    /// was validated at submission; validating again costs little and
    /// keeps a corrupted stored input from being computed on.
    fn run(input: &str) -> Result<Outcome, Failure> {
        let input = Self::parse(input)?;
        input.check()?;
        let result = input.compute()?;
        if Self::PUBLISHED {
            Outcome::published(result)
        } else {
            Outcome::result(result)
        }
    }
}

/// Where actions are registered: Warden's catalogue, or a test's index.
pub trait Register: Sized {
    /// Adds the action `A` as `name`, an action of the agent type `agent`
    /// whose [`Complexity`] is `complexity`.
    fn with<A: BusinessAction>(
        self,
        agent: AgentType,
        name: &'static str,
        complexity: Complexity,
    ) -> Self;
}

/// Parses the JSON text `input` as `T`, naming the failing field's path.
///
/// A missing field is named itself (`lines[1].sku`), not the object that
/// lacks it (`lines[1]`), like every other invalid field. The reason is
/// serde's, without the line and column serde_json adds for text: the
/// field's path already says where.
pub fn parse_json<T: DeserializeOwned>(input: &str) -> Result<T, InvalidInput> {
    let mut text = serde_json::Deserializer::from_str(input);
    let parsed = serde_path_to_error::deserialize(&mut text).map_err(|e| {
        let path = e.path().to_string();
        let mut path = if path == "." { String::new() } else { path };
        let reason = without_position(e.into_inner());
        // A missing field is named itself, like an unknown one (whose path
        // serde_path_to_error already ends with it); an unknown one's reason
        // then starts `unknown field` (the action contract's
        // `input.taxrate: unknown field`), followed by the fields there are.
        if let Some(field) = missing_field(&reason) {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
        }
        let reason = match unknown_field(&reason) {
            Some(expected) => format!("unknown field{expected}"),
            None => reason,
        };
        InvalidInput::new(path, reason)
    })?;
    // Nothing but whitespace may follow, as `serde_json::from_str` says.
    text.end()
        .map_err(|e| InvalidInput::new("", without_position(e)))?;
    Ok(parsed)
}

/// serde_json's message without the " at line L column C" it appends for
/// text input.
fn without_position(e: serde_json::Error) -> String {
    let message = e.to_string();
    if e.line() == 0 {
        return message;
    }
    let position = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&position) {
        Some(reason) => reason.to_owned(),
        None => message,
    }
}

/// What follows the name in serde's "unknown field `name`, expected ..."
/// error (`, expected one of ...`), if it is one.
fn unknown_field(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(_, expected)| expected)
}

/// The field named by serde's "missing field `name`" error, if it is one.
fn missing_field(reason: &str) -> Option<&str> {
    reason
        .strip_prefix("missing field `")?
        .strip_suffix('`')
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::parse_json;

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

    fn refused(v: Value) -> super::InvalidInput {
        parse_json::<Order>(&v.to_string()).expect_err("the input is refused")
    }

    #[test]
    fn parse_errors_name_the_field_a_missing_one_included() {
        let field = |v| refused(v).field();
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

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Invoice {
        lines: Vec<StrictLine>,
        #[serde(default)]
        tax_rate: Option<u64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct StrictLine {
        sku: String,
    }

    #[test]
    fn an_unknown_field_is_named_itself_and_listed_against_the_known_ones() {
        // The defect: `taxrate` for `tax_rate` was ignored, and the tax was 0.
        let typo = parse_json::<Invoice>(r#"{"lines": [], "taxrate": 7}"#).expect_err("refused");
        assert_eq!(typo.field(), "input.taxrate");
        assert_eq!(
            typo.to_string(),
            "input.taxrate: unknown field, expected `lines` or `tax_rate`"
        );
        let nested = parse_json::<Invoice>(r#"{"lines": [{"sku": "A"}, {"sku": "B", "qty": 1}]}"#)
            .expect_err("refused");
        assert_eq!(nested.field(), "input.lines[1].qty");
        assert!(nested.reason.starts_with("unknown field"), "{nested}");
    }

    #[test]
    fn the_reason_is_serdes_without_a_position_in_the_text() {
        // What a JSON value (which has no lines) made serde say.
        let value_reason = |v: Value| {
            serde_json::from_value::<Order>(v)
                .expect_err("refused")
                .to_string()
        };
        for v in [
            json!({"lines": [{"sku": "A", "quantity": "2"}]}),
            json!({"lines": [{"sku": "A", "quantity": -1}]}),
            json!({"lines": [{"sku": "A", "quantity": 1.5}]}),
            json!({"lines": [{"sku": 5, "quantity": 1}]}),
            json!({"lines": {}}),
        ] {
            assert_eq!(refused(v.clone()).reason, value_reason(v.clone()), "{v}");
        }
        let missing = refused(json!({"lines": [{"quantity": 2}]}));
        assert_eq!(missing.reason, "missing field `sku`");
        assert_eq!(
            missing.to_string(),
            "input.lines[0].sku: missing field `sku`"
        );
        // Text after the value is refused, as serde_json::from_str does.
        let trailing = parse_json::<Order>(r#"{"lines": []} x"#).expect_err("refused");
        assert_eq!(
            (trailing.field(), trailing.reason.as_str()),
            ("input".to_owned(), "trailing characters")
        );
    }
}
