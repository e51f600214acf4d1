//! The sandboxes of this runtime on the host (a container whose bundle is under the state
//! directory, or a state directory), for the server to end those it does not track.

use std::{collections::BTreeSet, path::Path};

use serde_json::Value;

use super::{OciRuntime, check, host, validate_id};

impl OciRuntime {
    /// The sandboxes of this runtime on the host: containers whose bundle is under the state
    /// directory, and state directories.
    pub(super) async fn found_sandboxes(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        if let Some(engine) = check::engine_path() {
            match host::run(&engine, &["list", "--format", "json"]).await {
                Ok(text) => found.extend(owned_containers(&text, &self.state_dir)),
                Err(err) => tracing::warn!("cannot list the OCI runtime's containers: {err}"),
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.state_dir) {
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                if validate_id(&name).is_ok() && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    found.insert(name);
                }
            }
        }
        found
    }
}

/// The ids of the containers in `crun list --format json` whose bundle is under `state_dir`
/// (other servers' and other tools' containers are left alone).
fn owned_containers(list: &str, state_dir: &Path) -> Vec<String> {
    let canonical = std::fs::canonicalize(state_dir).ok();
    let entries: Vec<Value> = serde_json::from_str(list.trim()).unwrap_or_default();
    entries
        .iter()
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            let bundle = Path::new(c["bundle"].as_str()?);
            let ours = bundle.starts_with(state_dir)
                || canonical.as_deref().is_some_and(|dir| bundle.starts_with(dir));
            (ours && validate_id(id).is_ok()).then(|| id.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_containers_under_the_state_dir_are_ours() {
        let list = r#"[
            {"id": "sb-mine", "pid": 1, "status": "running", "bundle": "/data/sandboxes/sb-mine/bundle"},
            {"id": "sb-other", "pid": 2, "status": "running", "bundle": "/elsewhere/sb-other/bundle"},
            {"id": "Bad/Id", "pid": 3, "status": "running", "bundle": "/data/sandboxes/x/bundle"}
        ]"#;
        assert_eq!(owned_containers(list, Path::new("/data/sandboxes")), ["sb-mine"]);
        assert!(owned_containers("[\n\n]", Path::new("/data/sandboxes")).is_empty());
        assert!(owned_containers("garbage", Path::new("/data/sandboxes")).is_empty());
    }
}
