//! Networking end to end: egress allow-lists against test hosts in network namespaces of
//! this machine (198.18.0.0/15, the benchmarking range), and the forwarded port.
//!
//! Each test host is a namespace with a veth pair to the host and a listener answering TCP on
//! port 7000 and UDP on 7001 with its own name. Names reach the server's DNS filter through a
//! hosts file (`PORTER_SANDBOX_EGRESS_HOSTS`). Namespaces and listeners are removed when the
//! test ends, also when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    io::{Read, Write},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU8, Ordering},
    time::{Duration, Instant},
};

use porter_sandbox::{
    Sandbox,
    types::{
        SandboxDomainSpec, SandboxEgressSpec, SandboxNetworkingSpec, SandboxSpec,
        StatusResponsePhase,
    },
};
use porter_sandbox_server::runtime::oci::ENV_EGRESS_HOSTS;
use support::{TestServer, start_server_in, unique, wait_started};

const START: Duration = Duration::from_secs(30);

/// Test hosts the tests of this file create in all.
const HOSTS_PER_PROCESS: u8 = 7;

/// Answers TCP connections on 7000 and UDP datagrams on 7001 with `<kind> <name>`.
const LISTENER: &str = r#"
import socket, sys, threading
name = sys.argv[1]
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 7001))
    while True:
        _, peer = u.recvfrom(100)
        u.sendto(("udp " + name).encode(), peer)
threading.Thread(target=udp, daemon=True).start()
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 7000))
t.listen(16)
print("ready", flush=True)
while True:
    c, _ = t.accept()
    c.sendall(("tcp " + name + "\n").encode())
    c.close()
"#;

/// Run in a sandbox: `tcp|udp HOST` prints what the host answered, `dns NAME` the reply of
/// a DNS server at 192.0.2.53 (`dns-txt`: to a TXT query; `dns-flood`: the count of each
/// rcode over 1,000 queries, one after the other), or `ERR <what>`.
const PROBE: &str = r#"
import socket, sys
kind, host = sys.argv[1], sys.argv[2]
try:
    if kind == "tcp":
        s = socket.create_connection((host, 7000), timeout=3)
        print(s.recv(100).decode().strip())
    elif kind == "resolve-twice":
        import time
        took = []
        for _ in range(2):
            t0 = time.perf_counter()
            socket.getaddrinfo(host, 7000, socket.AF_INET, socket.SOCK_STREAM)
            took.append("%.2f ms" % ((time.perf_counter() - t0) * 1000))
        print("resolved in", " then ".join(took))
    elif kind == "dns-hold":
        # 70 idle TCP clients of the filter, then a UDP query, then how long the first lasts.
        import time
        held = [socket.create_connection(("192.0.2.53", 53), timeout=2) for _ in range(70)]
        t0 = time.monotonic()
        labels = b"".join(bytes([len(l)]) + l.encode() for l in host.split("."))
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x00\x01\x00\x01"
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        u.sendto(query, ("192.0.2.53", 53))
        reply = u.recv(512)
        held[0].settimeout(30)
        closed = held[0].recv(1)
        print("udp rcode", reply[3] & 15, "answers", reply[7], "idle tcp closed after %d s" % round(time.monotonic() - t0), closed)
    elif kind in ("dns", "dns-tcp", "dns-txt", "dns-flood"):
        # An A (or TXT) query sent straight to a resolver of our own choosing, over UDP or TCP.
        labels = b"".join(bytes([len(l)]) + l.encode() for l in host.split("."))
        qtype = b"\x00\x10" if kind == "dns-txt" else b"\x00\x01"
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00" + qtype + b"\x00\x01"
        if kind == "dns-flood":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            counts = {}
            for _ in range(1000):
                s.sendto(query, ("192.0.2.53", 53))
                rcode = s.recv(512)[3] & 15
                counts[rcode] = counts.get(rcode, 0) + 1
            print(" ".join("rcode %d: %d" % kv for kv in sorted(counts.items())))
            sys.exit(0)
        if kind in ("dns", "dns-txt"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(query, ("192.0.2.53", 53))
            reply = s.recv(512)
        else:
            s = socket.create_connection(("192.0.2.53", 53), timeout=2)
            s.sendall(len(query).to_bytes(2, "big") + query)
            reply = s.recv(2)
            reply = s.recv(int.from_bytes(reply, "big"))
        print("rcode", reply[3] & 15, "answers", reply[7])
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect((socket.gethostbyname(host), 7001))
        s.send(b"ping")
        print(s.recv(100).decode())
except Exception as e:
    print("ERR", type(e).__name__, e)
"#;

/// Test hosts in network namespaces; removed on drop.
struct TestHosts {
    names: Vec<String>,
    listeners: Vec<Child>,
    /// The address of each host.
    ips: Vec<String>,
    /// The name each host answers with.
    labels: Vec<String>,
}

impl TestHosts {
    /// `count` hosts, each at 198.18.<n>.2 (a /24 of its own), answering as `h<n>`.
    fn new(count: u8) -> Self {
        // Unique names and subnets per host of this process (at most HOSTS_PER_PROCESS), and
        // per process, so that concurrent runs of this suite do not collide.
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let pid = std::process::id();
        let base = u8::try_from(pid % 36).unwrap() * HOSTS_PER_PROCESS;
        let mut hosts = TestHosts {
            names: Vec::new(),
            listeners: Vec::new(),
            ips: Vec::new(),
            labels: Vec::new(),
        };
        for _ in 0..count {
            let i = NEXT.fetch_add(1, Ordering::SeqCst);
            assert!(i < HOSTS_PER_PROCESS, "raise HOSTS_PER_PROCESS");
            let name = format!("pst{}h{i}", pid % 1_000_000);
            let outer = format!("{name}o");
            let net = format!("198.18.{}", base + i);
            let ip = |args: &[&str]| {
                let out = Command::new("ip").args(args).output().unwrap();
                assert!(
                    out.status.success(),
                    "ip {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            ip(&["netns", "add", &name]);
            hosts.names.push(name.clone());
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &name]);
            ip(&["addr", "add", &format!("{net}.1/24"), "dev", &outer]);
            ip(&["link", "set", &outer, "up"]);
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &name, "ip"];
                all.extend_from_slice(args);
                ip(&all);
            };
            inside(&["addr", "add", &format!("{net}.2/24"), "dev", "eth0"]);
            inside(&["link", "set", "eth0", "up"]);
            inside(&["link", "set", "lo", "up"]);
            let mut listener = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &name,
                    "/usr/bin/python3",
                    "-c",
                    LISTENER,
                    &format!("h{i}"),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut ready = [0u8; 6];
            listener.stdout.as_mut().unwrap().read_exact(&mut ready).unwrap();
            assert_eq!(&ready, b"ready\n");
            hosts.listeners.push(listener);
            hosts.ips.push(format!("{net}.2"));
            hosts.labels.push(format!("h{i}"));
        }
        hosts
    }
}

impl TestHosts {
    /// What host `k` answers over `kind` (`tcp` or `udp`).
    fn answer(&self, kind: &str, k: usize) -> String {
        format!("{kind} {}", self.labels[k])
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        for listener in &mut self.listeners {
            let _ = listener.kill();
            let _ = listener.wait();
        }
        // Deleting a namespace removes its end of the veth pair, and with it the host's end.
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// A server whose DNS filter resolves names from `hosts` (the file's text).
fn server_with_hosts(hosts: &str) -> (TestServer, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("hosts");
    std::fs::write(&path, hosts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = start_server_in(dir, data_dir, &[], &[(ENV_EGRESS_HOSTS, path.to_str().unwrap())]);
    (server, files)
}

async fn probe(sandbox: &Sandbox, kind: &str, host: &str) -> String {
    let out = sandbox.exec(["python3", "-c", PROBE, kind, host]).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    out.stdout.trim().to_owned()
}

async fn running(server: &TestServer, spec: SandboxSpec) -> (Sandbox, Duration) {
    let t0 = Instant::now();
    let sandbox = server.client().sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    (sandbox, t0.elapsed())
}

fn idle() -> SandboxSpec {
    SandboxSpec::new("host").name(unique("net")).command(["sleep", "300"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_allow_lists_admit_only_their_destinations() {
    let hosts = TestHosts::new(5);
    let ip = &hosts.ips;
    let hosts_file = format!(
        "{} allowed.test\n{} api.wild.test deep.api.wild.test\n{} wild.test denied.test\n",
        ip[0], ip[1], ip[3]
    );
    let (server, files) = server_with_hosts(&hosts_file);
    let cidr = format!("{}.0/24", ip[2].rsplit_once('.').unwrap().0);
    let allow = ["allowed.test", "*.wild.test", &cidr, &ip[4]];
    let restricted = || idle().egress(SandboxEgressSpec::new(allow.iter().copied()));
    let (open, _) = running(&server, idle()).await;
    // What the egress setup adds to a start: best of three, alternating.
    let (mut plain, mut filtered) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        for (spec, best) in [(idle(), &mut plain), (restricted(), &mut filtered)] {
            let (extra, took) = running(&server, spec).await;
            *best = (*best).min(took);
            extra.terminate().await.unwrap();
        }
    }
    eprintln!(
        "create → running, best of 3: {plain:?} unrestricted, {filtered:?} with an allow-list"
    );
    let (sandbox, _) = running(&server, restricted()).await;
    let timing = probe(&sandbox, "resolve-twice", "allowed.test").await;
    assert!(timing.starts_with("resolved in"), "{timing}");
    eprintln!("allowed name (first answer opens the firewall): {timing}");

    // The test hosts answer, and the unrestricted sandbox reaches the one that is denied below.
    assert_eq!(probe(&open, "tcp", &ip[3]).await, hosts.answer("tcp", 3));
    assert_eq!(probe(&open, "udp", &ip[3]).await, hosts.answer("udp", 3));

    assert_eq!(probe(&sandbox, "tcp", "allowed.test").await, hosts.answer("tcp", 0));
    assert_eq!(probe(&sandbox, "udp", "allowed.test").await, hosts.answer("udp", 0));
    assert_eq!(probe(&sandbox, "tcp", "API.Wild.test").await, hosts.answer("tcp", 1), "wildcard");
    assert_eq!(
        probe(&sandbox, "tcp", "deep.api.wild.test").await,
        hosts.answer("tcp", 1),
        "wildcard, deeper"
    );
    assert_eq!(probe(&sandbox, "tcp", &ip[2]).await, hosts.answer("tcp", 2), "CIDR");
    assert_eq!(probe(&sandbox, "tcp", &ip[4]).await, hosts.answer("tcp", 4), "IP literal");
    for denied in ["wild.test", "denied.test", &ip[3]] {
        for kind in ["tcp", "udp"] {
            let got = probe(&sandbox, kind, denied).await;
            assert!(got.starts_with("ERR"), "{kind} {denied}: {got}");
        }
    }
    let apex = probe(&sandbox, "tcp", "wild.test").await;
    assert!(apex.contains("gaierror"), "the wildcard's apex does not even resolve: {apex}");

    // The sandbox cannot lift the rules: no CAP_NET_ADMIN (and no way to get it).
    let flush = sandbox.exec(["nft", "flush", "ruleset"]).await.unwrap();
    assert_ne!(flush.exit_code, 0, "{flush:?}");
    let unshare = sandbox.exec(["unshare", "-rn", "true"]).await.unwrap();
    assert_ne!(unshare.exit_code, 0, "{unshare:?}");
    assert!(probe(&sandbox, "tcp", &ip[3]).await.starts_with("ERR"), "still denied");

    // A resolver of the sandbox's own choosing is answered by the filter all the same.
    assert_eq!(probe(&sandbox, "dns", "allowed.test").await, "rcode 0 answers 1");
    assert_eq!(probe(&sandbox, "dns", "denied.test").await, "rcode 3 answers 0");
    assert_eq!(probe(&sandbox, "dns-tcp", "api.wild.test").await, "rcode 0 answers 1");
    assert_eq!(probe(&sandbox, "dns-tcp", "wild.test").await, "rcode 3 answers 0");

    // After a crash of the server, names resolve again (the filter is restarted) and the
    // rules still hold.
    let id = sandbox.id().to_owned();
    let path = files.path().join("hosts");
    let server = server.crash_and_restart_with(&[(ENV_EGRESS_HOSTS, path.to_str().unwrap())]);
    let sandbox = server.client().sandboxes().get_by_id(&id).await.unwrap();
    assert_eq!(sandbox.phase(), Some(StatusResponsePhase::Running));
    assert_eq!(probe(&sandbox, "tcp", "allowed.test").await, hosts.answer("tcp", 0));
    assert!(probe(&sandbox, "tcp", "denied.test").await.starts_with("ERR"));
    assert!(probe(&sandbox, "udp", &ip[3]).await.starts_with("ERR"));
    sandbox.terminate().await.unwrap();
    server.client().sandboxes().handle(open.id()).terminate().await.unwrap();
}

/// `GET /path` on `address`; returns the status line and the body's length, with the time.
fn http_get(address: &str, path: &str) -> std::io::Result<(String, usize, Duration)> {
    let t0 = Instant::now();
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let head_end = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(reply.len());
    let status =
        String::from_utf8_lossy(&reply[..head_end]).lines().next().unwrap_or("").to_owned();
    Ok((status, reply.len().saturating_sub(head_end + 4), t0.elapsed()))
}

/// Polls until the workload's HTTP server answers.
async fn wait_http(address: &str) -> (String, usize, Duration) {
    let deadline = Instant::now() + START;
    loop {
        match http_get(address, "/") {
            Ok(got) if !got.0.is_empty() => return got,
            _ if Instant::now() > deadline => panic!("nothing answers on {address}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_port_is_forwarded_to_the_host_loopback() {
    let hosts = TestHosts::new(1);
    let (server, _files) = server_with_hosts(&format!("{} allowed.test\n", hosts.ips[0]));
    let serve = "head -c 67108864 /dev/zero > /tmp/big && exec python3 -m http.server 8080 \
                 --directory /tmp";
    let web = || {
        SandboxSpec::new("host")
            .name(unique("web"))
            .command(["sh", "-c", serve])
            .networking(SandboxNetworkingSpec::new(8080))
    };
    for (what, spec) in [
        ("unrestricted", web()),
        ("egress: []", web().egress(SandboxEgressSpec::new(Vec::<String>::new()))),
    ] {
        let (sandbox, _) = running(&server, spec).await;
        let status = sandbox.refresh().await.unwrap();
        assert_eq!(status.host, "", "no public hostname locally");
        let address = status.internal_address.clone().unwrap();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        let (line, _, _) = wait_http(&address).await;
        assert!(line.contains(" 200 "), "{what}: {line}");
        let mut best = Duration::MAX;
        for _ in 0..20 {
            best = best.min(http_get(&address, "/").unwrap().2);
        }
        let (line, len, took) = http_get(&address, "/big").unwrap();
        assert!(line.contains(" 200 ") && len == 64 << 20, "{what}: {line} {len}");
        eprintln!(
            "{what}: forwarded GET / best of 20 {best:?}; 64 MiB in {took:?} ({:.0} MiB/s)",
            64.0 / took.as_secs_f64()
        );
        if what == "egress: []" {
            let out = probe(&sandbox, "tcp", &hosts.ips[0]).await;
            assert!(out.starts_with("ERR"), "nothing goes out: {out}");
        }
        sandbox.terminate().await.unwrap();
        assert!(http_get(&address, "/").is_err(), "{what}: the forward ends with the sandbox");
    }

    // It survives a crash of the server.
    let (sandbox, _) = running(&server, web()).await;
    let address = sandbox.refresh().await.unwrap().internal_address.unwrap();
    wait_http(&address).await;
    let id = sandbox.id().to_owned();
    let server = server.crash_and_restart();
    let sandbox = server.client().sandboxes().get_by_id(&id).await.unwrap();
    assert_eq!(sandbox.status().unwrap().internal_address.as_deref(), Some(address.as_str()));
    assert!(http_get(&address, "/").unwrap().0.contains(" 200 "));
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_networking_and_egress_are_refused_by_name() {
    let (server, _files) = server_with_hosts("");
    let porter = server.client();
    let port = SandboxNetworkingSpec::new;
    let mut two = SandboxSpec::new("host").networking(port(8080));
    two.networking.as_mut().unwrap().push(port(8081));
    let domain = SandboxDomainSpec { domain: Some("app.example.com".into()), visibility: None };
    let with_domain = SandboxNetworkingSpec { domains: Some(vec![domain]), ..port(8080) };
    let internal = SandboxNetworkingSpec { internal: Some(true), ..with_domain.clone() };
    let cases = [
        (SandboxSpec::new("host").networking(port(80)), "privileged"),
        (SandboxSpec::new("host").networking(port(1023)), "1-1023"),
        (SandboxSpec::new("host").networking(port(0)), "not a valid port"),
        (two, "2 entries"),
        (SandboxSpec::new("host").networking(with_domain), "ingress"),
        (SandboxSpec::new("host").networking(internal), "internal"),
        (SandboxSpec::new("host").egress(SandboxEgressSpec::new(["https://a.test"])), "scheme"),
        (SandboxSpec::new("host").egress(SandboxEgressSpec::new(["a.test:443"])), "port"),
        (SandboxSpec::new("host").egress(SandboxEgressSpec::new(["10.0.0.0/40"])), "prefix"),
    ];
    for (spec, word) in cases {
        let err = porter.sandboxes().create(spec).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{word}: {err}");
        assert!(err.message().contains(word), "{word}: {}", err.message());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_answers_never_point_inside_and_carry_no_data() {
    let hosts = TestHosts::new(1);
    let public = &hosts.ips[0];
    // The host's end of the test host's veth pair: one of this machine's own addresses.
    let own = format!("{}.1", public.rsplit_once('.').unwrap().0);
    let hosts_file = format!(
        "{public} public.test mixed.test\n127.0.0.1 loop.test\n10.1.2.3 private.test mixed.test\n\
         169.254.169.254 meta.test\n100.64.0.1 cgnat.test\nfd00::1 ula.test\n\
         {own} self.test\n10.20.30.40 pinned.test\n"
    );
    let (server, _files) = server_with_hosts(&hosts_file);
    let allow = SandboxEgressSpec::new(["*.test", "10.20.30.0/24"]);
    let (sandbox, _) = running(&server, idle().egress(allow)).await;

    assert_eq!(probe(&sandbox, "tcp", "public.test").await, hosts.answer("tcp", 0));
    for name in ["loop.test", "private.test", "meta.test", "cgnat.test", "ula.test", "self.test"] {
        assert_eq!(probe(&sandbox, "dns", name).await, "rcode 3 answers 0", "{name}");
        let got = probe(&sandbox, "tcp", name).await;
        assert!(got.contains("gaierror"), "{name} does not even resolve: {got}");
    }
    // Only the public address of a name with both; a CIDR entry lets a private one through.
    assert_eq!(probe(&sandbox, "dns", "mixed.test").await, "rcode 0 answers 1");
    assert_eq!(probe(&sandbox, "tcp", "mixed.test").await, hosts.answer("tcp", 0));
    assert_eq!(probe(&sandbox, "dns", "pinned.test").await, "rcode 0 answers 1");

    // Other record types are refused, for allowed names too: nothing reaches the resolver.
    assert_eq!(probe(&sandbox, "dns-txt", "public.test").await, "rcode 5 answers 0");
    assert_eq!(probe(&sandbox, "dns-txt", "elsewhere.example").await, "rcode 3 answers 0");

    // Idle TCP clients neither starve UDP queries nor stay longer than a query read may take.
    let held = probe(&sandbox, "dns-hold", "public.test").await;
    eprintln!("{held}");
    let closed_after: u64 =
        held.split("closed after ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(held.starts_with("udp rcode 0 answers 1 ") && held.ends_with("b''"), "{held}");
    assert!(closed_after <= 7, "{held}");

    // A flood is cut to the rate (50/s after a burst of 100) with REFUSED.
    let t0 = Instant::now();
    let flood = probe(&sandbox, "dns-flood", "public.test").await;
    let secs = t0.elapsed().as_secs_f64();
    let count = |rcode: &str| -> f64 {
        let tail = flood.split(&format!("rcode {rcode}: ")).nth(1).unwrap_or("0");
        tail.split_whitespace().next().unwrap().parse().unwrap()
    };
    eprintln!("1,000 queries in {secs:.2} s: {flood}");
    assert!(count("5") > 0.0, "{flood}");
    assert!(count("0") <= 100.0 + 50.0 * secs + 1.0, "{flood} in {secs} s");
    sandbox.terminate().await.unwrap();
}
