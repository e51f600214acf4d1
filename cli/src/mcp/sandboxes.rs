//! The sandbox tools: `create_sandbox` (checked against the allow-lists and the session's
//! limits, tagged, leased, with a workspace volume), `list_sandboxes` and `snapshot`.

use std::time::Duration;

use porter_sandbox::{
    Sandbox,
    types::{SandboxEgressSpec, SandboxSpec, SnapshotSpec},
};
use serde_json::{Value, json};

use super::{
    params::{CreateSandbox, Scope},
    session::{CREATOR, CREATOR_TAG, Owned, SESSION_TAG},
    shape,
    tools::{Outcome, SandboxTools},
};

/// How long `create_sandbox` waits for a sandbox to run.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// How long `snapshot` waits for a capture to finish before returning it as pending.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(120);

impl SandboxTools {
    /// `create_sandbox`.
    pub(super) async fn create(&self, input: CreateSandbox) -> Outcome {
        if !self.connection_is_session && !self.session.is_initialized() {
            // A request outside an MCP session gets a handler of its own, dropped with the
            // request: a sandbox it created would be terminated at once.
            return Err("over HTTP, sandboxes belong to an MCP session: connect with the \
                        `initialize` handshake (protocol 2025-11-25 or earlier) and send its \
                        Mcp-Session-Id"
                .into());
        }
        let config = &self.session.config;
        let image = input.image.filter(|i| !i.is_empty());
        let image = match (&input.snapshot_id, image) {
            (Some(_), _) => None,
            (None, image) => Some(image.unwrap_or_else(|| config.default_image.clone())),
        };
        if let (Some(image), Some(allowed)) = (&image, &config.allowed_images) {
            if !allowed.contains(image) {
                return Err(format!(
                    "image {image:?} is not allowed here; allowed images: {}",
                    allowed.join(", ")
                ));
            }
        }
        let egress = match (input.egress, &config.egress) {
            (None, default) => default.clone(),
            (Some(asked), Some(allowed)) => {
                if let Some(extra) =
                    asked.iter().find(|d| !allowed.allowed_destinations.contains(d))
                {
                    return Err(format!(
                        "egress destination {extra:?} is not allowed here; allowed: [{}]",
                        allowed.allowed_destinations.join(", ")
                    ));
                }
                Some(SandboxEgressSpec::new(asked))
            }
            (Some(asked), None) => Some(SandboxEgressSpec::new(asked)),
        };
        // First: a spent budget or a full session is the answer, whatever was asked.
        let slot = self.session.reserve()?;
        let remaining = self.session.remaining().as_secs();
        let ttl = input.ttl_seconds.unwrap_or(config.ttl.as_secs());
        let ttl = ttl.min(remaining);
        if ttl == 0 {
            return Err("ttl_seconds must be at least 1".into());
        }
        let image_label = match (&input.snapshot_id, &image) {
            (Some(snapshot), _) => format!("snapshot {snapshot}"),
            (None, image) => image.clone().unwrap_or_default(),
        };
        let mut spec = match (&input.snapshot_id, image) {
            (Some(snapshot), _) => SandboxSpec::from_snapshot(snapshot),
            (None, image) => SandboxSpec::new(image.unwrap_or_default()),
        };
        spec = spec
            .tag(SESSION_TAG, &self.session.id)
            .tag(CREATOR_TAG, CREATOR)
            .command(["sleep", "infinity"])
            .ttl_seconds(i64::try_from(ttl).unwrap_or(i64::MAX))
            .lease_seconds(config.lease_seconds);
        if let Some(name) = &input.name {
            spec = spec.name(name);
        }
        for (key, value) in input.env.unwrap_or_default() {
            spec = spec.env(key, value);
        }
        if let Some(egress) = egress.clone() {
            spec = spec.egress(egress);
        }
        if let Some(resources) = &config.resources {
            spec = spec.resources(resources.clone());
        }
        let porter = &self.session.porter;
        let workspace = match &config.workspace {
            None => None,
            Some(path) => {
                let volume = porter
                    .volumes()
                    .create(porter_sandbox::types::VolumeSpec {
                        // Named after the session: one left behind by a killed server is
                        // recognisable.
                        name: Some(self.session.volume_name()),
                        ..porter_sandbox::types::VolumeSpec::disk()
                    })
                    .await
                    .map_err(|err| format!("could not create the workspace volume: {err}"))?;
                spec = spec.volume_mount(path, volume.id());
                Some((volume.id().to_owned(), path.clone()))
            }
        };
        let created = match porter.sandboxes().create_response(spec).await {
            Ok(created) => created,
            Err(err) => {
                if let Some((volume, _)) = &workspace {
                    let _ = porter.volumes().raw().delete_volume(volume).await;
                }
                return Err(format!("could not create the sandbox: {err}"));
            }
        };
        let owned =
            Owned { name: created.name.clone(), image: image_label, workspace: workspace.clone() };
        slot.fill(&created.id, owned);
        let sandbox = porter.sandboxes().handle(&created.id);
        if let Err(err) = sandbox.wait_until_running(Some(START_TIMEOUT)).await {
            let _ = self.session.terminate(&created.id).await;
            return Err(format!("the sandbox did not start: {err}"));
        }
        Ok(shape::fit(|_| {
            json!({
                "sandbox": created.id,
                "name": created.name,
                "phase": "running",
                "ttl_seconds": ttl,
                "workspace": workspace.as_ref().map(|(_, path)| path),
                "egress": egress.as_ref().map(|e| &e.allowed_destinations),
                "note": "use this id (or the name) as `sandbox` in the other tools",
            })
        }))
    }

    /// `list_sandboxes`.
    pub(super) async fn list(&self, scope: Scope) -> Outcome {
        let session = &self.session;
        let limits = json!({
            "max_sandboxes": session.config.max_sandboxes,
            "remaining_runtime_seconds": session.remaining().as_secs(),
        });
        let items: Vec<Value> = match scope {
            Scope::Session => {
                let owned = session.sandboxes();
                let reads = owned.iter().map(|(id, _)| session.porter.sandboxes().handle(id));
                let statuses = futures_util::future::join_all(
                    reads.map(|sandbox| async move { sandbox.refresh().await }),
                )
                .await;
                owned
                    .iter()
                    .zip(statuses)
                    .map(|((id, owned), status)| {
                        json!({
                            "sandbox": id,
                            "name": owned.name,
                            "image": owned.image,
                            "phase": status.map_or_else(|e| format!("unknown ({e})"), |s| s.phase.to_string()),
                            "workspace": owned.workspace.as_ref().map(|(_, p)| p),
                        })
                    })
                    .collect()
            }
            Scope::All => {
                if !session.config.allow_foreign {
                    return Err("this server lists only this session's sandboxes (scope \
                                \"session\"); it was not started with --allow-foreign-sandboxes"
                        .into());
                }
                let all = session
                    .porter
                    .sandboxes()
                    .list(porter_sandbox::api::ListSandboxesParams::new())
                    .await
                    .map_err(|err| format!("could not list sandboxes: {err}"))?;
                all.iter()
                    .filter_map(Sandbox::status)
                    .map(|s| {
                        let mine =
                            s.tags.as_ref().and_then(|t| t.get(SESSION_TAG)) == Some(&session.id);
                        json!({"sandbox": s.id, "name": s.name, "image": s.image,
                               "phase": s.phase.to_string(), "this_session": mine})
                    })
                    .collect()
            }
        };
        let scope_name = match scope {
            Scope::Session => "session: the sandboxes this session created and has not terminated",
            Scope::All => "all: the first page of every sandbox on the server",
        };
        Ok(shape::fit_list(&items, |kept, left_out| {
            json!({"scope": scope_name, "session": session.id, "limits": limits,
                   "sandboxes": kept, "left_out": left_out})
        }))
    }

    /// `snapshot`.
    pub(super) async fn snapshot_of(&self, reference: &str) -> Outcome {
        let sandbox = self.sandbox(reference).await?;
        let snapshots = self.session.porter.snapshots();
        let mut snapshot = snapshots
            .create(sandbox.id(), SnapshotSpec::filesystem())
            .await
            .map_err(|err| format!("could not snapshot the sandbox: {err}"))?;
        let deadline = tokio::time::Instant::now() + SNAPSHOT_WAIT;
        let mut pause = Duration::from_millis(100);
        let status = |s: &porter_sandbox::types::Snapshot| {
            serde_json::to_value(&s.status).ok().and_then(|v| v.as_str().map(str::to_owned))
        };
        while status(&snapshot).as_deref() == Some("pending")
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            snapshot = snapshots
                .get(&snapshot.id)
                .await
                .map_err(|err| format!("could not read the snapshot: {err}"))?;
        }
        Ok(shape::fit(|_| {
            json!({
                "snapshot_id": snapshot.id,
                "sandbox": snapshot.sandbox_id,
                "status": status(&snapshot),
                "size_bytes": snapshot.size_bytes,
                "failure_reason": snapshot.failure_reason,
                "note": "create_sandbox with snapshot_id starts a new sandbox from it",
            })
        }))
    }
}
