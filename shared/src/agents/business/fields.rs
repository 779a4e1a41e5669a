//! Field types and checks the business actions share.
//!
//! Bounds are enforced while parsing, so a value out of range is refused at
//! submission with its field's path like any other parse error: money is
//! whole cents from 0 to [`MAX_CENTS`], a quantity a whole number from 1 to
//! [`MAX_QUANTITY`] (negative and fractional numbers are refused), ids and
//! skus are non-empty text. Products and sums of money are worked out in
//! `i128` and refused past [`MAX_CENTS`], so no figure ever overflows.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};
use serde::Serialize;

use crate::agents::catalogue::InvalidInput;

/// The largest amount of money accepted or produced: 10^15 cents (ten
/// trillion in a currency with cents), which also keeps every figure exact
/// in a JSON client that reads numbers as doubles (below 2^53).
pub const MAX_CENTS: i64 = 1_000_000_000_000_000;

/// The largest quantity accepted, for the same reason as [`MAX_CENTS`].
pub const MAX_QUANTITY: u64 = 1_000_000_000_000_000;

/// Accepts a JSON integer in `min..=max`: a negative number, a fraction or
/// anything else is refused with what was expected.
struct WholeIn {
    min: u64,
    max: u64,
}

impl<'de> Visitor<'de> for WholeIn {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from {} to {}", self.min, self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

fn whole_in<'de, D: Deserializer<'de>>(d: D, min: u64, max: u64) -> Result<u64, D::Error> {
    d.deserialize_u64(WholeIn { min, max })
}

/// An amount of money in whole cents, 0 to [`MAX_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Cents(i64);

impl Cents {
    /// The amount in cents.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Cents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = whole_in(d, 0, MAX_CENTS.unsigned_abs())?;
        i64::try_from(v)
            .map(Cents)
            .map_err(|_| de::Error::invalid_value(Unexpected::Unsigned(v), &"cents"))
    }
}

/// A quantity ordered or needed: a whole number from 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u64);

impl Quantity {
    /// The quantity.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_in(d, 1, MAX_QUANTITY).map(Quantity)
    }
}

/// A count that may be zero and has no upper bound, e.g. a quote's minimum
/// quantity (a minimum above every need just makes the quote ineligible).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Count(u64);

impl Count {
    /// The count.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_in(d, 0, u64::MAX).map(Count)
    }
}

/// Text that must not be empty: an id, a sku, a vendor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"a non-empty string",
            ))
        } else {
            Ok(Text(s))
        }
    }
}

/// An ISO 4217-style currency code: exactly three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(s))
        } else {
            Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"three upper-case letters, e.g. \"USD\"",
            ))
        }
    }
}

/// Refuses a list that must hold at least one item.
pub fn non_empty<T>(items: &[T], path: &str, what: &str) -> Result<(), InvalidInput> {
    if items.is_empty() {
        Err(InvalidInput::new(
            path,
            format!("at least one {what} is required"),
        ))
    } else {
        Ok(())
    }
}

/// Refuses the second occurrence of a key that must be unique, naming its
/// path (`path(index)`) and the first occurrence's.
pub fn unique<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    path: impl Fn(usize) -> String,
    what: &str,
) -> Result<(), InvalidInput> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.into_iter().enumerate() {
        if let Some(first) = seen.insert(key, i) {
            return Err(InvalidInput::new(
                path(i),
                format!(
                    "duplicate {what} {key:?} (also at {})",
                    InvalidInput::new(path(first), "").field()
                ),
            ));
        }
    }
    Ok(())
}

/// `cents`, if it is within [`MAX_CENTS`] (and not negative).
pub fn bounded(cents: i128) -> Option<i64> {
    if (0..=i128::from(MAX_CENTS)).contains(&cents) {
        i64::try_from(cents).ok()
    } else {
        None
    }
}

/// `unit_price` x `quantity` in cents, if within [`MAX_CENTS`].
pub fn amount(unit_price: i64, quantity: u64) -> Option<i64> {
    i128::from(unit_price)
        .checked_mul(i128::from(quantity))
        .and_then(bounded)
}

/// The sum of `amounts`, if it stays within [`MAX_CENTS`].
pub fn sum(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    amounts
        .into_iter()
        .try_fold(0_i128, |acc, a| acc.checked_add(i128::from(a)))
        .and_then(bounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_sums_past_the_limit_are_none_never_a_wrapped_figure() {
        // 10^15 x 1 = 10^15: exactly the limit.
        assert_eq!(amount(MAX_CENTS, 1), Some(MAX_CENTS));
        // 10^15 x 2 passes it.
        assert_eq!(amount(MAX_CENTS, 2), None);
        // i64::MAX x u64::MAX would overflow any 64-bit type; i128 holds it.
        assert_eq!(amount(i64::MAX, u64::MAX), None);
        // 10^15 - 1 + 1 = 10^15; one more cent passes.
        assert_eq!(sum([MAX_CENTS - 1, 1]), Some(MAX_CENTS));
        assert_eq!(sum([MAX_CENTS, 1]), None);
        assert_eq!(sum([]), Some(0));
        assert_eq!(bounded(-1), None);
    }

    #[test]
    fn a_duplicate_is_reported_at_its_second_occurrence_naming_the_first() {
        let err =
            unique(["a", "b", "a"], |i| format!("lines[{i}].sku"), "sku").expect_err("a repeats");
        assert_eq!(err.path, "lines[2].sku");
        assert_eq!(
            err.reason,
            "duplicate sku \"a\" (also at input.lines[0].sku)"
        );
        assert!(unique(["a", "b"], |i| format!("lines[{i}].sku"), "sku").is_ok());
    }
}
