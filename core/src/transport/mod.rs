//! The HTTP transport: one pooled connection set per client, authentication, timeouts, retries,
//! redirects followed by hand, and error mapping. Every request of the crate goes through
//! [`Transport::execute`], so each behaviour exists once.

mod binary;
mod redirect;
mod request;
pub mod retry;
mod tls;

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};

pub use binary::{
    BinaryBody, BinaryContent, BinaryStream, ChunkStream, ContentRange, UPLOAD_CHUNK_BYTES,
};
pub(crate) use request::{Body, RequestSpec, RequestTimeout, segment};

use crate::{DecodedBody, Error, ErrorKind, Result, config::Config};

/// Most redirect hops followed for one request (6 requests in all).
pub const MAX_REDIRECTS: usize = 5;

/// Settings of a [`Transport`] beyond the resolved [`Config`].
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    pub max_retries: u32,
    pub user_agent: String,
}

/// The shared HTTP machinery of one client.
pub(crate) struct Transport {
    /// The pooled client and the pid it was built in (`None` once closed).
    client: RwLock<Option<(u32, reqwest::Client)>>,
    base: url::Url,
    base_str: String,
    user_agent: HeaderValue,
    api_key: Option<HeaderValue>,
    timeout: Duration,
    max_retries: u32,
    /// What the server offers beyond the Porter API, read once per client.
    extensions: std::sync::OnceLock<crate::types::ServerExtensions>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_str)
            .field("authenticated", &self.api_key.is_some())
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// A response whose status was 2xx.
pub(crate) struct Response {
    pub headers: HeaderMap,
    pub body: ResponseBody,
    /// `METHOD path`, for error messages.
    pub what: String,
}

/// A response body: read inside the retry loop, or left streaming for large files.
pub(crate) enum ResponseBody {
    Buffered(Bytes),
    Streaming(reqwest::Response),
}

impl Transport {
    /// Builds the transport for a resolved configuration.
    pub fn new(config: &Config, options: TransportOptions) -> Result<Arc<Self>> {
        let base = url::Url::parse(&config.base_url).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "The sandbox API base URL {:?} is not a valid URL ({e}); pass an absolute \
                     http(s) URL such as http://127.0.0.1:8080.",
                    config.base_url
                ),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorKind::Config,
                format!("The sandbox API base URL {:?} must use http or https.", config.base_url),
            ));
        }
        let api_key = match config.api_key.as_deref() {
            Some(key) if !key.is_empty() => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    Error::new(
                        ErrorKind::Config,
                        "The API key contains characters that cannot be sent in an HTTP header; \
                         check PORTER_SANDBOX_API_KEY for stray whitespace or quotes.",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let user_agent = HeaderValue::from_str(&options.user_agent)
            .map_err(|_| Error::invalid_argument("the User-Agent must be visible ASCII"))?;
        let client = build_client(&user_agent)?;
        Ok(Arc::new(Self {
            client: RwLock::new(Some((std::process::id(), client))),
            user_agent,
            base_str: config.base_url.clone(),
            base,
            api_key,
            timeout: config.timeout,
            max_retries: options.max_retries,
            extensions: std::sync::OnceLock::new(),
        }))
    }

    /// The extensions read from this server, once read.
    pub(crate) fn cached_extensions(&self) -> Option<&crate::types::ServerExtensions> {
        self.extensions.get()
    }

    /// Remembers the extensions of this server for the client's lifetime.
    pub(crate) fn cache_extensions(&self, extensions: crate::types::ServerExtensions) {
        let _ = self.extensions.set(extensions);
    }

    /// Retries of a retryable call (the configured maximum).
    pub(crate) fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The base URL every path is appended to.
    pub fn base_url(&self) -> &str {
        &self.base_str
    }

    /// The default per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Releases the connection pool; later calls fail with a clear error.
    pub fn close(&self) {
        if let Ok(mut guard) = self.client.write() {
            guard.take();
        }
    }

    /// Whether [`Transport::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.client.read().map_or(true, |guard| guard.is_none())
    }

    /// The pooled client. After a `fork()` the parent's pooled connections belong to a runtime
    /// the child does not have, so the child gets a fresh pool instead of a hang.
    fn client(&self) -> Result<reqwest::Client> {
        let closed =
            || Error::invalid_argument("this client has been closed; create a new Porter to go on");
        let pid = std::process::id();
        match self.client.read().ok().and_then(|g| g.clone()) {
            None => return Err(closed()),
            Some((owner, client)) if owner == pid => return Ok(client),
            Some(_) => {}
        }
        let mut guard = self.client.write().map_err(|_| closed())?;
        let (owner, client) = guard.as_mut().ok_or_else(closed)?;
        if *owner != pid {
            *client = build_client(&self.user_agent)?;
            *owner = pid;
        }
        Ok(client.clone())
    }

    /// Sends `spec` with retries and redirects; returns the 2xx response or the mapped error.
    pub async fn execute(&self, spec: RequestSpec) -> Result<Response> {
        let client = self.client()?;
        let url = self.url_for(&spec)?;
        let timeout = match spec.timeout {
            RequestTimeout::Default => Some(self.timeout),
            RequestTimeout::Unbounded => None,
            RequestTimeout::After(d) => Some(d),
        };
        let max_retries = if spec.retry { self.max_retries } else { 0 };
        let mut attempt = 0;
        loop {
            let outcome = self.attempt(&client, &spec, url.clone(), timeout).await;
            let retryable = match &outcome {
                Ok(AttemptOutcome::Status { status, .. }) => retry::should_retry(*status),
                Ok(AttemptOutcome::Success(_)) => false,
                Err(AttemptError::Network(_)) => true,
                Err(AttemptError::Final(_)) => false,
            };
            if retryable && attempt < max_retries {
                tokio::time::sleep(retry::backoff_delay(attempt)).await;
                attempt += 1;
                continue;
            }
            return match outcome {
                Ok(AttemptOutcome::Success(response)) => Ok(response),
                Ok(AttemptOutcome::Status { status, body }) => {
                    Err(Error::from_response(status, body))
                }
                Err(AttemptError::Network(err)) => Err(err),
                Err(AttemptError::Final(err)) => Err(err),
            };
        }
    }

    fn url_for(&self, spec: &RequestSpec) -> Result<url::Url> {
        let mut raw = format!("{}{}", self.base_str, spec.path);
        if !spec.query.is_empty() {
            raw.push('?');
            raw.push_str(&request::encode_query(&spec.query));
        }
        url::Url::parse(&raw)
            .map_err(|e| Error::invalid_argument(format!("cannot build a URL from {raw:?}: {e}")))
    }

    /// One attempt: the request and its redirect hops.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        spec: &RequestSpec,
        mut url: url::Url,
        timeout: Option<Duration>,
    ) -> Result<AttemptOutcome, AttemptError> {
        let what = format!("{} {}", spec.method, spec.path);
        let mut hops = 0;
        loop {
            let mut builder = client
                .request(spec.method.clone(), url.clone())
                .header(header::ACCEPT, spec.accept);
            if let Some(range) = &spec.range {
                builder = builder.header(header::RANGE, range);
            }
            for (name, value) in &spec.headers {
                builder = builder.header(*name, value);
            }
            if let Some(key) = &self.api_key {
                if redirect::same_origin(&url, &self.base) {
                    builder = builder.header(header::AUTHORIZATION, key.clone());
                }
            }
            if let Some(t) = timeout {
                builder = builder.timeout(t);
            }
            builder = match &spec.body {
                Body::Empty => builder,
                Body::Json(bytes) => {
                    builder.header(header::CONTENT_TYPE, "application/json").body(bytes.clone())
                }
                Body::Binary(body) => {
                    let (body, length) = body.open().await.map_err(|e| {
                        AttemptError::Final(
                            Error::invalid_argument(format!("cannot read the upload body: {e}"))
                                .with_source(e),
                        )
                    })?;
                    let builder =
                        builder.header(header::CONTENT_TYPE, "application/octet-stream").body(body);
                    match length {
                        Some(n) => builder.header(header::CONTENT_LENGTH, n),
                        None => builder,
                    }
                }
            };
            let response = builder.send().await.map_err(|e| classify(e, timeout))?;
            let status = response.status().as_u16();
            if redirect::is_followed(status) {
                if let Some(next) = redirect::location(&response, &url) {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(AttemptError::Final(Error::new(
                            ErrorKind::Network,
                            format!("Too many redirects for {}", spec.path),
                        )));
                    }
                    url = next;
                    continue;
                }
            }
            let headers = response.headers().clone();
            if !(200..300).contains(&status) {
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = response.bytes().await.map_err(|e| classify(e, timeout))?;
                let body = DecodedBody::decode(status, content_type.as_deref(), &bytes);
                return Ok(AttemptOutcome::Status { status, body });
            }
            let body = if spec.stream_response {
                ResponseBody::Streaming(response)
            } else {
                ResponseBody::Buffered(response.bytes().await.map_err(|e| classify(e, timeout))?)
            };
            return Ok(AttemptOutcome::Success(Response { headers, body, what }));
        }
    }
}

fn build_client(user_agent: &HeaderValue) -> Result<reqwest::Client> {
    let mut default_headers = HeaderMap::new();
    default_headers.insert(header::USER_AGENT, user_agent.clone());
    reqwest::Client::builder()
        .default_headers(default_headers)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(tls::client_config()?)
        .build()
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot build the HTTP client: {e}")))
}

enum AttemptOutcome {
    Success(Response),
    Status { status: u16, body: Option<DecodedBody> },
}

enum AttemptError {
    /// A transport failure worth retrying.
    Network(Error),
    /// A failure that ends the call at once (timeouts, unreadable bodies, redirect loops).
    Final(Error),
}

/// Turns a reqwest failure into a timeout (final) or a network error (retryable).
fn classify(err: reqwest::Error, timeout: Option<Duration>) -> AttemptError {
    if err.is_timeout() {
        let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
        return AttemptError::Final(
            Error::new(ErrorKind::Timeout, format!("Request timed out after {secs:?}s"))
                .with_source(err),
        );
    }
    // Nothing listens on a local port: retrying cannot help, and the cause is nearly always a
    // local server that is not running.
    if let Some(origin) = refused_on_loopback(&err) {
        let message = format!(
            "Network error: {}. Nothing is listening on {origin}: is the server running? Start \
             a local one with `porter-sandbox serve`",
            error_chain(&err)
        );
        return AttemptError::Final(Error::new(ErrorKind::Network, message).with_source(err));
    }
    let message = format!("Network error: {}", error_chain(&err));
    AttemptError::Network(Error::new(ErrorKind::Network, message).with_source(err))
}

/// The `scheme://host:port` of a refused connection to a loopback address.
fn refused_on_loopback(err: &reqwest::Error) -> Option<String> {
    if !err.is_connect() {
        return None;
    }
    let url = err.url()?;
    let loopback = match url.host()? {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut refused = false;
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            refused = true;
            break;
        }
        source = cause.source();
    }
    (loopback && refused).then(|| url.origin().ascii_serialization())
}

/// `outer: inner: innermost` — reqwest's own message hides the useful cause.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl Response {
    /// The body, read to the end.
    pub async fn bytes(self) -> Result<Bytes> {
        match self.body {
            ResponseBody::Buffered(bytes) => Ok(bytes),
            ResponseBody::Streaming(response) => response.bytes().await.map_err(|e| {
                Error::new(ErrorKind::Network, format!("Network error: {}", error_chain(&e)))
            }),
        }
    }

    /// The body parsed as JSON into `T`.
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let what = self.what.clone();
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::decode(format!("unexpected response body for {what}: {e}")).with_source(e)
        })
    }

    /// A header as a string, when present and visible ASCII.
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
