//! Servers sharing one runtime (replicas on one cluster): each adopts the sandboxes the others
//! created from the record the runtime keeps with them, so any server answers for any sandbox.

use porter_sandbox::types::{StatusResponsePhase, StatusResponseTerminationReason};

use super::Service;
use crate::{
    runtime::Adoption,
    store::{PhaseUpdate, SandboxRow},
    time::now_micros,
};

impl Service {
    /// Adopts every sandbox of a shared runtime that this server's store lacks.
    pub(super) async fn adopt_shared(&self) {
        for record in self.runtime.records().await {
            match self.store.get_sandbox(&record.id) {
                Ok(None) => {}
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
}
