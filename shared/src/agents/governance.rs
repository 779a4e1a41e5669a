//! Governance: whether an agent may run an action, and how. Pure functions
//! of what the store said; the use cases ([`super::run`], [`super::worker`])
//! read, call these, and audit the answer with its [`Rule`].
//!
//! The order of the checks at submission is API.md's: unknown agent or
//! workspace `404`; a workspace the agent is not allowed in `403`; a
//! disabled agent `403`; an action its type does not have `400`; invalid
//! input `400`; no `Idempotency-Key` for complexity 3 or 4 `400`; then
//! [`by_maturity`].

use super::catalogue::{Action, Catalogue};
use crate::Error;
use crate::domain::agents::{AgentRecord, Complexity, JobRecord, Maturity, WorkspaceRecord};

/// What a permitted run becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stored `PENDING` and queued.
    Run,
    /// Stored `AWAITING_APPROVAL` with a proposal.
    Propose,
    /// Refused (`403`).
    Block,
}

/// The version of [`by_maturity`]'s table, audited with every decision it
/// makes (`table_version`, with the agent's `maturity`, the action's or
/// tool's `complexity` and the `rule` that applied), so an auditor reads
/// which table decided. A change to the table bumps it.
pub const TABLE_VERSION: &str = "maturity-complexity/1";

/// The maturity x complexity table of API.md.
///
/// | maturity | 1-2 | 3 | 4 |
/// |---|---|---|---|
/// | STUDENT | block | block | block |
/// | INTERN | propose | propose | propose |
/// | SUPERVISED | run | run | propose |
/// | AUTONOMOUS | run | run | run |
pub fn by_maturity(maturity: Maturity, complexity: Complexity) -> Verdict {
    match (maturity, complexity) {
        (Maturity::Student, _) => Verdict::Block,
        (Maturity::Intern, _) => Verdict::Propose,
        (Maturity::Supervised, Complexity::ExternalEffect) => Verdict::Propose,
        (Maturity::Supervised, _) | (Maturity::Autonomous, _) => Verdict::Run,
    }
}

/// The rule that refused a run; audited with `AGENT_RUN_BLOCKED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No such agent.
    UnknownAgent,
    /// No such workspace.
    UnknownWorkspace,
    /// The agent may not work in the workspace.
    WorkspaceNotAllowed,
    /// The kill switch is on.
    AgentDisabled,
    /// The agent's type has no such action.
    UnknownAction,
    /// The input does not parse for the action.
    InvalidInput,
    /// A run of complexity 3 or 4 without `Idempotency-Key`.
    IdempotencyKeyRequired,
    /// The agent's maturity does not allow the action.
    Maturity,
}

impl Rule {
    /// The rule's name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UnknownAgent => "unknown_agent",
            Rule::UnknownWorkspace => "unknown_workspace",
            Rule::WorkspaceNotAllowed => "workspace_not_allowed",
            Rule::AgentDisabled => "agent_disabled",
            Rule::UnknownAction => "unknown_action",
            Rule::InvalidInput => "invalid_input",
            Rule::IdempotencyKeyRequired => "idempotency_key_required",
            Rule::Maturity => "maturity",
        }
    }
}

/// A refused run: the rule, and the error to answer.
#[derive(Debug)]
pub struct Refusal {
    /// Which rule refused it.
    pub rule: Rule,
    /// The answer (`404`, `403` or `400`).
    pub error: Error,
}

impl Refusal {
    fn new(rule: Rule, error: Error) -> Self {
        Self { rule, error }
    }
}

/// A permitted run: the action and what it becomes.
pub struct Admitted<'c> {
    /// The action.
    pub action: &'c dyn Action,
    /// [`Verdict::Run`] or [`Verdict::Propose`].
    pub verdict: Verdict,
}

/// Decides a run request in API.md's order, from what the store read.
pub fn decide<'c>(
    catalogue: &'c Catalogue,
    agent: Option<&AgentRecord>,
    workspace: Option<&WorkspaceRecord>,
    action: &str,
    input: &str,
    has_idempotency_key: bool,
) -> Result<Admitted<'c>, Refusal> {
    let Some(agent) = agent else {
        return Err(Refusal::new(
            Rule::UnknownAgent,
            Error::NotFound("no such agent".into()),
        ));
    };
    let Some(workspace) = workspace else {
        return Err(Refusal::new(
            Rule::UnknownWorkspace,
            Error::NotFound("no such workspace".into()),
        ));
    };
    if !agent.allowed_in(&workspace.workspace_id) {
        return Err(Refusal::new(
            Rule::WorkspaceNotAllowed,
            Error::Forbidden(format!(
                "agent {} may not work in workspace {}",
                agent.agent_id, workspace.workspace_id
            )),
        ));
    }
    if !agent.enabled {
        return Err(Refusal::new(
            Rule::AgentDisabled,
            Error::Forbidden(format!("agent {} is disabled", agent.agent_id)),
        ));
    }
    let Some(found) = catalogue.find(agent.agent_type, action) else {
        let known = catalogue.names(agent.agent_type);
        return Err(Refusal::new(
            Rule::UnknownAction,
            Error::BadRequest(format!(
                "unknown action {action:?} for a {} agent; known: {}",
                agent.agent_type,
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            )),
        ));
    };
    if let Err(invalid) = found.validate(input) {
        return Err(Refusal::new(
            Rule::InvalidInput,
            Error::BadRequest(invalid.to_string()),
        ));
    }
    // An action that changes records or has an external effect must not
    // run twice because a client retried without a key.
    if !has_idempotency_key && found.complexity() >= Complexity::ChangesRecords {
        return Err(Refusal::new(
            Rule::IdempotencyKeyRequired,
            Error::BadRequest(format!(
                "Idempotency-Key required: {action} (complexity {}) changes records or has external effects, so a retry must carry the same key",
                found.complexity().level()
            )),
        ));
    }
    match by_maturity(agent.maturity, found.complexity()) {
        Verdict::Block => Err(Refusal::new(
            Rule::Maturity,
            Error::Forbidden(format!(
                "a {} agent may not run {action} (complexity {})",
                agent.maturity,
                found.complexity().level()
            )),
        )),
        verdict => Ok(Admitted {
            action: found,
            verdict,
        }),
    }
}

/// The maturities at which a queued job may still run: for a job approved
/// through a proposal any but `STUDENT`, for a direct one those whose cell
/// is "runs" for the action's complexity. The worker's move to `RUNNING`
/// is conditional on the agent still being at one of them.
pub fn maturities_that_run(job: &JobRecord, complexity: Complexity) -> Vec<Maturity> {
    Maturity::ALL
        .iter()
        .copied()
        .filter(|m| {
            let verdict = by_maturity(*m, complexity);
            match job.proposal_id {
                Some(_) => verdict != Verdict::Block,
                None => verdict == Verdict::Run,
            }
        })
        .collect()
}

/// Whether a queued job may still run now, with its agent as it is now:
/// the kill switch and maturity are checked again, because either may have
/// changed since the job was queued. An approved proposal needs only a
/// maturity that is not blocked; a job that was queued without a proposal
/// needs a maturity that still runs it directly.
pub fn may_run_now(
    job: &JobRecord,
    agent: &AgentRecord,
    action: &dyn Action,
) -> Result<(), (Rule, String)> {
    if !agent.enabled {
        return Err((
            Rule::AgentDisabled,
            format!("agent {} was disabled before the job ran", agent.agent_id),
        ));
    }
    if !agent.allowed_in(&job.workspace_id) {
        return Err((
            Rule::WorkspaceNotAllowed,
            format!(
                "agent {} may no longer work in workspace {}",
                agent.agent_id, job.workspace_id
            ),
        ));
    }
    let verdict = by_maturity(agent.maturity, action.complexity());
    let allowed = match job.proposal_id {
        Some(_) => verdict != Verdict::Block,
        None => verdict == Verdict::Run,
    };
    if allowed {
        Ok(())
    } else {
        Err((
            Rule::Maturity,
            format!(
                "agent {} was demoted to {} before the job ran",
                agent.agent_id, agent.maturity
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_of_the_maturity_by_complexity_table() {
        use Complexity::*;
        use Maturity::*;
        use Verdict::*;
        let table = [
            (Student, [Block, Block, Block, Block]),
            (Intern, [Propose, Propose, Propose, Propose]),
            (Supervised, [Run, Run, Run, Propose]),
            (Autonomous, [Run, Run, Run, Run]),
        ];
        for (maturity, row) in table {
            for (complexity, expected) in [Analysis, Draft, ChangesRecords, ExternalEffect]
                .into_iter()
                .zip(row)
            {
                assert_eq!(
                    by_maturity(maturity, complexity),
                    expected,
                    "{maturity} x {}",
                    complexity.level()
                );
            }
        }
    }
}
