//! Sandboxes that cannot leak, end to end against a real server: waiting, get-or-create,
//! scoped guards, creates that are safe to retry, and leases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use porter_sandbox::{
    ErrorKind, Porter,
    api::{SandboxFilter, new_idempotency_key},
    types::{SandboxSpec, StatusResponsePhase, StatusResponseTerminationReason},
};
use serde_json::Value;
use support::{
    cli::{cli, running_sandbox},
    shared, unique,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START: Duration = Duration::from_secs(60);
/// The lease of the lease tests, seconds.
const LEASE: u64 = 3;
/// Set in the child process of [`a_killed_clients_leased_sandbox_is_terminated`].
const CHILD_ENV: &str = "PORTER_LIFECYCLE_TEST_CHILD";

fn idle(tag: &str) -> SandboxSpec {
    SandboxSpec::new("host").command(["sleep", "300"]).tag("suite", tag)
}

/// The sandboxes tagged `suite=tag`.
async fn tagged(porter: &Porter, tag: &str) -> Vec<porter_sandbox::Sandbox> {
    porter.sandboxes().list_all(SandboxFilter::new().tag("suite", tag)).await.unwrap()
}

#[tokio::test]
async fn wait_poll_and_exit_codes() {
    let porter = shared().client();
    let tag = unique("wait");
    let sandbox = porter.sandboxes().create(idle(&tag)).await.unwrap();
    let status = sandbox.wait_until_running(Some(START)).await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Running);
    assert_eq!(sandbox.poll().await.unwrap(), None);
    let err = sandbox.wait(Some(Duration::from_millis(300))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    sandbox.terminate().await.unwrap();
    assert_eq!(sandbox.wait(Some(START)).await.unwrap(), 137);

    let exits = porter
        .sandboxes()
        .create(
            SandboxSpec::new("host").command(["sh", "-c", "echo bye; exit 3"]).tag("suite", &tag),
        )
        .await
        .unwrap();
    assert_eq!(exits.wait(Some(START)).await.unwrap(), 3);
    assert_eq!(exits.poll().await.unwrap(), Some(3));
}

#[tokio::test]
async fn a_sandbox_that_cannot_start_fails_the_wait_with_its_reason_and_logs() {
    let porter = shared().client();
    let tag = unique("nostart");
    let spec = SandboxSpec::new("oci-layout:/nonexistent/layout").tag("suite", &tag);
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    let err = sandbox.wait_until_running(Some(START)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxTerminal, "{err}");
    let message = err.message();
    assert!(message.contains("ended failed"), "{message}");
    assert!(message.contains("launch_failed"), "{message}");
    assert!(message.contains("launch failed:"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_get_or_create_callers_share_one_sandbox() {
    let porter = shared().client();
    let tag = unique("goc");
    let name = unique("goc-name");
    let calls = (0..6).map(|_| {
        let porter = porter.clone();
        let (name, tag) = (name.clone(), tag.clone());
        tokio::spawn(async move { porter.sandboxes().get_or_create(&name, idle(&tag)).await })
    });
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await.unwrap().unwrap().id().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let existing = tagged(&porter, &tag).await;
    assert_eq!(existing.len(), 1);
    // Once it exists, it is found rather than created.
    let again = porter.sandboxes().get_or_create(&name, idle(&tag)).await.unwrap();
    assert_eq!(again.id(), ids[0]);
    existing[0].terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_sandbox_is_terminated_when_its_guard_drops() {
    let porter = shared().client();
    let tag = unique("scoped");
    let id = {
        let guard = porter.sandboxes().create_scoped(idle(&tag)).await.unwrap();
        guard.wait_until_running(Some(START)).await.unwrap();
        guard.id().to_owned()
    };
    let status = porter.sandboxes().get_by_id(&id).await.unwrap().status().unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
}

/// A proxy in front of `upstream` that forwards the first `POST /v1/sandbox/run`, waits for
/// the server to answer it, and then cuts the client's connection instead of relaying the
/// answer (a response lost on the way). Everything else is relayed.
async fn losing_proxy(upstream: String) -> (String, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_once = cut.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let upstream = upstream.clone();
            let cut = cut_once.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let mut first = vec![0u8; 64 * 1024];
                let n = client.read(&mut first).await.unwrap_or(0);
                let is_create = first[..n].starts_with(b"POST /v1/sandbox/run ");
                server.write_all(&first[..n]).await.unwrap();
                if is_create && !cut.swap(true, Ordering::SeqCst) {
                    // The server answers only after the create is done; drop that answer.
                    let mut answer = [0u8; 1024];
                    let _ = server.read(&mut answer).await;
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (base, cut)
}

#[tokio::test]
async fn a_create_whose_response_is_lost_is_retried_into_one_sandbox() {
    let server = shared();
    let (proxy, cut) = losing_proxy(server.base_url.clone()).await;
    let porter = Porter::builder().base_url(&proxy).api_key(&server.api_key).build().unwrap();
    let tag = unique("retry");
    let sandbox = porter.sandboxes().create(idle(&tag)).await.unwrap();
    assert!(cut.load(Ordering::SeqCst), "the proxy never cut a create");
    let existing = tagged(&server.client(), &tag).await;
    assert_eq!(existing.len(), 1, "a retried create made a second sandbox");
    assert_eq!(existing[0].id(), sandbox.id());
    sandbox.terminate().await.unwrap();
}

#[tokio::test]
async fn an_idempotency_key_replays_its_response_and_refuses_another_body() {
    let porter = shared().client();
    let tag = unique("idem");
    let raw = porter.sandboxes().raw().clone();
    let key = new_idempotency_key();
    let first = raw.create_sandbox_with_key(&idle(&tag), &key).await.unwrap();
    let again = raw.create_sandbox_with_key(&idle(&tag), &key).await.unwrap();
    assert_eq!(again, first);
    let err = raw.create_sandbox_with_key(&idle(&tag).env("X", "1"), &key).await.unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.message().contains("different request"), "{}", err.message());
    assert_eq!(tagged(&porter, &tag).await.len(), 1);
    porter.sandboxes().handle(first.id).terminate().await.unwrap();
}

/// Not a test of its own: the child process of the next test (does nothing unless run as
/// one). Creates a leased sandbox, prints its id, and waits to be killed.
#[tokio::test]
async fn lease_child_process() {
    let Ok(settings) = std::env::var(CHILD_ENV) else { return };
    let mut parts = settings.splitn(3, ' ');
    let (base, key, tag) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let porter = Porter::builder().base_url(base).api_key(key).build().unwrap();
    let spec = idle(tag).lease_seconds(LEASE as i64);
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    println!("created {}", sandbox.id());
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test]
async fn a_killed_clients_leased_sandbox_is_terminated() {
    let server = shared();
    let tag = unique("leasekill");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lease_child_process", "--nocapture"])
        .env(CHILD_ENV, format!("{} {} {tag}", server.base_url, server.api_key))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let porter = server.client();
    let deadline = Instant::now() + START;
    let sandbox = loop {
        if let Some(found) = tagged(&porter, &tag).await.pop() {
            break found;
        }
        assert!(Instant::now() < deadline, "the child created no sandbox");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Two renewal rounds prove the child is renewing, then it dies without a word.
    tokio::time::sleep(Duration::from_secs(2 * LEASE)).await;
    assert!(!sandbox.refresh().await.unwrap().phase.is_terminal(), "ended while renewed");
    child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    child.wait().unwrap();
    let status = loop {
        let status = sandbox.refresh().await.unwrap();
        if status.phase.is_terminal() {
            break status;
        }
        // Generous: the lease runs out LEASE s after the last renewal, then the reaper acts.
        assert!(killed.elapsed() < Duration::from_secs(LEASE + 30), "lease not enforced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LeaseExpired));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_living_client_keeps_its_leased_sandbox() {
    let porter = shared().client();
    let tag = unique("leaselive");
    let sandbox = porter.sandboxes().create(idle(&tag).lease_seconds(LEASE as i64)).await.unwrap();
    let until = Instant::now() + Duration::from_secs(3 * LEASE);
    while Instant::now() < until {
        let status = sandbox.refresh().await.unwrap();
        assert!(!status.phase.is_terminal(), "ended while its client lives: {status:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sandbox.terminate().await.unwrap();
    assert!(porter.leased_sandboxes().is_empty());
    let err = sandbox.renew_lease().await.unwrap_err();
    assert_eq!(err.status(), Some(409));
}

#[test]
fn cli_wait_prints_and_exits_with_the_exit_code() {
    let name = unique("cli-wait");
    cli(&["create", "host", "--name", &name, "--", "sh", "-c", "sleep 0.5; exit 5"]).ok();
    let run = cli(&["wait", &name, "--timeout", "60"]);
    run.code(5);
    assert_eq!(run.stdout, "5\n");

    let idle = unique("cli-wait-idle");
    let id = running_sandbox(&idle, &[]);
    let timed_out = cli(&["wait", &idle, "--timeout", "0.3"]);
    timed_out.code(124);
    assert!(timed_out.stderr.contains("still running"), "{}", timed_out.stderr);
    cli(&["terminate", &id]).ok();
    let run = cli(&["wait", &id]);
    run.code(137);
    assert_eq!(run.stdout, "137\n");
}

#[test]
fn cli_terminate_all_older_than_sweeps_only_old_sandboxes() {
    let tag = unique("sweep");
    let tag_arg = format!("suite={tag}");
    let old = running_sandbox(&unique("sweep-old"), &["--tag", &tag_arg]);
    // The old one must be older than the cut-off, the young one (created next) younger.
    let status: porter_sandbox::types::StatusResponse = cli(&["get", &old, "--json"]).ok().json();
    let created = porter_sandbox_server::time::parse_rfc3339(&status.created_at).unwrap();
    while porter_sandbox_server::time::now_micros() - created < 6_000_000 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let young = running_sandbox(&unique("sweep-young"), &["--tag", &tag_arg]);
    // The cut-off halfway between the two ages, measured now: at least 3 s from either,
    // however long the young one took to start.
    let age = |id: &str| {
        let status: porter_sandbox::types::StatusResponse = cli(&["get", id, "--json"]).ok().json();
        let created = porter_sandbox_server::time::parse_rfc3339(&status.created_at).unwrap();
        porter_sandbox_server::time::now_micros() - created
    };
    let cut_off = format!("{}s", (age(&old) + age(&young)) / 2 / 1_000_000);
    let swept = cli(&["terminate", "--all", "--tag", &tag_arg, "--older-than", &cut_off]);
    swept.ok();
    assert!(swept.stdout.contains(&old), "{}", swept.stdout);
    assert!(!swept.stdout.contains(&young), "{}", swept.stdout);
    let phase = |id: &str| cli(&["get", id, "--json"]).ok().json::<Value>()["phase"].clone();
    assert_eq!(phase(&old), "terminated");
    assert_eq!(phase(&young), "running");
    let bad = cli(&["terminate", "--all", "--older-than", "soon"]);
    bad.code(2);
    assert!(bad.stderr.contains("expected a duration"), "{}", bad.stderr);
    cli(&["terminate", &young]).ok();
}
