//! What only real containers prove about sandboxes: isolation from the host and a sandbox
//! without network, through the core client against a real `porter-sandbox serve`. The rest of
//! the sandbox API runs on the fake runtime in `server/tests/api/sandboxes.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use porter_sandbox::types::{SandboxEgressSpec, SandboxSpec, StatusResponsePhase};
use support::{shared, unique, wait_started};

const START: Duration = Duration::from_secs(30);

fn idle(name: &str) -> SandboxSpec {
    SandboxSpec::new("host").name(name).command(["sleep", "300"])
}

#[tokio::test]
async fn isolation_from_the_host() {
    let porter = shared().client();
    let sandbox = porter.sandboxes().create(idle(&unique("iso"))).await.unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    let run = |script: &'static str| {
        let sandbox = sandbox.clone();
        async move { sandbox.exec(["sh", "-c", script]).await.unwrap() }
    };
    let pids = run("ls /proc | grep -c '^[0-9]'").await;
    let count: i32 = pids.stdout.trim().parse().unwrap();
    assert!(count < 10, "host processes must be invisible, saw {count}");
    assert_ne!(run("mount -t tmpfs none /tmp").await.exit_code, 0, "mounting must fail");
    assert_ne!(run("test -e /work || test -e /root/.cargo").await.exit_code, 0, "host data absent");
    assert_eq!(run("id -u").await.stdout.trim(), "1000");
    let host_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script: &'static str = Box::leak(
        format!(
            "python3 -c \"import socket; socket.create_connection(('10.0.2.2', {host_port}), 2)\""
        )
        .into_boxed_str(),
    );
    assert_ne!(run(script).await.exit_code, 0, "the host's loopback must be unreachable");
    // A fork bomb runs into the sandbox's pids limit: forking fails inside.
    let bomb = run("for i in $(seq 1 5000); do sleep 60 & done").await;
    assert_ne!(bomb.exit_code, 0, "the pids limit must stop the fork bomb");
    assert!(bomb.stderr.contains("fork"), "{}", bomb.stderr);
    sandbox.terminate().await.unwrap();
    // The host, and other sandboxes, are unaffected.
    let next = porter.sandboxes().create(idle(&unique("after-bomb"))).await.unwrap();
    assert_eq!(wait_started(&next, START).await, StatusResponsePhase::Running);
    assert_eq!(next.exec(["echo", "fine"]).await.unwrap().stdout, "fine\n");
    next.terminate().await.unwrap();
}

#[tokio::test]
async fn empty_egress_means_no_network() {
    let porter = shared().client();
    let sandbox = porter
        .sandboxes()
        .create(idle(&unique("offline")).egress(SandboxEgressSpec::new(Vec::<String>::new())))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    let links = sandbox.exec(["sh", "-c", "ls /sys/class/net"]).await.unwrap();
    assert_eq!(links.stdout.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    sandbox.terminate().await.unwrap();
}
