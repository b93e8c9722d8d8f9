//! The dashboard at `/` and the API docs at `/docs`: static pages compiled
//! into the binary (nothing fetched from elsewhere, no build step). They
//! call the native API with the key the user types in; serving them needs
//! no key. Assets live under a three-segment path so that no two-segment
//! route (the open-wa EASY API, the Cloud media paths) is shadowed.

use axum::{
    Router,
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

const INDEX: &str = include_str!("assets/index.html");
const DOCS: &str = include_str!("assets/docs.html");

/// (name, content type, body)
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/docs.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dom.js"),
    ),
];

/// The pages' policy: only this origin; QR images come as data URLs.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    page(INDEX, "text/html; charset=utf-8")
}

async fn docs() -> Response {
    page(DOCS, "text/html; charset=utf-8")
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => page(body, content_type),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

pub fn routes() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/docs", get(docs))
        .route("/dashboard/assets/{file}", get(asset))
}
