//! Volume file routes: list/search, read (200 / 206 / 416), write (a 307 to the same-origin
//! upload URL, then an atomic replace), move.

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{StreamExt, TryStreamExt};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use porter_sandbox::types::{VolumeFileListResponse, VolumeFileMoveRequest};

use super::{
    AppState,
    extract::{JsonBody, Params},
};
use crate::{
    http::error::{ApiError, ApiResult},
    volumes::DEFAULT_LIST_BUDGET,
};

/// `GET /v1/volume/{id}/files?path=&search=`.
pub async fn list(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<VolumeFileListResponse>> {
    let fs = service.volume_fs(&id)?;
    let listing = fs
        .list(params.get("path").unwrap_or("/"), params.get("search"), DEFAULT_LIST_BUDGET)
        .await?;
    Ok(Json(listing))
}

/// `GET /v1/volume/{id}/files/content?path=` with an optional single `Range`.
pub async fn read(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let fs = service.volume_fs(&id)?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let plan = match fs.read(params.required("path")?, range).await {
        Ok(plan) => plan,
        Err(crate::volumes::FsError::RangeNotSatisfiable { size }) => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the requested range starts past the end of the file ({size} bytes)"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        Err(err) => return Err(err.into()),
    };
    let status = if plan.partial.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response_headers = HeaderMap::new();
    response_headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(plan.len));
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(plan.modified)) {
        response_headers.insert(header::LAST_MODIFIED, value);
    }
    if let Some(value) = plan.content_range().and_then(|v| HeaderValue::from_str(&v).ok()) {
        response_headers.insert(header::CONTENT_RANGE, value);
    }
    Ok((status, response_headers, Body::from_stream(plan.into_stream())).into_response())
}

/// `PUT /v1/volume/{id}/files/content?path=`: answered, as by the cluster API, with a 307 to the
/// upload URL of this server. The body is drained first, so clients that send it before reading
/// the answer do not see the connection reset.
pub async fn redirect_write(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> ApiResult<Response> {
    service.volume_fs(&id)?;
    let path = params.required("path")?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        if chunk.is_err() {
            break;
        }
    }
    let location = format!(
        "/v1/volume/{}/files/upload?path={}",
        utf8_percent_encode(&id, NON_ALPHANUMERIC),
        utf8_percent_encode(path, NON_ALPHANUMERIC)
    );
    Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response())
}

/// `PUT /v1/volume/{id}/files/upload?path=`: the atomic replace. The new content appears only
/// once the whole body arrived.
pub async fn write(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> ApiResult<StatusCode> {
    let fs = service.volume_fs(&id)?;
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    fs.write(params.required("path")?, Box::pin(stream)).await?;
    // Deleted while the body arrived: the file went with it, which the caller must learn.
    if let Err(err) = service.volume_fs(&id) {
        if err.kind == crate::service::ErrorKind::NotFound {
            return Err(crate::service::ServiceError::not_found(format!(
                "volume {id} was deleted while the file was uploaded: nothing was kept"
            ))
            .into());
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/volume/{id}/files/move`: never overwrites.
pub async fn move_entry(
    State(service): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<VolumeFileMoveRequest>,
) -> ApiResult<StatusCode> {
    let fs = service.volume_fs(&id)?;
    fs.move_entry(&request.from, &request.to).await?;
    Ok(StatusCode::NO_CONTENT)
}
