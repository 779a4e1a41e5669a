//! US state codes and the state of a free-text shipping address.
//!
//! [`StateCode`] is one of the 50 states and DC by its two-letter postal
//! code; [`read`] finds the state a `ship_to` names and the rule that
//! found it, by the action contract's rules only (README, "For tax
//! users"), and otherwise says it does not know: an address is never
//! guessed.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, Unexpected};

/// The 50 states and DC: postal code and full name, in code order.
///
/// Territories (PR, GU, VI, AS, MP) and military codes (AA, AE, AP) are not
/// states for the contract, so an address in one of them is unparsed.
pub const STATES: [(&str, &str); 51] = [
    ("AK", "Alaska"),
    ("AL", "Alabama"),
    ("AR", "Arkansas"),
    ("AZ", "Arizona"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DC", "District of Columbia"),
    ("DE", "Delaware"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("IA", "Iowa"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("MA", "Massachusetts"),
    ("MD", "Maryland"),
    ("ME", "Maine"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MO", "Missouri"),
    ("MS", "Mississippi"),
    ("MT", "Montana"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("NE", "Nebraska"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NV", "Nevada"),
    ("NY", "New York"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VA", "Virginia"),
    ("VT", "Vermont"),
    ("WA", "Washington"),
    ("WI", "Wisconsin"),
    ("WV", "West Virginia"),
    ("WY", "Wyoming"),
];

/// The ISO 3166-1 alpha-2 codes officially assigned (249), sorted: a
/// sale's `country`. A user-assigned code (`XK` for Kosovo, say) is not
/// one, so a typo cannot move a US sale into `foreign`.
pub const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// One of the 50 states or DC, by its postal code (upper case).
///
/// As an input field it accepts exactly the upper-case code (`"CA"`, not
/// `"ca"` or `"California"`), like the other code fields of the contract;
/// only free-text addresses are read case-insensitively ([`read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateCode(usize);

impl StateCode {
    /// The state whose code is `code`, exactly (upper case).
    pub fn from_code(code: &str) -> Option<Self> {
        STATES.iter().position(|(c, _)| *c == code).map(StateCode)
    }

    /// The two-letter code.
    pub fn code(self) -> &'static str {
        STATES.get(self.0).map_or("", |(c, _)| c)
    }

    /// The state's full name.
    pub fn name(self) -> &'static str {
        STATES.get(self.0).map_or("", |(_, n)| n)
    }
}

impl fmt::Display for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for StateCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for StateCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StateCode::from_code(&s).ok_or_else(|| {
            de::Error::invalid_value(
                Unexpected::Str(&s),
                &"the upper-case postal code of one of the 50 states or DC, e.g. \"CA\"",
            )
        })
    }
}

/// Each two-letter code's place in [`STATES`], by its letters (`AA` first,
/// `ZZ` last; 255 where no state has the code): a code is looked up in
/// one step, since every address is read with it.
const CODE_INDEX: [u8; 26 * 26] = {
    let mut index = [u8::MAX; 26 * 26];
    let mut i = 0;
    while i < STATES.len() {
        let code = STATES[i].0.as_bytes();
        index[(code[0] - b'A') as usize * 26 + (code[1] - b'A') as usize] = i as u8;
        i += 1;
    }
    index
};

/// The state a code names, ignoring case (`"ca"`, `"Ca"`, `"CA"`).
fn code_ignoring_case(word: &str) -> Option<StateCode> {
    let &[a, b] = word.as_bytes() else {
        return None;
    };
    let letter = |c: u8| {
        let c = c.to_ascii_uppercase();
        c.is_ascii_uppercase().then(|| usize::from(c - b'A'))
    };
    let i = *CODE_INDEX.get(letter(a)? * 26 + letter(b)?)?;
    (usize::from(i) < STATES.len()).then_some(StateCode(usize::from(i)))
}

/// Whether `word` is a ZIP code: five ASCII digits, or ZIP+4
/// (`94105-1234`).
fn is_zip(word: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match word.split_once('-') {
        None => digits(word, 5),
        Some((zip, plus4)) => digits(zip, 5) && digits(plus4, 4),
    }
}

/// The state whose full name is `part`, ignoring case and the amount of
/// whitespace between and around its words (`"new  york "` is New York).
fn name_ignoring_case(part: &str) -> Option<StateCode> {
    let words: Vec<&str> = part.split_whitespace().collect();
    let part = words.join(" ");
    STATES
        .iter()
        .position(|(_, n)| n.eq_ignore_ascii_case(&part))
        .map(StateCode)
}

/// Which of the contract's rules found an address's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A state code right before a ZIP.
    BeforeZip,
    /// A state code as the last word, with no ZIP. Unless the text ended
    /// with `USA` or the like (`us_named`), the address is only assumed to
    /// be in the US (`..., ON M5X 1A9, CA` is Toronto, and `10117 Berlin,
    /// DE` is Germany).
    LastWord {
        /// Whether a trailing `USA`, `US`, `United States` or `United
        /// States of America` said the address is in the US.
        us_named: bool,
    },
    /// The whole last comma-separated part is a state's full name.
    Name,
}

/// The country names a US address may end with, dropped before the rules
/// are applied (longest first, so `United States of America` is not read
/// as ending in `America`).
const US_SUFFIXES: [&str; 4] = ["united states of america", "united states", "usa", "us"];

/// Whether `c` separates words (whitespace or a comma).
#[inline]
fn separates(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// `ship_to` without a trailing `USA`, `US`, `United States` or `United
/// States of America` (case ignored, a whole word or words), nor the
/// separators around it, and whether there was one.
fn without_us(ship_to: &str) -> (&str, bool) {
    let text = ship_to.trim_end_matches(separates);
    // Every suffix ends in `s` or `a`: most addresses (a ZIP, a state) are
    // passed at once.
    if !text.ends_with(['s', 'S', 'a', 'A']) {
        return (text, false);
    }
    for suffix in US_SUFFIXES {
        let Some(start) = text.len().checked_sub(suffix.len()) else {
            continue;
        };
        let (Some(before), Some(end)) = (text.get(..start), text.get(start..)) else {
            continue;
        };
        if end.eq_ignore_ascii_case(suffix) && before.chars().next_back().is_none_or(separates) {
            return (before.trim_end_matches(separates), true);
        }
    }
    (text, false)
}

/// The state a free-text shipping address names and the rule that found
/// it, or `None` when the rules do not say: never a guess.
///
/// A trailing `USA`, `US`, `United States` or `United States of America`
/// is dropped first. Then, in order of precedence (the action contract,
/// `nexus_check`; README, "For tax users"):
/// 1. a state code right before a ZIP (`..., CA 94105`, `CA 94105-1234`):
///    a word that is a code followed by a word that is a ZIP; when the
///    address has several such pairs, the last one (a US address ends with
///    the state and ZIP, so what follows them is a country or a note);
/// 2. else a state code as the last word ([`Found::LastWord`]: only
///    assumed to be a US address, unless the text named the US);
/// 3. else the whole last comma-separated part, matched against the full
///    state names (`Georgia`, `new york`, `West Virginia`).
///
/// Words are separated by whitespace and commas, so `Austin,TX` ends with
/// the word `TX`; any other character (a period in `D.C.`) is part of its
/// word. Codes and names are matched ignoring case; only the 50 states and
/// DC are recognised.
pub fn read(ship_to: &str) -> Option<(StateCode, Found)> {
    let (text, us_named) = without_us(ship_to);
    let words: Vec<&str> = text.split(separates).filter(|w| !w.is_empty()).collect();
    let before_zip = words.windows(2).rev().find_map(|pair| match pair {
        [code, zip] if is_zip(zip) => code_ignoring_case(code),
        _ => None,
    });
    if let Some(state) = before_zip {
        return Some((state, Found::BeforeZip));
    }
    if let Some(last) = words.last().and_then(|w| code_ignoring_case(w)) {
        return Some((last, Found::LastWord { us_named }));
    }
    text.rsplit(',')
        .next()
        .and_then(name_ignoring_case)
        .map(|state| (state, Found::Name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(ship_to: &str) -> Option<&'static str> {
        read(ship_to).map(|(state, _)| state.code())
    }

    /// Asserts that each address reads as its state's code (`None`:
    /// unparsed).
    fn reads(cases: &[(&str, Option<&str>)]) {
        for &(ship_to, expected) in cases {
            assert_eq!(code(ship_to), expected, "{ship_to:?}");
        }
    }

    #[test]
    fn the_table_has_the_fifty_states_and_dc_once_each_in_code_order() {
        assert_eq!(STATES.len(), 51);
        assert!(STATES.windows(2).all(|w| w[0].0 < w[1].0), "codes ascend");
        for (c, n) in STATES {
            assert!(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
            let mut names = STATES
                .iter()
                .filter(|(_, other)| other.eq_ignore_ascii_case(n));
            assert!(names.next().is_some() && names.next().is_none(), "{n}");
            let s = StateCode::from_code(c).expect("a state");
            assert_eq!((s.code(), s.name()), (c, n));
        }
        assert!(StateCode::from_code("ca").is_none());
        assert!(StateCode::from_code("PR").is_none());
    }

    #[test]
    fn a_code_is_found_in_one_step_as_a_scan_would_find_it() {
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).expect("ASCII");
                let scanned = STATES.iter().position(|(c, _)| *c == code).map(StateCode);
                assert_eq!(code_ignoring_case(&code), scanned, "{code}");
                assert_eq!(code_ignoring_case(&code.to_lowercase()), scanned, "{code}");
            }
        }
        for not in ["C", "CAL", "C1", "é", "Ç", "@A", "[A"] {
            assert_eq!(code_ignoring_case(not), None, "{not}");
        }
    }

    #[test]
    fn a_code_right_before_a_zip_comes_first() {
        reads(&[
            ("1 Market St, San Francisco, CA 94105", Some("CA")),
            // ZIP+4.
            ("1 Market St, San Francisco, CA 94105-1234", Some("CA")),
            // Lower case and mixed case codes.
            ("1 market st, san francisco, ca 94105", Some("CA")),
            ("350 5th Ave, New York, Ny 10118", Some("NY")),
            // Without commas, and with extra whitespace.
            ("350 5th Ave New York NY   10118", Some("NY")),
            // DC with a ZIP, though "Washington" is also a state's name.
            ("1600 Pennsylvania Ave NW, Washington, DC 20500", Some("DC")),
            ("Washington, DC 20001", Some("DC")),
            // A trailing country or note after the state and ZIP: rule 1 still holds.
            ("1 Market St, San Francisco, CA 94105, USA", Some("CA")),
            // Rule 1 outranks a code as the last word: the ZIP pair says NY.
            ("Buffalo, NY 14201, attn OR", Some("NY")),
            // Rule 1 outranks a state name as the last part.
            ("Portland, ME 04101, Oregon", Some("ME")),
            // Several pairs: the last one.
            ("c/o NY 10001 hub, Austin, TX 78701", Some("TX")),
            // A pair whose code is not a state is no pair; the earlier one holds.
            ("Austin, TX 78701, XX 12345", Some("TX")),
        ]);
    }

    #[test]
    fn a_zip_is_exactly_five_digits_or_zip_plus_four() {
        assert!(is_zip("94105"));
        assert!(is_zip("94105-1234"));
        for not in [
            "9410",
            "941051",
            "94105-123",
            "94105-12345",
            "94105-",
            "-1234",
            "9410a",
            "９４１０５",
        ] {
            assert!(!is_zip(not), "{not}");
        }
        // "CA 9410" is not rule 1, and the last word is no code: unparsed.
        assert_eq!(code("San Francisco, CA 9410"), None);
    }

    #[test]
    fn else_a_code_as_the_last_word() {
        reads(&[
            ("Austin, TX", Some("TX")),
            ("Austin, tx", Some("TX")),
            ("Austin TX", Some("TX")),
            ("Austin,TX", Some("TX")),
            ("Austin, TX,", Some("TX")),
            ("  Atlanta, GA \n", Some("GA")),
            ("TX", Some("TX")),
            // A two-letter last word that is not a state: unparsed.
            ("Paris, FR", None),
            ("London, UK", None),
            // Territories are not states.
            ("San Juan, PR 00901", None),
            ("Hagatna, GU", None),
            // Punctuation is part of the word: "TX." is no code, "D.C." neither.
            ("Austin, TX.", None),
            ("Washington, D.C.", None),
            ("Washington, D.C. 20001", None),
        ]);
    }

    #[test]
    fn else_the_last_part_as_a_full_state_name() {
        reads(&[
            ("Atlanta, Georgia", Some("GA")),
            ("Buffalo, new york", Some("NY")),
            ("Buffalo, NEW   YORK  ", Some("NY")),
            ("Charleston, West Virginia", Some("WV")),
            ("Richmond, Virginia", Some("VA")),
            ("Seattle, Washington", Some("WA")),
            ("Washington", Some("WA")),
            ("district of columbia", Some("DC")),
            // The whole part, not a word of it.
            ("Atlanta Georgia", None),
            ("New York City", None),
            ("Morgantown, West  Virginia University", None),
            // Only the last part: an earlier state name says nothing.
            ("Georgia Ave, Springfield", None),
            // A trailing US country name is dropped first (revision 2).
            ("Atlanta, Georgia, USA", Some("GA")),
            ("Austin, TX, USA", Some("TX")),
            ("Austin, Texas, United States", Some("TX")),
            ("Austin TX us", Some("TX")),
            ("Buffalo, New York, United States of America ", Some("NY")),
            ("Portland, OR, usa,", Some("OR")),
            // Only a whole word: "Texas US" is no suffix of "TexasUS".
            ("Austin, TexasUS", None),
            // A foreign country stays: unparsed.
            ("Toronto, Ontario, Canada", None),
        ]);
        // "Georgia" and "GA" name the same state.
        assert_eq!(code("Atlanta, Georgia"), code("Atlanta, GA"));
    }

    #[test]
    fn a_state_from_the_last_word_alone_is_only_assumed_to_be_in_the_us() {
        let found = |ship_to: &str| read(ship_to).map(|(s, f)| (s.code(), f));
        // Toronto and Berlin read as California and Delaware by the last-word
        // rule: the reading says so, so the check lists them as assumed.
        let assumed = Found::LastWord { us_named: false };
        assert_eq!(found("Toronto, ON M5X 1A9, CA"), Some(("CA", assumed)));
        assert_eq!(found("10117 Berlin, DE"), Some(("DE", assumed)));
        assert_eq!(
            found("1 Market St, San Francisco, CA 94105"),
            Some(("CA", Found::BeforeZip))
        );
        assert_eq!(found("Atlanta, Georgia, USA"), Some(("GA", Found::Name)));
        // "USA" says where it is: the last word is then no assumption.
        assert_eq!(
            found("Austin, TX, USA"),
            Some(("TX", Found::LastWord { us_named: true }))
        );
        assert_eq!(found("Austin, TX"), Some(("TX", assumed)));
        assert_eq!(found("USA"), None);
    }

    #[test]
    fn anything_else_is_unparsed() {
        for unparsed in [
            "",
            " ",
            ",",
            "Somewhere",
            "12345",
            "CA-94105",
            "Californie",
            "Kalifornien, DE-10115 Berlin",
            "東京都, 日本",
            "ÇA 94105",
        ] {
            assert_eq!(code(unparsed), None, "{unparsed:?}");
        }
    }
}
