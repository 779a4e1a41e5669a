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
