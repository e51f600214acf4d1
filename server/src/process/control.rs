//! The control socket between the server and a process supervisor (`control.sock` in the
//! process's directory, reachable by root only: the sandbox never sees it).
//!
//! A request is `[op u8][length u32 LE][payload]`; the answer `[status u8][length u32 LE]
//! [payload]` (status 0: ok; otherwise the payload is the error text). After
//! [`Op::Subscribe`] the supervisor instead sends the output's end offset (u64 LE) each time
//! it grows, and closes the connection once the process has ended and its status is written.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::UnixStream,
};

/// Largest payload of one request: a stdin write of the HTTP endpoint's limit, and some.
pub const MAX_PAYLOAD: usize = 2 << 20;

/// What a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// The live counters ([`Live`], JSON).
    Status = 1,
    /// Append the payload to standard input.
    Stdin = 2,
    /// Close standard input.
    CloseStdin = 3,
    /// Send the signal (u32 LE) to the process tree.
    Signal = 4,
    /// Resize the terminal: cols, rows (u16 LE each).
    Resize = 5,
    /// Follow the output's end offset until the process ends.
    Subscribe = 6,
}

impl Op {
    /// The op of a wire byte.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Status,
            2 => Self::Stdin,
            3 => Self::CloseStdin,
            4 => Self::Signal,
            5 => Self::Resize,
            6 => Self::Subscribe,
            _ => return None,
        })
    }
}

/// What a running process's supervisor reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// Bytes written to standard output (or the terminal).
    pub stdout_bytes: u64,
    /// Bytes written to standard error.
    pub stderr_bytes: u64,
    /// Offset of the oldest byte kept.
    pub output_start: u64,
    /// Whether standard input is open for writing.
    pub stdin_open: bool,
}

/// Writes one message (request or answer).
pub async fn write_message<W: AsyncWrite + Unpin>(
    out: &mut W,
    tag: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "payload too large"))?;
    let mut message = Vec::with_capacity(5 + payload.len());
    message.push(tag);
    message.extend_from_slice(&len.to_le_bytes());
    message.extend_from_slice(payload);
    out.write_all(&message).await
}

/// Reads one message; `None` at a clean end of the stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    input: &mut R,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match input.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "payload too large"));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload).await?;
    Ok(Some((header[0], payload)))
}

/// Why a call to a supervisor failed.
#[derive(Debug)]
pub enum CallError {
    /// No supervisor answers: the process has ended (or its supervisor died).
    Gone,
    /// The request reached the supervisor, which ended before answering: the process ended
    /// meanwhile (a signal that ends it does exactly this).
    Unanswered,
    /// The supervisor refused the request; the text says why.
    Refused(String),
}

/// Sends one request to the supervisor of `dir` and returns its answer's payload.
pub async fn call(dir: &Path, op: Op, payload: &[u8]) -> Result<Vec<u8>, CallError> {
    let mut stream = connect(dir).await.ok_or(CallError::Gone)?;
    write_message(&mut stream, op as u8, payload).await.map_err(|_| CallError::Gone)?;
    match read_message(&mut stream).await {
        Ok(Some((0, answer))) => Ok(answer),
        Ok(Some((_, text))) => Err(CallError::Refused(String::from_utf8_lossy(&text).into_owned())),
        Ok(None) | Err(_) => Err(CallError::Unanswered),
    }
}

/// A connection to the supervisor of `dir`, if one listens.
///
/// A socket path holds at most 107 bytes, and a data directory can be deep: the socket is
/// reached through `/proc/self/fd/N/` of the directory opened here, whatever its length.
pub async fn connect(dir: &Path) -> Option<UnixStream> {
    use std::os::fd::AsRawFd;
    let flags =
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
    let handle = rustix::fs::open(dir, flags, rustix::fs::Mode::empty()).ok()?;
    let path = format!("/proc/self/fd/{}/{}", handle.as_raw_fd(), super::CONTROL_SOCKET);
    // A full accept queue refuses connections for a moment; a supervisor that is gone removes
    // its socket, so a refusal is retried briefly rather than read as the process's end.
    for _ in 0..20 {
        match UnixStream::connect(&path).await {
            Ok(stream) => return Some(stream),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(_) => return None,
        }
    }
    drop(handle);
    None
}

/// Subscribes to the output of the supervisor of `dir`: the stream yields end offsets and
/// closes when the process has ended. `None` when no supervisor listens.
pub async fn subscribe(dir: &Path) -> Option<UnixStream> {
    let mut stream = connect(dir).await?;
    write_message(&mut stream, Op::Subscribe as u8, &[]).await.ok()?;
    Some(stream)
}
