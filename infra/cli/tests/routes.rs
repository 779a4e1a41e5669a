//! Each function crate's exported routes, which `warden serve` mounts, are
//! exactly what `template.yaml` wires to that function in API Gateway: the
//! method routes, plus one `ANY` route per path so that a wrong method
//! reaches the function and gets its `405`.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use warden_cli::serve::{Function, route};

/// `(method, path)` of every HttpApi event, by the function's binary name.
/// A line-based reading of the template's own layout: a resource at two
/// spaces, `Binary:` under its metadata, `Path:` and `Method:` under each
/// event.
fn template_routes() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
        .unwrap();
    let mut routes: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut binary = None;
    let mut path = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if indent == 2 && line.ends_with(':') {
            binary = None;
        }
        if let Some(name) = line.strip_prefix("Binary: ") {
            binary = Some(name.to_owned());
        }
        if let Some(p) = line.strip_prefix("Path: ") {
            path = Some(p.to_owned());
        }
        if let Some(method) = line.strip_prefix("Method: ") {
            let (Some(b), Some(p)) = (&binary, path.take()) else {
                continue;
            };
            routes
                .entry(b.clone())
                .or_default()
                .insert((method.to_owned(), p));
        }
    }
    routes
}

#[test]
fn every_function_serves_exactly_the_routes_the_template_gives_it() {
    let template = template_routes();
    for (function, binary) in Function::ALL {
        let mut expected = BTreeSet::new();
        for (method, path) in function.routes() {
            expected.insert((method.to_owned(), path.to_owned()));
            expected.insert(("ANY".to_owned(), path.to_owned()));
        }
        assert_eq!(
            template.get(binary),
            Some(&expected),
            "{binary}: template.yaml and the crate's ROUTES differ"
        );
    }
    let served: Vec<&str> = Function::ALL.iter().map(|(_, b)| *b).collect();
    for binary in template.keys() {
        assert!(
            served.contains(&binary.as_str()),
            "{binary} has HTTP routes in template.yaml but warden serve does not mount it"
        );
    }
}

#[test]
fn warden_serve_sends_each_path_to_its_function_and_nothing_else() {
    assert_eq!(route("/auth/login"), Some(Function::Login));
    assert_eq!(route("/auth/sessions/01ABC"), Some(Function::Revoke));
    assert_eq!(route("/webhooks/github"), Some(Function::WebhookReceive));
    assert_eq!(route("/webhooks/a/b"), None);
    assert_eq!(route("/console"), Some(Function::Console));
    assert_eq!(route("/console/console.js"), Some(Function::Console));
    assert_eq!(route("/auth/sessions/"), None);
    assert_eq!(route("/"), None);
}
