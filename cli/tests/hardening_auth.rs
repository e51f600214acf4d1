//! The front door of a server started with no key settings: a generated owner-only key, the
//! discovery file clients find it by, and requests refused before any handler runs (no key,
//! foreign Host or Origin, non-JSON bodies, oversized bodies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    io::{Read, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use support::cli::run_raw;

/// Starts a server the way a user does (no key anywhere) on `dir/data`, announcing itself in
/// `dir/local-server.json`; waits for its ready file.
fn spawn_default(dir: &Path) -> (Child, support::ready::Ready) {
    let ready_file = dir.join("ready.json");
    support::ready::clear(&ready_file);
    let mut child = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--ephemeral", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--ready-file")
        .arg(&ready_file)
        .env_remove("PORTER_SANDBOX_SERVER_API_KEYS")
        .env_remove("PORTER_SANDBOX_SERVER_API_KEY_FILE")
        .env("PORTER_SANDBOX_DISCOVERY_FILE", dir.join("local-server.json"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = support::ready::wait(&mut child, &ready_file);
    (child, ready)
}

/// A server started the way a user starts one: no key anywhere.
struct DefaultServer {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
}

impl DefaultServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, ready) = spawn_default(dir.path());
        assert!(ready.auth);
        assert_eq!(ready.api_key_file, Some(dir.path().join("data/api-key")));
        Self { child, dir, url: ready.url }
    }

    fn key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/api-key")).unwrap().trim().to_owned()
    }

    fn discovery(&self) -> PathBuf {
        self.dir.path().join("local-server.json")
    }

    fn stop(mut self) -> String {
        #[allow(unsafe_code)]
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(!self.discovery().exists(), "a stopped server removes its discovery file");
        stderr
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// One raw HTTP/1.1 request; returns the status code and the body.
fn raw(url: &str, request_head: &str, body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request_head.as_bytes()).unwrap();
    // A server refusing a body may answer and close before reading it all.
    let _ = stream.write_all(body);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}

fn post(url: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let host = url.trim_start_matches("http://");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    raw(url, &head, body.as_bytes())
}

#[test]
fn a_server_started_with_no_key_generates_one_and_clients_find_it() {
    let server = DefaultServer::start();
    let data = server.dir.path().join("data");
    assert_eq!(mode(&data), 0o700, "the data directory is owner-only");
    assert_eq!(mode(&data.join("api-key")), 0o600);
    assert_eq!(mode(&data.join("state.db")), 0o600);
    assert_eq!(mode(&server.discovery()), 0o600);
    let key = server.key();
    assert!(key.len() >= 40, "{key}");

    // Nobody gets in without the key; health probes do.
    let host = server.url.trim_start_matches("http://");
    let get = |path: &str, auth: &str| {
        raw(
            &server.url,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"),
            b"",
        )
    };
    let (code, body) = get("/v1/sandbox", "");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("PORTER_SANDBOX_API_KEY"), "{body}");
    assert_eq!(get("/v1/sandbox", "Authorization: Bearer wrong\r\n").0, 401);
    assert_eq!(get("/healthz", "").0, 200);
    // The scheme is case-insensitive.
    assert_eq!(get("/v1/sandbox", &format!("Authorization: bearer {key}\r\n")).0, 200);

    // The CLI finds URL and key in the discovery file alone…
    let discovery = server.discovery();
    let discovery = discovery.to_str().unwrap();
    run_raw(&["list", "--json"], &[("PORTER_SANDBOX_DISCOVERY_FILE", discovery)], None).ok();
    // …and the key when only the URL is configured (any loopback name of the same port).
    let localhost = server.url.replace("127.0.0.1", "localhost");
    run_raw(
        &["list", "--json"],
        &[("PORTER_SANDBOX_DISCOVERY_FILE", discovery), ("PORTER_SANDBOX_BASE_URL", &localhost)],
        None,
    )
    .ok();
    // Without discovery, the same command is refused with the key's 401.
    let refused = run_raw(
        &["list"],
        &[("PORTER_SANDBOX_DISCOVERY_FILE", "none"), ("PORTER_SANDBOX_BASE_URL", &server.url)],
        None,
    );
    refused.code(1);

    let url = server.url.clone();
    let dir_path = server.dir.path().to_path_buf();
    let stderr = server.stop();
    assert!(stderr.contains("export PORTER_SANDBOX_BASE_URL="), "{stderr}");
    assert!(stderr.contains("api-key"), "{stderr}");
    assert!(!stderr.contains(&key), "the banner never prints the key itself: {stderr}");
    drop((url, dir_path));
}

#[test]
fn the_generated_key_survives_a_restart() {
    let first = DefaultServer::start();
    let key = first.key();
    let DefaultServer { mut child, dir, .. } = first;
    child.kill().unwrap();
    child.wait().unwrap();
    let (child, ready) = spawn_default(dir.path());
    let second = DefaultServer { child, dir, url: ready.url };
    assert_eq!(second.key(), key);
    second.stop();
}

#[test]
fn cross_site_and_rebinding_requests_are_refused() {
    let server = support::shared();
    let count = || {
        let list: porter_sandbox::types::ListResponse =
            support::cli::cli(&["list", "--json"]).ok().json();
        list.sandboxes.len()
    };
    let before = count();
    let auth = format!("Authorization: {}\r\n", server.authorization());
    let spec = r#"{"image":"host","command":["sh","-c","echo pwned"]}"#;

    // A form or `fetch(..., {mode: "no-cors"})` can send JSON only as text/plain.
    let (code, body) = post(
        &server.base_url,
        "/v1/sandbox/run",
        &format!("{auth}Content-Type: text/plain\r\n"),
        spec,
    );
    assert_eq!(code, 415, "{body}");
    assert!(body.contains("application/json"), "{body}");
    let (code, _) = post(&server.base_url, "/v1/sandbox/run", &auth, spec);
    assert_eq!(code, 415, "a body without a Content-Type is not JSON");

    let json = format!("{auth}Content-Type: application/json\r\n");
    let (code, body) = post(
        &server.base_url,
        "/v1/sandbox/run",
        &format!("{json}Origin: https://evil.example\r\n"),
        spec,
    );
    assert_eq!(code, 403, "{body}");

    // DNS rebinding: the browser sends the attacker's name as Host.
    let port = server.base_url.rsplit(':').next().unwrap();
    let head = format!(
        "POST /v1/sandbox/run HTTP/1.1\r\nHost: rebind.evil.example:{port}\r\n{json}Content-Length: {}\r\nConnection: close\r\n\r\n",
        spec.len()
    );
    let (code, body) = raw(&server.base_url, &head, spec.as_bytes());
    assert_eq!(code, 421, "{body}");
    assert!(body.contains("--allowed-host"), "{body}");

    // A 2 MiB JSON body is refused before it is read (only its head is sent: unread bytes
    // would make the kernel reset the connection and lose the answer).
    let host = server.base_url.trim_start_matches("http://");
    let head = format!(
        "POST /v1/sandbox/run HTTP/1.1\r\nHost: {host}\r\n{json}Content-Length: {}\r\nConnection: close\r\n\r\n",
        2 << 20
    );
    let (code, body) = raw(&server.base_url, &head, b"");
    assert_eq!(code, 413, "{body}");

    // None of these created anything.
    assert_eq!(count(), before);
    let (code, _) = post(&server.base_url, "/v1/volume", &json, "{}");
    assert_eq!(code, 201, "a same-origin JSON request still works");
}

#[test]
fn empty_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(args)
            .env_remove("PORTER_SANDBOX_SERVER_API_KEYS")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let empty = serve(&["--api-key", ""], &[]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("empty API key"));
    let blank = serve(&[], &[("PORTER_SANDBOX_SERVER_API_KEYS", " , ")]);
    assert_eq!(blank.status.code(), Some(2));
    let file = dir.path().join("keys");
    std::fs::write(&file, "\n# nothing\n").unwrap();
    let no_key = serve(&["--api-key-file", file.to_str().unwrap()], &[]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("holds no key"));
}
