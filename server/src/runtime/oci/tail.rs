//! Tails a sandbox's `stdout.log` and `stderr.log` into [`RuntimeEvent`]s.
//!
//! The workload writes to files (not pipes), so it keeps running while the server restarts.
//! The offsets of the lines already sent are persisted in `offsets` after every batch, so a
//! re-adopting server resumes exactly there: no line is sent twice, none is skipped (a crash
//! between sending and persisting can repeat the last batch; never lose one).
//!
//! The event channel is bounded: when the server falls behind storing lines, the tailer waits
//! (back-pressure) and the output stays in the files instead of piling up in memory.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
    time::Duration,
};

use tokio::sync::mpsc;

use super::{Layout, host};
use crate::runtime::{OutputStream, RuntimeEvent};

/// How often the files are polled.
const POLL: Duration = Duration::from_millis(15);

/// Longest line sent as one event; longer lines are split.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// Bytes buffered per stream (read ahead of what was sent).
const READ_CHUNK: u64 = 1 << 20;

/// Most lines sent per stream in one step; well below the event channel's capacity.
const BATCH: usize = 256;

/// Steps per poll, so one chatty sandbox cannot monopolize the event channel.
const ROUNDS_PER_POLL: u32 = 16;

/// How many polls pass between checks that the supervisor still lives.
const SHIM_CHECK_EVERY: u32 = 40;

/// Sent bytes are freed from the log files (a hole is punched) in steps of this size, so a
/// chatty long-running sandbox does not fill the disk. Offsets stay valid: the file keeps its
/// length and only the blocks before the sent offset are released.
const PUNCH_EVERY: u64 = 16 << 20;

/// The store cost of the newest output the tailer always sends: twice the default log
/// retention. When the unsent output is estimated to cost more than twice this, the tailer
/// skips ahead to keep only this much (the store would drop the rest anyway).
const KEEP_COST: u64 = 32 << 20;

/// What a stored line costs beyond its bytes (the store's row overhead).
const ROW_COST: usize = 64;

/// Status reported when the supervisor died without recording one (the workload is lost).
const UNKNOWN_EXIT: i32 = 255;

/// One stream being tailed.
#[derive(Debug)]
struct Stream {
    which: OutputStream,
    file: Option<File>,
    /// Offset just after the last byte sent (persisted).
    sent: u64,
    /// Bytes read after `sent`: the start of a line whose newline has not arrived.
    pending: Vec<u8>,
    /// Offset up to which the file's blocks were released.
    punched: u64,
    /// Bytes skipped because the server fell too far behind, not yet reported.
    skipped: u64,
    /// What 1 KiB of this stream costs in the store (its bytes plus a row overhead per line),
    /// as recently seen: short lines cost many times their size.
    cost_per_kib: u64,
}

impl Stream {
    fn new(which: OutputStream, sent: u64) -> Self {
        Self {
            which,
            file: None,
            sent,
            pending: Vec::new(),
            punched: 0,
            skipped: 0,
            cost_per_kib: 1024,
        }
    }

    /// Reads what was appended (at most `limit` bytes in `pending`); false when nothing new.
    fn read_more(&mut self, path: &Path, limit: u64) -> bool {
        if self.file.is_none() {
            self.file = File::open(path).ok();
        }
        let Some(file) = self.file.as_mut() else { return false };
        let mut at = self.sent + self.pending.len() as u64;
        // The workload holds the file open for writing and may truncate it: start over there.
        let len = file.metadata().map_or(at, |m| m.len());
        if len < at {
            self.pending.clear();
            self.sent = 0;
            self.punched = 0;
            at = 0;
        } else if (len - at).saturating_mul(self.cost_per_kib) / 1024 > 2 * KEEP_COST {
            // Far behind a flood: what the store could never keep is skipped instead of being
            // pushed through line by line (and the file, with the disk, growing meanwhile).
            // The skipped bytes are released like sent ones.
            let resume = len - (KEEP_COST * 1024 / self.cost_per_kib).min(len - at);
            self.skipped += resume - self.sent;
            self.pending.clear();
            self.sent = resume;
            at = resume;
        }
        if file.seek(SeekFrom::Start(at)).is_err() {
            return false;
        }
        let before = self.pending.len();
        let room = limit.saturating_sub(before as u64);
        let _ = file.take(room).read_to_end(&mut self.pending);
        self.pending.len() > before
    }

    /// Releases the disk blocks of what was sent (`fallocate --punch-hole`, from util-linux:
    /// the syscall itself would need `unsafe`).
    fn release_sent(&mut self, path: &Path) {
        let boundary = self.sent & !0xfff;
        if boundary < self.punched + PUNCH_EVERY {
            return;
        }
        self.punched = boundary;
        let Some(fallocate) = host::which("fallocate") else { return };
        let spawned = tokio::process::Command::new(fallocate)
            .args(["--punch-hole", "--offset", "0", "--length", &boundary.to_string()])
            .arg(path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(mut child) = spawned {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }

    /// Splits at most `max` complete lines off `pending` (and the whole rest when `flush`).
    fn lines(&mut self, flush: bool, max: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut start = 0;
        while lines.len() < max {
            let rest = &self.pending[start..];
            let window = &rest[..rest.len().min(MAX_LINE)];
            let (line_len, consumed) = match window.iter().position(|&b| b == b'\n') {
                Some(nl) => (nl, nl + 1),
                None if rest.len() >= MAX_LINE => {
                    let cut = utf8_cut(window);
                    (cut, cut)
                }
                None if flush && !rest.is_empty() => (rest.len(), rest.len()),
                None => break,
            };
            let mut line = &rest[..line_len];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            lines.push(String::from_utf8_lossy(line).into_owned());
            start += consumed;
        }
        self.pending.drain(..start);
        self.sent += start as u64;
        if start > 0 {
            let cost = (start + lines.len() * ROW_COST) as u64;
            self.cost_per_kib = (self.cost_per_kib + cost * 1024 / start as u64) / 2;
        }
        lines
    }
}

/// Where to cut a full window of bytes without splitting a UTF-8 character.
fn utf8_cut(window: &[u8]) -> usize {
    match std::str::from_utf8(window) {
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => e.valid_up_to(),
        _ => window.len(),
    }
}

/// The tailer of one sandbox.
#[derive(Debug)]
pub(super) struct Tailer {
    layout: Layout,
    events: mpsc::Sender<RuntimeEvent>,
    out: Stream,
    err: Stream,
    shim: Option<(u32, Option<u64>)>,
}

impl Tailer {
    /// A tailer resuming from the persisted offsets (or the start).
    pub(super) fn new(layout: Layout, events: mpsc::Sender<RuntimeEvent>) -> Self {
        let (out, err) = read_offsets(&layout.offsets());
        let shim = host::read_pid_file(&layout.shim_pid());
        Self {
            layout,
            events,
            out: Stream::new(OutputStream::Stdout, out),
            err: Stream::new(OutputStream::Stderr, err),
            shim,
        }
    }

    /// Sends every complete line available now (and the partial ones when `flush`), waiting
    /// while the channel is full; false when nobody listens any more.
    pub(super) async fn pump(&mut self, flush: bool) -> bool {
        // Without `flush`, a bounded amount per poll, so one chatty sandbox cannot hog the
        // store; with it, everything there is, in bounded steps.
        let mut rounds = 0;
        loop {
            match self.pump_once(flush).await {
                Pumped::Closed => return false,
                Pumped::Idle => return true,
                Pumped::Sent if !flush && rounds >= ROUNDS_PER_POLL => return true,
                Pumped::Sent => rounds += 1,
            }
        }
    }

    /// Reads at most [`READ_CHUNK`] per stream and sends at most [`BATCH`] lines of each.
    async fn pump_once(&mut self, flush: bool) -> Pumped {
        let mut sent_any = false;
        let paths = [self.layout.stdout(), self.layout.stderr()];
        for (index, path) in paths.iter().enumerate() {
            let stream = if index == 0 { &mut self.out } else { &mut self.err };
            let full = stream.pending.len() as u64 >= READ_CHUNK;
            let more = stream.read_more(path, READ_CHUNK);
            // The rest of a line is only flushed once the file has nothing more to give.
            let mut lines = stream.lines(flush && !more && !full, BATCH);
            let skipped = std::mem::take(&mut stream.skipped);
            if skipped > 0 {
                lines.insert(
                    0,
                    format!(
                        "[porter-sandbox: {skipped} bytes of output skipped: the workload printed \
                         more than the server keeps while it fell behind]"
                    ),
                );
            }
            if lines.is_empty() {
                continue;
            }
            let which = stream.which;
            // Permits first, so the lines go out with no await in between: an abort while
            // waiting loses nothing (the offsets were not persisted; the lines are read again).
            let Ok(permits) = self.events.reserve_many(lines.len()).await else {
                return Pumped::Closed;
            };
            for (permit, line) in permits.zip(lines) {
                let at = crate::time::now_micros();
                permit.send(RuntimeEvent::Line {
                    sandbox_id: self.layout.id.clone(),
                    stream: which,
                    line,
                    at,
                });
            }
            sent_any = true;
            // Sent, then persisted, with no await in between (see above).
            let text = format!("{} {}\n", self.out.sent, self.err.sent);
            if let Err(err) = host::write_atomic(&self.layout.offsets(), text.as_bytes()) {
                tracing::warn!("cannot persist log offsets of {}: {err}", self.layout.id);
                return Pumped::Sent;
            }
        }
        if !sent_any {
            return Pumped::Idle;
        }
        // Only once the offsets are durable: a restarted server never reads a hole.
        for (stream, path) in [&mut self.out, &mut self.err].into_iter().zip(&paths) {
            stream.release_sent(path);
        }
        Pumped::Sent
    }

    /// Tails until the workload exits (then sends `Exited`) or nobody listens.
    pub(super) async fn run(mut self) {
        let mut polls: u32 = 0;
        loop {
            // Looked at before reading: everything written before the exit is then read below.
            let exited = self.layout.exit_code();
            if !self.pump(exited.is_some()).await {
                return;
            }
            if let Some(exit_code) = exited {
                let sandbox_id = self.layout.id.clone();
                let _ = self.events.send(RuntimeEvent::Exited { sandbox_id, exit_code }).await;
                return;
            }
            polls = polls.wrapping_add(1);
            if polls % SHIM_CHECK_EVERY == 0 && self.supervisor_died() {
                self.report_lost().await;
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The shim is gone without an `exit_code`: nobody can learn the workload's status.
    fn supervisor_died(&self) -> bool {
        let Some((pid, start)) = self.shim else { return false };
        // The shim writes exit_code before it ends: look again after seeing it dead.
        !host::alive(pid, start) && self.layout.exit_code().is_none()
    }

    async fn report_lost(mut self) {
        self.pump(true).await;
        let sandbox_id = self.layout.id.clone();
        tracing::warn!("the supervisor of sandbox {sandbox_id} died; its exit status is unknown");
        let _ = self
            .events
            .send(RuntimeEvent::Line {
                sandbox_id: sandbox_id.clone(),
                stream: OutputStream::Stderr,
                line: "porter-sandbox: the sandbox supervisor died; the exit status is unknown"
                    .into(),
                at: crate::time::now_micros(),
            })
            .await;
        // Whatever still runs is killed by the server's cleanup after this exit.
        let _ =
            self.events.send(RuntimeEvent::Exited { sandbox_id, exit_code: UNKNOWN_EXIT }).await;
    }
}

/// What one step of [`Tailer::pump`] did.
enum Pumped {
    /// Lines were sent.
    Sent,
    /// Nothing new.
    Idle,
    /// The receiver is gone.
    Closed,
}

fn read_offsets(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut words = text.split_whitespace().map(|w| w.parse::<u64>().unwrap_or(0));
    (words.next().unwrap_or(0), words.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn split(stream: &mut Stream, data: &[u8], flush: bool) -> Vec<String> {
        stream.pending.extend_from_slice(data);
        stream.lines(flush, usize::MAX)
    }

    #[test]
    fn keeps_partial_lines_until_newline_or_flush() {
        let mut s = Stream::new(OutputStream::Stdout, 0);
        assert_eq!(split(&mut s, b"a\nb", false), ["a"]);
        assert_eq!(s.sent, 2);
        assert_eq!(split(&mut s, b"c\r\nd", false), ["bc"]);
        assert_eq!(s.sent, 6);
        assert_eq!(split(&mut s, b"", true), ["d"]);
        assert_eq!(s.sent, 7);
        assert!(split(&mut s, b"", true).is_empty());
    }

    #[test]
    fn splits_long_lines_on_char_boundaries() {
        let mut s = Stream::new(OutputStream::Stderr, 0);
        let mut data = vec![b'x'; MAX_LINE - 1];
        data.extend_from_slice("é\n".as_bytes());
        let lines = split(&mut s, &data, false);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE - 1);
        assert_eq!(lines[1], "é");
        assert_eq!(s.sent, data.len() as u64);
    }

    #[test]
    fn skips_ahead_when_far_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        let file = File::create(&path).unwrap();
        // Sparse: 80 MiB of unsent output costs no disk here.
        let len = 2 * KEEP_COST + (16 << 20);
        file.set_len(len).unwrap();
        let mut s = Stream::new(OutputStream::Stdout, 0);
        assert!(s.read_more(&path, READ_CHUNK));
        assert_eq!(s.skipped, len - KEEP_COST);
        assert_eq!(s.sent, len - KEEP_COST);
        assert_eq!(s.pending.len() as u64, READ_CHUNK);
        // Within the limit nothing more is skipped.
        s.pending.clear();
        s.skipped = 0;
        s.sent = len - 1000;
        assert!(s.read_more(&path, READ_CHUNK));
        assert_eq!((s.skipped, s.pending.len()), (0, 1000));
    }

    #[test]
    fn short_lines_make_the_skip_come_sooner() {
        let mut s = Stream::new(OutputStream::Stdout, 0);
        for _ in 0..8 {
            split(&mut s, &b"y\n".repeat(1000), false);
        }
        // "y\n" costs 2 + 64 bytes for 2 bytes of file: about 33 times its size.
        assert!((32 * 1024..=33 * 1024).contains(&s.cost_per_kib), "{}", s.cost_per_kib);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        std::fs::write(&path, b"y\n".repeat(3 << 20)).unwrap();
        s.sent = 0;
        s.pending.clear();
        assert!(s.read_more(&path, READ_CHUNK));
        assert!(s.skipped > 4 << 20, "6 MiB of y lines would cost 198 MiB: {}", s.skipped);
    }

    #[test]
    fn lossy_utf8() {
        let mut s = Stream::new(OutputStream::Stdout, 0);
        assert_eq!(split(&mut s, b"a\xffb\n", false), ["a\u{fffd}b"]);
    }
}
