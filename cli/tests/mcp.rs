//! `porter-sandbox mcp` driven by a real MCP client (the `rmcp` client) over stdio and over
//! streamable HTTP, against the real local server: every tool; a timeout, a huge output, a
//! binary output and a failing command each come back well-formed and within the size limit;
//! the limits and the ownership guard hold; and the session's sandboxes are terminated once the
//! client disconnects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, ProtocolVersion},
    service::{ClientLifecycleMode, ClientServiceExt, RunningService},
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::{Value, json};
use support::{TEST_API_KEY, shared, unique};
use tokio::io::AsyncBufReadExt;

/// The documented bound of a tool result's text.
const RESULT_LIMIT: usize = 16 * 1024;

/// Every tool the server must offer.
const TOOLS: [&str; 13] = [
    "create_sandbox",
    "run_command",
    "run_code",
    "start_process",
    "read_output",
    "write_stdin",
    "kill_process",
    "write_file",
    "read_file",
    "list_files",
    "list_sandboxes",
    "terminate_sandbox",
    "snapshot",
];

type Client = RunningService<RoleClient, ()>;

/// What the client offers: the newest protocol version first, falling back to the ones with
/// `initialize`.
fn lifecycle() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25],
        legacy_version: None,
    }
}

/// `porter-sandbox mcp` for the shared server, with `extra` options.
fn mcp_command(extra: &[&str]) -> tokio::process::Command {
    let server = shared();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_porter-sandbox"));
    for name in ["PORTER_SANDBOX_BASE_URL", "PORTER_CLUSTER_ID", "KUBERNETES_SERVICE_HOST"] {
        command.env_remove(name);
    }
    command
        .args(["mcp", "--base-url", &server.base_url, "--default-image", "host"])
        .args(extra)
        .env("PORTER_SANDBOX_API_KEY", TEST_API_KEY)
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// A client of `porter-sandbox mcp` over stdio.
async fn stdio_client(extra: &[&str]) -> Client {
    let (transport, _) =
        TokioChildProcess::builder(mcp_command(extra)).stderr(Stdio::inherit()).spawn().unwrap();
    ().serve_with_lifecycle(transport, lifecycle()).await.expect("MCP handshake over stdio")
}

/// A running `porter-sandbox mcp --listen`.
struct HttpServer {
    url: String,
    child: tokio::process::Child,
}

/// `porter-sandbox mcp --listen` and a client of it over streamable HTTP.
async fn http_client(extra: &[&str]) -> (Client, HttpServer) {
    let mut command = mcp_command(extra);
    command.args(["--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout).read_line(&mut line).await.unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("listening line").to_owned();
    assert!(url.ends_with("/mcp"), "{url}");
    // The client's reqwest is built without a default TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = StreamableHttpClientTransport::from_uri(url.clone());
    let client =
        ().serve_with_lifecycle(transport, lifecycle()).await.expect("MCP handshake over HTTP");
    (client, HttpServer { url, child })
}

/// A tool call's outcome: whether it is a tool error, and its JSON text parsed.
struct Reply {
    error: bool,
    value: Value,
}

impl Reply {
    #[track_caller]
    fn ok(self) -> Value {
        assert!(!self.error, "tool error: {}", self.value);
        self.value
    }

    #[track_caller]
    fn err(self) -> String {
        assert!(self.error, "expected a tool error, got {}", self.value);
        self.value["error"].as_str().unwrap().to_owned()
    }
}

/// Calls `tool` with `arguments`; checks that the result is one JSON text within the limit.
async fn call(client: &Client, tool: &str, arguments: Value) -> Reply {
    let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert_eq!(result.content.len(), 1, "{tool}: one content block");
    let text = result.content[0].as_text().expect("text content").text.clone();
    assert!(text.len() <= RESULT_LIMIT, "{tool}: result of {} bytes", text.len());
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{tool}: {e}: {text}"));
    Reply { error: result.is_error == Some(true), value }
}

/// Runs a shell line in `sandbox` and returns the result.
async fn shell(client: &Client, sandbox: &str, line: &str, timeout: f64) -> Value {
    call(
        client,
        "run_command",
        json!({"sandbox": sandbox, "shell": line, "timeout_seconds": timeout}),
    )
    .await
    .ok()
}

/// Waits until every sandbox of `ids` is in a terminal phase.
async fn assert_all_terminated(ids: &[String]) {
    let porter = shared().client();
    for id in ids {
        let sandbox = porter.sandboxes().get_by_id(id).await.unwrap();
        let phase = support::wait_finished(&sandbox, Duration::from_secs(60)).await;
        assert!(phase.is_terminal(), "sandbox {id} still {phase:?} after the session ended");
    }
}

/// Drives every tool through `client`; returns the ids of the sandboxes it created and the
/// session's id.
async fn exercise(client: &Client, protocol: &str) -> (Vec<String>, String) {
    let negotiated = client.peer_info().unwrap().protocol_version.to_string();
    assert_eq!(negotiated, protocol);
    let tools = client.list_all_tools().await.unwrap();
    for name in TOOLS {
        let tool = tools.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}"));
        assert!(tool.description.as_ref().is_some_and(|d| d.len() > 40), "{name} description");
        assert!(tool.input_schema.get("properties").is_some() || name == "list_sandboxes");
    }

    let name = unique("mcp");
    let created =
        call(client, "create_sandbox", json!({"name": name, "env": {"GREETING": "hello"}}))
            .await
            .ok();
    let id = created["sandbox"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sb-"), "{created}");
    assert_eq!(created["workspace"], "/workspace");
    let mut ids = vec![id.clone()];

    // A failing command: its exit code and both streams.
    let run = call(
        client,
        "run_command",
        json!({"sandbox": name, "command": ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"]}),
    )
    .await
    .ok();
    assert_eq!(run["exit_code"], 3, "{run}");
    assert_eq!(run["timed_out"], false);
    assert_eq!(run["stdout"]["text"], "hello\n");
    assert_eq!(run["stderr"]["text"], "oops\n");

    // A timeout: killed at its deadline, with what it printed first.
    let started = Instant::now();
    let run = shell(client, &id, "echo before; sleep 60", 1.0).await;
    assert_eq!((run["timed_out"].clone(), run["exit_code"].clone()), (json!(true), json!(124)));
    assert_eq!(run["stdout"]["text"], "before\n");
    assert!(started.elapsed() < Duration::from_secs(30));

    // A huge output: head and tail with the count of what was left out.
    let run = shell(client, &id, "seq 1 1000000", 60.0).await;
    assert_eq!(run["exit_code"], 0);
    let stdout = &run["stdout"];
    let text = stdout["text"].as_str().unwrap();
    assert!(text.starts_with("1\n2\n3\n"), "{text}");
    assert!(stdout["omitted_bytes"].as_u64().unwrap() > 100_000, "{stdout}");
    assert!(stdout["bytes"].as_u64().unwrap() > 500_000, "{stdout}");
    // The server keeps the beginning of a stream this long; the result says so.
    assert!(run["note"].as_str().unwrap().contains("beginning"), "{run}");
    assert!(text.contains("bytes omitted"));

    // A binary output: summarised, never shown.
    let run = shell(client, &id, "head -c 5000 /dev/urandom; printf '\\000'", 30.0).await;
    assert_eq!(run["stdout"]["binary"], true, "{run}");
    assert!(run["stdout"]["first_bytes_hex"].as_str().unwrap().len() > 20);
    assert!(run["stdout"].get("text").is_none());

    // Options: workdir, env and stdin.
    let run = call(
        client,
        "run_command",
        json!({"sandbox": id, "shell": "pwd; echo $X; cat", "workdir": "/tmp",
               "env": {"X": "ex"}, "stdin": "from stdin"}),
    )
    .await
    .ok();
    assert_eq!(run["stdout"]["text"], "/tmp\nex\nfrom stdin");
    let bad = call(client, "run_command", json!({"sandbox": id})).await.err();
    assert!(bad.contains("`command`"), "{bad}");

    // Code.
    let run = call(
        client,
        "run_code",
        json!({"sandbox": id, "language": "python",
                                              "code": "import sys; print(6*7); sys.exit(2)"}),
    )
    .await
    .ok();
    assert_eq!(
        (run["stdout"]["text"].clone(), run["exit_code"].clone()),
        (json!("42\n"), json!(2))
    );
    let run = call(client, "run_code", json!({"sandbox": id, "language": "node",
                                              "code": "console.log([1,2,3].map(x => x * 2).join(','))"}))
    .await
    .ok();
    assert_eq!(run["stdout"]["text"], "2,4,6\n", "{run}");
    let run = call(
        client,
        "run_code",
        json!({"sandbox": id, "language": "python",
                                              "code": "while True: pass", "timeout_seconds": 1}),
    )
    .await
    .ok();
    assert_eq!(run["timed_out"], true);

    // Files on the workspace volume, seen by commands in the sandbox.
    let wrote = call(
        client,
        "write_file",
        json!({"sandbox": id, "path": "src/hello.txt",
                                                 "content": "hi there\n"}),
    )
    .await
    .ok();
    assert_eq!(wrote["path"], "/workspace/src/hello.txt");
    let run = shell(client, &id, "cat /workspace/src/hello.txt", 10.0).await;
    assert_eq!(run["stdout"]["text"], "hi there\n");
    shell(client, &id, "seq 1 200000 > /workspace/big.txt", 30.0).await;
    let read =
        call(client, "read_file", json!({"sandbox": id, "path": "/workspace/src/hello.txt"}))
            .await
            .ok();
    assert_eq!(read["content"]["text"], "hi there\n");
    let read = call(client, "read_file", json!({"sandbox": id, "path": "big.txt"})).await.ok();
    assert!(read["content"]["omitted_bytes"].as_u64().unwrap() > 1_000_000, "{read}");
    call(
        client,
        "write_file",
        json!({"sandbox": id, "path": "blob.bin", "content": "AAECA/8=",
                                      "encoding": "base64"}),
    )
    .await
    .ok();
    let read = call(client, "read_file", json!({"sandbox": id, "path": "blob.bin"})).await.ok();
    assert_eq!(read["content"]["binary"], true, "{read}");
    assert_eq!(read["content"]["first_bytes_hex"], "00 01 02 03 ff");
    let listed = call(client, "list_files", json!({"sandbox": id})).await.ok();
    let names: Vec<&str> =
        listed["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for expected in ["src", "big.txt", "blob.bin"] {
        assert!(names.contains(&expected), "{listed}");
    }
    let outside = call(client, "read_file", json!({"sandbox": id, "path": "/etc/passwd"})).await;
    assert!(outside.err().contains("not under a mounted volume"));

    // A process: input, output from an offset, kill.
    let started = call(
        client,
        "start_process",
        json!({"sandbox": id, "shell": "echo ready; read line; echo got $line; sleep 300",
               "stdin_open": true}),
    )
    .await
    .ok();
    let process = started["process_id"].as_str().unwrap().to_owned();
    call(client, "write_stdin", json!({"sandbox": id, "process_id": process, "data": "abc\n"}))
        .await
        .ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    let output = loop {
        let output =
            call(client, "read_output", json!({"sandbox": id, "process_id": process})).await.ok();
        if output["stdout"]["text"].as_str().is_some_and(|t| t.contains("got abc"))
            || Instant::now() > deadline
        {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(output["stdout"]["text"], "ready\ngot abc\n", "{output}");
    assert_eq!(output["state"], "running");
    let next = output["next_offset"].as_u64().unwrap();
    let later = call(
        client,
        "read_output",
        json!({"sandbox": id, "process_id": process,
                                                  "offset": 6}),
    )
    .await
    .ok();
    assert_eq!(later["stdout"]["text"], "got abc\n");
    let killed =
        call(client, "kill_process", json!({"sandbox": id, "process_id": process})).await.ok();
    assert_eq!(killed["state"], "killed", "{killed}");
    let after = call(
        client,
        "read_output",
        json!({"sandbox": id, "process_id": process,
                                                  "offset": next}),
    )
    .await
    .ok();
    assert_eq!(
        (after["state"].clone(), after["stdout"]["bytes"].clone()),
        (json!("killed"), json!(0))
    );

    // A process with a huge output, read after it ended.
    let started =
        call(client, "start_process", json!({"sandbox": id, "command": ["seq", "1", "100000"]}))
            .await
            .ok();
    let process = started["process_id"].as_str().unwrap();
    let output = call(
        client,
        "read_output",
        json!({"sandbox": id, "process_id": process,
                                                   "wait_seconds": 30}),
    )
    .await
    .ok();
    assert_eq!((output["state"].clone(), output["exit_code"].clone()), (json!("exited"), json!(0)));
    assert!(output["stdout"]["omitted_bytes"].as_u64().unwrap() > 500_000, "{output}");
    assert!(output["stdout"]["text"].as_str().unwrap().ends_with("99999\n100000\n"));
    assert_eq!(output["next_offset"], output["output_end"]);

    // Listing: this session's sandboxes; every sandbox only with the flag.
    let listed = call(client, "list_sandboxes", json!({})).await.ok();
    assert!(listed["scope"].as_str().unwrap().starts_with("session"));
    let sandboxes = listed["sandboxes"].as_array().unwrap();
    assert_eq!(sandboxes.len(), 1, "{listed}");
    assert_eq!(
        (sandboxes[0]["sandbox"].as_str(), sandboxes[0]["phase"].as_str()),
        (Some(id.as_str()), Some("running"))
    );
    let session = listed["session"].as_str().unwrap().to_owned();
    let all = call(client, "list_sandboxes", json!({"scope": "all"})).await.err();
    assert!(all.contains("--allow-foreign-sandboxes"), "{all}");

    // The session tag and lease are on the sandbox.
    let status = shared().client().sandboxes().get_by_id(&id).await.unwrap().status().unwrap();
    assert_eq!(status.tags.unwrap()["mcp-session"], session);

    // A sandbox this session did not create is refused.
    let porter = shared().client();
    let foreign = porter
        .sandboxes()
        .create(porter_sandbox::types::SandboxSpec::new("host").command(["sleep", "300"]))
        .await
        .unwrap();
    let refused =
        call(client, "run_command", json!({"sandbox": foreign.id(), "shell": "true"})).await;
    assert!(refused.err().contains("not one this session created"));
    let refused = call(client, "terminate_sandbox", json!({"sandbox": foreign.id()})).await;
    assert!(refused.err().contains("not one this session created"));
    foreign.terminate().await.unwrap();

    // Snapshot, a sandbox from it, and terminate.
    shell(client, &id, "echo kept > /tmp/mark", 10.0).await;
    let snapshot = call(client, "snapshot", json!({"sandbox": id})).await.ok();
    assert_eq!(snapshot["status"], "ready", "{snapshot}");
    let snapshot_id = snapshot["snapshot_id"].as_str().unwrap();
    let second =
        call(client, "create_sandbox", json!({"snapshot_id": snapshot_id, "ttl_seconds": 120}))
            .await
            .ok();
    let second_id = second["sandbox"].as_str().unwrap().to_owned();
    assert_eq!(second["ttl_seconds"], 120);
    ids.push(second_id.clone());
    let run = shell(client, &second_id, "cat /tmp/mark", 10.0).await;
    assert_eq!(run["stdout"]["text"], "kept\n", "{run}");
    let done = call(client, "terminate_sandbox", json!({"sandbox": second_id})).await.ok();
    assert_eq!(done["terminated"], second_id.as_str());
    let gone = call(client, "run_command", json!({"sandbox": second_id, "shell": "true"})).await;
    assert!(gone.err().contains("not one this session created"));
    assert_all_terminated(&ids[1..]).await;
    let _ = porter.snapshots().delete(snapshot_id).await;
    (ids, session)
}

/// Waits until no workspace volume of `session` is left.
async fn assert_volumes_deleted(session: &str) {
    let prefix = format!("mcp-{session}-");
    let porter = shared().client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let volumes = porter.volumes().list().await.unwrap();
        let left: Vec<String> = volumes
            .iter()
            .map(|v| v.record().name)
            .filter(|name| name.starts_with(&prefix))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "workspace volumes left behind: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_over_stdio_and_sandboxes_end_with_the_session() {
    let client = stdio_client(&[]).await;
    // On stdio the connection is the session: the newest protocol version is offered.
    let (ids, session) = exercise(&client, "2026-07-28").await;
    // End of input ends the session: the server terminates its sandboxes, then exits.
    client.cancel().await.unwrap();
    assert_all_terminated(&ids).await;
    assert_volumes_deleted(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_over_http_and_sandboxes_end_with_the_session() {
    let (client, mut server) = http_client(&[]).await;
    // Over HTTP only the versions with sessions are offered.
    let (ids, session) = exercise(&client, "2025-11-25").await;
    // Closing the client ends its HTTP session (DELETE): its sandboxes are terminated while
    // the server keeps running.
    client.cancel().await.unwrap();
    assert_all_terminated(&ids).await;
    assert_volumes_deleted(&session).await;
    assert!(server.child.try_wait().unwrap().is_none(), "the HTTP server keeps serving");
    server.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_images_and_sigterm() {
    let (client, mut server) = http_client(&["--max-sandboxes", "1", "--ttl-seconds", "300"]).await;
    // A client that insists on discovery (the stateless protocol) is refused at the start: a
    // sandbox must belong to a session.
    let transport = StreamableHttpClientTransport::from_uri(server.url.clone());
    let modern = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25],
    };
    assert!(().serve_with_lifecycle(transport, modern).await.is_err());
    let refused = call(&client, "create_sandbox", json!({"image": "python:3.12"})).await.err();
    assert!(refused.contains("not allowed") && refused.contains("host"), "{refused}");
    let created = call(&client, "create_sandbox", json!({})).await.ok();
    assert_eq!(created["ttl_seconds"], 300);
    let id = created["sandbox"].as_str().unwrap().to_owned();
    let refused = call(&client, "create_sandbox", json!({})).await.err();
    assert!(refused.contains("most it may have at once"), "{refused}");
    let bad = call(
        &client,
        "run_command",
        json!({"sandbox": id, "shell": "true",
                                                 "timeout_seconds": -1}),
    )
    .await
    .err();
    assert!(bad.contains("more than 0"), "{bad}");
    // SIGTERM ends every session: the sandboxes are terminated before the server exits.
    let pid = i32::try_from(server.child.id().unwrap()).unwrap();
    // SAFETY: signalling our own child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status =
        tokio::time::timeout(Duration::from_secs(60), server.child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
    let sandbox = shared().client().sandboxes().get_by_id(&id).await.unwrap();
    assert!(sandbox.status().unwrap().phase.is_terminal(), "terminated before the exit");
    drop(client);

    // Over stdio, a runtime budget ends the session's sandboxes when it is spent.
    let client = stdio_client(&["--max-session-seconds", "5"]).await;
    let created = call(&client, "create_sandbox", json!({"ttl_seconds": 1000})).await.ok();
    assert!(created["ttl_seconds"].as_u64().unwrap() <= 5, "{created}");
    let id = created["sandbox"].as_str().unwrap().to_owned();
    assert_all_terminated(&[id]).await;
    loop {
        let listed = call(&client, "list_sandboxes", json!({})).await.ok();
        if listed["limits"]["remaining_runtime_seconds"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = call(&client, "create_sandbox", json!({})).await.err();
    assert!(refused.contains("budget"), "{refused}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http_session_ends_with_its_sandboxes() {
    let (client, mut server) = http_client(&["--idle-seconds", "2", "--max-timeout", "1"]).await;
    let created = call(&client, "create_sandbox", json!({})).await.ok();
    let id = created["sandbox"].as_str().unwrap().to_owned();
    // No request for longer than --idle-seconds: the session is closed by the server.
    assert_all_terminated(&[id]).await;
    drop(client);
    server.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_sandboxes_to_their_lease() {
    let (client, mut server) = http_client(&["--lease-seconds", "2"]).await;
    let created = call(&client, "create_sandbox", json!({})).await.ok();
    let id = created["sandbox"].as_str().unwrap().to_owned();
    // SIGKILL: no clean-up runs, and nobody renews the lease any more.
    server.child.kill().await.unwrap();
    assert_all_terminated(std::slice::from_ref(&id)).await;
    let status = shared().client().sandboxes().get_by_id(&id).await.unwrap().status().unwrap();
    assert_eq!(
        status.termination_reason,
        Some(porter_sandbox::types::StatusResponseTerminationReason::LeaseExpired)
    );
    drop(client);
}
