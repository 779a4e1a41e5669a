//! The business actions, one module per agent type. Each action is a pure
//! function of its input (see [`super::catalogue::BusinessAction`]).

use super::catalogue::Catalogue;

/// Every business action, in the order the catalogue lists them.
pub fn catalogue() -> Catalogue {
    Catalogue::empty()
}
