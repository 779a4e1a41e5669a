//! Attribute helpers shared by the DynamoDB modules. Each domain module
//! converts its own records with these; a malformed item is an error, never
//! a panic.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::{Error, Result};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A list of strings, order kept (string sets cannot be empty or ordered).
pub fn list<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> AttributeValue {
    AttributeValue::L(
        values
            .into_iter()
            .map(|v| AttributeValue::S(v.into()))
            .collect(),
    )
}

/// The error of an item whose attribute `name` is missing or malformed.
pub fn corrupt(name: &str) -> Error {
    Error::internal(format!(
        "stored item has a missing or malformed attribute {name:?}"
    ))
}

/// A required string attribute.
pub fn get_s(item: &Item, name: &str) -> Result<String> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt(name))
}

/// An optional string attribute.
pub fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A required number attribute.
pub fn get_n<T: FromStr>(item: &Item, name: &str) -> Result<T> {
    get_opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

/// An optional number attribute; present but malformed is an error.
pub fn get_opt_n<T: FromStr>(item: &Item, name: &str) -> Result<Option<T>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| corrupt(name)),
    }
}

/// A list of strings (missing means empty).
pub fn get_list(item: &Item, name: &str) -> Result<Vec<String>> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt(name)))
            .collect(),
        Some(_) => Err(corrupt(name)),
    }
}

/// A required string attribute read through `parse`: a value `parse`
/// refuses (an enum name this build does not know, say) is a corrupt item,
/// never defaulted to something else.
pub fn get_parsed<T, E>(
    item: &Item,
    name: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> Result<T> {
    parse(&get_s(item, name)?).map_err(|_| corrupt(name))
}

/// A required boolean attribute.
pub fn get_bool(item: &Item, name: &str) -> Result<bool> {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .ok_or_else(|| corrupt(name))
}

/// A JSON value, kept as its compact text in a string attribute, so any
/// JSON reads back as it was written: a map attribute would normalise
/// numbers (`1.0` reads back as `1`) and refuse nesting deeper than 32
/// levels.
pub fn json(value: &serde_json::Value) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// A required JSON attribute written by [`json`].
pub fn get_json(item: &Item, name: &str) -> Result<serde_json::Value> {
    serde_json::from_str(&get_s(item, name)?).map_err(|_| corrupt(name))
}

/// An optional JSON attribute written by [`json`]; present but malformed
/// is an error.
pub fn get_opt_json(item: &Item, name: &str) -> Result<Option<serde_json::Value>> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => get_json(item, name).map(Some),
    }
}
