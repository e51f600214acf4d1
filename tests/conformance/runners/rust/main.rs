//! The conformance runner for Rust: interprets the scenario files of `tests/conformance/` with
//! the core crate's async API and writes one JSON line per step to `CONFORMANCE_OUT`.
//!
//! Built as the `conformance` example of the cli crate and run by `tests/conformance/run.sh`,
//! which sets the `CONFORMANCE_*` variables (see `tests/conformance/README.md` for the
//! operations and their canonical results).

mod fixtures;
mod operations;

use std::{
    collections::{BTreeSet, HashMap},
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use porter_sandbox::{Error, Porter};
use serde_json::{Map, Value, json};

use operations::{Failure, Handle, error, operation};

/// The environment the driver sets.
struct Settings {
    scenarios: PathBuf,
    fixtures: PathBuf,
    local_url: String,
    local_key: String,
    fault_url: String,
    skip: BTreeSet<String>,
    run: String,
}

/// Where the JSON lines go.
struct Output(std::fs::File);

impl Output {
    fn emit(&mut self, record: &Value) {
        // A lost line shows up as a missing step in the matrix: nothing else to do with it.
        let _ = writeln!(self.0, "{record}");
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run tests/conformance/run.sh)"))
}

fn settings() -> Result<Settings, String> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id();
    Ok(Settings {
        scenarios: env("CONFORMANCE_SCENARIOS")?.into(),
        fixtures: env("CONFORMANCE_FIXTURES")?.into(),
        local_url: env("CONFORMANCE_LOCAL_URL")?,
        local_key: env("CONFORMANCE_LOCAL_KEY")?,
        fault_url: env("CONFORMANCE_FAULT_URL")?,
        skip: env("CONFORMANCE_SKIP")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        run: format!("rs{nonce:08x}"),
    })
}

/// `${name}` and `${name.field}` replaced from the saved results (README.md).
fn substitute(value: &Value, vars: &Map<String, Value>) -> Value {
    match value {
        Value::String(text) => Value::String(substitute_text(text, vars)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, vars)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, vars))).collect())
        }
        other => other.clone(),
    }
}

fn substitute_text(text: &str, vars: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        out.push_str(&rest[..start]);
        let reference = &rest[start + 2..start + end];
        let (name, field) =
            reference.split_once('.').map_or((reference, None), |(n, f)| (n, Some(f)));
        let found = vars.get(name).map(|v| field.map_or(v, |f| &v[f]));
        match found {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(&rest[start..=start + end]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn client(settings: &Settings, key: &str, scenario: &Value) -> Result<Porter, Error> {
    let config = &scenario["client"];
    let local = scenario["server"] == "local";
    let base =
        if local { settings.local_url.clone() } else { format!("{}/{key}", settings.fault_url) };
    let mut builder = Porter::builder().base_url(base);
    let key = config["api_key"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| local.then(|| settings.local_key.clone()));
    if let Some(key) = key {
        builder = builder.api_key(key);
    }
    if let Some(ms) = config["timeout_ms"].as_u64() {
        builder = builder.timeout(Duration::from_millis(ms));
    }
    builder.build()
}

async fn run_scenario(settings: &Settings, out: &mut Output, name: &str, scenario: &Value) {
    let key = format!("{name}.{}", settings.run);
    let porter = match client(settings, &key, scenario) {
        Ok(porter) => porter,
        Err(err) => {
            out.emit(
                &json!({"type": "crash", "scenario": name, "detail": format!("client: {err}")}),
            );
            return;
        }
    };
    let mut vars = Map::new();
    vars.insert("run".into(), json!(settings.run));
    let mut handles: HashMap<String, Handle> = HashMap::new();
    let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
    for (index, step) in steps.iter().enumerate() {
        let op = step["op"].as_str().unwrap_or_default();
        let args = substitute(&step["args"], &vars);
        let started = std::time::Instant::now();
        let outcome = operation(&porter, settings, &key, op, &args, &handles).await;
        let elapsed_ms = started.elapsed().as_millis();
        let record = json!({
            "type": "step", "scenario": name, "index": index, "op": op, "elapsed_ms": elapsed_ms,
        });
        match outcome {
            Ok((result, handle)) => {
                let mut record = record;
                record["ok"] = json!(true);
                record["result"] = result.clone();
                out.emit(&record);
                if let Some(save) = step["save"].as_str() {
                    vars.insert(save.to_owned(), result);
                    if let Some(handle) = handle {
                        handles.insert(save.to_owned(), handle);
                    }
                }
            }
            Err(Failure::Client(err)) => {
                let mut record = record;
                record["ok"] = json!(false);
                record["error"] = error(&err);
                out.emit(&record);
                if step.get("expect_error").is_none() {
                    break;
                }
            }
            Err(Failure::Runner(detail)) => {
                out.emit(&json!({"type": "crash", "scenario": name, "detail": detail}));
                break;
            }
        }
    }
    for handle in handles.values() {
        // Clean-up of what the scenario created; a failure here is not the scenario's.
        let _ = match handle {
            Handle::Sandbox(sandbox) => sandbox.terminate().await,
            Handle::Volume(volume) => porter.raw().volumes().delete_volume(volume.id()).await,
        };
    }
    porter.close();
}

fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let settings = settings()?;
    let file = std::fs::File::create(env("CONFORMANCE_OUT")?).map_err(|e| e.to_string())?;
    let mut out = Output(file);
    out.emit(&json!({"type": "start", "run": settings.run}));
    for path in scenario_files(&settings.scenarios) {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        if settings.skip.contains(&name) {
            continue;
        }
        let scenario = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
        match scenario {
            Ok(scenario) => run_scenario(&settings, &mut out, &name, &scenario).await,
            Err(detail) => out.emit(&json!({"type": "crash", "scenario": name, "detail": detail})),
        }
    }
    if !settings.skip.contains("fixtures") {
        fixtures::fixtures(&settings.fixtures, &mut out);
    }
    out.emit(&json!({"type": "end"}));
    Ok(())
}
