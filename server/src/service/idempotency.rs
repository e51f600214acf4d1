//! Creates that are safe to retry: a create with an `Idempotency-Key` header is remembered for
//! [`IDEMPOTENCY_WINDOW_MICROS`] (24 h); a repeat of the key with the same body gets the first
//! response (no second sandbox), with another body a 422.

use std::sync::Arc;

use porter_sandbox::types::{CreateResponse, SandboxSpec};

use super::error::{ServiceError, ServiceResult};
use super::{Service, store_error};
use crate::{store::IdempotentCall, time::now_micros};

/// How long an idempotency key is remembered: 24 hours.
pub const IDEMPOTENCY_WINDOW_MICROS: i64 = 24 * 3600 * 1_000_000;
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The outcome of an idempotent create.
#[derive(Debug)]
pub struct IdempotentCreate {
    /// The create response (the first one, for a repeat).
    pub response: CreateResponse,
    /// Whether this was a repeat answered from the record.
    pub replayed: bool,
}

impl Service {
    /// `POST /v1/sandbox/run` with an `Idempotency-Key`.
    pub async fn create_sandbox_idempotent(
        self: &Arc<Self>,
        key: &str,
        spec: SandboxSpec,
    ) -> ServiceResult<IdempotentCreate> {
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ServiceError::invalid(format!(
                "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII \
                 characters, such as a random UUID"
            )));
        }
        let request_json = serde_json::to_string(&spec)
            .map_err(|e| ServiceError::internal(format!("cannot encode the request: {e}")))?;
        // One keyed create at a time: a retry that arrives while the first attempt is still
        // being served waits for it instead of creating a second sandbox.
        let _serial = self.idempotent_creates.lock().await;
        let now = now_micros();
        let since = now - IDEMPOTENCY_WINDOW_MICROS;
        if let Some(call) = self.store.idempotent_call(key, since).map_err(store_error)? {
            if call.request_json != request_json {
                return Err(ServiceError::new(
                    super::ErrorKind::Unprocessable,
                    format!(
                        "Idempotency-Key {key:?} was already used for a different request in the \
                         last 24 hours: send a new key for a new sandbox (a retry must repeat \
                         the first request exactly)"
                    ),
                ));
            }
            let response = serde_json::from_str(&call.response_json).map_err(|e| {
                ServiceError::internal(format!(
                    "the recorded response of {key:?} is unreadable: {e}"
                ))
            })?;
            return Ok(IdempotentCreate { response, replayed: true });
        }
        let response = self.create_sandbox(spec).await?;
        let response_json = serde_json::to_string(&response)
            .map_err(|e| ServiceError::internal(format!("cannot encode the response: {e}")))?;
        let call = IdempotentCall { request_json, response_json };
        if let Err(err) = self.store.remember_idempotent_call(key, &call, now, since) {
            // The sandbox exists; only a retry of this very call could now duplicate it.
            tracing::warn!("cannot record idempotency key {key:?}: {err}");
        }
        Ok(IdempotentCreate { response, replayed: false })
    }
}
