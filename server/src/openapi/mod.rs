//! The OpenAPI 3.1 document of this server, generated from the wire types of `porter_sandbox`
//! (their `openapi` feature derives the JSON Schemas) and the route table in this module.
//!
//! Committed at `spec/openapi.json` (`cargo run -p porter-sandbox-server --example openapi >
//! spec/openapi.json`); the test `the_committed_document_is_current` fails when it drifts, and
//! the server serves it at `GET /openapi.json` without a key.

mod builder;
mod processes;
mod routes;
mod volumes;

use std::sync::OnceLock;

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Where the committed document lives, relative to the repository root.
pub const COMMITTED_PATH: &str = "spec/openapi.json";

/// The command that rewrites the committed document.
pub const REGENERATE: &str =
    "cargo run -p porter-sandbox-server --example openapi > spec/openapi.json";

/// The document, with every object's keys sorted (so that its text is deterministic).
#[must_use]
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let mut operations = routes::health(&mut generator);
    operations.extend(routes::sandboxes(&mut generator));
    operations.extend(routes::sandbox_activity(&mut generator));
    operations.extend(routes::snapshots(&mut generator));
    operations.extend(volumes::volumes(&mut generator));
    operations.extend(volumes::files(&mut generator));
    operations.extend(processes::processes(&mut generator));
    // Every response may be an error; its schema is referenced by name, so it is added here.
    generator.subschema_for::<porter_sandbox::types::ErrorBody>();

    let mut paths = Map::new();
    for operation in operations {
        let item = paths.entry(operation.path).or_insert_with(|| json!({}));
        if let Value::Object(item) = item {
            item.insert(operation.method.to_owned(), operation.object);
        }
    }
    let schemas = generator.take_definitions(true);
    sorted(json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Porter Sandbox API (porter-sandbox local server)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Porter Sandbox wire protocol as `porter-sandbox serve` answers \
                it. Errors are `{\"error\": \"<message>\"}`. Operations and values this server \
                adds to the cluster API carry `x-porter-extension: true`. Enums list the values \
                this version knows; clients keep values outside the list. See spec/README.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "health", "description": "Liveness, readiness and this document."},
            {"name": "sandboxes", "description": "Sandboxes: create, inspect, exec, terminate."},
            {"name": "snapshots", "description": "Filesystem snapshots of running sandboxes."},
            {"name": "volumes", "description": "Persistent volumes."},
            {"name": "files", "description": "Files of disk volumes."},
            {"name": "processes", "description": "Processes that outlive their request (extension)."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of the server (`porter-sandbox serve` prints \
                        where it keeps them).",
                },
            },
        },
    }))
}

/// The document as committed: pretty JSON with sorted keys and a final newline.
#[must_use]
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json`: built once, then served from memory.
pub async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(document_text).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `value` with the keys of every object sorted (the workspace's serde_json keeps insertion
/// order, which would make the text depend on the order of the route table).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
