//! The error every route answers with: an HTTP status and a message that says what was wrong
//! and what to do, sent as `{"error": "<message>"}`. The status of every service error is chosen
//! here, from its kind ([`status_of`]), and nowhere else.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::{
    service::{ErrorKind, ServiceError},
    volumes::FsError,
};

/// An API error: status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400: the request is invalid.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the addressed thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// The HTTP status of each kind of service error.
#[must_use]
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Clients must not retry it as they would a 500.
        ErrorKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        Self::new(status_of(err.kind), err.message)
    }
}

impl From<FsError> for ApiError {
    fn from(err: FsError) -> Self {
        ServiceError::from(err).into()
    }
}

/// The result type of route handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_the_status_the_api_always_answered() {
        let statuses = [
            (ErrorKind::Invalid, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::TooLarge, 413),
            (ErrorKind::RangeNotSatisfiable, 416),
            (ErrorKind::Unprocessable, 422),
            (ErrorKind::Internal, 500),
            (ErrorKind::NotImplemented, 501),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::StorageFull, 507),
        ];
        for (kind, status) in statuses {
            let err = ApiError::from(ServiceError::new(kind, "why"));
            assert_eq!((err.status.as_u16(), err.message.as_str()), (status, "why"), "{kind:?}");
        }
    }

    #[test]
    fn volume_file_errors_keep_their_statuses() {
        let status = |err: FsError| ApiError::from(err).status.as_u16();
        assert_eq!(status(FsError::InvalidPath("bad".into())), 400);
        assert_eq!(status(FsError::NotFound("gone".into())), 404);
        assert_eq!(status(FsError::Conflict("taken".into())), 409);
        assert_eq!(status(FsError::RangeNotSatisfiable { size: 10 }), 416);
        assert_eq!(status(FsError::NoSpace("full".into())), 507);
        assert_eq!(status(FsError::Io(std::io::Error::other("disk"))), 500);
    }
}
