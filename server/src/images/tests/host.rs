//! The `host` image, on this machine and on a fake host tree without merged /usr.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink as make_symlink};
use std::path::Path;

use super::tree;
use crate::images::ImageStore;
use crate::runtime::BindMount;

#[tokio::test]
async fn builds_the_host_image_from_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::new(tmp.path().join("images"));
    let image = store.resolve("host").await.unwrap();
    let root = &image.rootfs;
    assert!(root.starts_with(tmp.path().join("images/host")));

    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("\nsandbox:x:1000:1000:sandbox:/home/sandbox:"), "{passwd}");
    assert!(passwd.starts_with("root:x:0:0:"));
    assert!(fs::read_to_string(root.join("etc/group")).unwrap().contains("sandbox:x:1000:"));
    assert_eq!(fs::read_to_string(root.join("etc/resolv.conf")).unwrap(), "nameserver 10.0.2.3\n");
    assert_eq!(fs::read_to_string(root.join("etc/hostname")).unwrap(), "sandbox\n");
    assert!(root.join("etc/hosts").is_file() && root.join("etc/nsswitch.conf").is_file());

    let merged = fs::symlink_metadata("/bin").unwrap().file_type().is_symlink();
    if merged {
        assert_eq!(fs::read_link(root.join("bin")).unwrap(), Path::new("usr/bin"));
        assert_eq!(
            image.mounts,
            [BindMount { source: "/usr".into(), target: "/usr".into(), read_only: true }]
        );
    } else {
        assert!(image.mounts.iter().any(|m| m.target == "/bin" && m.read_only));
    }
    if Path::new("/usr/bin/python3").exists() {
        // The container's /usr is the host's: python3 is there.
        assert!(image.mounts[0].source.join("bin/python3").exists());
    }

    // `python` works where the host only has `python3` (Debian), through a shim ahead of /usr/bin.
    let python = root.join("opt/porter-sandbox/bin/python");
    if Path::new("/usr/bin/python3").exists() && !Path::new("/usr/bin/python").exists() {
        assert_eq!(fs::read_link(&python).unwrap(), Path::new("/usr/bin/python3"));
    } else {
        assert!(fs::symlink_metadata(&python).is_err(), "no shim where the host has python");
    }
    let path = &image.config.env.iter().find(|(k, _)| k == "PATH").unwrap().1;
    let position = |dir: &str| path.split(':').position(|d| d == dir).unwrap();
    assert!(position("/opt/porter-sandbox/bin") < position("/usr/bin"), "{path}");

    // Only the skeleton: empty mount points and homes, files only under etc/.
    assert_eq!(fs::read_dir(root.join("usr")).unwrap().count(), 0);
    for empty in
        ["home/sandbox", "root", "tmp", "var/tmp", "data", "mnt", "proc", "sys", "dev", "run"]
    {
        assert_eq!(fs::read_dir(root.join(empty)).unwrap().count(), 0, "{empty} is empty");
    }
    let top_links = ["bin", "sbin", "lib", "lib64", "lib32"];
    for path in tree(root) {
        if !fs::symlink_metadata(root.join(&path)).unwrap().is_dir() {
            let shim = path.starts_with("opt/porter-sandbox/bin/");
            assert!(
                path.starts_with("etc/") || shim || top_links.contains(&path.as_str()),
                "{path}"
            );
        }
    }
    let home = fs::metadata(root.join("home/sandbox")).unwrap();
    if fs::metadata("/proc/self").unwrap().uid() == 0 {
        let ids = crate::runtime::idmap::range().unwrap();
        assert_eq!((home.uid(), home.gid()), (ids.host_uid(1000), ids.host_gid(1000)));
        let root_dir = fs::metadata(root.join("root")).unwrap();
        assert_eq!((root_dir.uid(), root_dir.gid()), (ids.uid_base, ids.gid_base));
    }
    assert_eq!(fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    assert_eq!(fs::metadata(root.join("root")).unwrap().mode() & 0o7777, 0o700);
    if Path::new("/etc/alternatives").is_dir() {
        assert!(root.join("etc/alternatives").is_dir());
    }

    let config = &image.config;
    assert_eq!(config.cmd, ["sleep", "infinity"]);
    assert!(config.entrypoint.is_empty());
    assert_eq!(config.user.as_deref(), Some("1000:1000"));
    assert_eq!(config.workdir.as_deref(), Some("/home/sandbox"));
    assert!(config.env.contains(&("HOME".to_owned(), "/home/sandbox".to_owned())));
    assert!(config.env.iter().any(|(k, v)| k == "PATH" && v.contains("/usr/bin")));

    // Built once.
    fs::write(root.join("etc/marker"), "m").unwrap();
    let again = store.resolve("host").await.unwrap();
    assert_eq!(again, image);
    assert!(again.rootfs.join("etc/marker").exists());
}

/// A host with real /bin and /lib directories, /usr/lib64 only, and data that must not leak.
fn fake_host(host: &Path) {
    for dir in [
        "usr/bin",
        "usr/lib",
        "usr/lib64",
        "usr/share/zoneinfo",
        "bin",
        "lib",
        "etc/alternatives",
        "etc/ssl/certs",
        "etc/pki",
        "root",
        "home/alice",
        "var/lib/secret",
    ] {
        fs::create_dir_all(host.join(dir)).unwrap();
    }
    fs::write(host.join("usr/bin/bash"), "").unwrap();
    fs::write(host.join("usr/bin/python3"), "").unwrap();
    fs::write(host.join("usr/bin/pip"), "").unwrap();
    fs::write(host.join("usr/share/zoneinfo/UTC"), "TZif").unwrap();
    make_symlink("/usr/bin/mawk", host.join("etc/alternatives/awk")).unwrap();
    fs::write(host.join("etc/ld.so.cache"), "cache v1").unwrap();
    fs::write(host.join("etc/ssl/certs/ca-certificates.crt"), "CERTS").unwrap();
    make_symlink("/usr/share/ca-certificates/x.crt", host.join("etc/ssl/certs/x.pem")).unwrap();
    // An absolute link elsewhere into /etc is copied as a file (the container's /etc lacks it).
    fs::write(host.join("etc/pki/bundle.pem"), "PKI").unwrap();
    make_symlink("/etc/pki/bundle.pem", host.join("etc/ssl/certs/bundle.pem")).unwrap();
    make_symlink("../usr/share/zoneinfo/UTC", host.join("etc/localtime")).unwrap();
    fs::write(host.join("etc/services"), "http 80/tcp\n").unwrap();
    // Host secrets next to the copied files.
    fs::write(host.join("etc/shadow"), "root:SECRET").unwrap();
    fs::write(host.join("root/.bash_history"), "SECRET").unwrap();
    fs::write(host.join("home/alice/notes"), "SECRET").unwrap();
    fs::write(host.join("var/lib/secret/db"), "SECRET").unwrap();
    // A link that would pull a host home into the image.
    make_symlink(host.join("home/alice"), host.join("etc/protocols")).unwrap();
}

#[tokio::test]
async fn builds_the_host_image_for_a_host_without_merged_usr() {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("host");
    fake_host(&host);
    let store = ImageStore::with_host_root(tmp.path().join("images"), host.clone());
    let image = store.resolve("host").await.unwrap();
    let root = &image.rootfs;

    let bind = |name: &str| BindMount {
        source: host.join(name),
        target: format!("/{name}"),
        read_only: true,
    };
    assert_eq!(image.mounts, [bind("usr"), bind("bin"), bind("lib")]);
    assert!(fs::symlink_metadata(root.join("bin")).unwrap().is_dir());
    assert_eq!(fs::read_dir(root.join("bin")).unwrap().count(), 0);
    assert!(fs::symlink_metadata(root.join("sbin")).is_err(), "the host has no sbin at all");
    assert_eq!(fs::read_link(root.join("lib64")).unwrap(), Path::new("usr/lib64"));

    assert_eq!(
        fs::read_link(root.join("etc/alternatives/awk")).unwrap(),
        Path::new("/usr/bin/mawk")
    );
    assert_eq!(fs::read_to_string(root.join("etc/ld.so.cache")).unwrap(), "cache v1");
    assert_eq!(
        fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
        "CERTS"
    );
    assert!(
        fs::symlink_metadata(root.join("etc/ssl/certs/x.pem")).unwrap().file_type().is_symlink()
    );
    assert_eq!(fs::read_to_string(root.join("etc/ssl/certs/bundle.pem")).unwrap(), "PKI");
    assert_eq!(fs::read_to_string(root.join("etc/localtime")).unwrap(), "TZif");
    assert_eq!(fs::read_to_string(root.join("etc/services")).unwrap(), "http 80/tcp\n");
    assert!(!root.join("etc/protocols").exists(), "a link into /home is not followed");
    assert!(!root.join("etc/shadow").exists());
    // python3 without python gets the alias; pip is the host's own, so pip3 needs none.
    let shims = root.join("opt/porter-sandbox/bin");
    assert_eq!(fs::read_link(shims.join("python")).unwrap(), Path::new("/usr/bin/python3"));
    assert_eq!(fs::read_dir(&shims).unwrap().count(), 1);
    for path in tree(root) {
        let full = root.join(&path);
        if fs::symlink_metadata(&full).unwrap().is_file() {
            assert!(!fs::read_to_string(&full).unwrap_or_default().contains("SECRET"), "{path}");
        }
    }

    // Unchanged host: the same build. A changed host file: a new build beside the old one.
    assert_eq!(store.resolve("host").await.unwrap().rootfs, image.rootfs);
    fs::write(host.join("etc/ld.so.cache"), "cache v2, longer").unwrap();
    let rebuilt = store.resolve("host").await.unwrap();
    assert_ne!(rebuilt.rootfs, image.rootfs);
    assert_eq!(
        fs::read_to_string(rebuilt.rootfs.join("etc/ld.so.cache")).unwrap(),
        "cache v2, longer"
    );
    assert!(image.rootfs.join("etc/passwd").exists(), "running sandboxes keep their build");
    // Installing python on the host drops the alias: a new build.
    fs::write(host.join("usr/bin/python"), "").unwrap();
    let with_python = store.resolve("host").await.unwrap();
    assert_ne!(with_python.rootfs, rebuilt.rootfs);
    assert_eq!(fs::read_dir(with_python.rootfs.join("opt/porter-sandbox/bin")).unwrap().count(), 0);
}
