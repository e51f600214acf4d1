//! The operations of the scenario vocabulary on the Rust API, and their canonical results
//! (`tests/conformance/README.md`).

use std::{
    collections::HashMap,
    io::{Read, Write},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use futures_util::TryStreamExt;
use porter_sandbox::{
    DecodedBody, Error, ExecOptions, LogsQuery, Porter, Sandbox, VolumeHandle,
    api::SandboxFilter,
    types::{self, ExecRequest, SandboxSpec, SandboxesPhase, StatusResponse, VolumeSpec},
};
use serde_json::{Value, json};

use crate::Settings;

/// How long a wait for a sandbox may take before the step fails.
const WAIT: Duration = Duration::from_secs(60);
/// The pause between two reads of a snapshot being captured.
const POLL: Duration = Duration::from_millis(100);

/// A handle a step saved for later steps.
pub(crate) enum Handle {
    Sandbox(Sandbox),
    Volume(VolumeHandle),
}

/// The outcome of one operation: its canonical result and the handle it created, if any.
pub(crate) type Outcome = Result<(Value, Option<Handle>), Failure>;

/// Why an operation failed: an error of the client, or a problem of the runner itself.
pub(crate) enum Failure {
    Client(Error),
    Runner(String),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Self::Client(err)
    }
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

pub(crate) fn error(err: &Error) -> Value {
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

pub(crate) async fn operation(
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
        "start_process" => {
            sandbox(handles, args)?.start(strings(&args["command"])).await?;
            json!({"started": true})
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
        "stream" => {
            let chunk_size = args["chunk_size"].as_u64().unwrap_or_default();
            let chunks = volume(handles, args)?.stream(&text(args, "path")?, chunk_size)?;
            let chunks: Vec<bytes::Bytes> = chunks.try_collect().await?;
            json!({"chunks": chunks.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>()})
        }
        "move_file" => {
            volume(handles, args)?.move_file(&text(args, "from")?, &text(args, "to")?).await?;
            json!({})
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
