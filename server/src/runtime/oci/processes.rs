//! The exec command of a process (see `crate::process`): `crun exec` with a full process spec,
//! the pid file the supervisor signals the tree through, and, for a terminal, the console
//! socket the engine hands the terminal's master to.

use crate::runtime::RuntimeError;
use std::path::Path;

use porter_sandbox::types::TerminalSize;
use serde_json::json;

use super::{CGROUP_PARENT, Layout, agent, bundle, shim};
use crate::{
    process::{CONSOLE_SOCKET, PID_FILE},
    runtime::{ExecSpec, ProcessCommand},
};

/// Writes the process spec into `dir` and returns the command that starts it.
pub(super) fn command(
    layout: &Layout,
    engine: &Path,
    spec: &ExecSpec,
    terminal: Option<TerminalSize>,
    dir: &Path,
) -> Result<ProcessCommand, RuntimeError> {
    let defaults = super::exec::check_runnable(layout, spec)?;
    let mut env = spec.env.clone();
    if terminal.is_some() && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".to_owned(), "xterm-256color".to_owned()));
    }
    let mut argv = spec.argv.clone();
    if terminal.is_some() && agent::present(layout) {
        // The agent holds the command until the terminal has its size: a first `stty size`
        // then sees it, and the supervisor has taken the terminal before any output.
        let gate = [agent::AGENT_PATH, agent::PTY_GATE, "--"].map(str::to_owned);
        argv.splice(0..0, gate);
    }
    let mut process = bundle::exec_process(&defaults, argv, &env);
    if let Some(workdir) = &spec.workdir {
        process["cwd"] = workdir.clone().into();
    }
    if let Some(size) = terminal {
        process["terminal"] = true.into();
        process["consoleSize"] = json!({ "height": size.rows, "width": size.cols });
    }
    let process_file = dir.join("process.json");
    std::fs::write(&process_file, process.to_string())
        .map_err(|e| format!("cannot write the process spec: {e}"))?;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut argv = vec![path(engine)];
    let flag = shim::engine_flag(engine);
    if !flag.is_empty() {
        argv.push(flag.to_owned());
    }
    argv.extend(["exec".to_owned(), "--process".to_owned(), path(&process_file)]);
    argv.extend(["--pid-file".to_owned(), path(&dir.join(PID_FILE))]);
    if terminal.is_some() {
        // Relative: the supervisor runs the engine from `dir` (socket paths are short).
        argv.extend(["--console-socket".to_owned(), CONSOLE_SOCKET.to_owned()]);
    }
    argv.push(layout.id.clone());
    Ok(ProcessCommand {
        argv,
        cgroup_suffix: format!(":/{CGROUP_PARENT}/{}", layout.id),
        signal_engine: false,
    })
}
