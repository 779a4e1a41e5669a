//! Field types and checks the business actions share.
//!
//! Bounds are enforced while parsing, so a value out of range is refused at
//! submission with its field's path like any other parse error: money is
//! whole cents from 0 to [`MAX_CENTS`], a quantity a whole number from 1 to
//! [`MAX_QUANTITY`] (negative and fractional numbers are refused), ids and
//! skus are non-empty text. Products and sums of money are worked out in
//! `i128` and refused past [`MAX_CENTS`], so no figure ever overflows.
//!
//! Fractions (rates, probabilities, demand per day) are exact decimals of at
//! most 15 significant digits ([`Fraction`], [`NonNegative`]); dates are
//! `YYYY-MM-DD` ([`Date`]) and months `YYYY-MM` ([`Month`]).

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};

use crate::exact::Rational;

use crate::{Failure, InvalidInput};

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

/// The most significant digits a decimal in the input may have. JSON
/// numbers are read as the double nearest them, which holds every decimal
/// of up to 15 significant digits exactly; a longer one is refused, unless
/// no double tells it apart from a shorter decimal, which is then what is
/// read (`0.49999999999999999` reads as `0.5`: the literal is gone once
/// parsed, and serde_json's `arbitrary_precision`, which would keep it,
/// changes number handling for every crate in the build).
pub const MAX_SIGNIFICANT_DIGITS: u32 = 15;

/// Accepts a JSON number as an exact [`Decimal`] in `min..=max`.
struct DecimalIn {
    min: Decimal,
    max: Decimal,
}

impl DecimalIn {
    fn accept<E: de::Error>(&self, d: Decimal, unexpected: Unexpected<'_>) -> Result<Decimal, E> {
        let d = d.normalize();
        if significant_digits(d) > MAX_SIGNIFICANT_DIGITS {
            return Err(E::invalid_value(
                unexpected,
                &"a number of at most 15 significant digits",
            ));
        }
        if d < self.min || d > self.max {
            return Err(E::invalid_value(unexpected, self));
        }
        Ok(d)
    }
}

/// The significant digits of a normalised decimal (0 has one): trailing
/// zeros of a whole number are not significant (10^15 has one digit).
fn significant_digits(d: Decimal) -> u32 {
    let mut m = d.mantissa().unsigned_abs();
    while m != 0 && m.is_multiple_of(10) {
        m /= 10;
    }
    let mut digits = 1;
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    digits
}

impl<'de> Visitor<'de> for DecimalIn {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a number from {} to {}", self.min, self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        self.accept(Decimal::from(v), Unexpected::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        self.accept(Decimal::from(v), Unexpected::Signed(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // The shortest text that reads back as this double is the decimal
        // the client wrote, whenever it had at most 15 significant digits.
        let text = format!("{v}");
        if !v.is_finite() {
            return Err(E::invalid_value(Unexpected::Float(v), &self));
        }
        match Decimal::from_str_exact(&text) {
            Ok(d) => self.accept(d, Unexpected::Float(v)),
            Err(_) => Err(E::invalid_value(
                Unexpected::Float(v),
                &"a number of at most 28 decimal places",
            )),
        }
    }
}

/// Parses a JSON number as an exact decimal in `min..=max` (at most
/// [`MAX_SIGNIFICANT_DIGITS`] significant digits), for a field type's
/// `Deserialize`.
pub fn decimal_in<'de, D: Deserializer<'de>>(
    d: D,
    min: Decimal,
    max: Decimal,
) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalIn { min, max })
}

/// An exact decimal from 0 to `MAX`, of at most [`MAX_SIGNIFICANT_DIGITS`]
/// significant digits: a [`Fraction`] or a [`NonNegative`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecimalUpTo<const MAX: u64>(Decimal);

/// A fraction in [0, 1] (a rate, a probability), exact.
pub type Fraction = DecimalUpTo<1>;

/// A decimal from 0 to 10^15 (a daily demand, a count per day), exact.
pub type NonNegative = DecimalUpTo<MAX_QUANTITY>;

impl<const MAX: u64> DecimalUpTo<MAX> {
    /// The value.
    pub fn get(self) -> Decimal {
        self.0
    }

    /// The value as an exact rational.
    pub fn rational(self) -> Rational {
        Rational::from_decimal(self.0)
    }
}

impl<'de, const MAX: u64> Deserialize<'de> for DecimalUpTo<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decimal_in(d, Decimal::ZERO, Decimal::from(MAX)).map(DecimalUpTo)
    }
}

/// An amount of money in whole cents that may be negative (a balance, a
/// refund): from -[`MAX_CENTS`] to [`MAX_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SignedCents(i64);

impl SignedCents {
    /// The amount in cents.
    pub fn get(self) -> i64 {
        self.0
    }
}

struct SignedWholeIn(i64);

impl<'de> Visitor<'de> for SignedWholeIn {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from -{} to {}", self.0, self.0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        match i64::try_from(v) {
            Ok(v) if v <= self.0 => Ok(v),
            _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        if (-self.0..=self.0).contains(&v) {
            Ok(v)
        } else {
            Err(E::invalid_value(Unexpected::Signed(v), &self))
        }
    }
}

impl<'de> Deserialize<'de> for SignedCents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(SignedWholeIn(MAX_CENTS)).map(SignedCents)
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    /// The date.
    pub fn get(self) -> time::Date {
        self.0
    }

    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        (later.0 - self.0).whole_days()
    }

    /// The date `days` later, or `None` past the calendar `time` supports
    /// (year 9999).
    pub fn plus_days(self, days: i64) -> Option<Date> {
        self.0.checked_add(time::Duration::days(days)).map(Date)
    }
}

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(DATE_FORMAT) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // `time` accepts years of more than four digits and signs; the
        // contract's dates are exactly `YYYY-MM-DD`.
        let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
        match time::Date::parse(&s, DATE_FORMAT) {
            Ok(date) if shaped => Ok(Date(date)),
            _ => Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"a date YYYY-MM-DD",
            )),
        }
    }
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month's number counted from year 0 (`year × 12 + month − 1`):
    /// consecutive months have consecutive numbers, for trends.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    /// The month with number `index` (see [`Month::index`]), if it is a
    /// four-digit year.
    pub fn from_index(index: i64) -> Option<Month> {
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = u8::try_from(index.rem_euclid(12) + 1).ok()?;
        (0..=9999).contains(&year).then_some(Month { year, month })
    }

    /// The month `n` months later, if it is a four-digit year.
    pub fn plus(self, n: i64) -> Option<Month> {
        Month::from_index(self.index().checked_add(n)?)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parsed = match s.as_bytes() {
            [y0, y1, y2, y3, b'-', m0, m1]
                if [y0, y1, y2, y3, m0, m1].iter().all(|b| b.is_ascii_digit()) =>
            {
                let digit = |b: &u8| i32::from(b - b'0');
                let year = digit(y0) * 1000 + digit(y1) * 100 + digit(y2) * 10 + digit(y3);
                let month = digit(m0) * 10 + digit(m1);
                u8::try_from(month)
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .map(|month| Month { year, month })
            }
            _ => None,
        };
        parsed.ok_or_else(|| de::Error::invalid_value(Unexpected::Str(&s), &"a month YYYY-MM"))
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

/// Refuses the second item of `list` whose `field` (read by `key`) repeats
/// an earlier one's, naming `list[i].field` and the first occurrence.
pub fn unique_by<T>(
    items: &[T],
    list: &str,
    field: &str,
    key: impl Fn(&T) -> &Text,
) -> Result<(), InvalidInput> {
    unique(
        items.iter().map(|item| key(item).as_str()),
        |i| format!("{list}[{i}].{field}"),
        field,
    )
}

/// `cents`, if it is within [`MAX_CENTS`] (and not negative).
pub fn bounded(cents: i128) -> Option<i64> {
    if (0..=i128::from(MAX_CENTS)).contains(&cents) {
        i64::try_from(cents).ok()
    } else {
        None
    }
}

/// The sum of signed `amounts`, if it stays within ±[`MAX_CENTS`].
pub fn signed_sum(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    let total = amounts
        .into_iter()
        .try_fold(0_i128, |acc, a| acc.checked_add(i128::from(a)))?;
    let limit = i128::from(MAX_CENTS);
    if (-limit..=limit).contains(&total) {
        i64::try_from(total).ok()
    } else {
        None
    }
}

/// The error for the field at `path` whose total (`what`) passes
/// [`MAX_CENTS`].
pub fn too_large(path: &str, what: &str) -> InvalidInput {
    InvalidInput::new(
        path,
        format!("{what} passes the limit of {MAX_CENTS} cents"),
    )
}

/// Refuses a month that repeats in `months`, naming `months[i].month`.
pub fn unique_months(months: impl Iterator<Item = Month>) -> Result<(), InvalidInput> {
    let keys: Vec<String> = months.map(|m| m.to_string()).collect();
    unique(
        keys.iter().map(String::as_str),
        |i| format!("months[{i}].month"),
        "month",
    )
}

/// `unit_price` x `quantity` in cents, if within [`MAX_CENTS`].
pub fn amount(unit_price: i64, quantity: u64) -> Option<i64> {
    i128::from(unit_price)
        .checked_mul(i128::from(quantity))
        .and_then(bounded)
}

/// `unit_price` x `quantity` in cents, or, past [`MAX_CENTS`], the error
/// for the field at `path` (the quantity that took it there).
pub fn line_amount(path: String, quantity: Quantity, unit_price: i64) -> Result<i64, InvalidInput> {
    amount(unit_price, quantity.get()).ok_or_else(|| {
        InvalidInput::new(
            path,
            format!(
                "quantity {} x {unit_price} cents passes the limit of {MAX_CENTS} cents",
                quantity.get()
            ),
        )
    })
}

/// A line's price as a result shows it (flattened into the line): its unit
/// price, the source it came from and the amount for the line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Cents per unit.
    pub unit_price_cents: i64,
    /// Which source priced it, e.g. `"quote"`.
    pub price_source: &'static str,
    /// `unit_price_cents` x the quantity, within [`MAX_CENTS`].
    pub amount_cents: i64,
}

/// Lines priced one by one from the first of their sources that has a
/// price (an invoice's, a purchase order's): a line no source prices is
/// noted, never given a guessed price, and the job then fails naming every
/// such line.
#[derive(Debug, Default)]
pub struct Pricing {
    unpriced: Vec<String>,
}

impl Pricing {
    /// Line `i` of `lines`, named `name`, of `quantity`, at `price` (the
    /// unit price and its source, if a source has one): its [`Price`], or
    /// `None` once it is noted as unpriced. Refused, naming its quantity,
    /// when the amount passes [`MAX_CENTS`].
    pub fn line(
        &mut self,
        i: usize,
        name: &str,
        quantity: Quantity,
        price: Option<(i64, &'static str)>,
    ) -> Result<Option<Price>, InvalidInput> {
        let Some((unit_price_cents, price_source)) = price else {
            self.unpriced
                .push(format!("lines[{i}] {name:?}: no price from any source"));
            return Ok(None);
        };
        let amount_cents = line_amount(format!("lines[{i}].quantity"), quantity, unit_price_cents)?;
        Ok(Some(Price {
            unit_price_cents,
            price_source,
            amount_cents,
        }))
    }

    /// `priced` (what was made of the lines) when every line had a price,
    /// else the job's failure naming each line that had none, in order.
    pub fn all_priced<T>(self, priced: T) -> Result<T, Failure> {
        Failure::unless_any(self.unpriced).map(|()| priced)
    }
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

    #[derive(Debug, serde::Deserialize)]
    struct Fields {
        #[serde(default)]
        rate: Option<Fraction>,
        #[serde(default)]
        demand: Option<NonNegative>,
        #[serde(default)]
        balance: Option<SignedCents>,
        #[serde(default)]
        date: Option<Date>,
        #[serde(default)]
        month: Option<Month>,
    }

    fn parse(v: serde_json::Value) -> Result<Fields, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    fn dec(s: &str) -> Decimal {
        s.parse().expect("a decimal")
    }

    #[test]
    fn a_fraction_is_read_exactly_as_written() {
        // 0.0725 as a double is 0.07249999999999999500..; read back exactly.
        let f = parse(serde_json::json!({"rate": 0.0725})).expect("parses");
        assert_eq!(f.rate.map(Fraction::get), Some(dec("0.0725")));
        let f = parse(serde_json::json!({"rate": 1, "demand": 2.5})).expect("parses");
        assert_eq!(f.rate.map(Fraction::get), Some(Decimal::ONE));
        assert_eq!(f.demand.map(NonNegative::get), Some(dec("2.5")));
        // 15 significant digits are fine; 17 are refused, not rounded.
        let f = parse(serde_json::json!({"rate": 0.123456789012345})).expect("parses");
        assert_eq!(f.rate.map(Fraction::get), Some(dec("0.123456789012345")));
        let err = parse(serde_json::json!({"rate": 0.12345678901234567})).expect_err("too precise");
        assert!(err.contains("at most 15 significant digits"), "{err}");
        for out_of_range in [
            serde_json::json!(1.5),
            serde_json::json!(-0.1),
            serde_json::json!("0.5"),
        ] {
            assert!(parse(serde_json::json!({"rate": out_of_range})).is_err());
        }
        assert!(parse(serde_json::json!({"demand": -1})).is_err());
        // 10^15 is one significant digit, and the bound itself.
        let f = parse(serde_json::json!({"demand": 1_000_000_000_000_000_u64})).expect("parses");
        assert_eq!(
            f.demand.map(NonNegative::get),
            Some(Decimal::from(MAX_QUANTITY))
        );
        let f = parse(serde_json::json!({"demand": 1e15})).expect("parses");
        assert_eq!(
            f.demand.map(NonNegative::get),
            Some(Decimal::from(MAX_QUANTITY))
        );
        // Read from JSON text, tiny and long decimals are the doubles nearest
        // to what was written (serde_json's float_roundtrip), so they read back
        // exactly as written.
        for text in ["1e-24", "1e-28", "1.2345e-24", "0.000000000000000123456789"] {
            let v: serde_json::Value =
                serde_json::from_str(&format!("{{\"rate\": {text}}}")).expect("JSON");
            let f = parse(v).expect("parses");
            let expected: Decimal = Decimal::from_scientific(text)
                .or_else(|_| text.parse())
                .expect("a decimal");
            assert_eq!(f.rate.map(Fraction::get), Some(expected), "{text}");
        }
        // The documented limit: 17 digits that no double tells from 0.5.
        let v: serde_json::Value =
            serde_json::from_str("{\"rate\": 0.49999999999999999}").expect("JSON");
        assert_eq!(
            parse(v).expect("parses").rate.map(Fraction::get),
            Some(dec("0.5"))
        );
        // Past 28 decimal places a decimal cannot hold it: refused, saying so.
        let v: serde_json::Value = serde_json::from_str("{\"rate\": 1.5e-29}").expect("JSON");
        let err = parse(v).expect_err("too small to hold");
        assert!(err.contains("at most 28 decimal places"), "{err}");
    }

    #[test]
    fn signed_cents_take_either_sign_within_the_limit() {
        let f = parse(serde_json::json!({"balance": -MAX_CENTS})).expect("parses");
        assert_eq!(f.balance.map(SignedCents::get), Some(-MAX_CENTS));
        assert!(parse(serde_json::json!({"balance": MAX_CENTS + 1})).is_err());
        assert!(parse(serde_json::json!({"balance": -MAX_CENTS - 1})).is_err());
        assert!(parse(serde_json::json!({"balance": 1.5})).is_err());
    }

    #[test]
    fn dates_and_months_are_exactly_their_shapes() {
        let f =
            parse(serde_json::json!({"date": "2026-03-31", "month": "2026-01"})).expect("parses");
        let date = f.date.expect("a date");
        assert_eq!(date.to_string(), "2026-03-31");
        // 2026-03-31 + 365 days = 2027-03-31 (2026 is not a leap year).
        assert_eq!(
            date.plus_days(365).map(|d| d.to_string()).as_deref(),
            Some("2027-03-31")
        );
        let later = parse(serde_json::json!({"date": "2026-04-20"}))
            .expect("parses")
            .date
            .expect("a date");
        // 31 Mar -> 20 Apr is 20 days.
        assert_eq!(date.days_until(later), 20);
        let month = f.month.expect("a month");
        assert_eq!(month.to_string(), "2026-01");
        assert_eq!(
            month.plus(11).map(|m| m.to_string()).as_deref(),
            Some("2026-12")
        );
        assert_eq!(
            month.plus(-1).map(|m| m.to_string()).as_deref(),
            Some("2025-12")
        );
        assert_eq!(month.plus(12).expect("a month").index() - month.index(), 12);
        for bad in [
            "2026-02-30",
            "2026-3-31",
            "+2026-03-31",
            "26-03-31",
            "2026-03-31T00:00:00Z",
            "",
        ] {
            assert!(parse(serde_json::json!({"date": bad})).is_err(), "{bad}");
        }
        for bad in ["2026-13", "2026-00", "2026-1", "202601", "2026-01-01"] {
            assert!(parse(serde_json::json!({"month": bad})).is_err(), "{bad}");
        }
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
