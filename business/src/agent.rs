//! Who has an action and what it does: the seven [`AgentType`]s and an
//! action's [`Complexity`]. Warden stores and governs agents by these; they
//! live here because the catalogue's table ([`crate::register_all`]) names
//! each action's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seven agent types of the catalogue, each with one stored (and
/// serialised) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentType {
    /// Invoices, categorisation, reconciliation.
    #[serde(rename = "accounting")]
    Accounting,
    /// Leads and pipeline.
    #[serde(rename = "sales")]
    Sales,
    /// Campaigns and acquisition cost.
    #[serde(rename = "marketing")]
    Marketing,
    /// Shipments and stock.
    #[serde(rename = "logistics")]
    Logistics,
    /// Nexus and liability.
    #[serde(rename = "tax")]
    Tax,
    /// Vendors and purchase orders.
    #[serde(rename = "purchasing")]
    Purchasing,
    /// Runway, forecasts, hiring.
    #[serde(rename = "planning")]
    Planning,
}

impl AgentType {
    /// Every value, in declaration order.
    pub const ALL: &'static [AgentType] = &[
        AgentType::Accounting,
        AgentType::Sales,
        AgentType::Marketing,
        AgentType::Logistics,
        AgentType::Tax,
        AgentType::Purchasing,
        AgentType::Planning,
    ];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentType::Accounting => "accounting",
            AgentType::Sales => "sales",
            AgentType::Marketing => "marketing",
            AgentType::Logistics => "logistics",
            AgentType::Tax => "tax",
            AgentType::Purchasing => "purchasing",
            AgentType::Planning => "planning",
        }
    }

    /// Parses a name; anything else is an error that lists the names.
    pub fn parse(s: &str) -> Result<Self, UnknownAgentType> {
        AgentType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownAgentType(s.to_owned()))
    }
}

impl fmt::Display for AgentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the [`AgentType`]s; it says which names are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAgentType(pub String);

impl fmt::Display for UnknownAgentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = AgentType::ALL.iter().map(|t| t.as_str()).collect();
        write!(
            f,
            "unknown agent type {:?}; expected one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownAgentType {}

/// What an action does, which decides what maturity may run it (API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Complexity {
    /// 1: read-only analysis.
    Analysis = 1,
    /// 2: drafts something a person will use.
    Draft = 2,
    /// 3: changes records.
    ChangesRecords = 3,
    /// 4: external effects or money.
    ExternalEffect = 4,
}

impl Complexity {
    /// The number API.md uses, 1 to 4.
    pub fn level(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_one_lists_them_all() {
        for t in AgentType::ALL {
            assert_eq!(AgentType::parse(t.as_str()), Ok(*t));
            assert_eq!(
                serde_json::to_value(t).expect("serialises"),
                serde_json::json!(t.as_str())
            );
            assert_eq!(
                serde_json::from_value::<AgentType>(serde_json::json!(t.to_string())).ok(),
                Some(*t)
            );
        }
        assert_eq!(
            AgentType::parse("Tax").map_err(|e| e.to_string()),
            Err(
                "unknown agent type \"Tax\"; expected one of: accounting, sales, \
                 marketing, logistics, tax, purchasing, planning"
                    .to_owned()
            )
        );
    }
}
