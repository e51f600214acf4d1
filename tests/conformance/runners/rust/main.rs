//! The conformance runner for Rust: interprets the scenario files of `tests/conformance/` with
//! the core crate's async API and writes one JSON line per step to `CONFORMANCE_OUT`.
//!
//! Built as the `conformance` example of the cli crate and run by `tests/conformance/run.sh`,
//! which sets the `CONFORMANCE_*` variables (see `tests/conformance/README.md` for the
//! operations and their canonical results).

use std::{
    collections::{BTreeSet, HashMap},
    io::{Read, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use porter_sandbox::{
    DecodedBody, Error, ExecOptions, LogsQuery, Porter, Sandbox, VolumeHandle,
    api::SandboxFilter,
    types::{self, ExecRequest, SandboxSpec, SandboxesPhase, StatusResponse, VolumeSpec},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};

/// How long a wait for a sandbox may take before the step fails.
const WAIT: Duration = Duration::from_secs(60);
/// The pause between two reads of a snapshot being captured.
const POLL: Duration = Duration::from_millis(100);

/// A handle a step saved for later steps.
enum Handle {
    Sandbox(Sandbox),
    Volume(VolumeHandle),
}

/// The outcome of one operation: its canonical result and the handle it created, if any.
type Outcome = Result<(Value, Option<Handle>), Failure>;

/// Why an operation failed: an error of the client, or a problem of the runner itself.
enum Failure {
    Client(Error),
    Runner(String),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Self::Client(err)
    }
}

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

fn status(s: &StatusResponse) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "image": s.image,
        "phase": s.phase.as_str(),
        "tags": s.tags,
        "exit_code": s.exit_code,
        "termination_reason": s.termination_reason.as_ref().map(|r| r.as_str().to_owned()),
    })
}

fn snapshot(s: &types::Snapshot) -> Value {
    json!({"id": s.id, "sandbox_id": s.sandbox_id, "mode": s.mode.as_str(), "status": s.status.as_str()})
}

fn exec_result(r: &types::ExecResponse) -> Value {
    // `timed_out` is absent from servers without the extension: false, as every binding says.
    let timed_out = r.timed_out.unwrap_or(false);
    json!({"exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "timed_out": timed_out})
}

fn error(err: &Error) -> Value {
    let body = match err.body() {
        Some(DecodedBody::Json(value)) => value.clone(),
        Some(DecodedBody::Text(text)) => json!(text),
        None => Value::Null,
    };
    json!({"kind": err.kind().as_str(), "status": err.status(), "message": err.message(), "body": body})
}

fn text(args: &Value, key: &str) -> Result<String, Failure> {
    args[key].as_str().map(str::to_owned).ok_or_else(|| Failure::Runner(format!("missing {key}")))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map_or_else(Vec::new, |items| {
        items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    })
}

fn string_map(value: &Value) -> Vec<(String, String)> {
    value.as_object().map_or_else(Vec::new, |map| {
        map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
    })
}

/// The saved sandbox handle named by `args[key]`.
fn sandbox<'a>(handles: &'a HashMap<String, Handle>, args: &Value) -> Result<&'a Sandbox, Failure> {
    match handles.get(args["sandbox"].as_str().unwrap_or_default()) {
        Some(Handle::Sandbox(sandbox)) => Ok(sandbox),
        _ => Err(Failure::Runner(format!("no sandbox handle {}", args["sandbox"]))),
    }
}

fn volume<'a>(
    handles: &'a HashMap<String, Handle>,
    args: &Value,
) -> Result<&'a porter_sandbox::Volume, Failure> {
    match handles.get(args["volume"].as_str().unwrap_or_default()) {
        Some(Handle::Volume(handle)) => {
            handle.as_disk().ok_or_else(|| Failure::Runner("not a disk volume".into()))
        }
        _ => Err(Failure::Runner(format!("no volume handle {}", args["volume"]))),
    }
}

/// A GET of the fault server's log for this scenario, over a plain socket (no client involved).
fn fault_log(base: &str, key: &str) -> Result<Value, Failure> {
    let runner = |e: String| Failure::Runner(format!("fault log: {e}"));
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| runner(e.to_string()))?;
    let request = format!("GET /__log/{key} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| runner(e.to_string()))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| runner(e.to_string()))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).map_err(|e| runner(e.to_string()))
}

async fn operation(
    porter: &Porter,
    settings: &Settings,
    key: &str,
    op: &str,
    args: &Value,
    handles: &HashMap<String, Handle>,
) -> Outcome {
    let result = match op {
        "create_sandbox" => {
            // Only what the scenario sets: an empty list or map would be sent, unlike in the
            // other languages.
            let mut spec = SandboxSpec::new(text(args, "image")?);
            if let Some(name) = args["name"].as_str() {
                spec = spec.name(name);
            }
            if !args["command"].is_null() {
                spec = spec.command(strings(&args["command"]));
            }
            if !args["tags"].is_null() {
                spec = spec.tags(string_map(&args["tags"]));
            }
            if let Some(snapshot) = args["snapshot_id"].as_str() {
                spec.snapshot_id = Some(snapshot.to_owned());
            }
            let created = porter.sandboxes().create(spec).await?;
            return Ok((json!({"id": created.id()}), Some(Handle::Sandbox(created))));
        }
        "wait_until_running" => {
            status(&sandbox(handles, args)?.wait_until_running(Some(WAIT)).await?)
        }
        "wait" => json!({"exit_code": sandbox(handles, args)?.wait(Some(WAIT)).await?}),
        "refresh" => status(&sandbox(handles, args)?.refresh().await?),
        "get_sandbox" => {
            let found = porter.sandboxes().get(&text(args, "name")?).await?;
            status(&found.status().ok_or_else(|| Failure::Runner("no status".into()))?)
        }
        "get_sandbox_by_id" => {
            status(&porter.raw().sandboxes().get_sandbox(&text(args, "id")?).await?)
        }
        "exec" => {
            let mut options = ExecOptions::new();
            if let Some(ms) = args["timeout_ms"].as_u64() {
                options = options.timeout(Duration::from_millis(ms));
            }
            if let Some(workdir) = args["workdir"].as_str() {
                options = options.workdir(workdir);
            }
            for (name, value) in string_map(&args["env"]) {
                options = options.env(name, value);
            }
            if let Some(stdin) = args["stdin"].as_str() {
                options = options.stdin(stdin);
            }
            let command = strings(&args["command"]);
            exec_result(&sandbox(handles, args)?.exec_with(command, options).await?)
        }
        "exec_by_id" => {
            let request = ExecRequest::new(strings(&args["command"]));
            let api = porter.raw().sandboxes();
            exec_result(&api.exec_sandbox(&text(args, "id")?, &request, None).await?)
        }
        "logs" => {
            let mut query = LogsQuery::new();
            if let Some(limit) = args["limit"].as_i64() {
                query = query.limit(limit);
            }
            let lines = sandbox(handles, args)?.logs(query).await?;
            json!({
                "lines": lines.iter().map(|l| l.line.clone()).collect::<Vec<_>>(),
                "levels": lines.iter().map(|l| l.level.as_str().to_owned()).collect::<Vec<_>>(),
                "from_exec": lines.iter().map(|l| !l.exec_id.is_empty()).collect::<Vec<_>>(),
            })
        }
        "list_sandboxes" => {
            let mut filter = SandboxFilter::new();
            for (k, v) in string_map(&args["tags"]) {
                filter = filter.tag(k, v);
            }
            for phase in strings(&args["phase"]) {
                filter = filter.phase(SandboxesPhase::from_wire(&phase));
            }
            let found = porter.sandboxes().list(filter).await?;
            json!({"ids": found.iter().map(Sandbox::id).collect::<Vec<_>>()})
        }
        "terminate" => {
            sandbox(handles, args)?.terminate().await?;
            json!({})
        }
        "create_volume" => {
            let spec = args["name"].as_str().map_or_else(VolumeSpec::default, VolumeSpec::named);
            let created = porter.volumes().create(spec).await?;
            let result = json!({"id": created.id(), "name": created.record().name});
            return Ok((result, Some(Handle::Volume(created))));
        }
        "get_volume" => {
            let found = porter.volumes().get(&text(args, "name")?).await?;
            json!({"id": found.id(), "name": found.record().name})
        }
        "delete_volume" => {
            porter.volumes().delete(&text(args, "name")?).await?;
            json!({})
        }
        "write_file" => {
            let data = STANDARD
                .decode(text(args, "base64")?)
                .map_err(|e| Failure::Runner(format!("base64: {e}")))?;
            volume(handles, args)?.write_file(&text(args, "path")?, data).await?;
            json!({})
        }
        "read_file" => {
            let (offset, length) = (args["offset"].as_u64(), args["length"].as_u64());
            let data =
                volume(handles, args)?.read_file(&text(args, "path")?, offset, length).await?;
            json!({"base64": STANDARD.encode(&data), "size": data.len()})
        }
        "listdir" => {
            let files = volume(handles, args)?.listdir(&text(args, "path")?).await?;
            let entries: Vec<Value> = files
                .iter()
                .map(|f| {
                    let mut entry =
                        json!({"name": f.name, "path": f.path, "type": f.kind.as_str()});
                    if f.is_file() {
                        entry["size"] = json!(f.size_bytes);
                    }
                    entry
                })
                .collect();
            json!({ "entries": entries })
        }
        "create_snapshot" => {
            let id = sandbox(handles, args)?.id().to_owned();
            snapshot(&porter.snapshots().create(&id, types::SnapshotSpec::default()).await?)
        }
        "wait_snapshot" => {
            let id = text(args, "id")?;
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let found = porter.snapshots().get(&id).await?;
                if found.status != types::SnapshotStatus::Pending
                    || tokio::time::Instant::now() > deadline
                {
                    break snapshot(&found);
                }
                tokio::time::sleep(POLL).await;
            }
        }
        "get_snapshot" => snapshot(&porter.snapshots().get(&text(args, "id")?).await?),
        "delete_snapshot" => {
            porter.snapshots().delete(&text(args, "id")?).await?;
            json!({})
        }
        "close_client" => {
            porter.close();
            json!({})
        }
        "healthz" => json!({"status": porter.healthz().await?.status}),
        "fault_log" => fault_log(&settings.fault_url, key)?,
        other => return Err(Failure::Runner(format!("operation {other} is not implemented"))),
    };
    Ok((result, None))
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

/// Parses `json` as `T` and serializes it back: the fixture's round trip through the core type.
fn roundtrip<T: DeserializeOwned + Serialize>(json: &Value) -> Result<Value, String> {
    let parsed: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&parsed).map_err(|e| e.to_string())
}

fn fixture_roundtrip(name: &str, json: &Value) -> Result<Value, String> {
    use types::*;
    match name {
        "CountPoint" => roundtrip::<CountPoint>(json),
        "CountResponse" => roundtrip::<CountResponse>(json),
        "CreateResponse" => roundtrip::<CreateResponse>(json),
        "Error" => roundtrip::<ErrorBody>(json),
        "ExecRequest" => roundtrip::<ExecRequest>(json),
        "ExecResponse" => roundtrip::<ExecResponse>(json),
        "ExecTarget" => roundtrip::<ExecTarget>(json),
        "FilterValuesResponse" => roundtrip::<FilterValuesResponse>(json),
        "HealthResponse" => roundtrip::<HealthResponse>(json),
        "ListResponse" => roundtrip::<ListResponse>(json),
        "LogLine" => roundtrip::<LogLine>(json),
        "LogsResponse" => roundtrip::<LogsResponse>(json),
        "LookupResult" => roundtrip::<LookupResult>(json),
        "MetricSummaryResponse" => roundtrip::<MetricSummaryResponse>(json),
        "Pagination" => roundtrip::<Pagination>(json),
        "ReadinessResponse" => roundtrip::<ReadinessResponse>(json),
        "SandboxDomainSpec" => roundtrip::<SandboxDomainSpec>(json),
        "SandboxEgressSpec" => roundtrip::<SandboxEgressSpec>(json),
        "SandboxMetricsPoint" => roundtrip::<SandboxMetricsPoint>(json),
        "SandboxMetricsResponse" => roundtrip::<SandboxMetricsResponse>(json),
        "SandboxMetricsResult" => roundtrip::<SandboxMetricsResult>(json),
        "SandboxMetricsSeries" => roundtrip::<SandboxMetricsSeries>(json),
        "SandboxNetworkingSpec" => roundtrip::<SandboxNetworkingSpec>(json),
        "SandboxResourcesSpec" => roundtrip::<SandboxResourcesSpec>(json),
        "SandboxSpec" => roundtrip::<SandboxSpec>(json),
        "Snapshot" => roundtrip::<Snapshot>(json),
        "SnapshotListResponse" => roundtrip::<SnapshotListResponse>(json),
        "SnapshotSpec" => roundtrip::<SnapshotSpec>(json),
        "StatusResponse" => roundtrip::<StatusResponse>(json),
        "Volume" => roundtrip::<VolumeRecord>(json),
        "VolumeFileEntry" => roundtrip::<VolumeFileEntry>(json),
        "VolumeFileListResponse" => roundtrip::<VolumeFileListResponse>(json),
        "VolumeFileMoveRequest" => roundtrip::<VolumeFileMoveRequest>(json),
        "VolumeListResponse" => roundtrip::<VolumeListResponse>(json),
        "VolumeObjectSpec" => roundtrip::<VolumeObjectSpec>(json),
        "VolumeSpec" => roundtrip::<VolumeSpec>(json),
        other => Err(format!("no core type is mapped to the fixture {other}")),
    }
}

fn fixtures(dir: &Path, out: &mut Output) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let outcome = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()))
            .and_then(|json| {
                let back = fixture_roundtrip(name, &json)?;
                if back == json { Ok(()) } else { Err(format!("round trip gave {back}")) }
            });
        let detail = outcome.as_ref().err().cloned().unwrap_or_default();
        out.emit(
            &json!({"type": "fixture", "name": name, "ok": outcome.is_ok(), "detail": detail}),
        );
    }
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
        fixtures(&settings.fixtures, &mut out);
    }
    out.emit(&json!({"type": "end"}));
    Ok(())
}
