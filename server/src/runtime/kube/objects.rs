//! The cluster objects of one sandbox: its pod, the network policy of its egress allow-list,
//! and the service of its exposed port — all named after the sandbox and labelled with it.

use k8s_openapi::api::{
    core::v1::{Pod, Service},
    networking::v1::NetworkPolicy,
};
use serde_json::{Value, json};

use crate::runtime::{LaunchSpec, NetworkMode};

/// Label every object of this runtime carries (its value: [`MANAGER`]).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGER: &str = "porter-sandbox";
/// Label naming the sandbox an object belongs to.
pub const SANDBOX_LABEL: &str = "porter-sandbox.dev/sandbox";
/// Annotation with the server's record of the sandbox ([`crate::runtime::SharedRecord`]).
pub const RECORD_ANNOTATION: &str = "porter-sandbox.dev/record";
/// Annotation a server sets on a pod before it deletes it: the sandbox was terminated (its
/// value: the `termination_reason`), not killed from outside.
pub const TERMINATED_ANNOTATION: &str = "porter-sandbox.dev/terminated";
/// The workload's container.
pub const CONTAINER: &str = "sandbox";
/// Where the exec agent is mounted in the workload's container.
pub const AGENT_DIR: &str = "/porter-sandbox";
/// The agent binary inside the workload's container.
pub const AGENT: &str = "/porter-sandbox/agent";

/// The selector of every object of this runtime.
#[must_use]
pub fn managed_selector() -> String {
    format!("{MANAGED_BY}={MANAGER}")
}

fn labels(id: &str) -> Value {
    json!({ MANAGED_BY: MANAGER, SANDBOX_LABEL: id })
}

/// The pod of a sandbox. `agent_image` holds this server's binary, which copies the exec agent
/// into a volume the workload mounts read-only (`porter-sandbox __install-agent DIR`).
pub fn pod(spec: &LaunchSpec, agent_image: &str) -> Result<Pod, String> {
    let workload = spec.workload.as_ref().ok_or_else(|| {
        "the kubernetes runtime needs the image reference of the sandbox".to_owned()
    })?;
    let record = match &workload.record {
        Some(record) => serde_json::to_string(record)
            .map_err(|e| format!("cannot encode the sandbox's record: {e}"))?,
        None => String::new(),
    };
    let env: Vec<Value> =
        spec.env.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect();
    let mut limits = serde_json::Map::new();
    if let Some(memory) = spec.limits.memory_bytes {
        limits.insert("memory".into(), json!(memory.to_string()));
    }
    if let Some(cpu) = spec.limits.cpu_millis {
        limits.insert("cpu".into(), json!(format!("{cpu}m")));
    }
    if let Some(disk) = spec.limits.disk_bytes {
        limits.insert("ephemeral-storage".into(), json!(disk.to_string()));
    }
    let mut container = json!({
        "name": CONTAINER,
        "image": workload.image,
        "env": env,
        // Requests equal limits: what the sandbox asked for is reserved, never overcommitted.
        "resources": { "limits": limits.clone(), "requests": limits },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "volumeMounts": [{ "name": "porter-agent", "mountPath": AGENT_DIR, "readOnly": true }],
        // `running` means a command can run: the probe is the agent itself, run by the node.
        "readinessProbe": {
            "exec": { "command": [AGENT, "--ping"] },
            "periodSeconds": 1,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
    });
    if let Some(command) = &workload.command {
        container["command"] = json!(command);
    }
    if let Some(args) = &workload.args {
        container["args"] = json!(args);
    }
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": spec.sandbox_id,
            "labels": labels(&spec.sandbox_id),
            "annotations": { RECORD_ANNOTATION: record },
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "hostname": spec.sandbox_id,
            "terminationGracePeriodSeconds": 1,
            "initContainers": [{
                "name": "porter-agent",
                "image": agent_image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["porter-sandbox", crate::runtime::INSTALL_AGENT_ARG, AGENT_DIR],
                "volumeMounts": [{ "name": "porter-agent", "mountPath": AGENT_DIR }],
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": { "drop": ["ALL"] },
                },
            }],
            "containers": [container],
            "volumes": [{ "name": "porter-agent", "emptyDir": { "sizeLimit": "16Mi" } }],
        },
    });
    serde_json::from_value(pod).map_err(|e| format!("cannot build the sandbox's pod: {e}"))
}

/// The network policy a sandbox's network needs, if any: no network denies all traffic; an
/// allow-list permits egress to its addresses only (names are refused before: a policy cannot
/// match them).
pub fn network_policy(spec: &LaunchSpec) -> Result<Option<NetworkPolicy>, String> {
    let id = &spec.sandbox_id;
    let policy = match &spec.network {
        NetworkMode::None => json!({ "podSelector": { "matchLabels": labels(id) },
            "policyTypes": ["Ingress", "Egress"] }),
        NetworkMode::Nat(nat) => {
            let Some(list) = &nat.egress else { return Ok(None) };
            if list.has_names() {
                return Err(NAMES_REFUSED.to_owned());
            }
            let to: Vec<Value> = list
                .nets()
                .iter()
                .map(|net| json!({ "ipBlock": { "cidr": net.to_string() } }))
                .collect();
            let egress = if to.is_empty() { json!([]) } else { json!([{ "to": to }]) };
            json!({ "podSelector": { "matchLabels": labels(id) },
                "policyTypes": ["Egress"], "egress": egress })
        }
    };
    let object = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": id, "labels": labels(id) },
        "spec": policy,
    });
    serde_json::from_value(object)
        .map(Some)
        .map_err(|e| format!("cannot build the sandbox's network policy: {e}"))
}

/// Why hostnames in an allow-list are refused on this runtime.
pub const NAMES_REFUSED: &str = "the kubernetes runtime enforces egress allow-lists with \
    network policies, which match IP addresses and CIDR ranges only: replace the hostnames in \
    allowed_destinations with their addresses, or use the local runtime";

/// The service of the sandbox's exposed port, if any.
pub fn service(spec: &LaunchSpec) -> Result<Option<Service>, String> {
    let NetworkMode::Nat(nat) = &spec.network else { return Ok(None) };
    let Some(port) = nat.port else { return Ok(None) };
    let id = &spec.sandbox_id;
    let object = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": id, "labels": labels(id) },
        "spec": {
            "selector": labels(id),
            "ports": [{ "name": "sandbox", "port": port, "targetPort": port, "protocol": "TCP" }],
        },
    });
    serde_json::from_value(object)
        .map(Some)
        .map_err(|e| format!("cannot build the sandbox's service: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Limits, Nat, Workload, egress::AllowList};

    fn spec(network: NetworkMode) -> LaunchSpec {
        LaunchSpec {
            sandbox_id: "sb-abc".into(),
            rootfs: "/nonexistent".into(),
            layers: vec![],
            image_mounts: vec![],
            argv: vec![],
            env: vec![("A".into(), "1".into())],
            cwd: "/".into(),
            user: (0, 0),
            mounts: vec![],
            network,
            limits: Limits {
                memory_bytes: Some(1 << 30),
                cpu_millis: Some(500),
                pids: None,
                disk_bytes: None,
            },
            workload: Some(Workload {
                image: "busybox:1.36".into(),
                command: Some(vec!["sleep".into()]),
                args: Some(vec!["60".into()]),
                record: None,
            }),
        }
    }

    #[test]
    fn the_pod_carries_the_workload_limits_and_agent() {
        let pod = serde_json::to_value(pod(&spec(NetworkMode::None), "agent:1").unwrap()).unwrap();
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["image"], "busybox:1.36");
        assert_eq!(c["command"], json!(["sleep"]));
        assert_eq!(c["args"], json!(["60"]));
        assert_eq!(c["resources"]["limits"]["cpu"], "500m");
        assert_eq!(c["resources"]["requests"]["memory"], "1073741824");
        assert_eq!(c["readinessProbe"]["exec"]["command"][0], AGENT);
        assert_eq!(pod["metadata"]["labels"][SANDBOX_LABEL], "sb-abc");
        assert_eq!(pod["spec"]["initContainers"][0]["image"], "agent:1");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn networks_become_policies_and_services() {
        let none = network_policy(&spec(NetworkMode::None)).unwrap().unwrap();
        let none = serde_json::to_value(none).unwrap();
        assert_eq!(none["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let open = NetworkMode::Nat(Nat { egress: None, port: Some(8080) });
        assert!(network_policy(&spec(open.clone())).unwrap().is_none());
        let service = serde_json::to_value(service(&spec(open)).unwrap().unwrap()).unwrap();
        assert_eq!(service["spec"]["ports"][0]["port"], 8080);
        let list = AllowList::parse(&["203.0.113.0/24".to_owned()]).unwrap();
        let listed = NetworkMode::Nat(Nat { egress: Some(list), port: None });
        let policy = serde_json::to_value(network_policy(&spec(listed)).unwrap().unwrap()).unwrap();
        assert_eq!(policy["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"], "203.0.113.0/24");
        let named = AllowList::parse(&["api.example.com".to_owned()]).unwrap();
        let named = NetworkMode::Nat(Nat { egress: Some(named), port: None });
        assert!(network_policy(&spec(named)).unwrap_err().contains("IP addresses"));
    }
}
