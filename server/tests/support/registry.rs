//! A registry fixture shared by `server/tests/registry.rs` and the `server_bench` example (which
//! includes this file by path): Debian's `docker-registry` on a free loopback port, busybox
//! images built offline with umoci, pushed with skopeo. Only std, libc and serde_json.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The user and password of the htpasswd registry.
pub const USER: &str = "puller";
/// See [`USER`].
pub const PASSWORD: &str = "s3cret-pw";

/// Fails (never skips) when a tool is missing, saying what to install.
pub fn need(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(found, "`{tool}` is missing: install it with `apt-get install -y {package}`");
}

/// Runs `command`, failing with its output unless it succeeds; its stdout.
pub fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `docker-registry` process on loopback; its access log is in `log`.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its combined output, access log included.
    pub log: PathBuf,
}

impl Registry {
    /// Starts a registry storing into `dir`, with htpasswd authentication when given.
    pub fn start(dir: &Path, htpasswd: Option<&Path>) -> Self {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let auth = htpasswd.map_or(String::new(), |path| {
            format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", path.display())
        });
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {addr}\n{auth}",
                dir.join("storage").display()
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&config).stdout(out.try_clone().unwrap()).stderr(out);
        // SAFETY: prctl is async-signal-safe; the registry must not outlive the tests.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // The parent-death signal fires when the spawning *thread* exits, and the registries
        // are shared by every test: spawn from a thread that lives as long as the process.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = command.spawn();
            let failed = child.as_ref().err().map(ToString::to_string);
            sender.send(failed).unwrap();
            let _keep = child;
            loop {
                std::thread::park();
            }
        });
        if let Some(error) = receiver.recv().unwrap() {
            panic!("cannot start docker-registry: {error}");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http_status(&addr, "/v2/");
            if status == Some(200) || status == Some(401) {
                break;
            }
            assert!(Instant::now() < deadline, "the registry did not start: {}", read(&log));
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { addr, log }
    }

    /// How many GETs of `path` the registry answered.
    pub fn gets(&self, path: &str) -> usize {
        read(&self.log)
            .lines()
            .filter(|l| l.contains(&format!("\"GET {path} ")) && l.contains("HTTP/1.1\" 20"))
            .count()
    }
}

pub fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// An OCI layout with `base` (2 layers, the second deleting a file of the first), `other`
/// (its arm64 twin) and `fresh` (base + a unique layer).
pub struct Images {
    /// The OCI layout directory.
    pub layout: PathBuf,
    /// The digest of `fresh`'s own layer.
    pub fresh_layer: String,
    /// The digests of `base`'s two layers.
    pub base_layers: Vec<String>,
}

pub fn build_images(dir: &Path) -> Images {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    let image = |tag: &str| format!("{}:{tag}", layout.display());
    run(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image("base")]));
    run(Command::new("umoci").args(["unpack", "--image", &image("base")]).arg(&bundle));
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "etc", "tmp", "home"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    run(Command::new("chroot").arg(&rootfs).args(["/bin/busybox", "--install", "-s", "/bin"]));
    std::fs::write(rootfs.join("etc/doomed"), "layer one\n").unwrap();
    std::fs::write(rootfs.join("etc/kept"), "kept\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--refresh-bundle", "--image", &image("base")])
        .arg(&bundle));
    std::fs::remove_file(rootfs.join("etc/doomed")).unwrap();
    std::fs::write(rootfs.join("etc/added"), "layer two\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--refresh-bundle", "--image", &image("base")])
        .arg(&bundle));
    let config = |tag: &str, extra: &[&str]| {
        run(Command::new("umoci")
            .args(["config", "--image", &image(tag)])
            .args(["--config.cmd", "sleep", "--config.cmd", "infinity"])
            .args(extra));
    };
    config("base", &["--config.env", "FLAVOR=native"]);
    config("base", &["--tag", "other", "--architecture", "arm64", "--config.env", "FLAVOR=arm"]);
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    std::fs::write(rootfs.join("etc/fresh"), format!("{} {unique:?}\n", std::process::id()))
        .unwrap();
    run(Command::new("umoci").args(["tag", "--image", &image("base"), "fresh"]));
    run(Command::new("umoci")
        .args(["repack", "--refresh-bundle", "--image", &image("fresh")])
        .arg(&bundle));
    config("fresh", &[]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_of = |tag: &str| {
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()
            .clone();
        let hex = entry["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
        let bytes = std::fs::read(layout.join("blobs/sha256").join(&hex)).unwrap();
        (entry, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
    };
    let (_, fresh) = manifest_of("fresh");
    let fresh_layer =
        fresh["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().to_owned();
    let base_layers: Vec<String> = manifest_of("base").1["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(base_layers.len(), 2);
    Images { layout, fresh_layer, base_layers }
}

/// Pushes layout tag `tag` to `dest` (docker://…), as Docker v2 when `docker`.
pub fn push(images: &Images, tag: &str, dest: &str, docker: bool, creds: bool) {
    let mut command = Command::new("skopeo");
    command.args(["copy", "--quiet", "--dest-tls-verify=false"]);
    if docker {
        command.args(["--format", "v2s2"]);
    }
    if creds {
        command.args(["--dest-creds", &format!("{USER}:{PASSWORD}")]);
    }
    command.arg(format!("oci:{}:{tag}", images.layout.display())).arg(format!("docker://{dest}"));
    run(&mut command);
}

/// Pushes a two-platform index (arm64 first, then this machine's) as `dest`.
pub fn push_index(images: &Images, dest: &str) {
    let layout = &images.layout;
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let find = |index: &serde_json::Value, tag: &str| {
        let mut d = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()
            .clone();
        d.as_object_mut().unwrap().remove("annotations");
        d
    };
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let mut other = find(&index, "other");
    other["platform"] = serde_json::json!({"os": "linux", "architecture": "arm64"});
    let mut ours = find(&index, "base");
    ours["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
    let entries = if arch == "arm64" { vec![ours] } else { vec![other, ours] };
    let list = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let bytes = serde_json::to_vec(&list).unwrap();
    let staged = layout.join("index-blob.json");
    std::fs::write(&staged, &bytes).unwrap();
    let sum = run(Command::new("sha256sum").arg(&staged));
    let hex = sum.split_whitespace().next().unwrap().to_owned();
    std::fs::rename(&staged, layout.join("blobs/sha256").join(&hex)).unwrap();
    index["manifests"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"),
        "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }));
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let mut command = Command::new("skopeo");
    command.args(["copy", "--quiet", "--all", "--dest-tls-verify=false"]);
    command.arg(format!("oci:{}:multi", layout.display())).arg(format!("docker://{dest}"));
    run(&mut command);
}
