//! A process's output on disk: one byte sequence, stored as segment files of tagged frames.
//!
//! Segment `out-<offset>` (20 digits) holds the output from byte `<offset>` on as frames of
//! `[stream u8][length u32 LE][bytes]`. The supervisor appends (one `write` per frame) and starts
//! a new segment past [`SEGMENT_BYTES`]; beyond the retention limit it deletes the oldest
//! segments, so a reader asking for dropped bytes starts at the oldest kept one. Readers never
//! take a lock: a frame still being written at the end of the last segment is simply not read
//! yet, and a reader keeps reading a segment deleted under it through its open file.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

/// Header of a frame on disk: stream tag and little-endian length.
const HEADER: usize = 5;

/// Output bytes per segment before the next one starts (the unit of retention).
pub const SEGMENT_BYTES: u64 = 4 << 20;

/// The segments of `dir`, oldest first: `(start offset, path)`.
pub fn segments(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name();
                    let start = name.to_str()?.strip_prefix("out-")?.parse().ok()?;
                    Some((start, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_unstable_by_key(|(start, _)| *start);
    found
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("out-{start:020}"))
}

/// The supervisor's side: appends frames and applies the retention limit.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    retention: u64,
    file: File,
    segment_start: u64,
    /// Offset just past the last byte written.
    end: u64,
    /// Offset of the oldest byte kept.
    start: u64,
}

impl Writer {
    /// Starts an empty log in `dir`, keeping at least `retention` bytes (never less than one
    /// segment).
    pub fn create(dir: &Path, retention: u64) -> std::io::Result<Self> {
        let file = OpenOptions::new().create_new(true).append(true).open(segment_path(dir, 0))?;
        Ok(Self { dir: dir.to_owned(), retention, file, segment_start: 0, end: 0, start: 0 })
    }

    /// Appends `data` from `stream`; returns the new end offset.
    pub fn append(&mut self, stream: u8, data: &[u8]) -> std::io::Result<u64> {
        if data.is_empty() {
            return Ok(self.end);
        }
        if self.end - self.segment_start >= SEGMENT_BYTES {
            self.file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(segment_path(&self.dir, self.end))?;
            self.segment_start = self.end;
            self.drop_old();
        }
        let mut frame = Vec::with_capacity(HEADER + data.len());
        frame.push(stream);
        frame.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        frame.extend_from_slice(data);
        self.file.write_all(&frame)?;
        self.end += data.len() as u64;
        Ok(self.end)
    }

    /// Deletes the oldest segments while what remains (without the newest) exceeds retention.
    fn drop_old(&mut self) {
        let all = segments(&self.dir);
        for window in all.windows(2) {
            let (next_start, _) = &window[1];
            if self.end - next_start < self.retention {
                break;
            }
            if std::fs::remove_file(&window[0].1).is_ok() {
                self.start = *next_start;
            }
        }
    }

    /// Offset just past the last byte written.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Offset of the oldest byte kept.
    #[must_use]
    pub fn start(&self) -> u64 {
        self.start
    }
}

/// One chunk read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Stream tag (see `porter_sandbox::types::frame_kind`).
    pub stream: u8,
    /// Offset of `data[0]` in the output.
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A reader from an offset, which can be called again as the log grows.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    /// The next offset to return.
    offset: u64,
    /// The open segment: its start, the file positioned at a frame boundary, and the offset of
    /// the data of the frame the position is at.
    open: Option<(u64, File, u64)>,
}

impl Reader {
    /// A reader of `dir` from `offset` (or from the oldest byte kept, if that is later).
    #[must_use]
    pub fn new(dir: &Path, offset: u64) -> Self {
        Self { dir: dir.to_owned(), offset, open: None }
    }

    /// The next offset this reader returns.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads what is available now, up to about `max` bytes; empty when nothing new is there.
    pub fn read(&mut self, max: usize) -> std::io::Result<Vec<Chunk>> {
        let mut chunks = Vec::new();
        let mut total = 0;
        while total < max {
            if self.open.is_none() && !self.open_segment()? {
                break;
            }
            match self.next_frame(max - total)? {
                Some(chunk) => {
                    total += chunk.data.len();
                    chunks.push(chunk);
                }
                None => {
                    // At the end of this segment: move on only if a later one exists.
                    // Frames are only appended to the newest segment, so a later one means
                    // this one is complete.
                    let Some((start, _, _)) = &self.open else { break };
                    let later = segments(&self.dir).into_iter().any(|(s, _)| s > *start);
                    if !later {
                        break;
                    }
                    self.open = None;
                }
            }
        }
        Ok(chunks)
    }

    /// Opens the segment holding `self.offset` (or the oldest kept), positioned at the frame
    /// holding it. `false` when there is none yet.
    fn open_segment(&mut self) -> std::io::Result<bool> {
        let all = segments(&self.dir);
        let Some(index) = all.iter().rposition(|(start, _)| *start <= self.offset).or_else(|| {
            // The offset was dropped: start at the oldest kept byte.
            (!all.is_empty()).then_some(0)
        }) else {
            return Ok(false);
        };
        let (start, path) = &all[index];
        let file = match File::open(path) {
            Ok(file) => file,
            // Deleted by retention between the listing and the open: list again next time.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        self.offset = self.offset.max(*start);
        self.open = Some((*start, file, *start));
        Ok(true)
    }

    /// The next frame's bytes at or past `self.offset`, at most `max` of them; `None` at the
    /// end of what is written.
    fn next_frame(&mut self, max: usize) -> std::io::Result<Option<Chunk>> {
        let Some((_, file, at)) = self.open.as_mut() else { return Ok(None) };
        loop {
            let position = file.stream_position()?;
            let mut header = [0u8; HEADER];
            if !read_full(file, &mut header)? {
                file.seek(SeekFrom::Start(position))?;
                return Ok(None);
            }
            let len = u64::from(u32::from_le_bytes([header[1], header[2], header[3], header[4]]));
            let frame_end = *at + len;
            if frame_end <= self.offset {
                // Entirely before the offset: skip it (if it is all there).
                let data_start = file.stream_position()?;
                if file.metadata()?.len() < data_start + len {
                    file.seek(SeekFrom::Start(position))?;
                    return Ok(None);
                }
                file.seek(SeekFrom::Start(data_start + len))?;
                *at = frame_end;
                continue;
            }
            let mut data = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
            if !read_full(file, &mut data)? {
                file.seek(SeekFrom::Start(position))?;
                return Ok(None);
            }
            let skip = usize::try_from(self.offset - *at).unwrap_or(0);
            let take = (data.len() - skip).min(max.max(1));
            let chunk = Chunk {
                stream: header[0],
                offset: self.offset,
                data: data[skip..skip + take].to_vec(),
            };
            self.offset += take as u64;
            if self.offset < frame_end {
                // The rest of this frame comes next time: stay at its header.
                file.seek(SeekFrom::Start(position))?;
            } else {
                *at = frame_end;
            }
            return Ok(Some(chunk));
        }
    }
}

/// Fills `buf` completely; `false` when the file ends first (a frame still being written).
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(reader: &mut Reader) -> Vec<Chunk> {
        let mut all = Vec::new();
        loop {
            let chunks = reader.read(1 << 20).unwrap();
            if chunks.is_empty() {
                return all;
            }
            all.extend(chunks);
        }
    }

    #[test]
    fn reads_back_from_any_offset_with_streams() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer::create(dir.path(), 1 << 30).unwrap();
        writer.append(1, b"hello ").unwrap();
        writer.append(2, b"oops").unwrap();
        writer.append(1, b"world").unwrap();
        let chunks = read_all(&mut Reader::new(dir.path(), 0));
        let text: Vec<(u8, u64, &[u8])> =
            chunks.iter().map(|c| (c.stream, c.offset, c.data.as_slice())).collect();
        assert_eq!(text, [(1, 0, &b"hello "[..]), (2, 6, b"oops"), (1, 10, b"world")]);
        let from = read_all(&mut Reader::new(dir.path(), 8));
        assert_eq!(from[0], Chunk { stream: 2, offset: 8, data: b"ps".to_vec() });
        assert_eq!(from[1].data, b"world");
        // A reader at the end sees later frames.
        let mut reader = Reader::new(dir.path(), 15);
        assert!(read_all(&mut reader).is_empty());
        writer.append(1, b"!").unwrap();
        assert_eq!(read_all(&mut reader)[0], Chunk { stream: 1, offset: 15, data: b"!".to_vec() });
    }

    #[test]
    fn a_partial_frame_is_not_read_until_complete() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer::create(dir.path(), 1 << 30).unwrap();
        writer.append(1, b"abc").unwrap();
        let mut raw = OpenOptions::new().append(true).open(segment_path(dir.path(), 0)).unwrap();
        raw.write_all(&[1, 4, 0, 0, 0, b'x']).unwrap();
        let mut reader = Reader::new(dir.path(), 0);
        assert_eq!(read_all(&mut reader).len(), 1);
        raw.write_all(b"yzw").unwrap();
        assert_eq!(read_all(&mut reader)[0].data, b"xyzw");
    }

    #[test]
    fn retention_drops_whole_old_segments_and_readers_start_at_the_oldest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer::create(dir.path(), SEGMENT_BYTES * 2).unwrap();
        let block = vec![7u8; 1 << 20];
        for _ in 0..(SEGMENT_BYTES * 5 / (1 << 20)) {
            writer.append(1, &block).unwrap();
        }
        writer.append(1, b"tail").unwrap();
        assert!(writer.start() > 0, "old segments were dropped");
        let kept = writer.end() - writer.start();
        assert!((SEGMENT_BYTES * 2..=SEGMENT_BYTES * 4).contains(&kept), "kept {kept}");
        let chunks = read_all(&mut Reader::new(dir.path(), 0));
        assert_eq!(chunks[0].offset, writer.start());
        let total: usize = chunks.iter().map(|c| c.data.len()).sum();
        assert_eq!(total as u64, kept);
        assert_eq!(chunks.last().unwrap().data, b"tail");
    }

    #[test]
    fn large_frames_are_returned_in_pieces_of_at_most_max() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer::create(dir.path(), 1 << 30).unwrap();
        writer.append(1, &[5u8; 1000]).unwrap();
        let mut reader = Reader::new(dir.path(), 0);
        let first = reader.read(300).unwrap();
        assert_eq!(first.iter().map(|c| c.data.len()).sum::<usize>(), 300);
        let rest = read_all(&mut reader);
        assert_eq!(rest[0].offset, 300);
        assert_eq!(rest.iter().map(|c| c.data.len()).sum::<usize>(), 700);
    }
}
