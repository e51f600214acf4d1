//! The one-shot exec's extension fields: a deadline enforced by the server that kills
//! the command's whole process tree (`timed_out`, exit code 124, the output so far), `workdir`,
//! `env` merged over the sandbox's, `stdin`; the official request shape unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use porter_sandbox::{
    ExecOptions, LogsQuery, Sandbox,
    types::{ExecRequest, SandboxSpec, StatusResponsePhase},
};
use serde_json::{Value, json};
use support::{TestServer, shared, wait_started};

/// A bare HTTP/1.1 request with the harness's key; the status and the body.
async fn request(server: &TestServer, path: &str, body: &Value) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.authorization(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}

async fn running_sandbox(spec: SandboxSpec) -> Sandbox {
    let sandbox = shared().client().sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    sandbox
}

/// The command lines of the sandbox's processes, one per line.
async fn processes(sandbox: &Sandbox) -> String {
    let list = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done";
    sandbox.exec(["sh", "-c", list]).await.unwrap().stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_kills_the_whole_process_tree_and_keeps_the_output() {
    // A deadline shorter than the command, through the core (the HTTP call waits longer).
    let sandbox = running_sandbox(SandboxSpec::new("host").command(["sleep", "infinity"])).await;
    let options = ExecOptions::new().timeout(Duration::from_millis(300));
    let short = sandbox.exec_with(["sh", "-c", "echo a; sleep 30"], options).await.unwrap();
    assert_eq!((short.stdout.as_str(), short.exit_code, short.timed_out), ("a\n", 124, Some(true)));
    let mut request =
        ExecRequest::new(["sh", "-c", "echo started; echo err >&2; sleep 1000 & sleep 1001"]);
    request.timeout_seconds = Some(1.0);
    let started = Instant::now();
    // An old server ignores the deadline: fail in a minute instead of hanging for 1000 s.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        sandbox.raw().exec_sandbox(sandbox.id(), &request, None),
    )
    .await
    .expect("the server enforces the deadline")
    .unwrap();
    let elapsed = started.elapsed();
    eprintln!("deadline 1 s: the answer came after {elapsed:?}");
    let left = processes(&sandbox).await;
    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    let quick = sandbox.raw().exec_sandbox(sandbox.id(), &ExecRequest::new(["true"]), None).await;
    sandbox.terminate().await.unwrap();

    assert_eq!(result.timed_out, Some(true), "{result:?}");
    assert_eq!(result.exit_code, 124, "{result:?}");
    assert_eq!(result.stdout, "started\n");
    assert_eq!(result.stderr, "err\n");
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(10), "{elapsed:?}");
    // Both sleeps are gone: the foreground one and the background child of the shell.
    assert!(!left.contains("sleep 1000") && !left.contains("sleep 1001"), "{left}");
    let exec_id = result.exec_id.clone().unwrap();
    let marker = logs.iter().find(|l| l.exec_id == exec_id && l.line.contains("deadline of 1 s"));
    assert!(marker.is_some(), "{logs:?}");
    let quick = quick.unwrap();
    assert_eq!((quick.exit_code, quick.timed_out), (0, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workdir_env_and_stdin_reach_the_command() {
    let sandbox = running_sandbox(
        SandboxSpec::new("host")
            .command(["sleep", "infinity"])
            .env("A", "sandbox")
            .env("B", "kept"),
    )
    .await;
    let api = sandbox.raw();
    // Through the core's ExecOptions: the same fields on the wire.
    let options = ExecOptions::new()
        .workdir("/tmp")
        .env("A", "exec")
        .env("C", "new")
        .stdin("line one\nline twö\n")
        .timeout(Duration::from_secs(30));
    let script = ["sh", "-c", "pwd; echo \"$A $B $C\"; cat; echo done"];
    let result = sandbox.exec_with(script, options).await.unwrap();
    // Without stdin, standard input is empty (cat does not wait).
    let plain = api.exec_sandbox(sandbox.id(), &ExecRequest::new(["cat"]), None).await.unwrap();
    let mut missing = ExecRequest::new(["pwd"]);
    missing.workdir = Some("/no/such/dir".into());
    let missing = api.exec_sandbox(sandbox.id(), &missing, None).await.unwrap();
    sandbox.terminate().await.unwrap();

    assert_eq!(result.stdout, "/tmp\nexec kept new\nline one\nline twö\ndone\n", "{result:?}");
    assert_eq!((result.exit_code, result.timed_out), (0, None));
    assert_eq!((plain.stdout.as_str(), plain.exit_code), ("", 0));
    assert_ne!(missing.exit_code, 0, "{missing:?}");
    assert!(missing.stderr.contains("/no/such/dir"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_shape_is_unchanged_and_bad_fields_answer_400() {
    let server = shared();
    let sandbox = running_sandbox(SandboxSpec::new("host").command(["sleep", "infinity"])).await;
    let path = format!("/v1/sandbox/{}/exec", sandbox.id());
    let (code, body) = request(server, &path, &json!({"command": ["echo", "hi"]})).await;
    let bad = [
        (json!({"command": ["true"], "timeout_seconds": 0}), "timeout_seconds"),
        (json!({"command": ["true"], "timeout_seconds": -2.5}), "timeout_seconds"),
        (json!({"command": ["true"], "timeout_seconds": "soon"}), "timeout_seconds"),
        (json!({"command": ["true"], "workdir": "tmp"}), "workdir"),
        (json!({"command": ["true"], "env": {"A=B": "x"}}), "env"),
        (json!({"command": ["true"], "env": {"A": 1}}), "env"),
        (json!({"command": ["true"], "stdin": 5}), "stdin"),
    ];
    let mut answers = Vec::new();
    for (body, field) in bad {
        answers.push((request(server, &path, &body).await, field));
    }
    sandbox.terminate().await.unwrap();

    assert_eq!(code, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["stdout"], "hi\n");
    assert_eq!(body["exit_code"], 0);
    assert!(body.get("timed_out").is_none(), "{body}");
    for ((code, body), field) in answers {
        assert_eq!(code, 400, "{field}: {body}");
        assert!(body.contains(field), "{field}: {body}");
    }
}
