//! What one API call asks of the transport.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Serialize;

use super::BinaryBody;
use crate::{Error, Result};

/// Characters left as they are in query values and path segments: RFC 3986 "unreserved".
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The deadline of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestTimeout {
    /// The client's default (30 s unless configured).
    Default,
    /// No deadline at all (exec and file transfers by default).
    Unbounded,
    /// This deadline, for each attempt.
    After(Duration),
}

impl RequestTimeout {
    /// `None` → unbounded, `Some(d)` → `d`: the per-call override of exec and file transfers.
    pub fn unbounded_or(timeout: Option<Duration>) -> Self {
        timeout.map_or(Self::Unbounded, Self::After)
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Bytes),
    Binary(BinaryBody),
}

/// One API call: method, path below the base URL, query, body and per-call policy.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Body,
    pub accept: &'static str,
    pub range: Option<String>,
    /// Extra headers (`Idempotency-Key`), sent on every attempt of the call.
    pub headers: Vec<(&'static str, String)>,
    pub timeout: RequestTimeout,
    pub retry: bool,
    pub stream_response: bool,
}

impl RequestSpec {
    /// A request for `path`, built from literal segments and encoded ids with [`segment`].
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
            accept: "application/json",
            range: None,
            headers: Vec::new(),
            timeout: RequestTimeout::Default,
            retry: true,
            stream_response: false,
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Adds `key=value` to the query.
    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is set; absent values are omitted, never sent empty.
    pub fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds `key=value` once per element, in order (`tag=a%3D1&tag=b%3D2`).
    pub fn query_all<T: std::fmt::Display>(mut self, key: &'static str, values: &[T]) -> Self {
        for value in values {
            self = self.query(key, value);
        }
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::invalid_argument(format!("cannot encode the request body: {e}")).with_source(e)
        })?;
        self.body = Body::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// Sets a binary body.
    pub fn binary(mut self, body: BinaryBody) -> Self {
        self.body = Body::Binary(body);
        self
    }

    /// Sets the `Accept` header.
    pub fn accept(mut self, accept: &'static str) -> Self {
        self.accept = accept;
        self
    }

    /// Sets the `Range` header.
    pub fn range(mut self, range: Option<String>) -> Self {
        self.range = range;
        self
    }

    /// Adds a header, sent unchanged on every attempt (retries included).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the deadline.
    pub fn timeout(mut self, timeout: RequestTimeout) -> Self {
        self.timeout = timeout;
        self
    }

    /// Never re-sends this request (exec: a retry could run the command twice).
    pub fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }

    /// Leaves the 2xx response body unread, to be streamed by the caller.
    pub fn streaming(mut self) -> Self {
        self.stream_response = true;
        self
    }
}

/// Percent-encodes one path segment (ids are DNS-safe, so this changes nothing for them, but a
/// stray `/` or `?` in caller input cannot redirect the call to another endpoint).
pub(crate) fn segment(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// `k=v&k=v`, values percent-encoded (`=` inside a tag becomes `%3D`).
pub(crate) fn encode_query(query: &[(&'static str, String)]) -> String {
    let mut out = String::new();
    for (key, value) in query {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.extend(utf8_percent_encode(value, UNRESERVED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_keep_order_and_encode_equals() {
        let spec = RequestSpec::get("/v1/sandbox")
            .query_all("tag", &["env=prod", "owner=alice"])
            .query_opt("search", None::<String>)
            .query_opt("page", Some(1));
        assert_eq!(encode_query(&spec.query), "tag=env%3Dprod&tag=owner%3Dalice&page=1");
    }

    #[test]
    fn segments_escape_separators_only_when_present() {
        assert_eq!(segment("sb-abc123"), "sb-abc123");
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }
}
