//! The fake runtime on its own: what the service tests rely on it to do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;
use crate::runtime::{Limits, event_channel};

fn spec(id: &str, argv: &[&str]) -> LaunchSpec {
    LaunchSpec {
        sandbox_id: id.to_owned(),
        rootfs: PathBuf::from("/"),
        layers: Vec::new(),
        image_mounts: Vec::new(),
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        env: Vec::new(),
        cwd: "/".to_owned(),
        user: (1000, 1000),
        mounts: Vec::new(),
        network: NetworkMode::None,
        limits: Limits::default(),
        workload: None,
    }
}

#[tokio::test]
async fn a_scripted_workload_prints_then_exits_and_kill_is_idempotent() {
    let fake = FakeRuntime::new();
    let workload = Workload::exits(4, Duration::from_millis(20))
        .printing(OutputStream::Stdout, "one")
        .printing(OutputStream::Stderr, "two");
    fake.script_workload(&["job"], workload);
    let (events, mut received) = event_channel();
    fake.start(spec("sb-1", &["job", "--x"]), events).await.unwrap();
    let mut seen = Vec::new();
    while let Some(event) = received.recv().await {
        let done = matches!(event, RuntimeEvent::Exited { .. });
        seen.push(event);
        if done {
            break;
        }
    }
    let lines: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            RuntimeEvent::Line { stream, line, .. } => Some((*stream, line.as_str())),
            RuntimeEvent::Exited { .. } | RuntimeEvent::Terminated { .. } => None,
        })
        .collect();
    assert_eq!(lines, [(OutputStream::Stdout, "one"), (OutputStream::Stderr, "two")]);
    let exit = RuntimeEvent::Exited { sandbox_id: "sb-1".into(), exit_code: 4 };
    assert_eq!(seen.last(), Some(&exit));
    assert_eq!(fake.state("sb-1"), Some(FakeState::Exited(4)));
    assert!(fake.exec("sb-1", vec!["true".into()], Vec::new()).await.is_err());
    fake.kill("sb-1").await.unwrap();
    fake.kill("sb-1").await.unwrap();
    assert_eq!(fake.state("sb-1"), None);
    assert_eq!(fake.kills(), ["sb-1", "sb-1"]);
}

#[tokio::test]
async fn start_failures_are_typed_and_leave_nothing() {
    let fake = FakeRuntime::new();
    fake.script_workload(&["bad"], Workload::fails_to_start("no"));
    let (events, _received) = event_channel();
    let err = fake.start(spec("sb-1", &["bad"]), events.clone()).await.unwrap_err();
    assert_eq!(err, RuntimeError::other("no"));
    assert!(fake.sandbox_ids().is_empty());
    let mut layered = spec("sb-2", &["ok"]);
    layered.layers = vec![PathBuf::from("/nonexistent/layer")];
    let err = fake.start(layered, events.clone()).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Invalid(_)), "{err:?}");
    fake.set_unavailable(Some("down"));
    assert_eq!(fake.check(), Err(RuntimeError::Unavailable("down".into())));
    let err = fake.start(spec("sb-3", &["ok"]), events).await.unwrap_err();
    assert_eq!(err, RuntimeError::Unavailable("down".into()));
    assert_eq!(fake.launches().len(), 3, "every attempt is recorded");
}

#[tokio::test]
async fn exec_answers_from_scripts_builtins_and_deadlines() {
    let fake = FakeRuntime::new();
    fake.script_exec(&["ls", "/"], ExecScript::prints("bin\n"));
    fake.script_exec(&["slow"], ExecScript::prints("late").taking(Duration::from_secs(60)));
    fake.script_exec(&["broken"], ExecScript::fails("engine gone"));
    let (events, _received) = event_channel();
    fake.start(spec("sb-1", &["app"]), events).await.unwrap();
    let run = |argv: &[&str], timeout: Option<Duration>| {
        let spec = ExecSpec {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            timeout,
            ..ExecSpec::default()
        };
        fake.exec_with("sb-1", spec)
    };
    assert_eq!(run(&["ls", "/"], None).await.unwrap().stdout, "bin\n");
    assert_eq!(run(&["echo", "a", "b"], None).await.unwrap().stdout, "a b\n");
    assert_eq!(run(&["false"], None).await.unwrap().exit_code, 1);
    assert_eq!(run(&["nope"], None).await.unwrap().exit_code, 127);
    let late = run(&["slow"], Some(Duration::from_millis(10))).await.unwrap();
    assert_eq!((late.exit_code, late.timed_out, late.stdout.as_str()), (124, true, ""));
    assert_eq!(run(&["broken"], None).await.unwrap_err(), RuntimeError::other("engine gone"));
    let missing = fake.exec_with("sb-9", ExecSpec::default()).await.unwrap_err();
    assert!(matches!(missing, RuntimeError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn snapshots_appear_complete_and_only_of_running_sandboxes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRuntime::new();
    let (events, _received) = event_channel();
    fake.start(spec("sb-1", &["app"]), events).await.unwrap();
    let dest = dir.path().join("snap/layer");
    let size = fake.snapshot("sb-1", dest.clone()).await.unwrap();
    let record = std::fs::read_to_string(dest.join("fake-layer.json")).unwrap();
    assert_eq!(size, record.len() as u64);
    assert!(record.contains("sb-1"), "{record}");
    assert!(fake.snapshot("sb-1", dest).await.is_err(), "never over an existing directory");
    fake.fail_next_snapshot("frozen");
    let err = fake.snapshot("sb-1", dir.path().join("other")).await.unwrap_err();
    assert_eq!(err, RuntimeError::other("frozen"));
    assert!(!dir.path().join("other").exists());
    assert!(fake.exit("sb-1", 0).await);
    let err = fake.snapshot("sb-1", dir.path().join("late")).await.unwrap_err();
    assert!(matches!(err, RuntimeError::NotRunning(_)), "{err:?}");
}

#[tokio::test]
async fn a_restarted_runtime_adopts_what_the_previous_one_left() {
    let fake = FakeRuntime::new();
    let (events, _received) = event_channel();
    fake.start(spec("sb-run", &["app"]), events.clone()).await.unwrap();
    fake.start(spec("sb-end", &["app"]), events).await.unwrap();
    assert!(fake.exit("sb-end", 9).await);
    fake.plant("sb-stray");
    let next = fake.restarted();
    let (events, mut received) = event_channel();
    let state = serde_json::json!({ "fake": true });
    assert_eq!(next.adopt("sb-run", state.clone(), events.clone()).await, Adoption::Running);
    assert_eq!(next.adopt("sb-end", state.clone(), events.clone()).await, Adoption::Exited(9));
    assert_eq!(next.adopt("sb-gone", state, events).await, Adoption::Lost);
    assert_eq!(next.found().await, ["sb-end", "sb-run", "sb-stray"]);
    // The adopted sandbox reports to the new runtime's channel.
    assert!(next.print("sb-run", OutputStream::Stdout, "still here").await);
    let event = received.recv().await.unwrap();
    assert!(matches!(event, RuntimeEvent::Line { ref line, .. } if line == "still here"));
}
