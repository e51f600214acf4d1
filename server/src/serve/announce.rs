//! Telling clients where the server is: the discovery file (read by every SDK and the CLI of
//! the same user), the `--ready-file` for scripts and test harnesses, and the start banner.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use porter_sandbox::discovery::LocalServer;
use serde::Serialize;

/// What `--ready-file` holds once the server accepts requests.
#[derive(Debug, Serialize)]
pub struct ReadyFile<'a> {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: &'a str,
    /// The server's process id.
    pub pid: u32,
    /// The data directory.
    pub data_dir: &'a Path,
    /// The file holding the generated key (absent when keys were given or auth is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<&'a Path>,
    /// Whether requests need a key.
    pub auth: bool,
}

/// Writes `contents` to `path` atomically (temp file + rename) with mode 0600; when `owner` is
/// given the file (and a directory this call created) is handed to that uid/gid.
///
/// # Errors
///
/// The I/O error, with the path.
pub fn write_private(
    path: &Path,
    contents: &[u8],
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(fail)?;
            if let Some((uid, gid)) = owner {
                chown(parent, uid, gid);
            }
        }
    }
    let partial = path.with_extension(format!("partial.{}", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(fail)?;
    out.write_all(contents).and_then(|()| out.sync_all()).map_err(fail)?;
    if let Some((uid, gid)) = owner {
        chown(&partial, uid, gid);
    }
    std::fs::rename(&partial, path).map_err(fail)
}

fn chown(path: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
}

/// Where the discovery file goes and who owns it. A server started with `sudo` announces
/// itself to the user who ran sudo, in that user's configuration directory.
#[must_use]
pub fn discovery_target() -> Option<(PathBuf, Option<(u32, u32)>)> {
    let explicit = std::env::var_os(porter_sandbox::discovery::ENV_DISCOVERY_FILE).is_some();
    if !explicit {
        if let Some((home, uid, gid)) = sudo_user() {
            let path =
                home.join(".config/porter-sandbox").join(porter_sandbox::discovery::FILE_NAME);
            return Some((path, Some((uid, gid))));
        }
    }
    porter_sandbox::discovery::path().map(|path| (path, None))
}

/// The home, uid and gid of the user who ran `sudo`, when the server runs as root under it.
fn sudo_user() -> Option<(PathBuf, u32, u32)> {
    if rustix::process::geteuid().as_raw() != 0 {
        return None;
    }
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    if uid == 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let home = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.get(2)?.parse::<u32>().ok()? == uid {
            fields.get(5).map(PathBuf::from)
        } else {
            None
        }
    })?;
    Some((home, uid, gid))
}

/// Writes the discovery file for this server.
///
/// # Errors
///
/// When it cannot be written (the caller warns; the server runs anyway).
pub fn write_discovery(
    path: &Path,
    owner: Option<(u32, u32)>,
    server: &LocalServer,
) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(server).map_err(|e| e.to_string())?;
    write_private(path, &json, owner)
}

/// Removes the discovery file if it still describes this process (a newer server may have
/// replaced it).
pub fn remove_discovery(path: &Path) {
    if LocalServer::read(path).is_some_and(|s| s.pid == std::process::id()) {
        let _ = std::fs::remove_file(path);
    }
}

/// The lines printed on stderr when the server is up: where it is, where its state and key
/// are, and what to paste into another shell.
#[must_use]
pub fn banner(
    url: &str,
    data_dir: &Path,
    key_file: Option<&Path>,
    auth: bool,
    discovery: Option<&Path>,
) -> String {
    let mut text =
        format!("porter-sandbox server on {url}\n  data directory: {}\n", data_dir.display());
    match (auth, key_file) {
        (true, Some(file)) => {
            text.push_str(&format!("  API key: in {} (owner-only)\n", file.display()));
        }
        (true, None) => text.push_str("  API key: the key(s) it was started with\n"),
        (false, _) => text.push_str(
            "  API key: none (--insecure-no-auth): any local user or process can run code here\n",
        ),
    }
    if let Some(path) = discovery {
        text.push_str(&format!(
            "  clients of this user find it on their own (discovery file {})\n",
            path.display()
        ));
    }
    text.push_str("  elsewhere, set:\n");
    text.push_str(&format!("    export PORTER_SANDBOX_BASE_URL={url}\n"));
    match (auth, key_file) {
        (true, Some(file)) => text.push_str(&format!(
            "    export PORTER_SANDBOX_API_KEY=\"$(cat {})\"\n",
            file.display()
        )),
        (true, None) => text.push_str("    export PORTER_SANDBOX_API_KEY=<one of its keys>\n"),
        (false, _) => {}
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_are_owner_only_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/local-server.json");
        write_private(&path, b"one", None).unwrap();
        write_private(&path, b"two", None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
    }

    #[test]
    fn the_banner_says_what_to_paste() {
        let text = banner(
            "http://127.0.0.1:8080",
            Path::new("/d"),
            Some(Path::new("/d/api-key")),
            true,
            None,
        );
        assert!(text.contains("export PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080"));
        assert!(text.contains("export PORTER_SANDBOX_API_KEY=\"$(cat /d/api-key)\""));
    }
}
