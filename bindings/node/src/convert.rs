//! Conversions between JavaScript values and the core's serde types.
//!
//! Request bodies and option objects arrive as `serde_json::Value`s (Node-API turns a JS object
//! into one, skipping `undefined` properties) and are deserialized into the core's types; results
//! go back as the wire JSON, which Node-API turns into plain objects with the wire's snake_case
//! keys.

use std::time::{Duration, SystemTime};

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use porter_sandbox::{BinaryContent, VolumeFile};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Number, Value};

use crate::errors::invalid;

/// The wire JSON of a core value.
pub fn to_json(value: &impl Serialize) -> napi::Result<Value> {
    serde_json::to_value(value).map_err(|e| invalid(format!("cannot convert the response: {e}")))
}

/// A JavaScript value (a body or an options object) as the core type `T`. `what` names it in
/// the error when it does not fit.
pub fn from_js<T: DeserializeOwned>(value: Option<Value>, what: &str) -> napi::Result<T> {
    let value = value.map_or_else(|| Value::Object(serde_json::Map::new()), integral);
    serde_json::from_value(value).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

/// JavaScript has only doubles: a whole number beyond what Node-API turns into an integer
/// (`2 ** 32` and up) arrives as a float. Whole floats become integers again, so that fields
/// typed as integers accept them.
fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)] // checked: whole and within ±2^63
            Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                Value::Number(Number::from(f as i64))
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}

/// A timeout in milliseconds: `None` stays `None` (the call's default); it must be a finite
/// number that is not negative.
pub fn timeout(ms: Option<f64>) -> napi::Result<Option<Duration>> {
    ms.map(|ms| {
        Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
            invalid(format!("timeoutMs must be a finite number of milliseconds ≥ 0, not {ms}"))
        })
    })
    .transpose()
}

/// A byte count or offset given as a JavaScript number: a whole number ≥ 0.
pub fn byte_count(value: Option<f64>, name: &str) -> napi::Result<Option<u64>> {
    value
        .map(|v| {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
                Ok(v as u64)
            } else {
                Err(invalid(format!("{name} must be a whole number ≥ 0, not {v}")))
            }
        })
        .transpose()
}

/// A file listed in a volume, as the JavaScript layer's `VolumeFile` is built from.
#[napi(object)]
pub struct FileEntry {
    /// Name within its directory.
    pub name: String,
    /// Full `/`-rooted path.
    pub path: String,
    /// `file` or `directory`.
    pub r#type: String,
    /// Size in bytes (0 for directories).
    pub size_bytes: f64,
    /// Modification time, RFC 3339, when known.
    pub modified_at: Option<String>,
    /// A directory whose contents the listing did not fully read.
    pub truncated: bool,
}

impl From<VolumeFile> for FileEntry {
    fn from(file: VolumeFile) -> Self {
        Self {
            #[allow(clippy::cast_precision_loss)] // file sizes stay far below 2^53
            size_bytes: file.size_bytes as f64,
            r#type: file.kind.as_str().to_owned(),
            name: file.name,
            path: file.path,
            modified_at: file.modified_at,
            truncated: file.truncated,
        }
    }
}

/// The byte range of a ranged read: `Content-Range: bytes <start>-<end>/<size>`.
#[napi(object)]
pub struct Range {
    /// First byte (inclusive).
    pub start: f64,
    /// Last byte (inclusive).
    pub end: f64,
    /// Size of the whole file.
    pub size: f64,
}

/// A file read with its range and modification time.
#[napi(object)]
pub struct Content {
    /// The bytes read.
    pub bytes: Buffer,
    /// The range these bytes cover, when the server answered with one.
    pub content_range: Option<Range>,
    /// `Last-Modified`, in milliseconds since the Unix epoch, when parsable.
    pub last_modified_ms: Option<f64>,
}

#[allow(clippy::cast_precision_loss)] // offsets stay far below 2^53
impl From<BinaryContent> for Content {
    fn from(content: BinaryContent) -> Self {
        Self {
            bytes: buffer(content.data),
            content_range: content.content_range.map(|r| Range {
                start: r.start as f64,
                end: r.end as f64,
                size: r.size as f64,
            }),
            last_modified_ms: content.last_modified.map(unix_ms),
        }
    }
}

/// Bytes from the core as a Node `Buffer` (no copy when the bytes are uniquely owned).
pub fn buffer(bytes: bytes::Bytes) -> Buffer {
    Buffer::from(Vec::from(bytes))
}

fn unix_ms(time: SystemTime) -> f64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64() * 1000.0,
        Err(before) => -before.duration().as_secs_f64() * 1000.0,
    }
}
