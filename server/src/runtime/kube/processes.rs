//! The command of a process (see `crate::process`) on this runtime: this binary's bridge
//! ([`super::bridge`]) with its settings in the process's directory, which the supervisor
//! signals through the bridge's signal socket.

use std::path::{Path, PathBuf};

use porter_sandbox::types::TerminalSize;

use super::{KubeOptions, bridge};
use crate::runtime::{ExecSpec, ProcessCommand};

/// What this server keeps on its host for sandbox `id` (`None` for an id that is no pod name,
/// or without a state directory).
pub(super) fn sandbox_dir(options: &KubeOptions, id: &str) -> Option<PathBuf> {
    let valid = !id.is_empty()
        && id.len() <= 253
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    Some(options.state_dir.as_ref()?.join(id)).filter(|_| valid)
}

/// Writes the bridge's settings for `spec` in sandbox `id` into `dir` and returns the command
/// that runs it.
pub(super) fn command(
    options: &KubeOptions,
    id: &str,
    spec: &ExecSpec,
    terminal: Option<TerminalSize>,
    dir: &Path,
) -> Result<ProcessCommand, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this server's binary for the process: {e}"))?;
    let mut env = spec.env.clone();
    if terminal.is_some() && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".to_owned(), "xterm-256color".to_owned()));
    }
    // Absolute: the bridge runs in the process's directory.
    let kubeconfig = match &options.kubeconfig {
        Some(path) => Some(
            std::path::absolute(path)
                .map_err(|e| format!("cannot resolve the kubeconfig {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let settings = bridge::BridgeSpec {
        kubeconfig,
        namespace: options.namespace.clone(),
        pod: id.to_owned(),
        argv: spec.argv.clone(),
        env,
        cwd: spec.workdir.clone().unwrap_or_default(),
        // The supervisor decides: without stdin, the bridge's is empty and ends at once.
        stdin: true,
        terminal,
    };
    let text = serde_json::to_vec(&settings).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(bridge::BRIDGE_FILE), text)
        .map_err(|e| format!("cannot write the process's settings: {e}"))?;
    Ok(ProcessCommand {
        argv: vec![
            exe.to_string_lossy().into_owned(),
            bridge::BRIDGE_ARG.to_owned(),
            bridge::BRIDGE_FILE.to_owned(),
        ],
        cgroup_suffix: String::new(),
        signal_engine: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_gets_its_settings_and_only_pod_names_get_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = KubeOptions::new("sandboxes");
        options.kubeconfig = Some(PathBuf::from("relative/kubeconfig"));
        assert_eq!(sandbox_dir(&options, "sb-1"), None, "no state directory: no processes");
        options.state_dir = Some(dir.path().to_owned());
        assert_eq!(sandbox_dir(&options, "sb-1"), Some(dir.path().join("sb-1")));
        for bad in ["", "../x", "a/b", "UPPER"] {
            assert_eq!(sandbox_dir(&options, bad), None, "{bad:?}");
        }
        let spec = ExecSpec {
            argv: vec!["sh".into()],
            env: vec![("A".into(), "1".into())],
            workdir: Some("/tmp".into()),
            ..ExecSpec::default()
        };
        let size = TerminalSize { cols: 80, rows: 24 };
        let made = command(&options, "sb-1", &spec, Some(size), dir.path()).unwrap();
        assert!(made.signal_engine);
        assert_eq!(made.argv[1..], [bridge::BRIDGE_ARG, bridge::BRIDGE_FILE]);
        let text = std::fs::read(dir.path().join(bridge::BRIDGE_FILE)).unwrap();
        let settings: bridge::BridgeSpec = serde_json::from_slice(&text).unwrap();
        assert_eq!((settings.pod.as_str(), settings.cwd.as_str()), ("sb-1", "/tmp"));
        assert!(settings.kubeconfig.unwrap().is_absolute(), "the bridge runs elsewhere");
        assert!(settings.env.contains(&("TERM".to_owned(), "xterm-256color".to_owned())));
        assert_eq!(settings.terminal, Some(size));
    }
}
