//! The sandbox API end to end: the core client against a real `porter-sandbox serve` running
//! real containers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use porter_sandbox::{
    ErrorKind, LogsQuery,
    api::{ListSandboxesParams, SandboxFilter},
    types::{
        LogLineLevel, SandboxEgressSpec, SandboxResourcesSpec, SandboxSpec, SandboxesPhase,
        StatusResponsePhase, StatusResponseTerminationReason,
    },
};
use support::{shared, unique, wait_finished, wait_started};

const START: Duration = Duration::from_secs(30);

fn idle(name: &str) -> SandboxSpec {
    SandboxSpec::new("host").name(name).command(["sleep", "300"])
}

#[tokio::test]
async fn health_and_readiness() {
    let porter = shared().client();
    assert_eq!(porter.healthz().await.unwrap().status, "ok");
    let ready = porter.readyz().await.unwrap();
    assert_eq!(ready.status, "ok");
    assert!(ready.active_sandboxes >= 0);
}

#[tokio::test]
async fn lifecycle_exec_logs_terminate() {
    let porter = shared().client();
    let name = unique("life");
    let sandbox = porter
        .sandboxes()
        .create(idle(&name).tag("suite", "lifecycle").env("GREETING", "hi"))
        .await
        .unwrap();
    assert!(sandbox.phase().is_none());
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    let status = sandbox.status().unwrap();
    assert_eq!(status.name, name);
    assert_eq!(status.image, "host");
    assert!(status.started_at.is_some());
    assert!(status.termination_reason.is_none());
    assert_eq!(status.host, "");

    let by_name = porter.sandboxes().get(&name).await.unwrap();
    assert_eq!(by_name.id(), sandbox.id());
    assert_eq!(by_name.tags().unwrap()["suite"], "lifecycle");

    let out = sandbox
        .exec(["python3", "-c", "import os; print(os.environ['GREETING'], os.getuid())"])
        .await
        .unwrap();
    assert_eq!(out.stdout, "hi 1000\n");
    assert_eq!(out.exit_code, 0);
    let exec_id = out.exec_id.clone().unwrap();
    assert!(exec_id.starts_with("ex-"));

    let failing = sandbox.exec(["sh", "-c", "echo oops >&2; exit 7"]).await.unwrap();
    assert_eq!(failing.exit_code, 7);
    assert_eq!(failing.stderr, "oops\n");

    let missing = sandbox.exec(["definitely-not-a-command"]).await.unwrap();
    assert_ne!(missing.exit_code, 0);

    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    let line = logs.iter().find(|l| l.exec_id == exec_id).expect("exec output is logged");
    assert_eq!(line.line, "hi 1000");
    assert_eq!(line.level, LogLineLevel::Info);
    assert!(logs.iter().any(|l| l.line == "oops" && l.level == LogLineLevel::Error));

    sandbox.terminate().await.unwrap();
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::Sdk));
    assert!(status.finished_at.is_some());
    sandbox.terminate().await.unwrap(); // idempotent

    let err = sandbox.exec(["true"]).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.message().contains("terminated"), "{}", err.message());
    assert!(!sandbox.logs(LogsQuery::new()).await.unwrap().is_empty(), "logs persist");
}

#[tokio::test]
async fn workload_exit_sets_phase_exit_code_and_logs() {
    let porter = shared().client();
    let failing = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sh", "-c", "echo out; echo err >&2; exit 3"]))
        .await
        .unwrap();
    let ok = porter.sandboxes().create(SandboxSpec::new("host").command(["true"])).await.unwrap();
    assert_eq!(wait_finished(&failing, START).await, StatusResponsePhase::Failed);
    assert_eq!(wait_finished(&ok, START).await, StatusResponsePhase::Succeeded);
    let status = failing.status().unwrap();
    assert_eq!(status.exit_code, Some(3));
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::WorkloadExited));
    assert_eq!(status.name, status.id, "an unnamed sandbox is named by its id");
    assert_eq!(ok.status().unwrap().exit_code, Some(0));
    let logs = failing.logs(LogsQuery::new()).await.unwrap();
    let lines: Vec<_> =
        logs.iter().map(|l| (l.line.as_str(), l.level.clone(), l.exec_id.as_str())).collect();
    assert!(lines.contains(&("out", LogLineLevel::Info, "")), "{lines:?}");
    assert!(lines.contains(&("err", LogLineLevel::Error, "")), "{lines:?}");
}

#[tokio::test]
async fn ttl_terminates() {
    let porter = shared().client();
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "300"]).ttl_seconds(1))
        .await
        .unwrap();
    assert_eq!(
        wait_finished(&sandbox, Duration::from_secs(20)).await,
        StatusResponsePhase::Terminated
    );
    assert_eq!(
        sandbox.status().unwrap().termination_reason,
        Some(StatusResponseTerminationReason::TtlExpired)
    );
}

#[tokio::test]
async fn names_are_validated_and_never_reused() {
    let porter = shared().client();
    let err = porter.sandboxes().create(idle("Not_A_Label")).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.message().contains("DNS label"), "{}", err.message());

    let name = unique("once");
    let first = porter.sandboxes().create(idle(&name)).await.unwrap();
    let err = porter.sandboxes().create(idle(&name)).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    first.terminate().await.unwrap();
    let err = porter.sandboxes().create(idle(&name)).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "names stay reserved after termination");
}

#[tokio::test]
async fn unknown_ids_and_names_are_404() {
    let porter = shared().client();
    let api = porter.raw().sandboxes();
    for err in [
        api.get_sandbox("sb-nope").await.unwrap_err(),
        api.get_sandbox_logs("sb-nope", None, None).await.unwrap_err(),
        api.delete_sandbox("sb-nope", None).await.unwrap_err(),
        api.lookup_sandbox("no-such-name").await.unwrap_err(),
        porter.sandboxes().handle("sb-nope").exec(["true"]).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
}

#[tokio::test]
async fn features_of_later_versions_are_refused_by_name() {
    let porter = shared().client();
    let cases = [
        (
            SandboxSpec::new("host")
                .resources(SandboxResourcesSpec { cpu: Some("lots".into()), memory: None }),
            "resources.cpu",
        ),
        (
            SandboxSpec::new("host")
                .resources(SandboxResourcesSpec { cpu: None, memory: Some("1GB".into()) }),
            "resources.memory",
        ),
        (SandboxSpec::from_snapshot("snap-1"), "snapshot \"snap-1\" does not exist"),
        (SandboxSpec::new("host").env_group("shared"), "env group"),
        (SandboxSpec::new("host").ttl_seconds(0), "ttl_seconds"),
        (SandboxSpec::new(""), "image"),
    ];
    for (spec, word) in cases {
        let err = porter.sandboxes().create(spec).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{word}: {err}");
        assert!(err.message().contains(word), "{word}: {}", err.message());
    }
}

#[tokio::test]
async fn registry_images_fail_the_launch_with_a_reason() {
    let porter = shared().client();
    // A registry that answers 404 (the server itself, on loopback): unlike an unreachable one
    // (which falls back to the host image), a refusal fails the sandbox.
    let image =
        format!("{}/library/python:3.12-slim", shared().base_url.trim_start_matches("http://"));
    let sandbox = porter.sandboxes().create(SandboxSpec::new(image)).await.unwrap();
    assert_eq!(wait_finished(&sandbox, START).await, StatusResponsePhase::Failed);
    assert_eq!(
        sandbox.status().unwrap().termination_reason,
        Some(StatusResponseTerminationReason::LaunchFailed)
    );
    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    assert!(logs.iter().any(|l| l.line.contains("registry")), "{logs:?}");
}

#[tokio::test]
async fn list_filters_and_pages() {
    let porter = shared().client();
    let tag = unique("list");
    let mut made = Vec::new();
    for i in 0..3 {
        let spec = idle(&format!("{tag}-{i}")).tag("batch", &tag).tag("index", i.to_string());
        made.push(porter.sandboxes().create(spec).await.unwrap());
    }
    let mine = porter.sandboxes().list(SandboxFilter::new().tag("batch", &tag)).await.unwrap();
    let ids: Vec<_> = mine.iter().map(|s| s.id().to_owned()).collect();
    let expected: Vec<_> = made.iter().rev().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, expected, "newest first");
    assert!(mine.iter().all(|s| s.phase().is_some()), "listed handles carry their status");

    let one = porter
        .sandboxes()
        .list(SandboxFilter::new().tag("batch", &tag).tag("index", "1"))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let by_prefix = porter
        .sandboxes()
        .list(SandboxFilter::new().search(format!("{}-2", tag.to_uppercase())))
        .await
        .unwrap();
    assert_eq!(by_prefix.len(), 1, "search is a case-insensitive name prefix");

    made[0].terminate().await.unwrap();
    let terminated = porter
        .sandboxes()
        .list(SandboxFilter::new().tag("batch", &tag).phase(SandboxesPhase::Terminated))
        .await
        .unwrap();
    assert_eq!(terminated.len(), 1);

    let page = porter
        .raw()
        .sandboxes()
        .list_sandboxes(
            &ListSandboxesParams::from(SandboxFilter::new().tag("batch", &tag))
                .include_filter_values(true),
        )
        .await
        .unwrap();
    assert_eq!(page.pagination.current_page, 1);
    assert!(!page.pagination.has_next_page);
    let values = page.filter_values.unwrap();
    assert!(values.tags.contains(&format!("batch={tag}")));
    assert!(values.images.contains(&"host".to_owned()));
    assert_eq!(values.phases.len(), 6);

    let counts = porter
        .raw()
        .sandboxes()
        .sandbox_counts(&SandboxFilter::new().tag("batch", &tag))
        .await
        .unwrap();
    assert_eq!(counts.points.iter().map(|p| p.count).sum::<i64>(), 3);
    for sandbox in &made[1..] {
        sandbox.terminate().await.unwrap();
    }
}

#[tokio::test]
async fn python_enum_query_form_is_accepted() {
    let porter = shared().client();
    let sandbox = porter.sandboxes().create(idle(&unique("quirk"))).await.unwrap();
    wait_started(&sandbox, START).await;
    let api = porter.raw().sandboxes();
    // The official Python SDK sends `phase=SandboxesPhase.RUNNING` for enum members.
    let page = api
        .list_sandboxes(&ListSandboxesParams::from(
            SandboxFilter::new().phase(SandboxesPhase::Unknown("SandboxesPhase.RUNNING".into())),
        ))
        .await
        .unwrap();
    assert!(page.sandboxes.iter().any(|s| s.id == sandbox.id()));
    assert!(page.sandboxes.iter().all(|s| s.phase == StatusResponsePhase::Running));
    api.delete_sandbox(sandbox.id(), Some(&porter_sandbox::types::SandboxesSource::Cli))
        .await
        .unwrap();
    assert_eq!(
        sandbox.refresh().await.unwrap().termination_reason,
        Some(StatusResponseTerminationReason::Cli)
    );
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
