//! Decoding of the process output body ([`PROCESS_OUTPUT_MEDIA_TYPE`]): frames may arrive
//! split across any number of network chunks.
//!
//! [`PROCESS_OUTPUT_MEDIA_TYPE`]: crate::types::PROCESS_OUTPUT_MEDIA_TYPE

use bytes::{Buf, Bytes, BytesMut};

use crate::{
    Error, Result,
    types::{OUTPUT_FRAME_HEADER, OutputStreamName, ProcessStatus, frame_kind},
};

/// Largest payload accepted in one frame: the server sends at most 256 KiB of output per
/// frame, so anything far larger is a broken or hostile body, not output.
const MAX_FRAME_PAYLOAD: usize = 64 * 1024 * 1024;

/// A piece of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// `stdout` (also a terminal's output) or `stderr`.
    pub stream: OutputStreamName,
    /// The bytes, exactly as the process wrote them.
    pub data: Bytes,
    /// Offset of `data`'s first byte in the process's combined output: read again from
    /// `offset + data.len()` to go on after this chunk.
    pub offset: u64,
}

impl OutputChunk {
    /// The offset just past this chunk.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

/// One decoded frame.
#[derive(Debug)]
pub(crate) enum Frame {
    Data(OutputChunk),
    End(Box<ProcessStatus>),
}

/// Accumulates body bytes and yields whole frames.
#[derive(Debug, Default)]
pub(crate) struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Drops a partial frame (the connection broke in its middle).
    pub fn clear(&mut self) {
        self.buffer.clear();
    }

    /// The next whole frame, if the buffer holds one.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.buffer.len() < OUTPUT_FRAME_HEADER {
            return Ok(None);
        }
        let kind = self.buffer[0];
        let mut offset_bytes = [0u8; 8];
        offset_bytes.copy_from_slice(&self.buffer[1..9]);
        let offset = u64::from_be_bytes(offset_bytes);
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(&self.buffer[9..13]);
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len > MAX_FRAME_PAYLOAD {
            return Err(Error::decode(format!(
                "process output frame of {len} bytes is larger than any the server sends"
            )));
        }
        if self.buffer.len() < OUTPUT_FRAME_HEADER + len {
            return Ok(None);
        }
        self.buffer.advance(OUTPUT_FRAME_HEADER);
        let payload = self.buffer.split_to(len).freeze();
        let stream = match kind {
            frame_kind::END => {
                let status: ProcessStatus = serde_json::from_slice(&payload).map_err(|e| {
                    Error::decode(format!("unexpected final status in the process output: {e}"))
                        .with_source(e)
                })?;
                return Ok(Some(Frame::End(Box::new(status))));
            }
            frame_kind::STDOUT => OutputStreamName::Stdout,
            frame_kind::STDERR => OutputStreamName::Stderr,
            other => {
                return Err(Error::decode(format!(
                    "unknown frame kind {other} in the process output (is the client older \
                     than the server? upgrade porter-sandbox)"
                )));
            }
        };
        Ok(Some(Frame::Data(OutputChunk { stream, data: payload, offset })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, offset: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_split_at_every_byte_are_reassembled() {
        let mut body = frame(frame_kind::STDOUT, 0, b"hello ");
        body.extend(frame(frame_kind::STDERR, 6, b"oops"));
        let mut decoder = FrameDecoder::default();
        let mut chunks = Vec::new();
        for byte in &body {
            decoder.push(&[*byte]);
            while let Some(Frame::Data(chunk)) = decoder.next_frame().expect("valid frames") {
                chunks.push(chunk);
            }
        }
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].data.as_ref(), b"hello ");
        assert_eq!(chunks[1].stream, OutputStreamName::Stderr);
        assert_eq!(chunks[1].offset, 6);
        assert_eq!(chunks[1].end(), 10);
    }

    #[test]
    fn unknown_kinds_and_huge_frames_are_refused() {
        let mut decoder = FrameDecoder::default();
        decoder.push(&frame(9, 0, b"x"));
        assert!(decoder.next_frame().is_err());
        let mut decoder = FrameDecoder::default();
        let mut header = vec![frame_kind::STDOUT];
        header.extend_from_slice(&0u64.to_be_bytes());
        header.extend_from_slice(&u32::MAX.to_be_bytes());
        decoder.push(&header);
        assert!(decoder.next_frame().is_err());
    }
}
