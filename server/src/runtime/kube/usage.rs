//! Resource counters of the sandboxes' pods. The server cannot read a node's cgroups, so each
//! sample is `agent --usage` run through the sandbox's own agent (`exec.rs`), which reads its
//! container's cgroup and network namespace from inside. Sampled in the background: the
//! service's `usage()` never waits on the cluster, and sees counters one interval old at most.

#[path = "../../../agent/usage.rs"]
mod counters;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use super::{exec::Slot, lock, objects::AGENT};
use crate::runtime::{ExecSpec, Usage};

/// Counters older than this are sampled again when asked for (the service's interval is
/// seconds; this keeps one sample in flight per sandbox and interval).
const FRESH: Duration = Duration::from_millis(900);
/// A sample that takes longer is given up (a busy node): the last counters stay.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Entry {
    last: Option<Usage>,
    asked: Option<Instant>,
}

/// The last counters of each sandbox.
#[derive(Default)]
pub struct Sampler(Arc<Mutex<HashMap<String, Entry>>>);

impl Sampler {
    /// The last counters of `id` (none before its first sample); starts a new sample when they
    /// are stale and none is under way.
    pub fn get(&self, id: &str, pods: &Api<Pod>, agent: Arc<Slot>) -> Option<Usage> {
        let mut entries = lock(&self.0);
        let entry = entries.entry(id.to_owned()).or_default();
        let stale = entry.asked.is_none_or(|at| at.elapsed() >= FRESH);
        if stale && let Ok(handle) = tokio::runtime::Handle::try_current() {
            entry.asked = Some(Instant::now());
            let (entries, pods, id) = (self.0.clone(), pods.clone(), id.to_owned());
            handle.spawn(async move {
                let sampled =
                    tokio::time::timeout(SAMPLE_TIMEOUT, sample(&pods, &agent, &id)).await;
                match sampled {
                    Ok(Ok(usage)) => {
                        if let Some(entry) = lock(&entries).get_mut(&id) {
                            entry.last = Some(usage);
                        }
                    }
                    Ok(Err(err)) => tracing::debug!("no counters from {id}: {err}"),
                    Err(_) => tracing::debug!("no counters from {id} within {SAMPLE_TIMEOUT:?}"),
                }
            });
        }
        entry.last
    }

    /// Forgets `id` (its sandbox ended).
    pub fn forget(&self, id: &str) {
        lock(&self.0).remove(id);
    }
}

async fn sample(pods: &Api<Pod>, slot: &Slot, id: &str) -> Result<Usage, String> {
    let agent = slot.get(pods, id).await?;
    let spec = ExecSpec {
        argv: vec![AGENT.to_owned(), "--usage".to_owned()],
        timeout: Some(SAMPLE_TIMEOUT),
        ..ExecSpec::default()
    };
    let output = agent
        .run(spec, Vec::new(), String::new())
        .await
        .map_err(|super::super::agent_client::Failure::NotStarted(err)| err.to_string())?;
    let counters = counters::Counters::parse(&output.stdout)
        .filter(|_| output.exit_code == 0)
        .ok_or_else(|| format!("`agent --usage` answered {:?}", output.stdout))?;
    Ok(Usage {
        cpu_usec: counters.cpu_usec,
        memory_bytes: counters.memory_bytes,
        rx_bytes: counters.rx_bytes,
        tx_bytes: counters.tx_bytes,
        oom_kills: counters.oom_kills,
    })
}
