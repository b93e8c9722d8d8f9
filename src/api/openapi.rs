//! The OpenAPI 3.1 document of every route, native and dialects, built by
//! utoipa from the handlers' annotations and their request types; each
//! dialect contributes its own part (`Doc`). `/openapi.json` serves it and
//! `/docs` renders it (assets in the binary, nothing fetched).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wabridge",
        description = "A self-hosted WhatsApp Web bridge: the native API, and the open-wa, Meta Cloud API and Twilio dialects. Every route but /health and /ready wants the API key: `Authorization: Bearer <key>`, `X-Api-Key`, open-wa's `key`/`api_key` headers, or HTTP Basic with the key as the password.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    tags(
        (name = "sessions", description = "Native: sessions, their QR and webhooks"),
        (name = "messages", description = "Native: send, history, chats, contacts"),
        (name = "groups", description = "Native: groups"),
        (name = "channels", description = "Native: WhatsApp Channels: the ones the account runs or follows, the directory"),
        (name = "contacts", description = "Native: the address book, presence, profiles, the blocklist, labels, calls"),
        (name = "deliveries", description = "Native: webhook deliveries"),
        (name = "events", description = "Native: the event stream (SSE)"),
        (name = "templates", description = "Native: message templates (used by the Cloud API dialect)"),
        (name = "operations", description = "Liveness, readiness, metrics, this document"),
        (name = "open-wa", description = "open-wa's wrapper routes and EASY API"),
        (name = "cloud", description = "Meta's WhatsApp Cloud API (Graph)"),
        (name = "twilio", description = "Twilio's Messages API"),
    ),
)]
struct Base;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    for (prefix, part) in [
        ("ops", super::ops::Doc::openapi()),
        ("native", super::native::Doc::openapi()),
        ("openwa", super::openwa::Doc::openapi()),
        ("cloud", super::cloud::Doc::openapi()),
        ("twilio", super::twilio::Doc::openapi()),
    ] {
        let mut part = prefixed(part, prefix);
        fold_shared_routes(&mut doc, &mut part);
        doc.merge(part);
    }
    doc
}

/// Two dialects that share a route (`POST /{first}/{second}`: open-wa's
/// EASY API on a session, and a Cloud resumable upload's bytes) are one
/// operation, described as both: a merge keeps the first and drops the
/// other's body and headers.
fn fold_shared_routes(doc: &mut utoipa::openapi::OpenApi, part: &mut utoipa::openapi::OpenApi) {
    for (path, theirs) in part.paths.paths.iter_mut() {
        let Some(mine) = doc.paths.paths.get_mut(path) else {
            continue;
        };
        for (a, b) in [
            (&mut mine.get, &mut theirs.get),
            (&mut mine.put, &mut theirs.put),
            (&mut mine.post, &mut theirs.post),
            (&mut mine.delete, &mut theirs.delete),
            (&mut mine.patch, &mut theirs.patch),
        ] {
            if let (Some(a), Some(b)) = (a.as_mut(), b.take()) {
                fold_operation(a, b);
            }
        }
    }
}

fn fold_operation(a: &mut utoipa::openapi::path::Operation, b: utoipa::openapi::path::Operation) {
    use utoipa::openapi::Required;
    a.summary = match (a.summary.take(), b.summary) {
        (Some(x), Some(y)) => Some(format!("{x}; or {y}")),
        (x, y) => x.or(y),
    };
    let tags = a.tags.get_or_insert_with(Vec::new);
    for t in b.tags.into_iter().flatten() {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    match (&mut a.request_body, b.request_body) {
        (Some(mine), Some(theirs)) => {
            for (kind, content) in theirs.content {
                mine.content.entry(kind).or_insert(content);
            }
        }
        (mine @ None, theirs) => *mine = theirs,
        _ => {}
    }
    // Each one's parameters: a path's are both's; the others, only one's.
    let params = a.parameters.get_or_insert_with(Vec::new);
    for mut p in b.parameters.into_iter().flatten() {
        if !params
            .iter()
            .any(|q| q.name == p.name && q.parameter_in == p.parameter_in)
        {
            p.required = Required::False;
            params.push(p);
        }
    }
    // A status both answer says what each means by it.
    use utoipa::openapi::RefOr;
    for (code, r) in b.responses.responses {
        match (a.responses.responses.get_mut(&code), r) {
            (Some(RefOr::T(mine)), RefOr::T(theirs)) => {
                mine.description = format!("{}; or {}", mine.description, theirs.description);
                if let Some(content) = theirs.content.into_iter().next() {
                    mine.content.entry(content.0).or_insert(content.1);
                }
            }
            (Some(_), _) => {}
            (None, r) => {
                a.responses.responses.insert(code, r);
            }
        }
    }
}

/// Operation ids come from handler names, which repeat across dialects
/// (`create`, `list`): each dialect's get its prefix (`native_create`).
fn prefixed(mut part: utoipa::openapi::OpenApi, prefix: &str) -> utoipa::openapi::OpenApi {
    for item in part.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(id) = &op.operation_id {
                op.operation_id = Some(format!("{prefix}_{id}"));
            }
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merging keeps one schema per name: two dialects' `SendIn` would
    /// silently describe one route's body with the other's.
    #[test]
    fn no_two_dialects_share_a_schema_name() {
        let mut seen: std::collections::BTreeMap<String, (&str, String)> = Default::default();
        for (dialect, part) in [
            ("ops", super::super::ops::Doc::openapi()),
            ("native", super::super::native::Doc::openapi()),
            ("openwa", super::super::openwa::Doc::openapi()),
            ("cloud", super::super::cloud::Doc::openapi()),
            ("twilio", super::super::twilio::Doc::openapi()),
        ] {
            for (name, schema) in part.components.iter().flat_map(|c| c.schemas.iter()) {
                let def = serde_json::to_string(schema).unwrap();
                if let Some((other, was)) = seen.insert(name.clone(), (dialect, def.clone())) {
                    // One type used by two dialects is the same schema.
                    assert_eq!(was, def, "schema {name}: {other}'s and {dialect}'s differ");
                }
            }
        }
        let doc = serde_json::to_value(document()).unwrap();
        // The route open-wa and Cloud share is both's.
        let shared = &doc["paths"]["/{first}/{second}"]["post"];
        assert!(
            shared["requestBody"]["content"]["application/json"].is_object()
                && shared["requestBody"]["content"]["application/octet-stream"].is_object(),
            "{shared}"
        );
        assert!(
            shared["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "file_offset" && p["in"] == "header"),
            "{shared}"
        );
        assert_eq!(
            doc.pointer(
                "/paths/~1message~1send/post/requestBody/content/application~1json/schema/$ref"
            ),
            Some(&serde_json::json!("#/components/schemas/OpenWaSendIn")),
        );
    }
}
