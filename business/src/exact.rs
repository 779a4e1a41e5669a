//! Exact arithmetic for the business actions: never binary floating point.
//!
//! A figure that is a quotient (an average, a ratio, a slope, a runway) is
//! kept as a [`Rational`] of two `i128`s and rounded once, half-even, where
//! the action's contract says: money to the cent ([`Rational::round_cents`]),
//! ratios to 4 places ([`Rational::round`]). Fractions from the input
//! (rates, probabilities) are [`Decimal`]s and enter a rational exactly
//! ([`Rational::from_decimal`]). Every operation is checked: a figure too
//! large for `i128` is `None`, which an action reports rather than wraps.
//!
//! [`Figure`] is a rounded decimal as it goes into a result: a JSON number
//! (not a string), as the contract asks.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// An exact quotient `num / den`, `den > 0`, not necessarily reduced.
#[derive(Debug, Clone, Copy)]
pub struct Rational {
    num: i128,
    den: i128,
}

impl Rational {
    /// `num / den`, or `None` when `den` is 0 (never a division by zero).
    pub fn new(num: i128, den: i128) -> Option<Self> {
        match den.cmp(&0) {
            Ordering::Equal => None,
            Ordering::Greater => Some(Self { num, den }),
            Ordering::Less => Some(Self {
                num: num.checked_neg()?,
                den: den.checked_neg()?,
            }),
        }
    }

    /// The whole number `n`.
    pub fn integer(n: i128) -> Self {
        Self { num: n, den: 1 }
    }

    /// A decimal, exactly: its mantissa over 10^scale.
    pub fn from_decimal(d: Decimal) -> Self {
        Self {
            num: d.mantissa(),
            den: 10_i128.pow(d.scale()),
        }
    }

    /// The numerator (over [`Rational::denominator`]).
    pub fn numerator(self) -> i128 {
        self.num
    }

    /// The denominator, always positive.
    pub fn denominator(self) -> i128 {
        self.den
    }

    /// `self + other`.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        if self.den == other.den {
            return Some(Self {
                num: self.num.checked_add(other.num)?,
                den: self.den,
            });
        }
        let num = self
            .num
            .checked_mul(other.den)?
            .checked_add(other.num.checked_mul(self.den)?)?;
        Self::new(num, self.den.checked_mul(other.den)?).map(Self::reduced)
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.checked_add(Self {
            num: other.num.checked_neg()?,
            den: other.den,
        })
    }

    /// `self × other`.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        Self::new(
            self.num.checked_mul(other.num)?,
            self.den.checked_mul(other.den)?,
        )
        .map(Self::reduced)
    }

    /// `self / other`, or `None` when `other` is 0.
    pub fn checked_div(self, other: Self) -> Option<Self> {
        Self::new(
            self.num.checked_mul(other.den)?,
            self.den.checked_mul(other.num)?,
        )
        .map(Self::reduced)
    }

    /// The same value over the smallest denominator.
    fn reduced(self) -> Self {
        let g = gcd(self.num.unsigned_abs(), self.den.unsigned_abs());
        match i128::try_from(g) {
            Ok(g) if g > 1 => Self {
                num: self.num / g,
                den: self.den / g,
            },
            _ => self,
        }
    }

    /// The largest whole number not above the value.
    pub fn floor(self) -> i128 {
        self.num.div_euclid(self.den)
    }

    /// The smallest whole number not below the value.
    pub fn ceil(self) -> i128 {
        let q = self.floor();
        if self.num.rem_euclid(self.den) == 0 {
            q
        } else {
            q + 1
        }
    }

    /// Whether the value is below, equal to or above zero.
    pub fn signum(self) -> Ordering {
        self.num.cmp(&0)
    }

    /// The value rounded half-even to `places` decimal places, or `None`
    /// if it does not fit a [`Decimal`].
    pub fn round(self, places: u32) -> Option<Decimal> {
        let scaled = self.num.checked_mul(10_i128.checked_pow(places)?)?;
        let q = round_half_even(scaled, self.den);
        Decimal::try_from_i128_with_scale(q, places).ok()
    }

    /// The value rounded half-even to the cent (for a value in cents), or
    /// `None` past `i64`.
    pub fn round_cents(self) -> Option<i64> {
        i64::try_from(round_half_even(self.num, self.den)).ok()
    }
}

impl PartialEq for Rational {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Rational {}

impl PartialOrd for Rational {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rational {
    /// Compared exactly: `a/b` against `c/d` as `a·d` against `c·b`, in
    /// 256 bits so that no pair of `i128` rationals can overflow.
    fn cmp(&self, other: &Self) -> Ordering {
        let left = wide_mul(self.num, other.den);
        let right = wide_mul(other.num, self.den);
        left.cmp(&right)
    }
}

/// `a × b` as a 256-bit signed value (sign, high, low), ordered correctly.
fn wide_mul(a: i128, b: i128) -> (bool, u128, u128) {
    let negative = (a < 0) != (b < 0) && a != 0 && b != 0;
    let (x, y) = (a.unsigned_abs(), b.unsigned_abs());
    let (x_hi, x_lo) = (x >> 64, x & u128::from(u64::MAX));
    let (y_hi, y_lo) = (y >> 64, y & u128::from(u64::MAX));
    let lo_lo = x_lo * y_lo;
    let mid1 = x_hi * y_lo;
    let mid2 = x_lo * y_hi;
    let hi_hi = x_hi * y_hi;
    let (mid, mid_carry) = mid1.overflowing_add(mid2);
    let (lo, lo_carry) = lo_lo.overflowing_add(mid << 64);
    let hi = hi_hi + (mid >> 64) + (u128::from(mid_carry) << 64) + u128::from(lo_carry);
    if negative {
        // Order negatives below positives, larger magnitudes lower.
        (false, !hi, !lo)
    } else {
        (true, hi, lo)
    }
}

/// `num / den` (`den > 0`) rounded half-even to a whole number.
fn round_half_even(num: i128, den: i128) -> i128 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    // r in [0, den): compare 2r with den without overflowing.
    match r.cmp(&(den - r)) {
        Ordering::Less => q,
        Ordering::Greater => q + 1,
        Ordering::Equal => q + (q & 1),
    }
}

/// The greatest common divisor of `a` and `b` (`gcd(0, 0)` is 0).
pub fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The smallest whole `n` with `n² ≥ num / den` (`den > 0`, `num ≥ 0`): the
/// ceiling of a square root, decided exactly in integers.
pub fn ceil_sqrt(value: Rational) -> Option<u128> {
    if value.num <= 0 {
        return Some(0);
    }
    let (num, den) = (value.num.unsigned_abs(), value.den.unsigned_abs());
    // n² × den ≥ num, searched by bisection over [1, ceil(num / den)] (the
    // root of a value ≥ 1 is at most the value; of one < 1 it is 1).
    let fits = |n: u128| n.checked_mul(n).and_then(|sq| sq.checked_mul(den));
    let (mut lo, mut hi) = (1_u128, num.div_ceil(den).max(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match fits(mid) {
            Some(v) if v < num => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Some(lo)
}

/// A least-squares line as exact integers: its value at `x` is
/// `(intercept + slope·x) / den`, with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// The intercept's numerator: `Σy·Σx² − Σx·Σxy`.
    pub intercept: i128,
    /// The slope's numerator: `nΣxy − ΣxΣy`.
    pub slope: i128,
    /// The common denominator: `nΣx² − (Σx)²`.
    pub den: i128,
}

impl Line {
    /// The line's value at `x`, exactly.
    pub fn at(self, x: i128) -> Option<Rational> {
        let num = self.intercept.checked_add(self.slope.checked_mul(x)?)?;
        Rational::new(num, self.den)
    }
}

/// The least-squares line of `y` on `x` through `points`, exactly. `None`
/// with fewer than two distinct `x`, or if a sum passes `i128`.
pub fn least_squares(points: &[(i128, i128)]) -> Option<Line> {
    let n = i128::try_from(points.len()).ok()?;
    let (mut sx, mut sy, mut sxy, mut sxx) = (0_i128, 0_i128, 0_i128, 0_i128);
    for &(x, y) in points {
        sx = sx.checked_add(x)?;
        sy = sy.checked_add(y)?;
        sxy = sxy.checked_add(x.checked_mul(y)?)?;
        sxx = sxx.checked_add(x.checked_mul(x)?)?;
    }
    let den = n.checked_mul(sxx)?.checked_sub(sx.checked_mul(sx)?)?;
    let slope = n.checked_mul(sxy)?.checked_sub(sx.checked_mul(sy)?)?;
    // intercept = (Σy − slope·Σx) / n = (Σy·Σx² − Σx·Σxy) / den.
    let intercept = sy.checked_mul(sxx)?.checked_sub(sx.checked_mul(sxy)?)?;
    // By Cauchy-Schwarz den ≥ 0, and 0 only when every x is the same.
    (den > 0).then_some(Line {
        intercept,
        slope,
        den,
    })
}

/// The least-squares slope of `y` on `x` over `points`: `(nΣxy − ΣxΣy) /
/// (nΣx² − (Σx)²)`, exactly. `None` with fewer than two distinct `x`, or if
/// a sum passes `i128`.
pub fn slope(points: &[(i128, i128)]) -> Option<Rational> {
    let line = least_squares(points)?;
    Rational::new(line.slope, line.den).map(Rational::reduced)
}

/// A rounded decimal in a result: serialised as a JSON number.
///
/// The number is the double nearest to the decimal (read from its exact
/// text, so correctly rounded), written as the shortest text that reads
/// back as that double: a figure of up to 15 significant digits appears
/// exactly as computed; a longer one (a ratio of 10^15 cents to 4 places)
/// is the nearest double, which a JSON client could not hold more exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Figure(pub Decimal);

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // rust_decimal's own to_f64 is not correctly rounded; Rust's
        // parsing of the decimal's text is.
        match self.0.to_string().parse::<f64>() {
            Ok(f) if f.is_finite() => s.serialize_f64(f),
            _ => Err(serde::ser::Error::custom("a figure is not a number")),
        }
    }
}

impl From<Decimal> for Figure {
    fn from(d: Decimal) -> Self {
        Self(d)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn r(num: i128, den: i128) -> Rational {
        Rational::new(num, den).expect("a denominator that is not 0")
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("a decimal")
    }

    #[test]
    fn rounding_is_half_even_and_exact() {
        // 217.5 -> 218 (7 is odd, so up); 218.5 -> 218 (8 is even, so down).
        assert_eq!(r(2175, 10).round_cents(), Some(218));
        assert_eq!(r(2185, 10).round_cents(), Some(218));
        // -2.5 -> -2; -3.5 -> -4; -2.6 -> -3.
        assert_eq!(r(-25, 10).round_cents(), Some(-2));
        assert_eq!(r(-35, 10).round_cents(), Some(-4));
        assert_eq!(r(-26, 10).round_cents(), Some(-3));
        // 5/6 = 0.83333.. -> 0.8333; 1/8 = 0.125 -> 0.12 at 2 places.
        assert_eq!(r(5, 6).round(4), Some(dec("0.8333")));
        assert_eq!(r(1, 8).round(2), Some(dec("0.12")));
        assert_eq!(r(3, 8).round(2), Some(dec("0.38")));
        // A negative denominator is normalised: 1 / -3 = -0.3333.
        assert_eq!(r(1, -3).round(4), Some(dec("-0.3333")));
        assert!(Rational::new(1, 0).is_none());
    }

    #[test]
    fn a_decimal_enters_exactly_and_arithmetic_is_checked() {
        // 3000 x 0.0725 = 217.5, not 217.49999.. as in binary floating point.
        let tax = Rational::integer(3000)
            .checked_mul(Rational::from_decimal(dec("0.0725")))
            .expect("fits");
        assert_eq!(tax, r(435, 2));
        assert_eq!(tax.round_cents(), Some(218));
        assert_eq!(r(1, 3).checked_add(r(1, 6)), Some(r(1, 2)));
        assert_eq!(r(1, 3).checked_sub(r(1, 2)), Some(r(-1, 6)));
        assert_eq!(r(1, 3).checked_div(r(2, 3)), Some(r(1, 2)));
        assert!(r(1, 3).checked_div(Rational::integer(0)).is_none());
        assert!(
            Rational::integer(i128::MAX)
                .checked_mul(Rational::integer(2))
                .is_none()
        );
    }

    #[test]
    fn floor_ceil_and_comparison() {
        assert_eq!(r(7, 2).floor(), 3);
        assert_eq!(r(7, 2).ceil(), 4);
        assert_eq!(r(-7, 2).floor(), -4);
        assert_eq!(r(-7, 2).ceil(), -3);
        assert_eq!(r(6, 2).ceil(), 3);
        assert!(r(1, 3) < r(1, 2));
        assert!(r(-1, 2) < r(-1, 3));
        assert!(r(-1, 2) < r(0, 1));
        // Cross products past i128 still compare correctly.
        assert!(r(i128::MAX, i128::MAX - 1) > r(i128::MAX - 1, i128::MAX));
        assert!(r(i128::MIN + 1, 3) < r(i128::MIN + 2, 3));
    }

    #[test]
    fn ceil_sqrt_is_the_smallest_whole_root_at_or_above() {
        // 100 -> 10 exactly; 101 -> 11 (10² = 100 < 101); 0.25 -> 1; 0 -> 0.
        assert_eq!(ceil_sqrt(r(100, 1)), Some(10));
        assert_eq!(ceil_sqrt(r(101, 1)), Some(11));
        assert_eq!(ceil_sqrt(r(1, 4)), Some(1));
        assert_eq!(ceil_sqrt(r(0, 1)), Some(0));
        // 2 × 1.5 × 365 × 5000 / 25 = 219_000; 468² = 219_024 ≥ 219_000 > 467² = 218_089.
        assert_eq!(ceil_sqrt(r(2 * 15 * 365 * 5000, 10 * 25)), Some(468));
    }

    #[test]
    fn slope_is_the_exact_least_squares_slope() {
        // (0, 1), (1, 3), (2, 5): y = 2x + 1, slope 2.
        assert_eq!(slope(&[(0, 1), (1, 3), (2, 5)]), Some(r(2, 1)));
        // (0, 0), (1, 1), (2, 1): n=3, Σx=3, Σy=2, Σxy=3, Σx²=5;
        // (3·3 − 3·2) / (3·5 − 9) = 3/6 = 1/2.
        assert_eq!(slope(&[(0, 0), (1, 1), (2, 1)]), Some(r(1, 2)));
        // Its line: intercept (2·5 − 3·3) / 6 = 1/6; at x = 2, 1/6 + 1 = 7/6.
        let line = least_squares(&[(0, 0), (1, 1), (2, 1)]).expect("a line");
        assert_eq!(line.at(0), Some(r(1, 6)));
        assert_eq!(line.at(2), Some(r(7, 6)));
        assert!(slope(&[(4, 10)]).is_none());
        assert!(slope(&[(4, 10), (4, 20)]).is_none());
        assert!(slope(&[]).is_none());
    }

    #[test]
    fn a_figure_is_a_json_number() {
        let v = serde_json::to_value(Figure(dec("0.8333"))).expect("serialises");
        assert_eq!(v, serde_json::json!(0.8333));
        let v = serde_json::to_value(Figure(dec("12.0000"))).expect("serialises");
        assert_eq!(v, serde_json::json!(12.0));
        // 30864197253085.25 is a double exactly; it is written exactly
        // (a conversion that is not correctly rounded gave ..085.246).
        let text = serde_json::to_string(&Figure(dec("30864197253085.25"))).expect("serialises");
        assert_eq!(text, "30864197253085.25");
        let text = serde_json::to_string(&Figure(dec("0.0000000000000000000000000001")))
            .expect("serialises");
        assert_eq!(text, "1e-28");
    }
}
