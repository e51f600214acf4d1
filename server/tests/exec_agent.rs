#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The exec agent inside each sandbox: commands run through it, nothing in the sandbox can
//! reach its channel, and commands keep working when it is killed, missing, or when the
//! server restarts. Needs root and crun, like the other OCI runtime tests (skips without).

use std::time::{Duration, Instant};

use porter_sandbox_server::runtime::event_channel;
use porter_sandbox_server::runtime::{Adoption, Runtime, oci::OciRuntime};

#[path = "support/oci.rs"]
mod oci_support;
use oci_support::*;

/// The agent's path inside a sandbox.
const AGENT: &str = "/dev/porter-sandbox-agent";

/// Pids of the sandbox's agents, as the sandbox sees them.
async fn agent_pids(rt: &OciRuntime, id: &str) -> Vec<u32> {
    let script = format!(
        "for p in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = '{AGENT} ' ] \
         && echo ${{p#/proc/}}; done; true"
    );
    let argv = vec!["sh".to_owned(), "-c".to_owned(), script];
    let out = rt.exec(id, argv, Vec::new()).await.unwrap();
    out.stdout.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Waits until the sandbox has exactly one agent; returns its pid.
async fn the_agent(rt: &OciRuntime, id: &str) -> u32 {
    let deadline = Instant::now() + WAIT;
    loop {
        let pids = agent_pids(rt, id).await;
        if let [pid] = pids[..] {
            return pid;
        }
        assert!(Instant::now() < deadline, "agents of {id}: {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_through_an_agent_nothing_else_can_reach() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agent");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let pid = the_agent(&h.rt, &id).await;

    // The command is a child of the agent, with the sandbox's user, directory and variables.
    let script = "echo $PPID; id -u; pwd; echo $GREETING; cat /proc/$PPID/cmdline | tr '\\0' ' '";
    let (out, err, code) = h.exec(&id, &["sh", "-c", script]).await;
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(out, format!("{pid}\n1000\n/home/sandbox\nhello\n{AGENT} "));

    // Not dumpable: the sandbox's processes (same user) cannot open its descriptors, read its
    // environment or trace it.
    for probe in [
        format!("ls /proc/{pid}/fd"),
        format!("cat /proc/{pid}/environ"),
        format!("exec 3</proc/{pid}/fd/0"),
    ] {
        let (out, err, code) = h.exec(&id, &["sh", "-c", &probe]).await;
        assert_ne!(code, 0, "{probe}: {out} {err}");
    }

    // Exit codes, output and missing programs as with any exec.
    assert_eq!(h.exec(&id, &["sh", "-c", "exit 7"]).await.2, 7);
    assert_eq!(h.exec(&id, &["no-such-program"]).await.2, 127);
    assert_eq!(h.exec(&id, &["sh", "-c", "kill -9 $$"]).await.2, 137);
    let big = h.exec(&id, &["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"]).await;
    assert_eq!(big.0.len(), 1 << 20, "the output is capped as for any exec");

    let mut took = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        assert_eq!(h.exec(&id, &["true"]).await.2, 0);
        took.push(t0.elapsed());
    }
    eprintln!("exec through the agent: p50 {:?}", median(took));
}

/// The host pid of sandbox `id`'s agent.
fn host_agent_pid(id: &str) -> Option<u32> {
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).ok()?;
        (cmdline == format!("{AGENT}\0").as_bytes() && cgroup.contains(&format!("/{id}\n")))
            .then_some(pid)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_dies_with_its_agent_and_the_answer_says_so() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agentdeath");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    the_agent(&h.rt, &id).await;
    let argv = vec!["sh".to_owned(), "-c".to_owned(), "echo started; exec sleep 1234".to_owned()];
    let running = h.rt.exec(&id, argv, Vec::new());
    tokio::pin!(running);
    let killer = async {
        // Once the command runs, the agent is killed from the host.
        let deadline = Instant::now() + WAIT;
        while processes_mentioning("sleep 1234").is_empty() {
            assert!(Instant::now() < deadline, "the command never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = host_agent_pid(&id).expect("the agent runs on the host");
        std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        std::future::pending::<()>().await;
    };
    let out = tokio::select! {
        out = &mut running => out.unwrap(),
        () = killer => unreachable!(),
    };
    assert_eq!((out.stdout.as_str(), out.exit_code), ("started\n", 137), "{out:?}");
    assert!(out.stderr.contains("exec agent ended"), "{out:?}");
    assert!(processes_left("sleep 1234").await.is_empty(), "the command outlived its agent");
    // The next command gets a new agent.
    assert_eq!(h.exec(&id, &["echo", "again"]).await, ("again\n".into(), String::new(), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_is_replaced() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agentkill");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let first = the_agent(&h.rt, &id).await;
    // The workload kills it (it may: same user); the command that did it loses its answer.
    let argv = vec!["kill".to_owned(), "-9".to_owned(), first.to_string()];
    let _ = h.rt.exec(&id, argv, Vec::new()).await;
    let (out, _, code) = h.exec(&id, &["echo", "still here"]).await;
    assert_eq!((out.as_str(), code), ("still here\n", 0));
    let second = the_agent(&h.rt, &id).await;
    assert_ne!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_starts_a_new_agent_and_the_old_one_ends() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agentrestart");
    let first = OciRuntime::new(h.state.clone());
    let (tx, _rx1) = event_channel();
    let state = first.start(h.spec(&id, &["sleep", "1000"]), tx).await.unwrap().state;
    let old = the_agent(&first, &id).await;
    drop(first);

    let second = OciRuntime::new(h.state.clone());
    let (tx, _rx2) = event_channel();
    assert_eq!(second.adopt(&id, state, tx).await, Adoption::Running);
    let deadline = Instant::now() + WAIT;
    let new = loop {
        let pids = agent_pids(&second, &id).await;
        if !pids.contains(&old) && pids.len() == 1 {
            break pids[0];
        }
        assert!(Instant::now() < deadline, "agents after the restart: {pids:?} (old {old})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(new, old);

    // A sandbox started without an agent (by an older server) runs its commands with crun exec.
    std::fs::remove_file(h.state.join(&id).join("agent.json")).unwrap();
    let third = OciRuntime::new(h.state.clone());
    let (tx, _rx3) = event_channel();
    let state = serde_json::json!({ "container": id });
    assert_eq!(third.adopt(&id, state, tx).await, Adoption::Running);
    let argv = vec!["sh".to_owned(), "-c".to_owned(), "echo $PPID; echo ok".to_owned()];
    let out = third.exec(&id, argv, Vec::new()).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert!(out.stdout.ends_with("ok\n"), "{out:?}");
    let parent: u32 = out.stdout.lines().next().unwrap().parse().unwrap();
    assert_ne!(parent, new, "crun exec, not the agent, started it");
    third.kill(&id).await.unwrap();
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_concurrent_commands_each_get_their_own_answer() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agentmany");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    the_agent(&h.rt, &id).await;
    // Each costs the sandbox's process limit (256 here) three tasks: the agent's thread for it,
    // the shell and its `sleep`.
    let runs = (0..60).map(|i| {
        let script = format!("sleep 0.2; echo out{i}; echo err{i} >&2; exit {}", i % 7);
        h.rt.exec(&id, vec!["sh".to_owned(), "-c".to_owned(), script], Vec::new())
    });
    let results = futures_util::future::join_all(runs).await;
    for (i, result) in results.into_iter().enumerate() {
        let out = result.unwrap();
        assert_eq!(
            (out.stdout, out.stderr, out.exit_code),
            (format!("out{i}\n"), format!("err{i}\n"), i32::try_from(i % 7).unwrap())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_commands_than_the_agent_can_hold_wait_for_a_slot() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("agentqueue");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.limits.pids = Some(1024);
    h.start(spec).await;
    the_agent(&h.rt, &id).await;
    // 400 at once, each holding its descriptors in the agent for a moment: past the agent's
    // descriptor limit they would fail to start (126, "Too many open files").
    let runs = (0..400).map(|i| {
        let script = format!("sleep 0.3; echo {i}");
        h.rt.exec(&id, vec!["sh".to_owned(), "-c".to_owned(), script], Vec::new())
    });
    let results = futures_util::future::join_all(runs).await;
    for (i, result) in results.into_iter().enumerate() {
        let out = result.unwrap();
        assert_eq!((out.stdout, out.exit_code), (format!("{i}\n"), 0), "{}", out.stderr);
    }
}
