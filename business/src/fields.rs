//! Field types and checks the business actions share.
//!
//! Bounds are enforced while parsing, so a value out of range is refused at
//! submission with its field's path like any other parse error: money is
//! whole cents from 0 to [`MAX_CENTS`], a quantity a whole number from 1 to
//! [`MAX_QUANTITY`] (negative and fractional numbers are refused), ids and
//! skus are text that is not blank ([`Text`]; optional text that is blank
//! is absent, [`optional_text`]), currencies ISO 4217 codes in use
//! ([`Currency`]). Products and sums of money are worked out in `i128` and
//! refused past [`MAX_CENTS`], so no figure ever overflows.
//!
//! Fractions (rates, probabilities, demand per day) are exact decimals read
//! from the number's literal text, of at most 15 significant digits
//! ([`Fraction`], [`NonNegative`], [`decimal_in`]); dates are `YYYY-MM-DD`
//! ([`Date`]) and months `YYYY-MM` ([`Month`]).

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

/// Text that must not be blank: an id, a sku, a vendor. Empty text, or
/// text of only whitespace, is refused (the action contract's revision 2,
/// README "The actions"); the text is kept as written, not trimmed.
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
        if s.trim().is_empty() {
            Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"a non-blank string",
            ))
        } else {
            Ok(Text(s))
        }
    }
}

/// Reads optional text (`#[serde(default, deserialize_with =
/// "fields::optional_text")]`): absent, `null` and text that is blank once
/// trimmed are all `None`, as the contract's reviewers fixed it (an empty
/// `email` is no email, never an error nor an email).
pub fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.trim().is_empty()).map(Text))
}

/// The ISO 4217 currency codes in use (the current codes of ISO 4217's
/// list one, as of 2026), sorted.
///
/// Amounts in a currency are in its minor unit (the code's ISO 4217
/// exponent: cents of USD, yen of JPY, fils of KWD), and "to the cent"
/// means to the minor unit. Excluded are the codes that are no currency
/// of account: precious metals (XAU, XAG, XPT, XPD), the SDR and other
/// units (XDR, XSU, XUA, XBA to XBD), the test code XTS and "no currency"
/// XXX. The five X-codes that are national currencies (XAF, XCD, XCG,
/// XOF, XPF) are kept: millions invoice in them. Withdrawn codes (ANG
/// since 2025, BGN since Bulgaria's euro in 2026, HRK, SLL, ZWL, CUC,
/// ...) are refused.
pub const CURRENCIES: [&str; 164] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR",
    "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
    "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
    "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF",
    "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An ISO 4217 currency code in use ([`CURRENCIES`]), e.g. `"USD"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if CURRENCIES.binary_search(&s.as_str()).is_ok() {
            Ok(Currency(s))
        } else {
            Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"an ISO 4217 currency code in use, e.g. \"USD\"",
            ))
        }
    }
}

/// The most significant digits a fraction in the input may have (the
/// action contract's revision 2, README "The actions"). They are counted in
/// the number's literal text, from the first non-zero digit to the last digit written, not counting
/// zeros that end a fractional part: `0.0725` and `7.250e-2` have three,
/// `100` has three, `1e2` one. A longer literal is refused whatever double
/// it would round to (`0.07250000000000000001` is refused, never read as
/// 0.0725).
pub const MAX_SIGNIFICANT_DIGITS: u32 = 15;

/// The most decimal places an exact decimal holds (`rust_decimal`'s
/// scale): a fraction smaller than 10^-28 cannot be held exactly, so it is
/// refused rather than rounded.
const MAX_DECIMAL_PLACES: u32 = 28;

/// Why a number's literal text was not read as a decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiteralError {
    /// The JSON value is not a number.
    NotANumber,
    /// More than [`MAX_SIGNIFICANT_DIGITS`] significant digits.
    TooPrecise,
    /// More than [`MAX_DECIMAL_PLACES`] decimal places once written without
    /// an exponent.
    TooSmall,
    /// Too large for any bound a field has (more than 10^16).
    TooLarge,
}

/// Reads a JSON number's literal text as the exact decimal it writes, at
/// most [`MAX_SIGNIFICANT_DIGITS`] significant digits, never through a
/// double: `-`? integer part, optional fraction, optional exponent. No
/// allocation: a run may carry thousands of fractions.
fn decimal_literal(text: &str) -> Result<Decimal, LiteralError> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) {
        return Err(LiteralError::NotANumber);
    }
    // An exponent past i64 is far past any bound; its sign says which way.
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.trim_start_matches(['+', '-']);
            if digits.is_empty() || !all_digits(digits) {
                return Err(LiteralError::NotANumber);
            }
            let huge = if e.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            };
            e.parse().unwrap_or(huge)
        }
    };
    // Zeros that end a fractional part are not significant; zeros before
    // the first non-zero digit are not either. The significant digits run
    // from the first non-zero digit of `int` then `frac` to the end.
    let frac = frac.trim_end_matches('0');
    let digits = int.bytes().chain(frac.bytes());
    let mut count: u32 = 0;
    let mut significant: u64 = 0;
    for digit in digits.skip_while(|d| *d == b'0') {
        count += 1;
        if count > MAX_SIGNIFICANT_DIGITS {
            return Err(LiteralError::TooPrecise);
        }
        // 15 digits fit a u64 many times over.
        significant = significant * 10 + u64::from(digit - b'0');
    }
    if count == 0 {
        return Ok(Decimal::ZERO);
    }
    // The value is significant × 10^-scale.
    let frac_len = i64::try_from(frac.len()).unwrap_or(i64::MAX);
    let scale = frac_len.saturating_sub(exponent);
    // Digits left of the point: past 17, the value passes 10^16.
    if i64::from(count).saturating_sub(scale) > 17 {
        return Err(LiteralError::TooLarge);
    }
    // Zeros that end the whole digits (`100e-30`) say nothing of the
    // value's places: 100e-30 is 1e-28, which a decimal holds.
    let (mut significant, mut scale) = (significant, scale);
    while scale > i64::from(MAX_DECIMAL_PLACES) && significant.is_multiple_of(10) {
        significant /= 10;
        scale -= 1;
    }
    if scale > i64::from(MAX_DECIMAL_PLACES) {
        return Err(LiteralError::TooSmall);
    }
    let mut mantissa = i128::from(significant);
    while scale < 0 {
        mantissa *= 10;
        scale += 1;
    }
    if negative {
        mantissa = -mantissa;
    }
    let scale = u32::try_from(scale).map_err(|_| LiteralError::TooSmall)?;
    Decimal::try_from_i128_with_scale(mantissa, scale)
        .map(|d| d.normalize())
        .map_err(|_| LiteralError::TooLarge)
}

/// What a JSON value that is not a number is, for an error message.
fn unexpected(text: &str) -> Unexpected<'_> {
    match text.as_bytes().first() {
        Some(b'"') => Unexpected::Other("a string"),
        Some(b't' | b'f') => Unexpected::Other("a boolean"),
        Some(b'n') => Unexpected::Unit,
        Some(b'[') => Unexpected::Seq,
        Some(b'{') => Unexpected::Map,
        _ => Unexpected::Other(text),
    }
}

/// Reads a JSON number, from its literal text as received, as an exact
/// decimal in `min..=max` of at most [`MAX_SIGNIFICANT_DIGITS`]
/// significant digits, for a field type's `Deserialize`. The text comes
/// from serde_json's raw value: the run keeps its input as the bytes
/// received, and no double is ever made of it.
pub fn decimal_in<'de, D: Deserializer<'de>>(
    d: D,
    min: Decimal,
    max: Decimal,
) -> Result<Decimal, D::Error> {
    // Borrowed from the input text (an action's input is read from text):
    // no copy of the literal.
    let raw = <&serde_json::value::RawValue>::deserialize(d)?;
    let text = raw.get().trim();
    let number = || Unexpected::Other(text);
    // Only an error message needs the range written out.
    let range = || format!("a number from {min} to {max}");
    match decimal_literal(text) {
        Ok(value) if value < min || value > max => {
            Err(de::Error::invalid_value(number(), &range().as_str()))
        }
        Ok(value) => Ok(value),
        Err(LiteralError::NotANumber) => {
            Err(de::Error::invalid_type(unexpected(text), &range().as_str()))
        }
        Err(LiteralError::TooPrecise) => Err(de::Error::invalid_value(
            number(),
            &"a number of at most 15 significant digits",
        )),
        Err(LiteralError::TooSmall) => Err(de::Error::invalid_value(
            number(),
            &"a number of at most 28 decimal places",
        )),
        Err(LiteralError::TooLarge) => Err(de::Error::invalid_value(number(), &range().as_str())),
    }
}

/// An exact decimal from 0 to `MAX`, of at most [`MAX_SIGNIFICANT_DIGITS`]
/// significant digits: a [`Fraction`] or a [`NonNegative`].
///
/// It is read from JSON text only ([`decimal_in`] borrows the number's
/// literal from it, as [`crate::parse_json`] reads an action's input): a
/// `serde_json::Value` or a reader has no literal to borrow, so a fraction
/// read from one is refused, never read through a double.
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

    /// Whether the month is after `date`: its first day is (the month that
    /// holds `date` is not).
    pub fn after(self, date: Date) -> bool {
        let date = date.get();
        (self.year, self.month) > (date.year(), u8::from(date.month()))
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

/// Refuses a month after `as_of` in an input that describes the past
/// (the action contract's revision 2), naming `months[i].month`: a month
/// is after `as_of` when its first day is, so the month holding `as_of` is
/// allowed.
pub fn months_not_after(
    months: impl Iterator<Item = Month>,
    as_of: Date,
) -> Result<(), InvalidInput> {
    for (i, month) in months.enumerate() {
        if month.after(as_of) {
            return Err(InvalidInput::new(
                format!("months[{i}].month"),
                format!("{month} is after as_of {as_of}"),
            ));
        }
    }
    Ok(())
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

    /// Parses `{"rate": <text>}` from JSON text, as a run's input arrives.
    fn rate(text: &str) -> Result<Option<Decimal>, String> {
        serde_json::from_str::<Fields>(&format!("{{\"rate\": {text}}}"))
            .map(|f| f.rate.map(Fraction::get))
            .map_err(|e| e.to_string())
    }

    /// Parses `{"demand": <text>}` from JSON text.
    fn demand(text: &str) -> Result<Option<Decimal>, String> {
        serde_json::from_str::<Fields>(&format!("{{\"demand\": {text}}}"))
            .map(|f| f.demand.map(NonNegative::get))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_fraction_is_read_exactly_from_its_literal_text() {
        // 0.0725 as a double is 0.07249999999999999500..; the text says 0.0725.
        assert_eq!(rate("0.0725"), Ok(Some(dec("0.0725"))));
        assert_eq!(rate("7.25e-2"), Ok(Some(dec("0.0725"))));
        assert_eq!(rate("725E-4"), Ok(Some(dec("0.0725"))));
        assert_eq!(rate("1"), Ok(Some(Decimal::ONE)));
        assert_eq!(rate("0"), Ok(Some(Decimal::ZERO)));
        assert_eq!(rate("-0"), Ok(Some(Decimal::ZERO)));
        assert_eq!(rate("null"), Ok(None));
        assert_eq!(demand("2.5"), Ok(Some(dec("2.5"))));
        // 15 significant digits are read as written.
        assert_eq!(
            rate("0.123456789012345"),
            Ok(Some(dec("0.123456789012345")))
        );
        // Zeros that end a fractional part do not count: 3 digits here.
        assert_eq!(rate("0.072500000000000000000"), Ok(Some(dec("0.0725"))));
        // Leading zeros do not count either: 1e-24 has one digit.
        assert_eq!(rate("0.000000000000000000000001"), Ok(Some(dec("1e-24"))));
        assert_eq!(rate("1.2345e-24"), Ok(Some(dec("1.2345e-24"))));
        // The defect: 21 significant digits were read as the double nearest
        // them, 0.0725, and a tax of 1000 x 0.07250000000000000001 = 72.5..
        // rounded to 72 instead of 73. Now refused, naming why.
        for too_precise in [
            "0.07250000000000000001",
            "0.12345678901234567",
            // No double tells this from 0.5, yet it is 17 digits written.
            "0.49999999999999999",
            "1.0000000000000001",
        ] {
            let err = rate(too_precise).expect_err(too_precise);
            assert!(err.contains("at most 15 significant digits"), "{err}");
        }
        // Whole-number zeros are digits written: 10^15 written out has 16,
        // 1e15 one.
        assert_eq!(demand("1e15"), Ok(Some(Decimal::from(MAX_QUANTITY))));
        assert_eq!(
            demand("100000000000000E1"),
            Ok(Some(Decimal::from(MAX_QUANTITY)))
        );
        assert!(
            demand("1000000000000000")
                .expect_err("16 digits")
                .contains("15 significant digits")
        );
        // Out of range, and not numbers.
        for (text, says) in [
            ("1.5", "a number from 0 to 1"),
            ("-0.1", "a number from 0 to 1"),
            ("1e400", "a number from 0 to 1"),
            ("\"0.5\"", "invalid type: a string"),
            ("true", "invalid type: a boolean"),
            ("[0.5]", "invalid type: sequence"),
        ] {
            let err = rate(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
        assert!(demand("-1").is_err());
        assert!(demand("1e16").is_err());
        // Past 28 decimal places a decimal cannot hold it: refused, saying so.
        assert_eq!(rate("100e-30"), Ok(Some(dec("1e-28"))));
        assert_eq!(rate("10.0e-29"), Ok(Some(dec("1e-28"))));
        let err = rate("1.5e-29").expect_err("too small to hold");
        assert!(err.contains("at most 28 decimal places"), "{err}");
        let err = rate("1e-999999999999999999999").expect_err("far too small");
        assert!(err.contains("at most 28 decimal places"), "{err}");
        assert_eq!(rate("0e-999999999999999999999"), Ok(Some(Decimal::ZERO)));
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
