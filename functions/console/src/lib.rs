//! The `console` Lambda: `GET /console`, the web page where people approve
//! and reject proposals, stop agents and read the audit log, and its three
//! assets under `GET /console/{proxy+}`.
//!
//! The page is static: one HTML document, one script and one style sheet,
//! compiled into the binary. Everything it shows it reads from the JSON API
//! on the same origin with `Authorization: Bearer` (API.md "Admin
//! endpoints"), holding its tokens in memory only; this function reads no
//! table, secret or key, and its role grants nothing but its logs.
//!
//! Every answer carries the headers of [`SECURITY_HEADERS`]: a strict
//! Content-Security-Policy (scripts and styles from this origin only, no
//! inline code of either, no `eval`, Trusted Types enforced so that no
//! string can reach an HTML sink, no framing, requests to this origin
//! only), `nosniff`, `no-referrer`, and `no-store` as every Warden answer.

use http::{HeaderName, HeaderValue};
use lambda_http::{Body, Request, Response};
use warden::Error;
use warden::config::Config;
use warden::http::{Route, path, resolve, respond};

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /console`: the page.
    Page,
    /// `GET /console/{proxy+}`: its script, style sheet and icon.
    Asset,
}

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("GET", "/console", Endpoint::Page),
    // API Gateway's greedy parameter, as template.yaml routes it; here it
    // matches one segment, which is all an asset's name is.
    Route::to("GET", "/console/{proxy+}", Endpoint::Asset),
];

/// The page's Content-Security-Policy. `default-src 'none'` refuses every
/// kind of load not named after it; scripts, styles, images and `fetch`
/// may reach this origin only, and no inline script, inline style or
/// `eval` runs. Trusted Types with no policy make every HTML sink
/// (`innerHTML`, `outerHTML`, `document.write`, ...) throw: the script
/// builds the page from DOM nodes and text only, and this keeps it so.
/// No form posts anywhere (the script sends every request itself), no
/// `<base>` can move relative URLs, and no site may frame the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'";

/// The headers every console answer carries, page and assets alike (a
/// problem answer included: it is JSON, but a browser may still be shown it).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    // For browsers that predate `frame-ancestors`.
    ("x-frame-options", "DENY"),
    // No other window keeps a handle on the console's, and no other site
    // may embed its assets.
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    // The page uses none of these; nothing it loads may either.
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    ),
];

/// An asset: its name under `/console/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// The page, then its assets. Compiled in: nothing is read at run time.
const PAGE: Asset = Asset {
    name: "console",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../assets/console.html"),
};

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/console.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../assets/icon.svg"),
    },
];

/// Answers one request; every outcome is a response.
pub async fn handler(config: &Config, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let mut response = respond(&req, config, async |_, respond| match asset(&req) {
        Ok(asset) => respond.document(asset.content_type, asset.body),
        Err(e) => respond.problem(&e),
    })
    .await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Ok(response)
}

/// The asset a request names: `404` for any other name under `/console/`,
/// `405` with `Allow` for another method.
fn asset(req: &Request) -> Result<&'static Asset, Error> {
    let (route, params) = resolve(ROUTES, req.method(), path(req))?;
    match route.endpoint {
        Endpoint::Page => Ok(&PAGE),
        Endpoint::Asset => {
            let name = params.get("proxy+")?;
            ASSETS
                .iter()
                .find(|a| a.name == name)
                .ok_or_else(|| Error::NotFound(format!("the console has no asset {name:?}")))
        }
    }
}
