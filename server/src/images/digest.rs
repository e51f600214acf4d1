//! sha256 digests: parsing `sha256:<hex>` and hashing while reading.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use super::ImageError;

/// Lowercase hex sha256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// Whether `hex` is exactly 64 lowercase hex digits (the only form we use as a file name, so a
/// digest can never smuggle a path separator or `..` into a blob path).
pub(crate) fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex part of `sha256:<hex>`. `what` names the object for the error message.
pub(crate) fn parse_sha256(digest: &str, what: &str) -> Result<String, ImageError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if is_sha256_hex(hex) => Ok(hex.to_owned()),
        Some((algorithm @ ("sha384" | "sha512"), _)) => Err(ImageError::Unsupported(format!(
            "{what} uses a {algorithm} digest (`{digest}`); only sha256 content is supported, \
             re-export the image with sha256 digests"
        ))),
        _ => Err(ImageError::Invalid(format!(
            "{what} has the malformed digest `{digest}` (expected `sha256:<64 lowercase hex \
             digits>`); the image is corrupt, export it again"
        ))),
    }
}

/// Passes reads through while hashing and counting every byte.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Reads the rest of the stream so the digest covers all of it.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The hex digest and byte count of everything read so far.
    pub(crate) fn finish(self) -> (String, u64) {
        (format!("{:x}", self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}
