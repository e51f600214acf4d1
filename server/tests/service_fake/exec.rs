//! Exec through the service: what reaches the runtime, what comes back, what is logged.

use std::time::Duration;

use axum::http::StatusCode;
use porter_sandbox_server::runtime::fake::{ExecScript, FakeRuntime};
use serde_json::json;
use tempfile::TempDir;

#[tokio::test]
async fn exec_runs_in_the_sandbox_with_its_environment_and_logs_the_output() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_exec(&["python3", "-c", "print(6*7)"], ExecScript::prints("42\n"));
    fake.script_exec(&["check"], ExecScript::exits(2, "bad input\n"));
    let server = crate::support::start(data.path(), &fake).await;
    let id = server
        .create(json!({ "image": "host", "command": ["app"], "env": { "MODE": "test", "A": "1" } }))
        .await;
    server.wait_phase(&id, "running").await;

    let request = json!({
        "command": ["python3", "-c", "print(6*7)"],
        "env": { "A": "2" },
        "workdir": "/tmp",
        "stdin": "input",
    });
    let (status, out) = server.post(&format!("/v1/sandbox/{id}/exec"), request).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["stdout"], "42\n");
    assert_eq!(out["exit_code"], 0);
    let exec_id = out["exec_id"].as_str().unwrap().to_owned();
    let (ran_in, spec) = fake.execs().pop().unwrap();
    assert_eq!(ran_in, id);
    let env: Vec<(&str, &str)> = spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // The sandbox's variables first, the exec's after them (the runtime lets the last win).
    assert_eq!(env, [("MODE", "test"), ("A", "1"), ("A", "2")]);
    assert_eq!(spec.workdir.as_deref(), Some("/tmp"));
    assert_eq!(spec.stdin.as_deref(), Some(&b"input"[..]));

    let (_, failed) =
        server.post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": ["check"] })).await;
    assert_eq!(failed["exit_code"], 2, "{failed}");
    assert_eq!(failed["stderr"], "bad input\n");
    let (_, echoed) = server
        .post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": ["echo", "a", "b"] }))
        .await;
    assert_eq!(echoed["stdout"], "a b\n", "{echoed}");

    let (_, logs) = server.get(&format!("/v1/sandbox/{id}/logs")).await;
    let of_exec: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["exec_id"] == exec_id.as_str())
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(of_exec, ["42"]);
}

#[tokio::test]
async fn an_exec_past_its_deadline_is_reported_as_timed_out() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_exec(&["slow"], ExecScript::prints("late").taking(Duration::from_secs(60)));
    let server = crate::support::start(data.path(), &fake).await;
    let id = server.create_running(&["app"]).await;
    let request = json!({ "command": ["slow"], "timeout_seconds": 0.1 });
    let (status, out) = server.post(&format!("/v1/sandbox/{id}/exec"), request).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["exit_code"], 124, "{out}");
    assert_eq!(out["timed_out"], true, "{out}");
    let exec_id = out["exec_id"].as_str().unwrap();
    let lines = server.log_lines(&id).await;
    let marker = format!(
        "[porter-sandbox: exec {exec_id}: killed at its deadline of 0.1 s (exit code 124)]"
    );
    assert!(lines.contains(&marker), "{lines:?}");
}

#[tokio::test]
async fn exec_needs_a_running_sandbox_and_reports_runtime_failures() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_exec(&["doomed"], ExecScript::fails("the engine crashed"));
    let server = crate::support::start(data.path(), &fake).await;
    let id = server.create_running(&["app"]).await;
    let (status, body) =
        server.post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": ["doomed"] })).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], format!("exec in sandbox {id} failed: the engine crashed"));
    let (status, body) =
        server.post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    assert_eq!(server.delete(&format!("/v1/sandbox/{id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) =
        server.post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": ["true"] })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        format!("sandbox {id} has been terminated: exec needs a running sandbox")
    );
    let (status, body) =
        server.post("/v1/sandbox/sb-none/exec", json!({ "command": ["true"] })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "sandbox sb-none does not exist");
}

#[tokio::test]
async fn an_exec_whose_sandbox_ends_meanwhile_is_a_conflict_not_a_result() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    // What the engine says when its container vanishes under a command.
    let vanishing = ExecScript::exits(1, "setns `mnt`: Bad file descriptor\n");
    fake.script_exec(&["dies-with-it"], vanishing.taking(Duration::from_millis(800)));
    fake.script_exec(&["quick"], ExecScript::prints("done\n"));
    let server = crate::support::start(data.path(), &fake).await;
    let id = server.create_running(&["app"]).await;
    let path = format!("/v1/sandbox/{id}/exec");
    let exec = server.post(&path, json!({ "command": ["dies-with-it"] }));
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.delete(&format!("/v1/sandbox/{id}")).await
    };
    let ((status, body), (deleted, _)) = tokio::join!(exec, terminate);
    assert!(deleted.is_success(), "{deleted}");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("terminated while the command ran"), "{message}");
    assert!(!message.contains("setns"), "{message}");

    // A command that ended before the sandbox keeps its result.
    let id = server.create_running(&["app"]).await;
    let (status, body) =
        server.post(&format!("/v1/sandbox/{id}/exec"), json!({ "command": ["quick"] })).await;
    assert_eq!((status, body["stdout"].as_str()), (StatusCode::OK, Some("done\n")), "{body}");
}
