//! The exposed port: slirp4netns forwards a free port on the host's loopback to the
//! sandbox's port (its `add_hostfwd` API call). slirp4netns itself listens on the host side
//! and lives as long as the sandbox's network, so the forward survives a server restart and
//! ends with the teardown. Forwarded connections reach the workload from slirp's gateway
//! address, so it must listen on all addresses (`0.0.0.0`), not only on 127.0.0.1.

use crate::runtime::RuntimeError;
use std::{
    net::{Ipv4Addr, SocketAddr},
    os::fd::AsRawFd,
    path::Path,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UnixStream,
};

/// The host address forwarded ports are bound to: loopback only, never the LAN.
pub(super) const HOST_ADDR: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The API socket's name in the sandbox directory.
pub(super) const API_SOCKET: &str = "slirp.sock";

/// How long one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Another process may take the port we picked before slirp binds it: try a few.
const ATTEMPTS: usize = 5;

/// Forwards a free port on [`HOST_ADDR`] to `guest_port` through the slirp4netns whose API
/// socket is in `dir`; returns the host side.
pub(super) async fn forward(dir: &Path, guest_port: u16) -> Result<SocketAddr, RuntimeError> {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let host_port = free_port()?;
        let request = json!({
            "execute": "add_hostfwd",
            "arguments": {
                "proto": "tcp",
                "host_addr": HOST_ADDR.to_string(),
                "host_port": host_port,
                "guest_port": guest_port,
            },
        });
        match call(dir, &request).await {
            Ok(reply) if reply.get("return").is_some() => {
                return Ok(SocketAddr::from((HOST_ADDR, host_port)));
            }
            Ok(reply) => last = reply["error"]["desc"].as_str().unwrap_or("no reason").to_owned(),
            Err(err) => return Err(err),
        }
    }
    Err(RuntimeError::other(format!("slirp4netns cannot forward port {guest_port}: {last}")))
}

/// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
fn free_port() -> Result<u16, RuntimeError> {
    let probe = std::net::TcpListener::bind((HOST_ADDR, 0))
        .map_err(|e| format!("cannot find a free port on {HOST_ADDR}: {e}"))?;
    probe.local_addr().map(|a| a.port()).map_err(|e| RuntimeError::other(e.to_string()))
}

/// One request on slirp4netns's API socket (it answers and closes).
async fn call(dir: &Path, request: &Value) -> Result<Value, RuntimeError> {
    // Through an open directory: the socket's own path may exceed the 108 bytes of sun_path.
    let handle = std::fs::File::open(dir)
        .map_err(|e| format!("cannot open the sandbox directory {}: {e}", dir.display()))?;
    let path = format!("/proc/self/fd/{}/{API_SOCKET}", handle.as_raw_fd());
    let exchange = async {
        let mut stream = UnixStream::connect(&path).await?;
        stream.write_all(request.to_string().as_bytes()).await?;
        stream.shutdown().await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| "the slirp4netns API did not answer".to_owned())?
        .map_err(|e| format!("the slirp4netns API failed: {e}"))?;
    drop(handle);
    serde_json::from_slice(&reply)
        .map_err(|e| RuntimeError::other(format!("bad slirp4netns API reply: {e}")))
}
