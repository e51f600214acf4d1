//! Request extraction with API-shaped errors: JSON bodies and query strings whose parse failures
//! answer `400 {"error": "..."}` saying what was wrong.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // A chunked body over the limit is only found out while reading it.
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    e.status(),
                    format!(
                        "the request body is larger than this endpoint's limit of {} KiB; \
                             send a smaller JSON object",
                        super::JSON_BODY_LIMIT / 1024
                    ),
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "the request body is empty: send a JSON object (use {} for all defaults)",
            ));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid for this endpoint: {e}"))
        })
    }
}

/// The query string as ordered `key=value` pairs (keys may repeat).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Self(form_urlencoded::parse(query.as_bytes()).into_owned().collect()))
    }
}

impl Params {
    /// The last value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    /// `key` as an integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "query parameter {key} must be an integer, not {v:?}"
                    ))
                })
            })
            .transpose()
    }

    /// `key` as an integer in `min..=max`; the error names the parameter and the range.
    pub fn int_in(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.int(key)? {
            Some(v) if !(min..=max).contains(&v) => Err(ApiError::bad_request(format!(
                "query parameter {key} must be between {min} and {max}, not {v}"
            ))),
            v => Ok(v),
        }
    }

    /// `key` as a time: RFC 3339, or a duration back from now; the error names the parameter.
    pub fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                crate::time::parse_since(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "query parameter {key} must be an RFC 3339 time between years 0 and 9999 \
                         (2026-01-02T15:04:05Z) or a duration back from now (10m, 24h), not {v:?}"
                    ))
                })
            })
            .transpose()
    }

    /// `key` as a boolean (`true`/`false`, `1`/`0`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "query parameter {key} must be true or false, not {v:?}"
                ))),
            })
            .transpose()
    }

    /// A required parameter.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::bad_request(format!("query parameter {key} is required")))
    }
}

/// An enum query value in its wire form. Also accepts the `ClassName.MEMBER` form that the
/// official Python SDK sends when given an enum member (`SandboxesPhase.RUNNING` → `running`).
pub fn enum_value(raw: &str) -> String {
    match raw.split_once('.') {
        Some((class, member)) if class.chars().next().is_some_and(char::is_uppercase) => {
            member.to_ascii_lowercase()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::enum_value;

    #[test]
    fn enum_values_accept_the_python_member_form() {
        assert_eq!(enum_value("running"), "running");
        assert_eq!(enum_value("SandboxesPhase.RUNNING"), "running");
        assert_eq!(enum_value("SandboxMetric.CPU_USAGE"), "cpu_usage");
        assert_eq!(enum_value("SandboxesSource.CLI"), "cli");
    }
}
