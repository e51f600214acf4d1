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

/// [`from_js`] for request bodies whose keys are easy to misspell (specs): a key that `T` does
/// not know is refused, naming it and the key meant — the wire's snake_case name for a camelCase
/// one (`volumeMounts` → `volume_mounts`), or the nearest known name for a typo (`comand`). Without
/// this, serde would drop the key and the request would go out without what it asked for.
pub fn from_js_strict<T: DeserializeOwned + Serialize>(
    value: Option<Value>,
    what: &str,
) -> napi::Result<T> {
    let value = value.map_or_else(|| Value::Object(serde_json::Map::new()), integral);
    let parsed: T = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("invalid {what}: {e}")))?;
    let kept = serde_json::to_value(&parsed)
        .map_err(|e| invalid(format!("cannot convert the {what}: {e}")))?;
    match dropped_key(&value, &kept, "") {
        None => Ok(parsed),
        Some((path, key)) => {
            let known = struct_fields::<T>();
            let meant = meant_key(&key, if path.is_empty() { known } else { &[] });
            let mut message = format!("invalid {what}: unknown key `{path}{key}`");
            if let Some(meant) = meant {
                message.push_str(&format!("; did you mean `{path}{meant}`?"));
            }
            if path.is_empty() && !known.is_empty() {
                message.push_str(&format!(" (its keys are snake_case: {})", known.join(", ")));
            }
            Err(invalid(message))
        }
    }
}

/// The first key of `given` (depth first, `null`s ignored) that is missing from `kept` (the
/// same value after a round trip through the type): its dotted parent path and the key.
fn dropped_key(given: &Value, kept: &Value, path: &str) -> Option<(String, String)> {
    match (given, kept) {
        (Value::Object(given), Value::Object(kept)) => {
            given.iter().find_map(|(key, value)| match kept.get(key) {
                None if !value.is_null() => Some((path.to_owned(), key.clone())),
                None => None,
                Some(kept) => dropped_key(value, kept, &format!("{path}{key}.")),
            })
        }
        (Value::Array(given), Value::Array(kept)) if given.len() == kept.len() => given
            .iter()
            .zip(kept)
            .enumerate()
            .find_map(|(i, (g, k))| dropped_key(g, k, &format!("{path}{i}."))),
        _ => None,
    }
}

/// The key meant by `key`: its snake_case form when it is camelCase, else the known name within
/// two edits of it.
fn meant_key(key: &str, known: &[&str]) -> Option<String> {
    if key.chars().any(|c| c.is_ascii_uppercase()) {
        let mut snake = String::new();
        for c in key.chars() {
            if c.is_ascii_uppercase() {
                if !snake.is_empty() {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        return Some(snake);
    }
    known
        .iter()
        .map(|name| (edit_distance(key, name), *name))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name.to_owned())
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// The field names of the struct `T` deserializes as (empty for other shapes), read from what
/// its `Deserialize` implementation asks for.
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
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
