use porter_sandbox::types as t;
use serde_json::Value;

use super::{COMMITTED_PATH, REGENERATE, document, document_text};

#[test]
fn the_committed_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(COMMITTED_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = document_text();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{COMMITTED_PATH} is out of date with the Rust types and routes (first difference at \
             line {}): regenerate it with `{REGENERATE}` and commit it",
            line + 1
        );
    }
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_every_schema_is_there() {
    let doc = document();
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling reference {target}");
    }
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    // The 36 wire schemas and the 16 enums of the protocol, and the 7 schemas of the processes
    // extension.
    assert_eq!(schemas.len(), 36 + 16 + 7, "{:?}", schemas.keys().collect::<Vec<_>>());
    for name in ["Error", "Volume", "SandboxSpec", "VolumeFileEntry", "StatusResponsePhase"] {
        assert!(schemas.contains_key(name), "{name} is missing");
    }
}

/// The wire strings of an enum's known values.
fn known<T: AsRef<str>>(values: &[T]) -> Vec<Value> {
    values.iter().map(|v| Value::from(v.as_ref())).collect()
}

#[test]
fn enums_are_strings_listing_the_known_values() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let cases = [
        ("FilterValuesResponsePhases", known(t::FilterValuesResponsePhases::KNOWN)),
        ("LogLineLevel", known(t::LogLineLevel::KNOWN)),
        ("SandboxDomainSpecVisibility", known(t::SandboxDomainSpecVisibility::KNOWN)),
        ("SandboxMetric", known(t::SandboxMetric::KNOWN)),
        ("SandboxesPhase", known(t::SandboxesPhase::KNOWN)),
        ("SandboxesSource", known(t::SandboxesSource::KNOWN)),
        ("SnapshotMode", known(t::SnapshotMode::KNOWN)),
        ("SnapshotStatus", known(t::SnapshotStatus::KNOWN)),
        ("StatusResponsePhase", known(t::StatusResponsePhase::KNOWN)),
        ("StatusResponseTerminationReason", known(t::StatusResponseTerminationReason::KNOWN)),
        ("VolumeFileEntryType", known(t::VolumeFileEntryType::KNOWN)),
        ("VolumeObjectSpecAccess", known(t::VolumeObjectSpecAccess::KNOWN)),
        ("VolumeObjectSpecMode", known(t::VolumeObjectSpecMode::KNOWN)),
        ("VolumePhase", known(t::VolumePhase::KNOWN)),
        ("VolumeSpecType", known(t::VolumeSpecType::KNOWN)),
        ("VolumeType", known(t::VolumeType::KNOWN)),
    ];
    for (name, values) in cases {
        assert_eq!(schemas[name]["type"], "string", "{name}");
        assert_eq!(schemas[name]["enum"], Value::Array(values), "{name}");
        assert!(schemas[name]["description"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
    }
}

#[test]
fn only_health_and_the_document_are_open() {
    let doc = document();
    assert_eq!(doc["security"], serde_json::json!([{"bearerAuth": []}]));
    let mut open = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            if operation.get("security") == Some(&serde_json::json!([])) {
                open.push(format!("{method} {path}"));
                assert!(!responses.contains_key("401"), "{method} {path}");
            } else {
                assert!(responses.contains_key("401"), "{method} {path} lacks its 401");
            }
        }
    }
    assert_eq!(open, ["get /healthz", "get /openapi.json"]);
}

#[test]
fn the_text_is_deterministic_with_sorted_keys() {
    assert_eq!(document_text(), document_text());
    let doc = document();
    let keys: Vec<&String> = doc.as_object().expect("object").keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// The parameter `name` of the operation `method path`.
fn parameter(doc: &Value, method: &str, path: &str, name: &str) -> Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

/// What schemathesis found the document allowing and the server refusing (each a 400 that is
/// by design): the document now says so.
#[test]
fn constraints_the_server_enforces_are_documented() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for (schema, what) in [("SandboxSpec", "sandbox"), ("VolumeSpec", "volume")] {
        let name = &schemas[schema]["properties"]["name"];
        assert_eq!(name["maxLength"], 63, "{schema}");
        assert_eq!(name["minLength"], 1, "{schema}");
        assert!(crate::service::names::validate_name(what, "my-name-1").is_ok());
        assert!(crate::service::names::validate_name(what, "").is_err());
        assert_eq!(name["pattern"], "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", "{schema}");
    }
    assert_eq!(schemas["ExecRequest"]["properties"]["command"]["minItems"], 1);
    assert_eq!(schemas["SandboxNetworkingSpec"]["properties"]["port"]["minimum"], 1024);
    assert_eq!(schemas["SandboxSpec"]["properties"]["ttl_seconds"]["minimum"], 1);
    assert_eq!(
        parameter(&doc, "get", "/v1/sandbox/{id}/logs", "limit")["schema"]["maximum"],
        i64::MAX
    );
    // An upload without a body writes an empty file.
    let upload = &doc["paths"]["/v1/volume/{id}/files/upload"]["put"];
    assert_eq!(upload["requestBody"]["required"], false);
    // The server reads an empty query value as absent, so a required one must not be empty.
    for (path, name) in [
        ("/v1/sandbox/lookup", "name"),
        ("/v1/volume/lookup", "name"),
        ("/v1/volume/{id}/files/content", "path"),
        ("/v1/volume/{id}/files/upload", "path"),
    ] {
        let method = if path.ends_with("upload") { "put" } else { "get" };
        assert_eq!(parameter(&doc, method, path, name)["schema"]["minLength"], 1, "{path}");
    }
    // Times are RFC 3339 or durations, never any string.
    for (path, name) in [
        ("/v1/sandbox", "start_time"),
        ("/v1/sandbox/counts", "end_time"),
        ("/v1/sandbox/{id}/logs", "since"),
        ("/v1/sandbox/{id}/metrics", "start_time_utc"),
    ] {
        let schema = parameter(&doc, "get", path, name)["schema"].clone();
        assert_eq!(schema["anyOf"][0]["format"], "date-time", "{path} {name}");
    }
}

#[test]
fn links_name_existing_operations() {
    let doc = document();
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("path item").values() {
            ids.push(operation["operationId"].as_str().expect("operationId").to_owned());
        }
    }
    let created = &doc["paths"]["/v1/sandbox/run"]["post"]["responses"]["202"]["links"];
    assert!(created["execSandbox"].is_object(), "{created}");
    let mut count = 0;
    for item in doc["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("path item").values() {
            for response in operation["responses"].as_object().expect("responses").values() {
                for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    let target = link["operationId"].as_str().expect("operationId");
                    assert!(ids.iter().any(|id| id == target), "a link to {target}");
                    count += 1;
                }
            }
        }
    }
    assert_eq!(count, 14);
}
