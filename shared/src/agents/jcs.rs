//! I-JSON (RFC 7493) checking and JCS (RFC 8785) canonical form, for the
//! `arguments` of an agent's tool call.
//!
//! The arguments are hashed (the hash is what an approver approves and what
//! the worker re-checks), so two texts meaning the same value must give the
//! same bytes, and a text must not mean one thing to us and another to the
//! agent's own JSON library. Hence:
//!
//! - duplicate member names are refused at any depth (parsers disagree on
//!   which one wins, so the value a reviewer sees might not be the one run);
//! - every number's JCS text must denote exactly the decimal value received:
//!   JCS prints numbers as IEEE-754 doubles, so `9007199254740993` would be
//!   silently hashed as `9007199254740992`. Such numbers must come as strings;
//! - unpaired surrogate escapes are refused (they have no UTF-8 form).
//!
//! The parser is hand-written over bytes because `serde_json::Value` drops
//! duplicate names and forgets the text of its numbers, both of which this
//! check needs. Nesting is bounded by [`MAX_DEPTH`] so that recursion is safe.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// The most nesting levels accepted (objects and arrays), so that hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// The most characters of a member name or number quoted in an error, so
/// that a hostile input cannot make the error as large as itself.
const QUOTE_MAX: usize = 64;

/// Why a text is not I-JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotIJson {
    /// Where: a JSONPath-like path from the root given by the caller, e.g. `arguments.items[2].price` (member names that are not plain identifiers written as `arguments["a b"]`, quoted with JSON escaping, truncated to 64 chars).
    pub path: String,
    /// What is wrong, one sentence a client can act on (e.g. "12345678901234567890 is not exactly representable as an IEEE-754 double: send it as a string", "duplicate member name \"a\"", "unpaired surrogate in a string", "nesting deeper than 64", "invalid JSON: ...").
    pub message: String,
}

impl fmt::Display for NotIJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for NotIJson {}

/// Checks `text` (one JSON value, surrounding whitespace allowed) and returns its JCS form.
/// `root` names the value in error paths (e.g. "arguments").
pub fn canonicalize(text: &str, root: &str) -> Result<String, NotIJson> {
    let mut parser = Parser { text, pos: 0 };
    let path = Path(None, Seg::Root(root));
    let mut out = String::with_capacity(text.len());
    parser.skip_ws();
    parser.value(&mut out, &path, 0)?;
    parser.skip_ws();
    if parser.pos < text.len() {
        return Err(parser.invalid(&path, "unexpected data after the value"));
    }
    Ok(out)
}

/// Lowercase hex SHA-256 of `canonical` (use the `sha2` and `hex` crates, already dependencies).
pub fn sha256_hex(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// One step of a path.
enum Seg<'a> {
    Root(&'a str),
    Member(&'a str),
    Index(usize),
}

/// A path as a linked list on the call stack (parent, last step): it is
/// rendered only on error, so a valid text costs no path strings.
struct Path<'a>(Option<&'a Path<'a>>, Seg<'a>);

impl Path<'_> {
    fn child<'b>(&'b self, seg: Seg<'b>) -> Path<'b> {
        Path(Some(self), seg)
    }

    fn render(&self) -> String {
        let mut out = match self.0 {
            Some(parent) => parent.render(),
            None => String::new(),
        };
        match self.1 {
            Seg::Root(root) => out.push_str(root),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Member(name) => {
                let name = truncated(name);
                let mut bytes = name.bytes();
                let identifier = bytes
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !identifier {
                    out.push('[');
                    write_string(&mut out, name);
                    out.push(']');
                } else if out.is_empty() {
                    out.push_str(name); // an empty root gives `a.b`, not `.a.b`
                } else {
                    out.push_str(&format!(".{name}"));
                }
            }
        }
        out
    }
}

fn truncated(s: &str) -> &str {
    s.char_indices().nth(QUOTE_MAX).map_or(s, |(i, _)| &s[..i])
}

fn not_ijson(path: &Path<'_>, message: String) -> NotIJson {
    NotIJson {
        path: path.render(),
        message,
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn invalid(&self, path: &Path<'_>, what: &str) -> NotIJson {
        not_ijson(path, format!("invalid JSON: {what} at byte {}", self.pos))
    }

    fn rest(&self) -> &[u8] {
        &self.text.as_bytes()[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// RFC 8259 whitespace only: no BOM, no comments.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn digits(&mut self) -> usize {
        let count = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.pos += count;
        count
    }

    /// Parses one value and writes its JCS form to `out`; `depth` is the
    /// number of objects and arrays around it.
    fn value(&mut self, out: &mut String, path: &Path<'_>, depth: usize) -> Result<(), NotIJson> {
        let word = match self.peek() {
            Some(b'{' | b'[') if depth >= MAX_DEPTH => {
                return Err(not_ijson(path, format!("nesting deeper than {MAX_DEPTH}")));
            }
            Some(b'{') => return self.object(out, path, depth + 1),
            Some(b'[') => return self.array(out, path, depth + 1),
            Some(b'"') => return self.string(path).map(|s| write_string(out, &s)),
            Some(b'-' | b'0'..=b'9') => return self.number(out, path),
            Some(b't') => "true",
            Some(b'f') => "false",
            Some(b'n') => "null",
            Some(_) => "",
            None => return Err(self.invalid(path, "unexpected end of input")),
        };
        if word.is_empty() || !self.rest().starts_with(word.as_bytes()) {
            return Err(self.invalid(path, "expected a value"));
        }
        self.pos += word.len();
        out.push_str(word);
        Ok(())
    }

    fn object(&mut self, out: &mut String, path: &Path<'_>, depth: usize) -> Result<(), NotIJson> {
        self.pos += 1;
        // Keyed by UTF-16 code units: the map's order is JCS's order, and
        // equal keys are equal names, which is how duplicates are found.
        let mut members: BTreeMap<Vec<u16>, (String, String)> = BTreeMap::new();
        self.skip_ws();
        while !(members.is_empty() && self.eat(b'}')) {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.invalid(path, "expected a member name in double quotes"));
            }
            let name = self.string(path)?;
            let key: Vec<u16> = name.encode_utf16().collect();
            let member = path.child(Seg::Member(&name));
            if members.contains_key(&key) {
                let mut quoted = String::new();
                write_string(&mut quoted, truncated(&name));
                return Err(not_ijson(
                    &member,
                    format!("duplicate member name {quoted}"),
                ));
            }
            self.skip_ws();
            if !self.eat(b':') {
                return Err(self.invalid(&member, "expected ':' after a member name"));
            }
            self.skip_ws();
            let mut value = String::new();
            self.value(&mut value, &member, depth)?;
            members.insert(key, (name, value));
            self.skip_ws();
            if self.eat(b'}') {
                break;
            } else if !self.eat(b',') {
                return Err(self.invalid(path, "expected ',' or '}'"));
            }
        }
        out.push('{');
        for (i, (name, value)) in members.values().enumerate() {
            out.push_str(if i == 0 { "" } else { "," });
            write_string(out, name);
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
        Ok(())
    }

    fn array(&mut self, out: &mut String, path: &Path<'_>, depth: usize) -> Result<(), NotIJson> {
        self.pos += 1;
        out.push('[');
        self.skip_ws();
        let mut index = 0;
        while !(index == 0 && self.eat(b']')) {
            out.push_str(if index == 0 { "" } else { "," });
            self.skip_ws();
            self.value(out, &path.child(Seg::Index(index)), depth)?;
            index += 1;
            self.skip_ws();
            if self.eat(b']') {
                break;
            } else if !self.eat(b',') {
                return Err(self.invalid(path, "expected ',' or ']'"));
            }
        }
        out.push(']');
        Ok(())
    }

    /// Parses a string (from its opening quote) and returns it unescaped.
    fn string(&mut self, path: &Path<'_>) -> Result<String, NotIJson> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            // The run up to a quote, a backslash or a control character:
            // those are ASCII, so it ends on a char boundary.
            let rest = &self.text[self.pos..];
            let run = rest
                .find(|c| matches!(c, '"' | '\\' | '\0'..='\u{1f}'))
                .unwrap_or(rest.len());
            s.push_str(&rest[..run]);
            self.pos += run;
            match self.peek() {
                None => return Err(self.invalid(path, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    s.push(self.escape(path)?);
                }
                Some(_) => return Err(self.invalid(path, "control character in a string")),
            }
        }
    }

    /// Decodes the escape after a backslash, combining a surrogate pair.
    fn escape(&mut self, path: &Path<'_>) -> Result<char, NotIJson> {
        let unpaired = || not_ijson(path, "unpaired surrogate in a string".to_string());
        let c = match self.peek() {
            Some(b @ (b'"' | b'\\' | b'/')) => char::from(b),
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(path)?;
                let code = match unit {
                    0xD800..=0xDBFF if self.rest().starts_with(b"\\u") => {
                        self.pos += 2;
                        let low = self.hex4(path)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(unpaired());
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => unit,
                };
                // Only a lone surrogate is no char.
                return char::from_u32(code).ok_or_else(unpaired);
            }
            _ => return Err(self.invalid(path, "invalid escape in a string")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self, path: &Path<'_>) -> Result<u32, NotIJson> {
        let mut unit = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|b| char::from(b).to_digit(16)) else {
                return Err(self.invalid(path, "expected four hex digits after \\u"));
            };
            unit = unit * 16 + digit;
            self.pos += 1;
        }
        Ok(unit)
    }

    fn number(&mut self, out: &mut String, path: &Path<'_>) -> Result<(), NotIJson> {
        let start = self.pos;
        self.eat(b'-');
        if self.eat(b'0') {
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.invalid(path, "leading zero in a number"));
            }
        } else if self.digits() == 0 {
            return Err(self.invalid(path, "expected a digit"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.invalid(path, "expected a digit after the decimal point"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _sign = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(self.invalid(path, "expected a digit in the exponent"));
            }
        }
        let received = &self.text[start..self.pos];
        // Rust's parse rounds correctly; the JCS text is then exact iff it
        // denotes the same decimal value as the text received.
        let jcs = received
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(ecmascript);
        if let Some(jcs) = jcs.filter(|jcs| exact_decimal(jcs) == exact_decimal(received)) {
            out.push_str(&jcs);
            return Ok(());
        }
        // ASCII, so any byte index is a char boundary.
        let shown = match received.get(..QUOTE_MAX) {
            Some(head) if head.len() < received.len() => format!("{head}..."),
            _ => received.to_string(),
        };
        let message = "is not exactly representable as an IEEE-754 double: send it as a string";
        Err(not_ijson(path, format!("{shown} {message}")))
    }
}

/// The exact value of a number text in the JSON grammar (which ECMAScript's
/// form also follows) as (negative, digits, exponent): digits x 10^exponent,
/// without leading or trailing zeros so that equal values compare equal;
/// zero is (false, "", 0) whatever its sign. Exponents saturate: a number
/// that large or small has already failed as non-finite or as a false zero.
fn exact_decimal(text: &str) -> (bool, Vec<u8>, i64) {
    let (negative, rest) = text.strip_prefix('-').map_or((false, text), |r| (true, r));
    let (mantissa, exp) = rest.split_once(['e', 'E']).unwrap_or((rest, ""));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let exp_digits = exp.trim_start_matches(['+', '-']);
    let magnitude = exp_digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    let exp = if exp.starts_with('-') { -1 } else { 1 } * magnitude;
    let mut exponent = exp.saturating_sub(frac.len() as i64);
    let digits = int.bytes().chain(frac.bytes()).skip_while(|&b| b == b'0');
    let mut digits: Vec<u8> = digits.collect();
    while digits.pop_if(|d| *d == b'0').is_some() {
        exponent = exponent.saturating_add(1);
    }
    match digits.is_empty() {
        true => (false, digits, 0),
        false => (negative, digits, exponent),
    }
}

/// ECMA-262 Number::toString(x) for a finite double: the shortest digits
/// that round-trip (Rust's `{:e}` gives them), laid out by its four cases.
fn ecmascript(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string(); // -0 too
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    // |x| = 0.digits x 10^n, with k digits.
    let (k, n) = (digits.len() as i32, exp.parse::<i32>().unwrap_or(0) + 1);
    let digits = even_on_a_tie(x.abs(), digits, n - k);
    let zeros = |count: i32| "0".repeat(count as usize);
    let sign = if x < 0.0 { "-" } else { "" };
    if k <= n && n <= 21 {
        format!("{sign}{digits}{}", zeros(n - k))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{sign}{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("{sign}0.{}{digits}", zeros(-n))
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if n > 0 { "+" } else { "-" };
        format!("{sign}{first}{dot}{rest}e{exp_sign}{}", (n - 1).abs())
    }
}

/// ECMA-262 breaks a tie between the two closest shortest candidates by
/// taking the even one; Rust rounds up (0x43143ff3c1cb0959 is exactly
/// 1424953923781206.25: ECMAScript prints ...206.2, Rust ...206.3). In a tie
/// the exact value of `x` is the candidates' midpoint: one digit more than
/// them, ending in 5. Rust's candidate is `digits` x 10^`scale`.
fn even_on_a_tie(x: f64, digits: String, scale: i32) -> String {
    let Some((exact, exponent)) = short_exact_value(x) else {
        return digits;
    };
    if exponent != scale - 1 || exact % 10 != 5 {
        return digits;
    }
    let even = (exact / 10 + exact / 10 % 2).to_string();
    if even.len() != digits.len() || format!("{even}e{scale}").parse::<f64>() != Ok(x) {
        return digits;
    }
    even
}

/// The exact value of a finite positive double as (n, e), n x 10^e with n
/// not a multiple of 10, when n has at most 18 digits (shortest forms have
/// at most 17, so ties need no more); `None` otherwise. With x = m x 2^e,
/// m odd: for e < 0, x = (m x 5^-e) x 10^e, which ends in 5 and has over 18
/// digits once -e > 26; for e >= 0, x is an integer that can end in 5 once
/// its zeros are stripped only if e <= 22 (m < 2^53 < 5^23). Both fit a u128.
fn short_exact_value(x: f64) -> Option<(u128, i32)> {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, e) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | (1 << 52), biased - 1075),
    };
    let shift = m.trailing_zeros().min(63);
    let (m, e) = (u128::from(m >> shift), e + shift as i32);
    let (mut n, mut exponent) = match e {
        -26..=-1 => (m * 5u128.pow(e.unsigned_abs()), e),
        0..=22 => (m << e, 0),
        _ => return None,
    };
    while n % 10 == 0 && n != 0 {
        n /= 10;
        exponent += 1;
    }
    (n != 0 && n < 10u128.pow(18)).then_some((n, exponent))
}

/// Writes `s` quoted as JSON.stringify does: only `"`, `\` and U+0000..U+001F
/// escaped, the short forms where they exist, everything else literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\0'..='\u{1f}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(text: &str) -> String {
        canonicalize(text, "arguments").unwrap()
    }

    fn refused(text: &str) -> NotIJson {
        canonicalize(text, "arguments").unwrap_err()
    }

    const RFC_SAMPLE: &str = r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#;

    #[test]
    fn the_rfc_8785_sample_with_an_exact_first_number_canonicalizes_as_the_rfc_says() {
        let input = RFC_SAMPLE.replace("333333333.33333329", "333333333.3333333");
        let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(canonicalize(&input, "").unwrap(), expected);
    }

    #[test]
    fn the_rfc_8785_sample_as_published_is_refused_for_its_inexact_first_number() {
        let err = canonicalize(RFC_SAMPLE, "").unwrap_err();
        assert_eq!(err.path, "numbers[0]");
        assert!(
            err.message.starts_with("333333333.33333329 is not exactly"),
            "{err}"
        );
    }

    #[test]
    fn doubles_print_as_the_rfc_8785_appendix_b_table_says() {
        #[rustfmt::skip]
        let table: &[(u64, &str)] = &[
            (0x0000000000000000, "0"), (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"), (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"), (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"), (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"), (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"), (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"), (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"), (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"), (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"), (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"), (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"), (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for &(bits, expected) in table {
            assert_eq!(ecmascript(f64::from_bits(bits)), expected, "{bits:#018x}");
            assert_eq!(canon(expected), expected, "accepted as input, unchanged");
        }
    }

    #[test]
    fn a_tie_prints_the_even_candidate_and_only_that_text_is_accepted() {
        // 0x43143ff3c1cb0959 is exactly 1424953923781206.25.
        assert_eq!(canon("1424953923781206.2"), "1424953923781206.2");
        assert!(canonicalize("1424953923781206.3", "").is_err());
        assert!(canonicalize("1424953923781206.25", "").is_err());
    }

    #[test]
    fn members_sort_by_utf16_code_units_as_in_rfc_8785_section_3_2_3() {
        let input = r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}"#;
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
            \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
            \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canon(input), expected);
        // By UTF-8 bytes or by chars, U+E000 would come first.
        assert_eq!(
            canon("{\"\u{e000}\":1,\"\u{1f600}\":2}"),
            "{\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn the_contracts_exact_numbers_are_accepted() {
        let input = r#"{"a": 0.1, "b": 19.99, "c": 1E21, "d": 9007199254740992}"#;
        assert_eq!(
            canon(input),
            r#"{"a":0.1,"b":19.99,"c":1e+21,"d":9007199254740992}"#
        );
        #[rustfmt::skip]
        let table = [("-0", "0"), ("-0.0e5", "0"), ("0e999999999999999999999", "0"), ("1.0", "1"),
            ("1e2", "100"), ("1e22", "1e+22"), ("5e-324", "5e-324"), ("1E-7", "1e-7"), ("-1.50", "-1.5")];
        for (input, expected) in table {
            assert_eq!(canon(input), expected);
        }
    }

    #[test]
    fn the_contracts_inexact_numbers_are_refused_naming_the_path() {
        let err = refused(r#"{"amount": 12345678901234567890}"#);
        assert_eq!(err.path, "arguments.amount");
        let message = "12345678901234567890 is not exactly representable as an IEEE-754 double: send it as a string";
        assert_eq!(err.message, message);
        assert_eq!(
            refused(r#"{"items": [1, 9007199254740993]}"#).path,
            "arguments.items[1]"
        );
        assert_eq!(refused("0.10000000000000000001").path, "arguments");
    }

    #[test]
    fn numbers_beyond_a_double_are_refused_and_quoted_short() {
        for input in [
            "1e400",
            "-1e400",
            "1e-400",
            "4.9e-324",
            "123456789012345678901234567890",
        ] {
            assert!(
                refused(input).message.contains("not exactly representable"),
                "{input}"
            );
        }
        assert!(refused(&format!("1{}", "0".repeat(500))).message.len() < 200);
    }

    #[test]
    fn duplicate_names_are_refused_at_any_depth_even_when_escaped_differently() {
        let err = refused(r#"{"a": 1, "a": 2}"#);
        assert_eq!(err.to_string(), "arguments.a: duplicate member name \"a\"");
        assert_eq!(
            refused(r#"{"a": {"b": 1, "c": 2, "b": 3}}"#).path,
            "arguments.a.b"
        );
        assert_eq!(refused(r#"{"a": 1, "\u0061": 2}"#).path, "arguments.a");
        let err = refused(r#"[{"x": 1}, {"y y": 1, "y\u0020y": 1}]"#);
        assert_eq!(err.path, r#"arguments[1]["y y"]"#);
        assert_eq!(
            canon(r#"[{"a": 1}, {"a": 2}]"#),
            r#"[{"a":1},{"a":2}]"#,
            "siblings"
        );
    }

    #[test]
    fn paths_quote_names_that_are_not_identifiers_and_truncate_long_ones() {
        let err = refused(r#"{"a b": {"c\"d": [{"x": 1e400}]}}"#);
        assert_eq!(err.path, r#"arguments["a b"]["c\"d"][0].x"#);
        let err = refused(&format!(r#"{{"{}": 1e400}}"#, "k".repeat(100)));
        assert_eq!(err.path, format!("arguments.{}", "k".repeat(64)));
    }

    #[test]
    fn order_and_whitespace_change_neither_the_canonical_text_nor_its_hash() {
        let one = canon(r#"{"b": [1, {"y": null, "x": true}], "a": "s"}"#);
        let two = canon("\r\n {\t\"a\" : \"s\" ,\"b\":[ 1 ,{\"x\":true,\n\"y\":null} ] } \n");
        assert_eq!(one, r#"{"a":"s","b":[1,{"x":true,"y":null}]}"#);
        assert_eq!((&one, sha256_hex(&one)), (&two, sha256_hex(&two)));
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex("abc"), abc);
    }

    #[test]
    fn null_is_kept_as_a_value() {
        assert_eq!(
            canon(r#"{"a": null, "b": [null]}"#),
            r#"{"a":null,"b":[null]}"#
        );
        assert_eq!(canon(" null "), "null");
    }

    #[test]
    fn nesting_to_64_levels_is_accepted_and_65_refused() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(canon(&nest(64)), nest(64));
        let err = refused(&nest(65));
        assert_eq!(err.message, "nesting deeper than 64");
        assert_eq!(err.path, format!("arguments{}", "[0]".repeat(64)));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(65), "}".repeat(65));
        assert_eq!(
            refused(&objects).path,
            format!("arguments{}", ".a".repeat(64))
        );
        // Hostile depth is refused, not a stack overflow.
        assert_eq!(
            refused(&"[".repeat(1_000_000)).message,
            "nesting deeper than 64"
        );
    }

    #[test]
    fn malformed_texts_are_refused_as_invalid_json() {
        #[rustfmt::skip]
        let table = [
            "", " ", "{", "}", "[", "]", "[1,]", r#"{"a":1,}"#, "[,1]", "{,}", "01", "-01", "00", "+1",
            ".5", "1.", "1.e5", "1e", "1e+", "-", "--1", "NaN", "Infinity", "-Infinity", "nul", "tru",
            "True", "[1 2]", r#"{"a" 1}"#, r#"{"a":}"#, "{a:1}", "{'a':1}", "'a'", "\"abc", "\"a\tb\"",
            "\"a\nb\"", "\"\u{0}\"", r#""\x""#, r#""\u12""#, r#""\u12G4""#, r#""\U0041""#, "\"\\",
            "// c\n1", "/* c */ 1", "1 2", "[1]]", "\u{feff}1", "\u{a0}1", "1\u{0}", "0x10", "1_000",
            "[1;2]", r#"{"a":1 "b":2}"#, r#"{"a":1}}"#, r#""\ud800\u12""#,
        ];
        for input in table {
            let err = refused(input);
            assert!(
                err.message.starts_with("invalid JSON: "),
                "{input:?}: {err}"
            );
        }
    }

    #[test]
    fn lone_surrogates_are_refused() {
        #[rustfmt::skip]
        let table = [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\ud800x""#, r#""\ude00\ud83d""#];
        for input in table {
            assert_eq!(
                refused(input).message,
                "unpaired surrogate in a string",
                "{input}"
            );
        }
        assert_eq!(refused(r#"{"a": ["\udfff"]}"#).path, "arguments.a[0]");
        assert_eq!(refused(r#"{"\ud800": 1}"#).path, "arguments");
        assert_eq!(canon(r#""\uD83D\uDE00""#), "\"😀\"");
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_does() {
        let input = r#""\u0000\u0001\u001F\b\t\n\f\r\u0020\u007f\/\u00e9\"\\ü""#;
        let expected = "\"\\u0000\\u0001\\u001f\\b\\t\\n\\f\\r \u{7f}/é\\\"\\\\ü\"";
        assert_eq!(canon(input), expected);
    }

    proptest! {
        #[test]
        fn any_double_round_trips_and_rusts_text_of_it_is_accepted_unless_on_a_tie(bits: u64) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            let jcs = ecmascript(x);
            prop_assert_eq!(jcs.parse::<f64>().unwrap(), x);
            prop_assert_eq!(canonicalize(&jcs, "n").unwrap(), jcs.clone());
            let rust = format!("{x:?}");
            if exact_decimal(&rust) == exact_decimal(&jcs) {
                prop_assert_eq!(canonicalize(&rust, "n").unwrap(), jcs);
            } else {
                prop_assert!(short_exact_value(x.abs()).is_some(), "{} vs {}", rust, jcs);
            }
        }

        #[test]
        fn any_string_serialized_by_serde_json_is_already_canonical(s: String) {
            let json = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(canonicalize(&json, "s").unwrap(), json);
        }
    }
}
