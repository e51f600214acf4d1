//! Waiting for a `porter-sandbox serve` to be ready through its `--ready-file`: the one way
//! every harness learns a test server's address (as python/tests/conftest.py,
//! node/test/server.mjs, the Kotlin TestServer and scripts/lib/local-server.sh do).

use std::{
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

/// How long a server may take to write its ready file: generous, for a loaded machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a server's ready file says.
#[derive(Debug, Clone)]
pub struct Ready {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// The file holding the generated key, when the server generated one.
    pub api_key_file: Option<PathBuf>,
    /// Whether requests need a key.
    pub auth: bool,
}

/// Removes a ready file a killed server left behind, so that it is not taken for the next
/// server's.
pub fn clear(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Waits until `child` (started with `--ready-file path`) has written `path`, and returns
/// what it says. Panics when the child exits first or after [`READY_TIMEOUT`].
pub fn wait(child: &mut Child, path: &Path) -> Ready {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        // The server writes the file atomically (temporary file + rename): it is complete
        // once it exists. Its pid tells it from a file a previous server left behind.
        if let Ok(bytes) = std::fs::read(path) {
            let ready = parse(&bytes, path);
            if ready.pid == child.id() {
                return ready;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited ({status}) before writing {}", path.display());
        }
        assert!(
            Instant::now() < deadline,
            "the server wrote no ready file in {READY_TIMEOUT:?} ({})",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn parse(bytes: &[u8], path: &Path) -> Ready {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let text = |key: &str| json[key].as_str().map(str::to_owned);
    Ready {
        url: text("url").unwrap_or_else(|| panic!("no url in {json}")),
        pid: json["pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok())
            .unwrap_or_else(|| panic!("no pid in {json}")),
        data_dir: PathBuf::from(
            text("data_dir").unwrap_or_else(|| panic!("no data_dir in {json}")),
        ),
        api_key_file: text("api_key_file").map(PathBuf::from),
        auth: json["auth"].as_bool().unwrap_or_else(|| panic!("no auth in {json}")),
    }
}
