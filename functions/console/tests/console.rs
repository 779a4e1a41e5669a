//! The console function, called as a function: what it serves, the
//! headers that hold the page to its security rules, and the rules its
//! assets keep that no header can enforce (no token in storage, no request
//! to another host). The page itself is driven in a real browser by
//! `infra/console.sh`.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::StatusCode;
use lambda_http::{Body, Response};
use warden::testing::{api_request, config, json_body};
use warden_console::{CONTENT_SECURITY_POLICY, SECURITY_HEADERS, handler};

const HTML: &str = include_str!("../assets/console.html");
const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");
const ICON: &str = include_str!("../assets/icon.svg");

async fn get(path: &str) -> Response<Body> {
    request("GET", path).await
}

async fn request(method: &str, path: &str) -> Response<Body> {
    handler(
        &config(),
        api_request(method, path, &[], Body::Empty, "203.0.113.9"),
    )
    .await
    .unwrap()
}

fn header<'r>(response: &'r Response<Body>, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn text(response: &Response<Body>) -> &str {
    std::str::from_utf8(response.body().as_ref()).unwrap()
}

/// Every answer, a problem included, carries every security header.
fn assert_secured(response: &Response<Body>) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(header(response, name), *value, "{name}");
    }
    assert_eq!(header(response, "cache-control"), "no-store");
    assert!(!header(response, "x-request-id").is_empty());
}

#[tokio::test]
async fn the_page_and_each_asset_are_served_with_their_type_and_headers() {
    for (path, content_type, body) in [
        ("/console", "text/html; charset=utf-8", HTML),
        (
            "/console/console.js",
            "text/javascript; charset=utf-8",
            SCRIPT,
        ),
        ("/console/console.css", "text/css; charset=utf-8", STYLE),
        ("/console/icon.svg", "image/svg+xml", ICON),
    ] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(text(&response), body, "{path}");
        assert_secured(&response);
    }
}

#[tokio::test]
async fn another_name_is_404_and_another_method_405_with_the_same_headers() {
    for path in ["/console/secrets.json", "/console/..%2Fconsole.js"] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json_body(&response)["status"], 404);
        assert_secured(&response);
    }
    let response = get("/console/a/console.js").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    for method in ["POST", "PUT", "DELETE"] {
        let response = request(method, "/console").await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(header(&response, "allow"), "GET, OPTIONS");
        assert_secured(&response);
    }
}

#[test]
fn the_policy_allows_no_inline_code_no_eval_no_framing_and_no_other_host() {
    let directives: Vec<(&str, &str)> = CONTENT_SECURITY_POLICY
        .split(';')
        .map(|d| d.trim().split_once(' ').unwrap())
        .collect();
    let value = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name} directive"))
    };
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-"));
    assert!(!CONTENT_SECURITY_POLICY.contains('*'));
    assert!(!CONTENT_SECURITY_POLICY.contains("data:"));
    assert_eq!(value("default-src"), "'none'");
    for fetching in ["script-src", "style-src", "img-src", "connect-src"] {
        assert_eq!(value(fetching), "'self'", "{fetching}");
    }
    assert_eq!(value("frame-ancestors"), "'none'");
    assert_eq!(value("base-uri"), "'none'");
    assert_eq!(value("form-action"), "'none'");
    assert_eq!(value("require-trusted-types-for"), "'script'");
    assert_eq!(value("trusted-types"), "'none'");
}

#[test]
fn the_page_has_no_inline_script_style_or_handler_and_loads_only_its_own_assets() {
    let lower = HTML.to_ascii_lowercase();
    // Each <script> names its source; no <style> element, no style or
    // on* attribute (the CSP would block them: a test names the mistake).
    for tag in lower.match_indices("<script").map(|(i, _)| &lower[i..]) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src=\"/console/"), "inline script: {open}");
    }
    assert!(!lower.contains("<style"));
    assert!(!lower.contains(" style="));
    assert!(!lower.contains("javascript:"));
    let handler_attribute = lower
        .split(|c: char| c.is_whitespace())
        .find(|word| word.starts_with("on") && word.contains('='));
    assert_eq!(handler_attribute, None);
    // Every src and href is one of the console's own paths or a fragment.
    for attribute in ["src=\"", "href=\""] {
        for (i, _) in lower.match_indices(attribute) {
            let url = &lower[i + attribute.len()..];
            assert!(
                url.starts_with("/console/") || url.starts_with('#'),
                "{attribute}{}",
                &url[..url.find('"').unwrap()]
            );
        }
    }
}

#[test]
fn the_script_keeps_no_token_makes_no_markup_and_calls_no_other_host() {
    // Storage of any kind would outlive the tab; cookies would be sent
    // by the browser on its own (a CSRF surface).
    for forbidden in [
        "localStorage",
        "sessionStorage",
        "indexedDB",
        "document.cookie",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute('style'",
        ".style.",
        "credentials: 'include'",
    ] {
        assert!(!SCRIPT.contains(forbidden), "console.js uses {forbidden}");
    }
    assert!(SCRIPT.contains("credentials: 'omit'"));
    // The one absolute URL is the SVG namespace, a name and not a request.
    for (i, _) in SCRIPT.match_indices("http") {
        assert!(
            SCRIPT[i..].starts_with("http://www.w3.org/2000/svg'"),
            "console.js names a URL: {}",
            &SCRIPT[i..(i + 40).min(SCRIPT.len())]
        );
    }
    for asset in [STYLE, ICON] {
        assert!(!asset.contains("@import"));
        assert!(!asset.contains("url("));
    }
    assert!(!STYLE.contains("http"));
}
