//! The wire format between the server and the exec agent of a sandbox (`agent/main.rs`).
//!
//! Shared by both sides (the server includes this file; the agent is built from it without
//! any crate, so only `std` is used). One byte stream each way, made of frames:
//!
//! ```text
//! u32 LE length of what follows | u8 kind | u64 LE exec id | payload
//! ```
//!
//! Server → agent: [`START`] (an encoded [`Request`]), [`STDIN`] (bytes for the command's
//! standard input), [`STDIN_END`], [`KILL`] (end the command's process group), [`SIGNAL`]
//! (send a signal to it) and [`RESIZE`] (its terminal's new size). An agent older than a
//! frame ignores it; an older agent answers a request with a terminal as malformed.
//! Agent → server: [`STDOUT`] and [`STDERR`] (output bytes), then exactly one of [`EXIT`]
//! (`i32` status, 128 + signal when killed) or [`FAILED`] (`i32` code, 127/126 as shells use,
//! and a message for standard error).

#![allow(dead_code)]

use std::io::{self, Read, Write};

/// Starts a command: the payload is an encoded [`Request`].
pub const START: u8 = 1;
/// Bytes for the command's standard input.
pub const STDIN: u8 = 2;
/// The command's standard input ends.
pub const STDIN_END: u8 = 3;
/// Kill the command's process group.
pub const KILL: u8 = 4;
/// Send a signal to the command's process group: `i32` LE signal number.
pub const SIGNAL: u8 = 5;
/// Set the size of the command's terminal: `u16` LE columns, then `u16` LE rows.
pub const RESIZE: u8 = 6;
/// Bytes the command wrote to standard output.
pub const STDOUT: u8 = 10;
/// Bytes the command wrote to standard error.
pub const STDERR: u8 = 11;
/// The command ended: `i32` LE status.
pub const EXIT: u8 = 12;
/// The command could not start: `i32` LE code, then a message.
pub const FAILED: u8 = 13;

/// The largest payload of one frame; longer data is sent as several frames.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The largest encoded [`Request`] (argv and environment are bounded by the API far below).
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// Bytes before the payload: kind and exec id.
const HEADER: usize = 1 + 8;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What it is ([`START`], [`STDOUT`], …).
    pub kind: u8,
    /// The exec it belongs to.
    pub id: u64,
    /// Its data.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let len = (HEADER + self.payload.len()) as u32;
        let mut out = Vec::with_capacity(4 + HEADER + self.payload.len());
        out.extend_from_slice(&len.to_le_bytes());
        out.push(self.kind);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Writes the frame in one call (so frames of several writers never interleave).
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.encode())
    }

    /// Reads one frame; `None` at a clean end of the stream. A length beyond `max_payload`
    /// is an error: the other side is broken or hostile.
    pub fn read_from(input: &mut impl Read, max_payload: usize) -> io::Result<Option<Frame>> {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len) as usize;
        Self::check_len(len, max_payload)?;
        let mut body = vec![0u8; len];
        input.read_exact(&mut body)?;
        Self::from_body(body).map(Some)
    }

    /// Checks the length field of a frame.
    pub fn check_len(len: usize, max_payload: usize) -> io::Result<()> {
        if len < HEADER || len - HEADER > max_payload {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame length"));
        }
        Ok(())
    }

    /// A frame from the bytes after its length field.
    pub fn from_body(mut body: Vec<u8>) -> io::Result<Frame> {
        if body.len() < HEADER {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short frame"));
        }
        let kind = body[0];
        let mut id = [0u8; 8];
        id.copy_from_slice(&body[1..HEADER]);
        let payload = body.split_off(HEADER);
        Ok(Frame { kind, id: u64::from_le_bytes(id), payload })
    }
}

/// A command to start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Program and arguments.
    pub argv: Vec<Vec<u8>>,
    /// The whole environment, `KEY=VALUE`.
    pub env: Vec<Vec<u8>>,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Whether standard input is fed ([`STDIN`] frames); otherwise it is empty.
    pub stdin: bool,
    /// Run in a new terminal of this size (columns, rows): its input comes from [`STDIN`]
    /// frames and everything it prints is [`STDOUT`].
    pub terminal: Option<(u16, u16)>,
}

impl Request {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_list(&mut out, &self.argv);
        put_list(&mut out, &self.env);
        put_bytes(&mut out, &self.cwd);
        out.push(u8::from(self.stdin));
        // Only with a terminal: a request without one stays readable by older agents.
        if let Some((cols, rows)) = self.terminal {
            out.extend_from_slice(&cols.to_le_bytes());
            out.extend_from_slice(&rows.to_le_bytes());
        }
        out
    }

    /// Parses a request; `None` when the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Option<Request> {
        let mut rest = bytes;
        let argv = take_list(&mut rest)?;
        let env = take_list(&mut rest)?;
        let cwd = take_bytes(&mut rest)?;
        let (&stdin, rest) = rest.split_first()?;
        let terminal = match rest {
            [] => None,
            [c0, c1, r0, r1] => {
                Some((u16::from_le_bytes([*c0, *c1]), u16::from_le_bytes([*r0, *r1])))
            }
            _ => return None,
        };
        if argv.is_empty() || stdin > 1 {
            return None;
        }
        Some(Request { argv, env, cwd, stdin: stdin == 1, terminal })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_list(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        put_bytes(out, item);
    }
}

fn take_u32(rest: &mut &[u8]) -> Option<usize> {
    let (head, tail) = rest.split_at_checked(4)?;
    *rest = tail;
    Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
}

fn take_bytes(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let len = take_u32(rest)?;
    let (head, tail) = rest.split_at_checked(len)?;
    *rest = tail;
    Some(head.to_vec())
}

fn take_list(rest: &mut &[u8]) -> Option<Vec<Vec<u8>>> {
    let count = take_u32(rest)?;
    // Each item takes at least its 4-byte length: a count beyond that is a lie.
    if count > rest.len() / 4 {
        return None;
    }
    (0..count).map(|_| take_bytes(rest)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_with_and_without_a_terminal() {
        let plain = Request {
            argv: vec![b"sh".to_vec()],
            env: vec![b"A=1".to_vec()],
            cwd: b"/tmp".to_vec(),
            stdin: true,
            terminal: None,
        };
        assert_eq!(Request::decode(&plain.encode()), Some(plain.clone()));
        let terminal = Request { terminal: Some((120, 40)), ..plain.clone() };
        let bytes = terminal.encode();
        assert_eq!(bytes.len(), plain.encode().len() + 4, "a plain request is unchanged");
        assert_eq!(Request::decode(&bytes), Some(terminal));
        let mut broken = plain.encode();
        broken.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Request::decode(&broken), None);
    }
}
