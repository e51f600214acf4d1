//! `serve --runtime kubernetes` against a real API server (etcd + kube-apiserver + scheduler +
//! a kwok node, RBAC on): lifecycle, phases, TTL, listings, terminate, refusals, restart
//! recovery, two replicas, and a server whose account lacks the permissions.
//!
//! Run through `scripts/k8s/with-cluster.sh cargo test -p porter-sandbox-cli --test kubernetes`
//! (the test command does). Without a cluster the tests say so and pass, unless
//! `PORTER_REQUIRE_K8S=1` (set by the test command), where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "support/kube.rs"]
mod kube_support;
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::{core::v1::Pod, networking::v1::NetworkPolicy};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams},
};
use porter_sandbox::{
    Porter, Sandbox,
    api::SandboxFilter,
    types::{SandboxEgressSpec, SandboxSpec, StatusResponsePhase, StatusResponseTerminationReason},
};
use support::{TestServer, start_server, start_server_in, unique};

const START: Duration = Duration::from_secs(60);

/// The test cluster of `scripts/k8s/cluster.sh`, from its environment.
struct Cluster {
    server_kubeconfig: String,
    admin_kubeconfig: String,
    restricted_kubeconfig: String,
    namespace: String,
}

fn cluster() -> Option<Cluster> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        Some(Cluster {
            server_kubeconfig: var("KUBECONFIG_SERVER")?,
            admin_kubeconfig: var("KUBECONFIG_ADMIN")?,
            restricted_kubeconfig: var("KUBECONFIG_RESTRICTED")?,
            namespace: var("PORTER_K8S_NAMESPACE")?,
        })
    })();
    if found.is_none() {
        assert!(
            std::env::var("PORTER_REQUIRE_K8S").as_deref() != Ok("1"),
            "PORTER_REQUIRE_K8S=1 but no cluster: run through scripts/k8s/with-cluster.sh"
        );
        eprintln!("no Kubernetes test cluster (run through scripts/k8s/with-cluster.sh): skipped");
    }
    found
}

impl Cluster {
    fn server_args(&self) -> Vec<String> {
        kube_support::server_args(&self.server_kubeconfig, &self.namespace, "porter-sandbox:test")
    }

    fn start(&self) -> TestServer {
        let args = self.server_args();
        start_server(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// A second server on the same namespace (its own data directory): a replica.
    fn replica(&self) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let args = self.server_args();
        start_server_in(dir, data, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    }

    async fn admin<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        kube_support::api(&self.admin_kubeconfig, &self.namespace).await
    }
}

fn idle(tag: &str) -> SandboxSpec {
    SandboxSpec::new("busybox:1.36").command(["sleep", "3600"]).tag("suite", tag)
}

/// Polls `check` every 100 ms until it holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn phase(porter: &Porter, id: &str) -> Option<StatusResponsePhase> {
    porter.sandboxes().get_by_id(id).await.ok()?.refresh().await.ok().map(|s| s.phase)
}

async fn pod_exists(pods: &Api<Pod>, id: &str) -> bool {
    pods.get_opt(id).await.unwrap().is_some()
}

async fn running(porter: &Porter, spec: SandboxSpec) -> Sandbox {
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    let status = sandbox.wait_until_running(Some(START)).await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Running);
    sandbox
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_is_a_pod_from_create_to_terminate() {
    let Some(cluster) = cluster() else { return };
    let server = cluster.start();
    let porter = server.client();
    let pods: Api<Pod> = cluster.admin().await;
    let tag = unique("life");
    let sandbox = running(&porter, idle(&tag).env("GREETING", "hi")).await;
    let pod = pods.get(sandbox.id()).await.unwrap();
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["porter-sandbox.dev/sandbox"], sandbox.id());
    let container = &pod.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(container.command.clone().unwrap(), ["sleep", "3600"]);
    let env = container.env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "GREETING" && e.value.as_deref() == Some("hi")));
    let limits = container.resources.clone().unwrap().limits.unwrap();
    let requests = container.resources.clone().unwrap().requests.unwrap();
    assert_eq!(limits, requests, "requests equal limits");
    assert!(limits.contains_key("cpu") && limits.contains_key("memory"));

    let listed = porter.sandboxes().list_all(SandboxFilter::new().tag("suite", &tag)).await;
    assert_eq!(listed.unwrap().len(), 1);

    sandbox.terminate().await.unwrap();
    // DELETE answers once the pod is gone.
    assert!(!pod_exists(&pods, sandbox.id()).await, "the pod outlived the terminate");
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_ends_the_pod_and_a_deleted_pod_fails_its_sandbox() {
    let Some(cluster) = cluster() else { return };
    let server = cluster.start();
    let porter = server.client();
    let pods: Api<Pod> = cluster.admin().await;
    let tag = unique("ttl");
    let short = running(&porter, idle(&tag).ttl_seconds(2)).await;
    let id = short.id().to_owned();
    eventually(Duration::from_secs(20), "the TTL ends the sandbox", || async {
        phase(&porter, &id).await == Some(StatusResponsePhase::Terminated)
    })
    .await;
    let status = short.refresh().await.unwrap();
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::TtlExpired));
    eventually(Duration::from_secs(20), "the TTL's pod is deleted", || async {
        !pod_exists(&pods, &id).await
    })
    .await;

    // The workload's end, as the node reports it in the pod's status (kwok runs nothing:
    // the test writes the status a kubelet would).
    let ends = running(&porter, idle(&tag)).await;
    let status = serde_json::json!({ "status": { "phase": "Failed", "containerStatuses": [{
        "name": "sandbox", "image": "busybox:1.36", "imageID": "", "ready": false,
        "restartCount": 0, "state": { "terminated": { "exitCode": 3, "reason": "Error" } } }] } });
    pods.patch_status(ends.id(), &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(ends.wait(Some(START)).await.unwrap(), 3);
    let ended = ends.refresh().await.unwrap();
    assert_eq!(ended.phase, StatusResponsePhase::Failed);
    assert_eq!(ended.termination_reason, Some(StatusResponseTerminationReason::WorkloadExited));

    // A pod deleted behind the server's back: its sandbox was killed.
    let victim = running(&porter, idle(&tag)).await;
    pods.delete(victim.id(), &DeleteParams::default()).await.unwrap();
    let code = victim.wait(Some(START)).await.unwrap();
    assert_eq!(code, 137);
    assert_eq!(victim.refresh().await.unwrap().phase, StatusResponsePhase::Failed);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_runtime_cannot_do_is_refused_with_a_400_naming_it() {
    let Some(cluster) = cluster() else { return };
    let server = cluster.start();
    let porter = server.client();
    let tag = unique("refuse");
    let refused = |spec: SandboxSpec, word: &'static str| {
        let porter = porter.clone();
        async move {
            let err = porter.sandboxes().create(spec).await.unwrap_err();
            assert_eq!(err.status(), Some(400), "{err}");
            assert!(err.message().contains(word), "{word}: {err}");
        }
    };
    refused(SandboxSpec::new("host").command(["true"]), "local runtime").await;
    let names = SandboxEgressSpec::new(["api.example.com"]);
    refused(idle(&tag).egress(names), "IP addresses").await;
    let volume = idle(&tag).volume_mount("/data", "vol-nonexistent");
    let err = porter.sandboxes().create(volume).await.unwrap_err();
    assert!(err.message().contains("volume"), "{err}");

    let sandbox = running(&porter, idle(&tag)).await;
    // Processes run on this runtime too (kwok's pods run nothing: the real-node tier runs them).
    assert!(
        porter.raw().sandboxes().server_extensions().await.unwrap().processes,
        "processes on kubernetes"
    );
    let err = porter.snapshots().create(sandbox.id(), Default::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.message().contains("kubernetes"), "{err}");

    // An allow-list of addresses becomes a network policy of the pod.
    let listed = idle(&tag).egress(SandboxEgressSpec::new(["203.0.113.0/24"]));
    let fenced = running(&porter, listed).await;
    let policies: Api<NetworkPolicy> = cluster.admin().await;
    let policy = policies.get(fenced.id()).await.unwrap();
    let policy = serde_json::to_value(policy).unwrap();
    assert_eq!(policy["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"], "203.0.113.0/24");
    fenced.terminate().await.unwrap();
    let gone = policies.get_opt(fenced.id()).await.unwrap();
    assert!(gone.is_none(), "the policy outlived its sandbox");
    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_and_a_replica_find_every_sandbox_in_the_cluster() {
    let Some(cluster) = cluster() else { return };
    let first = cluster.start();
    let tag = unique("shared");
    let sandbox = running(&first.client(), idle(&tag)).await;
    let id = sandbox.id().to_owned();

    // A crash and a restart on the same data directory: still running.
    let args = cluster.server_args();
    let first = first.crash_and_restart_as(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(phase(&first.client(), &id).await, Some(StatusResponsePhase::Running));

    // A replica with its own (empty) store adopts it from the cluster.
    let replica = cluster.replica();
    let seen = replica.client();
    eventually(Duration::from_secs(15), "the replica adopts the sandbox", || async {
        phase(&seen, &id).await == Some(StatusResponsePhase::Running)
    })
    .await;
    let listed = seen.sandboxes().list_all(SandboxFilter::new().tag("suite", &tag)).await;
    assert_eq!(listed.unwrap().len(), 1, "the replica lists it with its tags");

    // Terminated through the replica: the first server reports it terminated, not killed.
    seen.sandboxes().get_by_id(&id).await.unwrap().terminate().await.unwrap();
    let origin = first.client();
    eventually(Duration::from_secs(15), "the first server sees the termination", || async {
        phase(&origin, &id).await == Some(StatusResponsePhase::Terminated)
    })
    .await;
    replica.stop();
    first.stop();
}

#[test]
fn a_server_without_the_permissions_refuses_to_start_and_says_why() {
    let Some(cluster) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--runtime", "kubernetes", "--kubeconfig"])
        .arg(&cluster.restricted_kubeconfig)
        .args(["--namespace", &cluster.namespace, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("PORTER_SANDBOX_SERVER_API_KEYS", support::TEST_API_KEY)
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot list the pods of namespace"), "{stderr}");
    assert!(stderr.contains("forbidden") || stderr.contains("403"), "{stderr}");

    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["serve", "--kubeconfig", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("--runtime kubernetes"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_gives_the_reaper_lease_up() {
    use k8s_openapi::api::coordination::v1::Lease;
    let Some(cluster) = cluster() else { return };
    let leases: Api<Lease> = cluster.admin().await;
    let holder = || async {
        let lease = leases.get_opt("porter-sandbox-reaper").await.unwrap();
        lease.and_then(|l| l.spec?.holder_identity)
    };
    let name = unique("reaper");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = cluster.server_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start_server_in(dir, data, &args, &[("POD_NAME", &name)]);
    // Other tests' servers may hold it first: theirs lapses within the lease's 10 s after they
    // stop (or at once if they stop gracefully).
    eventually(Duration::from_secs(60), "the server takes the lease", || async {
        holder().await.as_deref() == Some(name.as_str())
    })
    .await;
    let stopped = Instant::now();
    server.stop();
    // Given up on the way out, not left to lapse after 10 s.
    let after = holder().await;
    assert_ne!(
        after.as_deref(),
        Some(name.as_str()),
        "still held {:?} after the stop",
        stopped.elapsed()
    );
}
