//! Finding a local server: `porter-sandbox serve` writes one small JSON file saying where it
//! listens and which key it accepts, and every client of the same user reads it when nothing
//! else is configured.
//!
//! The file lives at `$PORTER_SANDBOX_DISCOVERY_FILE` when that is set (an empty value, or
//! `none`, disables discovery), else `$XDG_CONFIG_HOME/porter-sandbox/local-server.json`, else
//! `$HOME/.config/porter-sandbox/local-server.json`. It is owner-only (0600): it holds a key.
//!
//! Explicit settings and the official environment variables always win; see
//! [`crate::config`] for where discovery sits in the precedence.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable naming the discovery file (`none` or empty: no discovery).
pub const ENV_DISCOVERY_FILE: &str = "PORTER_SANDBOX_DISCOVERY_FILE";

/// The discovery file's name inside the configuration directory.
pub const FILE_NAME: &str = "local-server.json";

/// What a running local server tells its clients.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalServer {
    /// Base URL the server answers on, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The key the server accepts (absent when it runs with `--insecure-no-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The server's process id.
    pub pid: u32,
    /// The server's data directory.
    pub data_dir: PathBuf,
}

impl std::fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServer")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("pid", &self.pid)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl LocalServer {
    /// Reads a discovery file; `None` when it is missing or not a discovery file.
    #[must_use]
    pub fn read(path: &Path) -> Option<Self> {
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Whether `base_url` addresses this server: the same URL, or a loopback URL on the same
    /// port (`localhost:8080` and `127.0.0.1:8080` are one server).
    #[must_use]
    pub fn serves(&self, base_url: &str) -> bool {
        let normalize = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
        if normalize(base_url) == normalize(&self.url) {
            return true;
        }
        match (loopback_port(base_url), loopback_port(&self.url)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// The port of an `http://` URL whose host is a loopback name or address.
fn loopback_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback { port.parse().ok() } else { None }
}

/// The discovery file's path given an environment lookup; `None` when disabled or when no
/// home directory is known.
pub fn path_with_env(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(explicit) = env(ENV_DISCOVERY_FILE) {
        let explicit = explicit.trim();
        if explicit.is_empty() || explicit.eq_ignore_ascii_case("none") {
            return None;
        }
        return Some(PathBuf::from(explicit));
    }
    if let Some(config) = env("XDG_CONFIG_HOME").filter(|d| d.starts_with('/')) {
        return Some(PathBuf::from(config).join("porter-sandbox").join(FILE_NAME));
    }
    let home = env("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".config/porter-sandbox").join(FILE_NAME))
}

/// The discovery file's path in this process's environment.
#[must_use]
pub fn path() -> Option<PathBuf> {
    path_with_env(|name| std::env::var(name).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn server(url: &str) -> LocalServer {
        LocalServer { url: url.into(), api_key: Some("k".into()), pid: 1, data_dir: "/d".into() }
    }

    #[test]
    fn loopback_names_of_one_port_are_one_server() {
        let s = server("http://127.0.0.1:8080");
        assert!(s.serves("http://127.0.0.1:8080/"));
        assert!(s.serves("http://localhost:8080"));
        assert!(s.serves("http://[::1]:8080"));
        assert!(!s.serves("http://localhost:8081"));
        assert!(!s.serves("https://example.com:8080"));
        assert!(!s.serves("http://10.0.0.1:8080"));
    }

    #[test]
    fn the_path_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(
            path_with_env(env(&[("HOME", "/home/u")])).unwrap(),
            PathBuf::from("/home/u/.config/porter-sandbox/local-server.json")
        );
        assert_eq!(
            path_with_env(env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/c")])).unwrap(),
            PathBuf::from("/c/porter-sandbox/local-server.json")
        );
        assert_eq!(
            path_with_env(env(&[("HOME", "/h"), (ENV_DISCOVERY_FILE, "/x.json")])).unwrap(),
            PathBuf::from("/x.json")
        );
        assert!(path_with_env(env(&[("HOME", "/h"), (ENV_DISCOVERY_FILE, "none")])).is_none());
        assert!(path_with_env(env(&[])).is_none());
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        assert!(!format!("{:?}", server("http://127.0.0.1:1")).contains("\"k\""));
    }
}
