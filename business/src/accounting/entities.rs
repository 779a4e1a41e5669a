//! `resolve_entities`: customer records grouped by normalised email into
//! entities, and the merge plan that folds the duplicates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fields::{self, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// Mail providers that deliver `local+tag@domain` to `local@domain`.
pub const PLUS_TAG_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "fastmail.com",
    "proton.me",
    "protonmail.com",
];

/// Normalises an email address so that addresses delivered to one mailbox
/// compare equal, or says why it is not an address.
///
/// Surrounding whitespace is trimmed and the whole address lower-cased; it
/// must then have exactly one `@`, a non-empty local part and a domain that
/// contains a `.`. For [`PLUS_TAG_PROVIDERS`] everything from the first `+`
/// of the local part is dropped; for `gmail.com` (and `googlemail.com`, the
/// same mailboxes, which becomes `gmail.com`) the local part's dots are
/// dropped too. A local part that this leaves empty is refused.
pub fn normalise_email(raw: &str) -> Result<String, String> {
    let address = raw.trim().to_lowercase();
    let Some((local, domain)) = address.split_once('@') else {
        return Err("an email address needs an '@'".to_owned());
    };
    if domain.contains('@') {
        return Err("an email address has exactly one '@'".to_owned());
    }
    if local.is_empty() {
        return Err("the part before the '@' is empty".to_owned());
    }
    if !domain.contains('.') {
        return Err(format!("the domain {domain:?} has no '.'"));
    }
    let local = if PLUS_TAG_PROVIDERS.contains(&domain) {
        local.split_once('+').map_or(local, |(before, _)| before)
    } else {
        local
    };
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_owned(), domain),
    };
    if local.is_empty() {
        return Err(format!(
            "the part before the '@' is empty once {domain}'s +tag and dots are dropped"
        ));
    }
    Ok(format!("{local}@{domain}"))
}

/// `resolve_entities`: customer records grouped by normalised email into
/// entities, and the merges that fold duplicates into one survivor.
///
/// Entities are ordered by their smallest record id (string order), the
/// records of an entity by id; an entity's id is its smallest record id.
/// Only entities of more than one record have a merge: the smallest id
/// survives, the others (ascending) merge into it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveEntities {
    records: Vec<CustomerRecord>,
}

/// A customer record from some source system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerRecord {
    id: Text,
    #[serde(default, deserialize_with = "fields::optional_text")]
    source: Option<Text>,
    #[serde(default, deserialize_with = "fields::optional_text")]
    name: Option<Text>,
    email: String,
}

/// A record as listed in its entity.
#[derive(Debug, Serialize)]
struct RecordRef<'a> {
    id: &'a Text,
    source: Option<&'a str>,
    name: Option<&'a str>,
}

/// One resolved entity.
#[derive(Debug, Serialize)]
struct Entity<'a> {
    entity_id: &'a Text,
    email: String,
    records: Vec<RecordRef<'a>>,
}

/// One merge of the plan.
#[derive(Debug, Serialize)]
struct Merge<'a> {
    survivor: &'a Text,
    merge: Vec<&'a Text>,
}

/// `resolve_entities`'s result.
#[derive(Debug, Serialize)]
struct Resolution<'a> {
    entities: Vec<Entity<'a>>,
    merges: Vec<Merge<'a>>,
    record_count: usize,
    entity_count: usize,
}

impl BusinessAction for ResolveEntities {
    /// Refuses no records at all and a repeated record id.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::non_empty(&self.records, "records", "record")?;
        fields::unique_by(&self.records, "records", "id", |r| &r.id)
    }

    /// The resolution; the first record whose email is not an address is
    /// refused.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut by_email: BTreeMap<String, Vec<&CustomerRecord>> = BTreeMap::new();
        for (i, record) in self.records.iter().enumerate() {
            let email = normalise_email(&record.email)
                .map_err(|reason| InvalidInput::new(format!("records[{i}].email"), reason))?;
            by_email.entry(email).or_default().push(record);
        }
        let mut entities: Vec<Entity<'_>> = Vec::with_capacity(by_email.len());
        for (email, mut records) in by_email {
            records.sort_by(|a, b| a.id.cmp(&b.id));
            let Some(first) = records.first() else {
                continue;
            };
            entities.push(Entity {
                entity_id: &first.id,
                email,
                records: records
                    .iter()
                    .map(|r| RecordRef {
                        id: &r.id,
                        source: r.source.as_ref().map(Text::as_str),
                        name: r.name.as_ref().map(Text::as_str),
                    })
                    .collect(),
            });
        }
        // Ids are unique, so no two entities share a smallest id.
        entities.sort_by(|a, b| a.entity_id.cmp(b.entity_id));
        let merges = entities
            .iter()
            .filter(|e| e.records.len() > 1)
            .map(|e| Merge {
                survivor: e.entity_id,
                merge: e.records.iter().skip(1).map(|r| r.id).collect(),
            })
            .collect();
        Ok(Resolution {
            record_count: self.records.len(),
            entity_count: entities.len(),
            entities,
            merges,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::test_support::*;
    use std::collections::BTreeSet;

    use super::normalise_email;

    fn resolve(input: Value) -> Value {
        result("resolve_entities", input)
    }

    #[test]
    fn resolve_entities_groups_records_by_normalised_email_into_a_merge_plan() {
        let input = json!({"records": [
            {"id": "r-3", "source": "crm", "name": "Ann", "email": " Ann+news@Gmail.com "},
            {"id": "r-1", "source": "shop", "name": "Ann L.", "email": "a.n.n@googlemail.com"},
            {"id": "r-2", "source": "crm", "name": "Bob", "email": "bob@example.org"},
            {"id": "r-0", "email": "ANN@gmail.com", "source": null},
            {"id": "r-4", "source": "billing", "email": "Bob@Example.org"},
        ]});
        // ann: " Ann+news@Gmail.com " -> trim, lower -> "ann+news@gmail.com" -> drop +news -> "ann@gmail.com";
        //      "a.n.n@googlemail.com" -> drop dots, googlemail -> gmail -> "ann@gmail.com";
        //      "ANN@gmail.com" -> "ann@gmail.com". Records r-0, r-1, r-3; smallest r-0.
        // bob: "bob@example.org" twice. Records r-2, r-4; smallest r-2.
        // Entities by smallest id: r-0 < r-2. 5 records, 2 entities.
        assert_eq!(
            resolve(input),
            json!({
                "entities": [
                    {"entity_id": "r-0", "email": "ann@gmail.com", "records": [
                        {"id": "r-0", "source": null, "name": null},
                        {"id": "r-1", "source": "shop", "name": "Ann L."},
                        {"id": "r-3", "source": "crm", "name": "Ann"},
                    ]},
                    {"entity_id": "r-2", "email": "bob@example.org", "records": [
                        {"id": "r-2", "source": "crm", "name": "Bob"},
                        {"id": "r-4", "source": "billing", "name": null},
                    ]},
                ],
                "merges": [
                    {"survivor": "r-0", "merge": ["r-1", "r-3"]},
                    {"survivor": "r-2", "merge": ["r-4"]},
                ],
                "record_count": 5,
                "entity_count": 2,
            })
        );
    }

    #[test]
    fn resolve_entities_with_one_record_has_one_entity_and_no_merge() {
        // Blank optional text is no text: `source` and `name` are null.
        let input =
            json!({"records": [{"id": "only", "email": "x@y.z", "source": " ", "name": ""}]});
        assert_eq!(
            resolve(input.clone()),
            json!({
                "entities": [{"entity_id": "only", "email": "x@y.z",
                              "records": [{"id": "only", "source": null, "name": null}]}],
                "merges": [],
                "record_count": 1,
                "entity_count": 1,
            })
        );
        // A field the action does not define is refused, naming it.
        let mut typo = input;
        typo["records"][0]["emial"] = json!("x@y.z");
        assert_eq!(
            invalid_field("resolve_entities", typo),
            "input.records[0].emial"
        );
    }

    #[test]
    fn resolve_entities_orders_entities_and_ids_in_string_order() {
        // String order, not numeric: "r-10" < "r-2" < "r-9".
        let input = json!({"records": [
            {"id": "r-9", "email": "a@x.com"},
            {"id": "r-2", "email": "b@x.com"},
            {"id": "r-10", "email": "a@x.com"},
        ]});
        let r = resolve(input);
        assert_eq!(r["entities"][0]["entity_id"], "r-10");
        assert_eq!(r["entities"][1]["entity_id"], "r-2");
        assert_eq!(r["merges"], json!([{"survivor": "r-10", "merge": ["r-9"]}]));
    }

    #[test]
    fn gmail_folds_dots_and_tags_other_providers_fold_only_tags_and_unknown_ones_neither() {
        let cases = [
            // gmail: +tag and dots dropped.
            ("J.Doe+Shop.Tag@GMAIL.com", "jdoe@gmail.com"),
            // googlemail is gmail.
            ("j.doe@googlemail.com", "jdoe@gmail.com"),
            // Only from the first '+'.
            ("a+b+c@gmail.com", "a@gmail.com"),
            // outlook drops the +tag but keeps dots.
            ("j.doe+x@outlook.com", "j.doe@outlook.com"),
            ("j.doe+x@proton.me", "j.doe@proton.me"),
            ("j.doe+x@icloud.com", "j.doe@icloud.com"),
            // An unknown provider keeps both.
            ("j.doe+x@example.com", "j.doe+x@example.com"),
            // A subdomain of gmail.com is another domain.
            ("j.doe+x@mail.gmail.com", "j.doe+x@mail.gmail.com"),
            // Whitespace around is trimmed (tabs and newlines too).
            ("\t a@b.co \n", "a@b.co"),
        ];
        for (raw, normal) in cases {
            assert_eq!(normalise_email(raw).as_deref(), Ok(normal), "{raw}");
        }
    }

    #[test]
    fn resolve_entities_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"id": "r-1", "email": "a@b.co"});
        let cases = [
            (json!({"records": []}), "input.records"),
            (json!({}), "input.records"),
            (
                json!({"records": [ok, {"id": "r-1", "email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [ok, {"email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [ok, {"id": "r-2"}]}),
                "input.records[1].email",
            ),
            (
                json!({"records": [ok, {"id": "r-2", "email": null}]}),
                "input.records[1].email",
            ),
            (
                json!({"records": [ok, {"id": 2, "email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [{"id": "", "email": "c@d.co"}]}),
                "input.records[0].id",
            ),
            (
                json!({"records": [{"id": "r", "email": "c@d.co", "name": 3}]}),
                "input.records[0].name",
            ),
        ];
        invalid_fields("resolve_entities", cases);
        for bad in [
            "no-at-sign.com",
            "two@@signs.com",
            "a@b@c.com",
            "@example.com",
            "   @example.com",
            "a@localhost",
            "a@",
            "",
            // Nothing left of the local part once gmail's +tag and dots go.
            "+tag@gmail.com",
            "...@gmail.com",
        ] {
            let input = json!({"records": [ok, {"id": "r-2", "email": bad}]});
            assert_eq!(
                invalid_field("resolve_entities", input),
                "input.records[1].email",
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_record_is_in_exactly_one_entity_and_merges_cover_the_duplicates(
            records in proptest::collection::btree_map(
                "[a-z0-9-]{1,6}",
                (prop::sample::select(vec!["ann", "a.nn", "ann+x", "bob", "Bob", "b.ob+y"]),
                 prop::sample::select(vec!["gmail.com", "googlemail.com", "outlook.com", "example.com"])),
                1..20,
            ),
        ) {
            let input: Vec<Value> = records.iter()
                .map(|(id, (local, domain))| json!({"id": id, "email": format!("{local}@{domain}")}))
                .collect();
            let r = resolve(json!({"records": input}));
            let entities = r["entities"].as_array().expect("entities is a list");

            let mut seen = BTreeSet::new();
            let mut previous: Option<String> = None;
            for e in entities {
                let ids: Vec<String> = e["records"].as_array().expect("records is a list").iter()
                    .map(|rec| rec["id"].as_str().expect("an id").to_owned()).collect();
                prop_assert!(!ids.is_empty());
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
                prop_assert_eq!(e["entity_id"].as_str(), Some(ids[0].as_str()));
                if let Some(p) = &previous {
                    prop_assert!(p < &ids[0], "entities ascend by smallest id");
                }
                previous = Some(ids[0].clone());
                for id in ids {
                    prop_assert!(seen.insert(id), "a record is in one entity only");
                }
            }
            let all: BTreeSet<String> = records.keys().cloned().collect();
            prop_assert_eq!(&seen, &all);
            prop_assert!(entities.len() <= records.len());
            prop_assert_eq!(r["entity_count"].as_u64(), Some(entities.len() as u64));
            prop_assert_eq!(r["record_count"].as_u64(), Some(records.len() as u64));

            // Merges fold away exactly the records beyond one per entity.
            let merged: usize = r["merges"].as_array().expect("merges is a list").iter()
                .map(|m| m["merge"].as_array().map_or(0, Vec::len)).sum();
            prop_assert_eq!(merged + entities.len(), records.len());
        }

        #[test]
        fn normalising_twice_changes_nothing(local in "[a-zA-Z0-9.+]{1,12}", domain in prop::sample::select(vec![
            "gmail.com", "googlemail.com", "outlook.com", "example.com", "Fastmail.com",
        ])) {
            if let Ok(once) = normalise_email(&format!("{local}@{domain}")) {
                prop_assert_eq!(normalise_email(&once), Ok(once.clone()));
            }
        }
    }
}
