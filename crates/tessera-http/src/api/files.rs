//! Files: `POST /files` (multipart, streamed to storage), `GET /files/{file_id}` (streamed, with
//! ETag, Range and Content-Disposition), `GET /files/{file_id}/meta`, `DELETE /files/{file_id}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_domain::files::{content_disposition, inline, range};
use tessera_domain::id::{EventId, FileId, UserId};
use tessera_domain::records::StoredFile;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, Auth, MaybeAuth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    // Uploads are limited by the files' own limit as they stream, not by the JSON body limit.
    let upload = OpenApiRouter::new().routes(routes!(upload_file)).layer(DefaultBodyLimit::disable());
    OpenApiRouter::new().merge(upload).routes(routes!(download_file, delete_file)).routes(routes!(file_meta))
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileBody {
    pub file_id: FileId,
    pub filename: String,
    /// As sniffed from the content.
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the content (the download's ETag).
    pub sha256: String,
    pub owner_id: UserId,
    /// Set for an event's image (anyone may read it).
    pub event_id: Option<EventId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<StoredFile> for FileBody {
    fn from(f: StoredFile) -> Self {
        FileBody {
            file_id: f.file_id,
            filename: f.filename,
            content_type: f.content_type,
            size: f.size,
            sha256: f.sha256,
            owner_id: f.owner_id,
            event_id: f.event_id,
            created_at: f.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Admins: the user the file is uploaded for (404 if there is no such user).
    pub user_id: Option<UserId>,
    /// The event whose image this is (its organizer or an admin): anyone may read it.
    pub event_id: Option<EventId>,
}

/// The multipart form: one part named `file`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The content: PNG, JPEG, GIF or WebP images, PDF, or plain UTF-8 text (sniffed).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Upload a file (seed 001 UploadFile), streamed to storage
#[utoipa::path(post, path = "/files", tag = "files", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileBody),
        (status = 400, description = "No `file` part, an empty file or a malformed form", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user (or event)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an accepted kind of content", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload_file(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<UploadQuery>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<FileBody>)> {
    let mut form =
        multipart.map_err(|e| ApiError::field("file", format!("send multipart/form-data: {e}")))?;
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::field("file", e.body_text());
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().map(str::to_string);
        let mut upload = s.app.begin_upload(&who, q.user_id, q.event_id).await?;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            upload.write(&chunk).await?;
        }
        let file = upload.finish(filename.as_deref()).await?;
        return Ok((StatusCode::CREATED, Json(file.into())));
    }
    Err(ApiError::field("file", "is required: a multipart part named `file`"))
}

fn file_id(raw: &str) -> Result<FileId, ApiError> {
    path_id(raw, "file")
}

fn etag(f: &StoredFile) -> String {
    format!("\"{}\"", f.sha256)
}

/// Download a file (seed 001 DownloadFile): whole, or the byte range asked for
///
/// An event's image is public; a chat attachment is its chat's members'; anything else its
/// owner's and admins'. `If-None-Match` with the ETag answers 304.
#[utoipa::path(get, path = "/files/{file_id}", tag = "files", security((), ("bearer" = [])),
    params(("file_id" = String, Path, description = "File id (UUID)")),
    responses(
        (status = 200, description = "The content, with Content-Type, ETag and Content-Disposition", content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"), (Vec<u8> = "application/pdf"), (Vec<u8> = "text/plain; charset=utf-8"))),
        (status = 206, description = "The range asked for (Content-Range)", content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"), (Vec<u8> = "application/pdf"), (Vec<u8> = "text/plain; charset=utf-8"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 401, description = "Sign in to read this file", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range lies outside the file", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn download_file(
    State(s): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = file_id(&id)?;
    let meta = s.app.file(who.as_ref(), id).await?;
    let tag = etag(&meta);
    let mut out = HeaderMap::new();
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| ApiError::from(tessera_app::AppError::internal("header")))
    };
    out.insert(header::ETAG, value(&tag)?);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, must-revalidate"));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let size = u64::try_from(meta.size).unwrap_or(0);
    let ask = range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), size);
    if ask == tessera_domain::files::RangeAsk::Unsatisfiable {
        let e = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            "the range lies outside the file",
        );
        let mut res = e.into_response();
        res.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{size}"))?);
        return Ok(res);
    }
    let d = s.app.download(meta, ask).await?;
    out.insert(header::CONTENT_TYPE, value(&d.file.content_type)?);
    out.insert(
        header::CONTENT_DISPOSITION,
        value(&content_disposition(&d.file.filename, inline(&d.file.content_type)))?,
    );
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let status = match d.part {
        Some((start, end)) => {
            out.insert(header::CONTENT_RANGE, value(&format!("bytes {start}-{end}/{size}"))?);
            out.insert(header::CONTENT_LENGTH, value(&(end - start + 1).to_string())?);
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            out.insert(header::CONTENT_LENGTH, value(&size.to_string())?);
            StatusCode::OK
        }
    };
    Ok((status, out, Body::from_stream(d.body)).into_response())
}

/// A file's description (who may read it: as for the download)
#[utoipa::path(get, path = "/files/{file_id}/meta", tag = "files", security((), ("bearer" = [])),
    params(("file_id" = String, Path, description = "File id (UUID)")),
    responses(
        (status = 200, body = FileBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn file_meta(
    State(s): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<FileBody>> {
    Ok(Json(s.app.file(who.as_ref(), file_id(&id)?).await?.into()))
}

/// Delete a file (its owner, admins)
#[utoipa::path(delete, path = "/files/{file_id}", tag = "files", security(("bearer" = [])),
    params(("file_id" = String, Path, description = "File id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Readable by you, but not yours", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_file(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_file(&who, file_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
