//! What a pod's status says about its sandbox.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::objects::CONTAINER;

/// The sandbox as its pod's status describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Not ready yet (scheduling, pulling, starting), with the reason when the cluster gives one.
    Waiting(Option<String>),
    /// The workload runs and its exec agent answers the readiness probe.
    Ready,
    /// The workload ended with this code.
    Exited(i32),
    /// It cannot start; the message says why.
    Failed(String),
}

/// Waiting reasons that do not resolve by waiting: the sandbox fails with them.
const FATAL: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Reads `pod`'s status.
#[must_use]
pub fn of(pod: &Pod) -> PodState {
    let Some(status) = &pod.status else { return PodState::Waiting(None) };
    for init in status.init_container_statuses.iter().flatten() {
        if let Some(failure) = failure(init) {
            return PodState::Failed(format!(
                "the init container that installs the exec agent failed ({failure}): check \
                 the server's --kube-agent-image"
            ));
        }
    }
    let workload = status.container_statuses.iter().flatten().find(|c| c.name == CONTAINER);
    if let Some(container) = workload {
        let state = container.state.as_ref();
        if let Some(ended) = state.and_then(|s| s.terminated.as_ref()) {
            return PodState::Exited(ended.exit_code);
        }
        if let Some(failure) = failure(container) {
            return PodState::Failed(format!("the cluster cannot start the sandbox: {failure}"));
        }
        let running = state.is_some_and(|s| s.running.is_some());
        if running && container.ready {
            return PodState::Ready;
        }
    }
    match status.phase.as_deref() {
        Some("Failed") => {
            let why = status.message.clone().or_else(|| status.reason.clone());
            return PodState::Failed(format!(
                "the sandbox's pod failed: {}",
                why.unwrap_or_else(|| "no reason given".to_owned())
            ));
        }
        Some("Succeeded") => return PodState::Exited(0),
        _ => {}
    }
    let pending = status.conditions.iter().flatten().find(|c| c.status != "True");
    PodState::Waiting(pending.map(|c| {
        let reason = c.reason.clone().unwrap_or_else(|| c.type_.clone());
        match &c.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason,
        }
    }))
}

/// A container's waiting reason that will not resolve, or a failed run of an init container.
/// Whether the sandbox's container runs (ready or not yet).
#[must_use]
pub fn container_running(pod: &Pod) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses
        .into_iter()
        .flatten()
        .any(|c| c.name == CONTAINER && c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

fn failure(container: &ContainerStatus) -> Option<String> {
    let state = container.state.as_ref()?;
    if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if FATAL.contains(&reason) {
            let message = waiting.message.as_deref().unwrap_or("no details");
            return Some(format!("{reason}: {message}"));
        }
    }
    let ended = state.terminated.as_ref()?;
    (ended.exit_code != 0).then(|| {
        let reason = ended.reason.as_deref().unwrap_or("Error");
        format!("{reason}, exit code {}", ended.exit_code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({ "metadata": { "name": "sb-a" }, "status": status })).unwrap()
    }

    #[test]
    fn statuses_map_to_states() {
        assert_eq!(of(&pod(json!({ "phase": "Pending" }))), PodState::Waiting(None));
        let running = pod(json!({ "phase": "Running", "containerStatuses": [{
            "name": "sandbox", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
            "state": { "running": {} } }] }));
        assert_eq!(of(&running), PodState::Ready);
        let unready = pod(json!({ "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady" }],
            "containerStatuses": [{ "name": "sandbox", "image": "i", "imageID": "",
            "ready": false, "restartCount": 0, "state": { "running": {} } }] }));
        assert_eq!(of(&unready), PodState::Waiting(Some("ContainersNotReady".into())));
        let exited = pod(json!({ "phase": "Failed", "containerStatuses": [{
            "name": "sandbox", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "terminated": { "exitCode": 3 } } }] }));
        assert_eq!(of(&exited), PodState::Exited(3));
        let pull = pod(json!({ "phase": "Pending", "containerStatuses": [{
            "name": "sandbox", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": "ErrImagePull", "message": "not found" } } }] }));
        assert!(matches!(of(&pull), PodState::Failed(m) if m.contains("ErrImagePull: not found")));
        let init = pod(json!({ "phase": "Pending", "initContainerStatuses": [{
            "name": "porter-agent", "image": "i", "imageID": "", "ready": false,
            "restartCount": 0, "state": { "terminated": { "exitCode": 1 } } }] }));
        assert!(matches!(of(&init), PodState::Failed(m) if m.contains("--kube-agent-image")));
    }
}
