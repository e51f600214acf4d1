//! Servers sharing one runtime (replicas on one cluster): each adopts the sandboxes the others
//! created from the record the runtime keeps with them, so any server answers for any sandbox.

use porter_sandbox::types::{StatusResponsePhase, StatusResponseTerminationReason};

use super::Service;
use crate::{
    runtime::Adoption,
    store::{PhaseUpdate, SandboxRow},
    time::now_micros,
};

/// How long a sandbox recorded as running may lack its pod before it is settled as lost.
const VANISHED_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Service {
    /// Adopts every sandbox of a shared runtime that this server's store lacks, and settles
    /// the running ones whose pod is gone without this server seeing it go (a watch that
    /// resumed after a gap reports no deletions).
    pub(super) async fn adopt_shared(&self) {
        self.settle_vanished().await;
        for record in self.runtime.records().await {
            match self.store.get_sandbox(&record.id) {
                Ok(None) => {}
                Ok(Some(row)) if row.phase.is_terminal() => {
                    // Ended here, yet its pod is still there (a teardown cut short by a
                    // stopping server, or one that failed): remove it, as any teardown would.
                    if let Err(err) =
                        super::teardown::kill_retrying(self.runtime.as_ref(), &row.id).await
                    {
                        tracing::warn!("cannot remove the pod of ended sandbox {}: {err}", row.id);
                    }
                    continue;
                }
                Ok(Some(_)) => continue,
                Err(err) => {
                    tracing::warn!("cannot check whether sandbox {} is tracked: {err}", record.id);
                    continue;
                }
            }
            let id = record.id.clone();
            let mut row =
                SandboxRow::new_queued(id.clone(), record.name, record.spec, record.created_at);
            row.image = record.image;
            if let Err(err) = self.store.insert_sandbox_with_volumes(&row, &[]) {
                tracing::warn!("cannot adopt sandbox {id} of another server: {err}");
                continue;
            }
            let state = serde_json::json!({ "pod": id });
            if let Err(err) = self.store.set_runtime_state(&id, Some(&state.to_string())) {
                tracing::warn!("cannot record the adopted sandbox {id}: {err}");
            }
            match self.runtime.adopt(&id, state, self.events.clone()).await {
                Adoption::Running => {
                    let update =
                        PhaseUpdate { started_at: Some(now_micros()), ..PhaseUpdate::default() };
                    if let Err(err) =
                        self.store.set_phase(&id, &StatusResponsePhase::Running, &update)
                    {
                        tracing::warn!("cannot record the adopted sandbox {id} as running: {err}");
                    }
                    tracing::info!("adopted sandbox {id} of another server");
                }
                Adoption::Exited(code) => {
                    let phase = if code == 0 {
                        StatusResponsePhase::Succeeded
                    } else {
                        StatusResponsePhase::Failed
                    };
                    let reason = StatusResponseTerminationReason::WorkloadExited;
                    self.finish(&id, &phase, Some(code), reason).await;
                }
                Adoption::Lost => {
                    let reason = StatusResponseTerminationReason::BackendLost;
                    self.finish(&id, &StatusResponsePhase::Failed, None, reason).await;
                }
            }
        }
    }

    async fn settle_vanished(&self) {
        let Ok(live) = self.store.live_sandboxes() else { return };
        let running: Vec<_> =
            live.into_iter().filter(|row| row.phase == StatusResponsePhase::Running).collect();
        if running.is_empty() {
            return;
        }
        // Listed after the rows were read: a sandbox running then has its pod in the list
        // unless it is gone (a launch records `running` only once its pod is ready).
        let Some(present) = self.runtime.present().await else { return };
        let gone: Vec<String> =
            running.into_iter().map(|row| row.id).filter(|id| !present.contains(id)).collect();
        if gone.is_empty() {
            return;
        }
        // The watch usually reports these first (with the reason another server recorded):
        // give it time, then settle what is still running without its pod.
        tokio::time::sleep(VANISHED_GRACE).await;
        let Some(present) = self.runtime.present().await else { return };
        for id in gone.iter().filter(|id| !present.contains(*id)) {
            let still_running = self
                .store
                .get_sandbox(id)
                .is_ok_and(|row| row.is_some_and(|r| r.phase == StatusResponsePhase::Running));
            if !still_running {
                continue;
            }
            tracing::warn!("the pod of sandbox {id} is gone");
            self.explain_gone(id);
            let reason = StatusResponseTerminationReason::BackendLost;
            self.finish(id, &StatusResponsePhase::Failed, Some(137), reason).await;
        }
    }

    fn explain_gone(&self, id: &str) {
        self.log_system(
            id,
            porter_sandbox::types::LogLineLevel::Error,
            "the sandbox's pod was deleted from outside the server; the sandbox was killed",
        );
    }
}
