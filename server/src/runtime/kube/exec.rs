//! Commands in a pod: the sandbox's exec agent, started once through `pods/exec` (one
//! long-lived stream, commands multiplexed over it), as the local runtime does with its engine.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess};

use super::objects::{AGENT, CONTAINER};
use crate::runtime::agent_client::Agent;

/// Bytes buffered per direction of the exec stream.
const STREAM_BUFFER: usize = 256 * 1024;

/// The agent of one sandbox: started at most once at a time, again when it ended.
#[derive(Debug, Default)]
pub struct Slot(tokio::sync::Mutex<Option<Running>>);

struct Running {
    agent: Arc<Agent>,
    /// The exec stream: dropping it ends the agent.
    _stream: AttachedProcess,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("agent", &self.agent).finish_non_exhaustive()
    }
}

impl Slot {
    /// The sandbox's agent, started if needed.
    pub async fn get(&self, pods: &Api<Pod>, id: &str) -> Result<Arc<Agent>, String> {
        let mut slot = self.0.lock().await;
        if let Some(running) = slot.as_ref().filter(|r| r.agent.is_alive()) {
            return Ok(running.agent.clone());
        }
        *slot = None;
        let params = AttachParams::default()
            .container(CONTAINER)
            .stdin(true)
            .stdout(true)
            .stderr(false)
            .max_stdin_buf_size(STREAM_BUFFER)
            .max_stdout_buf_size(STREAM_BUFFER);
        let mut stream = pods
            .exec(id, [AGENT, "--inherit-env"], &params)
            .await
            .map_err(|e| format!("cannot start the exec agent of {id} through the cluster: {e}"))?;
        let (Some(output), Some(input)) = (stream.stdout(), stream.stdin()) else {
            return Err(format!("the cluster's exec stream of {id} has no standard input/output"));
        };
        let agent = Arc::new(Agent::spawn(output, input));
        *slot = Some(Running { agent: agent.clone(), _stream: stream });
        Ok(agent)
    }
}
