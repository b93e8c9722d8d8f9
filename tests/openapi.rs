//! The OpenAPI document against the router's source: every route the
//! router declares (`.route("path", get(..).post(..))` in src/api) is in
//! `/openapi.json` with each of its methods, and every documented path is a
//! route. Pages for people (the dashboard, /docs) are not API routes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Served to browsers, not API: not in the document.
const PAGES: &[&str] = &["/", "/docs", "/dashboard/assets/{file}"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text of a call's arguments: from after `(` to its matching `)`.
fn balanced(s: &str) -> &str {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// path → methods named in its route (empty: a method router built elsewhere).
fn declared_routes() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api"),
        &mut files,
    );
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for (i, _) in src.match_indices(".route(") {
            let args = balanced(&src[i + ".route(".len()..]);
            let args = args.trim_start();
            let Some(rest) = args.strip_prefix('"') else {
                panic!(
                    "{}: a route whose path is not a literal: {args}",
                    f.display()
                );
            };
            let path = &rest[..rest.find('"').unwrap()];
            let handler = &rest[path.len() + 1..];
            let methods = out.entry(path.to_string()).or_default();
            for m in ["get", "post", "put", "delete", "patch"] {
                let word = |at: usize| {
                    at == 0
                        || !handler.as_bytes()[at - 1].is_ascii_alphanumeric()
                            && handler.as_bytes()[at - 1] != b'_'
                            && handler.as_bytes()[at - 1] != b':'
                };
                if handler
                    .match_indices(&format!("{m}("))
                    .any(|(at, _)| word(at))
                {
                    methods.insert(m.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_a_route() {
    let doc = serde_json::to_value(wabridge::api::openapi::document()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let routes = declared_routes();
    assert!(
        routes.len() > 30,
        "found only {} routes: {routes:?}",
        routes.len()
    );
    let mut missing = Vec::new();
    for (path, methods) in &routes {
        if PAGES.contains(&path.as_str()) {
            continue;
        }
        match paths.get(path) {
            None => missing.push(format!("{path} (the whole path)")),
            Some(item) => {
                for m in methods {
                    if item.get(m).is_none() {
                        missing.push(format!("{} {path}", m.to_uppercase()));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes the OpenAPI document lacks: {missing:#?}"
    );
    let stale: Vec<_> = paths.keys().filter(|p| !routes.contains_key(*p)).collect();
    assert!(
        stale.is_empty(),
        "documented paths that are not routes: {stale:?}"
    );
    // Every operation says what it is and what it answers.
    for (path, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&m.as_str()) {
                continue;
            }
            assert!(op["summary"].is_string(), "{m} {path} has no summary");
            assert!(op["tags"].is_array(), "{m} {path} has no tag");
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{m} {path}: no responses"
            );
        }
    }
}
