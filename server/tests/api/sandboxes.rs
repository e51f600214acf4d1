//! The sandbox API: lifecycle, exec and logs, names, refusals, listings.

use porter_sandbox::{
    ErrorKind, LogsQuery,
    api::{ListSandboxesParams, SandboxFilter},
    types::{
        LogLineLevel, SandboxResourcesSpec, SandboxSpec, SandboxesPhase, StatusResponsePhase,
        StatusResponseTerminationReason,
    },
};
use porter_sandbox_server::runtime::{
    OutputStream,
    fake::{ExecScript, FakeRuntime, Workload},
};

use crate::{support, wait_finished, wait_started};

fn idle(name: &str) -> SandboxSpec {
    SandboxSpec::new("host").name(name).command(["sleep", "300"])
}

#[tokio::test]
async fn health_and_readiness() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    assert_eq!(porter.healthz().await.unwrap().status, "ok");
    let ready = porter.readyz().await.unwrap();
    assert_eq!(ready.status, "ok");
    assert_eq!(ready.active_sandboxes, 0);
}

#[tokio::test]
async fn lifecycle_exec_logs_terminate() {
    let fake = FakeRuntime::new();
    let greet = ["python3", "-c", "import os; print(os.environ['GREETING'])"];
    fake.script_exec(&greet, ExecScript::prints("hi\n"));
    fake.script_exec(&["sh", "-c", "echo oops >&2; exit 7"], ExecScript::exits(7, "oops\n"));
    let served = support::serve(&fake, |_| {}).await;
    let porter = served.client();
    let sandbox = porter
        .sandboxes()
        .create(idle("life").tag("suite", "lifecycle").env("GREETING", "hi"))
        .await
        .unwrap();
    assert!(sandbox.phase().is_none());
    assert_eq!(wait_started(&sandbox).await, StatusResponsePhase::Running);
    let status = sandbox.status().unwrap();
    assert_eq!(status.name, "life");
    assert_eq!(status.image, "host");
    assert!(status.started_at.is_some());
    assert!(status.termination_reason.is_none());
    assert_eq!(status.host, "");

    let by_name = porter.sandboxes().get("life").await.unwrap();
    assert_eq!(by_name.id(), sandbox.id());
    assert_eq!(by_name.tags().unwrap()["suite"], "lifecycle");

    let out = sandbox.exec(greet).await.unwrap();
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(out.exit_code, 0);
    let exec_id = out.exec_id.clone().unwrap();
    assert!(exec_id.starts_with("ex-"));
    let (_, spec) = fake.execs().pop().unwrap();
    assert!(spec.env.contains(&("GREETING".to_owned(), "hi".to_owned())), "{:?}", spec.env);

    let failing = sandbox.exec(["sh", "-c", "echo oops >&2; exit 7"]).await.unwrap();
    assert_eq!(failing.exit_code, 7);
    assert_eq!(failing.stderr, "oops\n");
    let missing = sandbox.exec(["definitely-not-a-command"]).await.unwrap();
    assert_eq!(missing.exit_code, 127);

    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    let line = logs.iter().find(|l| l.exec_id == exec_id).expect("exec output is logged");
    assert_eq!(line.line, "hi");
    assert_eq!(line.level, LogLineLevel::Info);
    assert!(logs.iter().any(|l| l.line == "oops" && l.level == LogLineLevel::Error));

    sandbox.terminate().await.unwrap();
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::Sdk));
    assert!(status.finished_at.is_some());
    assert_eq!(fake.state(sandbox.id()), None, "the runtime stopped it");
    sandbox.terminate().await.unwrap(); // idempotent

    let err = sandbox.exec(["true"]).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.message().contains("terminated"), "{}", err.message());
    assert!(!sandbox.logs(LogsQuery::new()).await.unwrap().is_empty(), "logs persist");
}

#[tokio::test]
async fn workload_exit_sets_phase_exit_code_and_logs() {
    let fake = FakeRuntime::new();
    let fails = Workload::exits(3, std::time::Duration::from_millis(200))
        .printing(OutputStream::Stdout, "out")
        .printing(OutputStream::Stderr, "err");
    fake.script_workload(&["fails"], fails);
    fake.script_workload(&["true"], Workload::exits(0, std::time::Duration::ZERO));
    let served = support::serve(&fake, |_| {}).await;
    let porter = served.client();
    let failing =
        porter.sandboxes().create(SandboxSpec::new("host").command(["fails"])).await.unwrap();
    let ok = porter.sandboxes().create(SandboxSpec::new("host").command(["true"])).await.unwrap();
    assert_eq!(wait_finished(&failing).await, StatusResponsePhase::Failed);
    assert_eq!(wait_finished(&ok).await, StatusResponsePhase::Succeeded);
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
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "300"]).ttl_seconds(1))
        .await
        .unwrap();
    assert_eq!(wait_finished(&sandbox).await, StatusResponsePhase::Terminated);
    assert_eq!(
        sandbox.status().unwrap().termination_reason,
        Some(StatusResponseTerminationReason::TtlExpired)
    );
}

#[tokio::test]
async fn names_are_validated_and_never_reused() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let err = porter.sandboxes().create(idle("Not_A_Label")).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.message().contains("DNS label"), "{}", err.message());

    let first = porter.sandboxes().create(idle("once")).await.unwrap();
    let err = porter.sandboxes().create(idle("once")).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    first.terminate().await.unwrap();
    let err = porter.sandboxes().create(idle("once")).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "names stay reserved after termination");
}

#[tokio::test]
async fn unknown_ids_and_names_are_404() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
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
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
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
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    // A registry that answers 404 (the server itself, on loopback): unlike an unreachable one
    // (which falls back to the host image), a refusal fails the sandbox.
    let image =
        format!("{}/library/python:3.12-slim", served.base_url.trim_start_matches("http://"));
    let sandbox = porter.sandboxes().create(SandboxSpec::new(image)).await.unwrap();
    assert_eq!(wait_finished(&sandbox).await, StatusResponsePhase::Failed);
    assert_eq!(
        sandbox.status().unwrap().termination_reason,
        Some(StatusResponseTerminationReason::LaunchFailed)
    );
    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    assert!(logs.iter().any(|l| l.line.contains("registry")), "{logs:?}");
}

#[tokio::test]
async fn list_filters_and_pages() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let mut made = Vec::new();
    for i in 0..3 {
        let spec = idle(&format!("list-{i}")).tag("batch", "b1").tag("index", i.to_string());
        made.push(porter.sandboxes().create(spec).await.unwrap());
    }
    porter.sandboxes().create(idle("other")).await.unwrap();
    let mine = porter.sandboxes().list(SandboxFilter::new().tag("batch", "b1")).await.unwrap();
    let ids: Vec<_> = mine.iter().map(|s| s.id().to_owned()).collect();
    let expected: Vec<_> = made.iter().rev().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, expected, "newest first");
    assert!(mine.iter().all(|s| s.phase().is_some()), "listed handles carry their status");

    let one = porter
        .sandboxes()
        .list(SandboxFilter::new().tag("batch", "b1").tag("index", "1"))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let by_prefix = porter.sandboxes().list(SandboxFilter::new().search("LIST-2")).await.unwrap();
    assert_eq!(by_prefix.len(), 1, "search is a case-insensitive name prefix");

    made[0].terminate().await.unwrap();
    let terminated = porter
        .sandboxes()
        .list(SandboxFilter::new().tag("batch", "b1").phase(SandboxesPhase::Terminated))
        .await
        .unwrap();
    assert_eq!(terminated.len(), 1);

    let page = porter
        .raw()
        .sandboxes()
        .list_sandboxes(
            &ListSandboxesParams::from(SandboxFilter::new().tag("batch", "b1"))
                .include_filter_values(true),
        )
        .await
        .unwrap();
    assert_eq!(page.pagination.current_page, 1);
    assert!(!page.pagination.has_next_page);
    let values = page.filter_values.unwrap();
    assert!(values.tags.contains(&"batch=b1".to_owned()), "{:?}", values.tags);
    assert_eq!(values.images, ["host"]);
    assert_eq!(values.phases.len(), 6);

    let counts = porter
        .raw()
        .sandboxes()
        .sandbox_counts(&SandboxFilter::new().tag("batch", "b1"))
        .await
        .unwrap();
    assert_eq!(counts.points.iter().map(|p| p.count).sum::<i64>(), 3);
}

#[tokio::test]
async fn python_enum_query_form_is_accepted() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let sandbox = porter.sandboxes().create(idle("quirk")).await.unwrap();
    wait_started(&sandbox).await;
    let queued = porter.sandboxes().create(idle("not-running")).await.unwrap();
    queued.terminate().await.unwrap();
    let api = porter.raw().sandboxes();
    // The official Python SDK sends `phase=SandboxesPhase.RUNNING` for enum members.
    let page = api
        .list_sandboxes(&ListSandboxesParams::from(
            SandboxFilter::new().phase(SandboxesPhase::Unknown("SandboxesPhase.RUNNING".into())),
        ))
        .await
        .unwrap();
    let ids: Vec<&str> = page.sandboxes.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [sandbox.id()]);
    api.delete_sandbox(sandbox.id(), Some(&porter_sandbox::types::SandboxesSource::Cli))
        .await
        .unwrap();
    assert_eq!(
        sandbox.refresh().await.unwrap().termination_reason,
        Some(StatusResponseTerminationReason::Cli)
    );
}
