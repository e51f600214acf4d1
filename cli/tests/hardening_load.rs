//! Connections cannot hurt sandboxes: tens of thousands of idle connections and a thousand
//! concurrent requests leave every sandbox running and tracked, and the API answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::{
    io::Read,
    net::TcpStream,
    time::{Duration, Instant},
};

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{start_server, wait_started};

/// Idle connections held by the load test.
const IDLE_CONNECTIONS: usize = 20_000;

/// Holds `count` idle connections to `addr` from a separate process (a process may hold
/// only so many descriptors); returns once they are open. The process exits when its stdin
/// closes.
fn hold_idle_connections(addr: &str, count: usize) -> std::process::Child {
    const HOLDER: &str = r#"
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(count):
    s = socket.socket()
    s.connect((host, port))
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"#;
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut child = std::process::Command::new("python3")
        .args(["-c", HOLDER, host, port, &count.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready", "the holder could not open its connections");
    child
}

/// Connections waiting in the kernel's accept queue of the listener on `port` (`ss` Recv-Q).
fn accept_queue(port: &str) -> usize {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|queued| queued.parse().ok())
        .unwrap_or(0)
}

/// Whether a read saw the server hang up (EOF, or a reset), not a read timeout.
fn hung_up(read: &std::io::Result<usize>) -> bool {
    match read {
        Ok(n) => *n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(Iterator::count).unwrap_or(0)
}

#[test]
fn idle_connections_are_closed_and_never_lock_clients_out() {
    let server = start_server(&["--idle-timeout", "1", "--max-connections", "20"]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    // The server hangs up on a client that sends nothing.
    let read = idle.read(&mut buf);
    assert!(hung_up(&read), "{read:?}");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "closed after {waited:?}");
    server.stop();

    // When every slot is taken by idle connections, a new client is served: the connection
    // idle the longest makes room. A server whose idle timeout is long, so that room is made
    // by that, not by the timeout, however slow the machine.
    let server = start_server(&["--idle-timeout", "120", "--max-connections", "20"]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut held: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // Taken means accepted by the server, not just queued by the kernel.
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let accepted = Instant::now() + Duration::from_secs(30);
    while accept_queue(&port) > 0 {
        assert!(Instant::now() < accepted, "the server does not accept connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let mut fresh = TcpStream::connect(&addr).unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    std::io::Write::write_all(&mut fresh, request.as_bytes()).unwrap();
    let mut response = String::new();
    fresh.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let oldest = &mut held[0];
    oldest.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let read = oldest.read(&mut buf);
    assert!(hung_up(&read), "the oldest idle connection was closed: {read:?}");
    drop(held);
}

#[test]
fn many_idle_connections_and_a_request_storm_lose_no_sandbox() {
    let server = start_server(&[]);
    let porter = server.client();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let sandboxes = runtime.block_on(async {
        let mut sandboxes = Vec::new();
        for _ in 0..3 {
            let spec = SandboxSpec::new("host").command(["sleep", "600"]);
            let sandbox = porter.sandboxes().create(spec).await.unwrap();
            assert_eq!(
                wait_started(&sandbox, Duration::from_secs(60)).await,
                StatusResponsePhase::Running
            );
            sandboxes.push(sandbox);
        }
        sandboxes
    });
    let rss_before = server.rss_kib();

    // Hold the idle connections while probing the API.
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let opened = Instant::now();
    let holders: Vec<_> =
        (0..2).map(|_| hold_idle_connections(&addr, IDLE_CONNECTIONS / 2)).collect();
    let open_time = opened.elapsed();
    // "Held" means the server has them: wait until its accept queue is drained (a client's
    // connect() returns as soon as the kernel queued the connection).
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let drained = Instant::now() + Duration::from_secs(30);
    while accept_queue(&port) > 0 && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut worst = Duration::ZERO;
    let held_since = Instant::now();
    while held_since.elapsed() < Duration::from_secs(10) {
        let started = Instant::now();
        runtime.block_on(async {
            for sandbox in &sandboxes {
                assert_eq!(sandbox.refresh().await.unwrap().phase, StatusResponsePhase::Running);
            }
        });
        if started.elapsed() > Duration::from_millis(200) {
            println!("slow probe at {:?}: {:?}", held_since.elapsed(), started.elapsed());
        }
        worst = worst.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let server_fds = open_fds(server.pid());
    let rss_held = server.rss_kib();

    // A thousand concurrent requests on top.
    let storm = Instant::now();
    let failures = runtime.block_on(async {
        let calls = (0..1000).map(|i| {
            let sandbox = &sandboxes[i % sandboxes.len()];
            async move { sandbox.refresh().await.map(|s| s.phase) }
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .filter(|r| !matches!(r, Ok(StatusResponsePhase::Running)))
            .count()
    });
    let storm_time = storm.elapsed();
    for mut holder in holders {
        drop(holder.stdin.take());
        holder.wait().unwrap();
    }

    // Every sandbox is still running, tracked and usable.
    runtime.block_on(async {
        for sandbox in &sandboxes {
            let out = sandbox.exec(["echo", "alive"]).await.unwrap();
            assert_eq!(out.stdout, "alive\n");
            sandbox.terminate().await.unwrap();
        }
    });
    println!(
        "{IDLE_CONNECTIONS} idle connections opened in {open_time:?}, held 10 s: worst API \
         round trip {worst:?}, server fds {server_fds}, RSS {rss_before} KiB -> {rss_held} KiB; \
         1000 concurrent requests in {storm_time:?}, {failures} failed"
    );
    assert_eq!(failures, 0);
    assert!(worst < Duration::from_secs(1), "worst round trip {worst:?}");
    let limit = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    assert!(
        limit.lines().any(|l| l.starts_with("Max open files")),
        "the server's descriptor limit is readable"
    );
    assert!(server_fds < 20_000, "the connection cap keeps descriptors free ({server_fds} fds)");
    assert!(rss_held < rss_before + 512 * 1024, "RSS grew from {rss_before} to {rss_held} KiB");
}
