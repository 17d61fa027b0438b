//! Attachments of sessions and clients: upload, list, download link, rename, delete.
//!
//! The same five routes exist under `/sessions/{session_id}/attachments` (files of one visit)
//! and `/clients/{client_id}/attachments` (a client's own files; its listing shows every file
//! of the client, its sessions' too). An item route answers 404 for a file that is not under the
//! path's owner, exactly as for one that does not exist.

use std::collections::HashMap;

use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;
use ward_domain::ward_storage::{FileKind, Owner};
use ward_domain::{Attachment, QuotaFigures, QuotaScope, RateDecision};

use super::doc::{ErrorDoc, UploadForm};
use super::records::{JsonBody, QueryParams, parse_id};
use crate::auth::{Caller, Link, unix_now};
use crate::error::{Error, Result};
use crate::service::Service;

/// The largest upload request body, multipart framing included (chunked bodies too): 20 MiB.
/// The file itself is held to the per-file limit (10 MiB by default) within it.
pub const MAX_UPLOAD_BODY_BYTES: usize = 20 * 1024 * 1024;
/// The multipart part that carries the file.
const FILE_FIELD: &str = "file";
/// The longest display name a rename accepts, in bytes.
const MAX_NAME_BYTES: usize = 255;
/// Download links: the default, shortest and longest lifetime, in minutes.
const LINK_MINUTES: (i64, i64, i64) = (15, 1, 60);

/// An attachment as the API shows it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct AttachmentItem {
    id: Uuid,
    session_id: Option<Uuid>,
    client_id: Uuid,
    workspace_id: Uuid,
    file_name: String,
    file_type: String,
    file_size_bytes: u64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    session_date: Option<String>,
    is_session_file: bool,
}

/// A list answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Listing<T> {
    items: Vec<T>,
    total: usize,
}

impl<T> Listing<T> {
    pub(crate) fn new(items: Vec<T>) -> Self {
        Self {
            total: items.len(),
            items,
        }
    }
}

/// A download-link answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DownloadLink {
    download_url: String,
    expires_in_seconds: i64,
}

/// The body of a rename.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Rename {
    file_name: String,
}

/// The query of a download-link request.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    expires_in_minutes: Option<i64>,
}

fn item(a: &Attachment, dates: &HashMap<Uuid, Date>) -> AttachmentItem {
    AttachmentItem {
        id: a.id,
        session_id: a.session_id,
        client_id: a.client_id,
        workspace_id: a.workspace.as_uuid(),
        file_name: a.display_name.clone(),
        file_type: a.kind.media_type().to_owned(),
        file_size_bytes: a.size_bytes,
        created_at: a.created_at,
        session_date: a
            .session_id
            .and_then(|s| dates.get(&s))
            .map(ToString::to_string),
        is_session_file: a.session_id.is_some(),
    }
}

async fn items(
    service: &Service,
    caller: &Caller,
    list: &[Attachment],
) -> Result<Vec<AttachmentItem>> {
    let mut sessions: Vec<Uuid> = list.iter().filter_map(|a| a.session_id).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let dates = service
        .domain()
        .sessions()
        .dates(caller.workspace, &sessions)
        .await?;
    Ok(list.iter().map(|a| item(a, &dates)).collect())
}

/// Reads the `file` part of a multipart body: its name and at most one byte over the per-file
/// limit (the pipeline refuses a file over the limit with its figures).
async fn read_file_part(multipart: &mut Multipart, limit: u64) -> Result<(String, Vec<u8>)> {
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some(FILE_FIELD) {
            continue;
        }
        let name = field
            .file_name()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "upload.file_name",
                    "the `file` part has no file name",
                )
            })?;
        let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            let room = cap - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() == cap {
                return Err(ward_domain::Error::QuotaExceeded(QuotaFigures {
                    scope: QuotaScope::File,
                    used_bytes: 0,
                    quota_bytes: limit,
                    file_bytes: bytes.len() as u64,
                })
                .into());
            }
        }
        return Ok((name, bytes));
    }
    Err(Error::refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "upload.no_file",
        "the form has no `file` part",
    ))
}

fn multipart_error(e: MultipartError) -> Error {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::refused(
            status,
            "limit.body",
            format!(
                "the request body is over {} MiB",
                MAX_UPLOAD_BODY_BYTES >> 20
            ),
        )
    } else {
        Error::refused(
            StatusCode::BAD_REQUEST,
            "upload.multipart",
            "the body is not a readable multipart form",
        )
    }
}

async fn upload(
    service: &Service,
    caller: &Caller,
    owner: Owner,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<AttachmentItem>)> {
    let subject = format!("upload:{}", caller.actor.as_str());
    let decision = service
        .domain()
        .rate_limits()
        .hit(
            &subject,
            service.upload_rate(),
            time::OffsetDateTime::now_utc(),
        )
        .await?;
    if let RateDecision::Refused { retry_after } = decision {
        tracing::info!(workspace = %caller.workspace, "upload refused by the rate limit");
        return Err(Error::RateLimited {
            retry_after_seconds: retry_after.as_secs(),
        });
    }
    // The body is read only once a slot is free: uploads beyond the limit wait unread.
    let _slot = service.upload_slot().await?;
    let attachments = service.attachments();
    let (name, bytes) =
        read_file_part(&mut multipart, attachments.limits().max_file_bytes()).await?;
    let stored = attachments
        .upload_bytes(&caller.actor, caller.workspace, owner, &name, bytes)
        .await?;
    tracing::info!(attachment = %stored.id, bytes = stored.size_bytes, "attachment uploaded");
    crate::metrics::uploaded(stored.size_bytes);
    let mut listed = items(service, caller, std::slice::from_ref(&stored)).await?;
    Ok((StatusCode::CREATED, Json(listed.remove(0))))
}

async fn list(
    service: &Service,
    caller: &Caller,
    owner: Owner,
) -> Result<Json<Listing<AttachmentItem>>> {
    let mut found = service
        .attachments()
        .list(&caller.actor, caller.workspace, owner)
        .await?;
    found.reverse();
    Ok(Json(Listing::new(items(service, caller, &found).await?)))
}

/// The attachment `id` when it is filed under `owner` (for a client: any of the client's
/// files), else 404.
async fn owned(service: &Service, caller: &Caller, owner: Owner, id: &str) -> Result<Attachment> {
    let id = parse_id(id, "attachment")?;
    let found = service.attachments().metadata(caller.workspace, id).await?;
    let belongs = match owner {
        Owner::Session(s) => found.session_id == Some(s),
        Owner::Client(c) => found.client_id == c,
    };
    if belongs {
        Ok(found)
    } else {
        Err(Error::not_found("attachment"))
    }
}

async fn rename(
    service: &Service,
    caller: &Caller,
    owner: Owner,
    id: &str,
    body: Rename,
) -> Result<Json<AttachmentItem>> {
    let found = owned(service, caller, owner, id).await?;
    let name = body.file_name.trim();
    if name.is_empty() {
        return Err(Error::bad_request(
            "rename.empty",
            "file_name must not be empty",
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::bad_request(
            "rename.too_long",
            format!("file_name must be at most {MAX_NAME_BYTES} bytes"),
        ));
    }
    let same_kind = name
        .rsplit_once('.')
        .and_then(|(_, ext)| FileKind::from_extension(&ext.to_ascii_lowercase()))
        == Some(found.kind);
    if !same_kind {
        return Err(Error::bad_request(
            "rename.extension",
            format!(
                "file_name must keep the file's type (.{})",
                found.kind.extension()
            ),
        ));
    }
    let renamed = service
        .attachments()
        .rename(&caller.actor, caller.workspace, found.id, name)
        .await?;
    let mut listed = items(service, caller, std::slice::from_ref(&renamed)).await?;
    Ok(Json(listed.remove(0)))
}

async fn delete(service: &Service, caller: &Caller, owner: Owner, id: &str) -> Result<StatusCode> {
    let found = owned(service, caller, owner, id).await?;
    service
        .attachments()
        .delete(&caller.actor, caller.workspace, found.id)
        .await?;
    tracing::info!(attachment = %found.id, "attachment deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn link(
    service: &Service,
    caller: &Caller,
    owner: Owner,
    id: &str,
    query: LinkQuery,
) -> Result<Json<DownloadLink>> {
    let (default, min, max) = LINK_MINUTES;
    let minutes = query.expires_in_minutes.unwrap_or(default);
    if minutes < min {
        return Err(Error::bad_request(
            "download.expiry",
            "expires_in_minutes must be at least 1 minute",
        ));
    }
    if minutes > max {
        return Err(Error::bad_request(
            "download.expiry",
            "expires_in_minutes must be at most 60 minutes",
        ));
    }
    let found = owned(service, caller, owner, id).await?;
    let seconds = minutes * 60;
    let expires = unix_now() + seconds.unsigned_abs();
    let link = Link {
        attachment: found.id,
        workspace: caller.workspace,
        actor: caller.actor.as_str(),
        expires,
    };
    let signature = service.keys().sign_link(&link);
    let path = format!(
        "/api/v1/files/{}?w={}&u={}&e={}&s={}",
        found.id,
        caller.workspace,
        caller.actor.as_str(),
        expires,
        signature
    );
    let download_url = match service.public_url() {
        Some(base) => format!("{base}{path}"),
        None => path,
    };
    Ok(Json(DownloadLink {
        download_url,
        expires_in_seconds: seconds,
    }))
}

// --- the handlers, one per route and owner ---

fn session(id: &str) -> Result<Owner> {
    Ok(Owner::Session(parse_id(id, "session")?))
}

fn client(id: &str) -> Result<Owner> {
    Ok(Owner::Client(parse_id(id, "client")?))
}

#[utoipa::path(post, path = "/sessions/{session_id}/attachments", tag = "attachments", params(("session_id" = Uuid, Path, description = "the session")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses((status = 201, description = "stored", body = AttachmentItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "duplicate name", body = ErrorDoc), (status = 413, description = "file, session, client or body limit", body = ErrorDoc), (status = 415, description = "type not accepted", body = ErrorDoc), (status = 422, description = "damaged or mismatched file", body = ErrorDoc), (status = 429, description = "upload rate limit", body = ErrorDoc), (status = 503, description = "every upload slot stayed taken; retry after `Retry-After`", body = ErrorDoc), (status = 507, description = "workspace quota", body = ErrorDoc)), security(("bearer" = [])))]
/// `POST /sessions/{session_id}/attachments`
pub(crate) async fn upload_to_session(
    State(service): State<Service>,
    caller: Caller,
    Path(owner): Path<String>,
    multipart: Multipart,
) -> Result<(StatusCode, Json<AttachmentItem>)> {
    upload(&service, &caller, session(&owner)?, multipart).await
}

#[utoipa::path(post, path = "/clients/{client_id}/attachments", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses((status = 201, description = "stored", body = AttachmentItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "duplicate name", body = ErrorDoc), (status = 413, description = "file, client or body limit", body = ErrorDoc), (status = 415, description = "type not accepted", body = ErrorDoc), (status = 422, description = "damaged or mismatched file", body = ErrorDoc), (status = 429, description = "upload rate limit", body = ErrorDoc), (status = 503, description = "every upload slot stayed taken; retry after `Retry-After`", body = ErrorDoc), (status = 507, description = "workspace quota", body = ErrorDoc)), security(("bearer" = [])))]
/// `POST /clients/{client_id}/attachments`
pub(crate) async fn upload_to_client(
    State(service): State<Service>,
    caller: Caller,
    Path(owner): Path<String>,
    multipart: Multipart,
) -> Result<(StatusCode, Json<AttachmentItem>)> {
    upload(&service, &caller, client(&owner)?, multipart).await
}

#[utoipa::path(get, path = "/sessions/{session_id}/attachments", tag = "attachments", params(("session_id" = Uuid, Path, description = "the session")), responses((status = 200, description = "the session's files, newest first", body = Listing<AttachmentItem>), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /sessions/{session_id}/attachments`
pub(crate) async fn list_session(
    State(service): State<Service>,
    caller: Caller,
    Path(owner): Path<String>,
) -> Result<Json<Listing<AttachmentItem>>> {
    list(&service, &caller, session(&owner)?).await
}

#[utoipa::path(get, path = "/clients/{client_id}/attachments", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client")), responses((status = 200, description = "all of the client's files, newest first", body = Listing<AttachmentItem>), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /clients/{client_id}/attachments`
pub(crate) async fn list_client(
    State(service): State<Service>,
    caller: Caller,
    Path(owner): Path<String>,
) -> Result<Json<Listing<AttachmentItem>>> {
    list(&service, &caller, client(&owner)?).await
}

#[utoipa::path(patch, path = "/sessions/{session_id}/attachments/{id}", tag = "attachments", params(("session_id" = Uuid, Path, description = "the session"), ("id" = Uuid, Path, description = "the attachment")), request_body = Rename, responses((status = 200, description = "renamed", body = AttachmentItem), (status = 400, description = "bad name", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "duplicate name", body = ErrorDoc)), security(("bearer" = [])))]
/// `PATCH /sessions/{session_id}/attachments/{id}`
pub(crate) async fn rename_session_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rename>,
) -> Result<Json<AttachmentItem>> {
    rename(&service, &caller, session(&owner)?, &id, body).await
}

#[utoipa::path(patch, path = "/clients/{client_id}/attachments/{id}", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client"), ("id" = Uuid, Path, description = "the attachment")), request_body = Rename, responses((status = 200, description = "renamed", body = AttachmentItem), (status = 400, description = "bad name", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "duplicate name", body = ErrorDoc)), security(("bearer" = [])))]
/// `PATCH /clients/{client_id}/attachments/{id}`
pub(crate) async fn rename_client_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rename>,
) -> Result<Json<AttachmentItem>> {
    rename(&service, &caller, client(&owner)?, &id, body).await
}

#[utoipa::path(delete, path = "/sessions/{session_id}/attachments/{id}", tag = "attachments", params(("session_id" = Uuid, Path, description = "the session"), ("id" = Uuid, Path, description = "the attachment")), responses((status = 204, description = "deleted; quota released"), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `DELETE /sessions/{session_id}/attachments/{id}`
pub(crate) async fn delete_session_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    delete(&service, &caller, session(&owner)?, &id).await
}

#[utoipa::path(delete, path = "/clients/{client_id}/attachments/{id}", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client"), ("id" = Uuid, Path, description = "the attachment")), responses((status = 204, description = "deleted; quota released"), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `DELETE /clients/{client_id}/attachments/{id}`
pub(crate) async fn delete_client_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    delete(&service, &caller, client(&owner)?, &id).await
}

#[utoipa::path(get, path = "/sessions/{session_id}/attachments/{id}/download", tag = "attachments", params(("session_id" = Uuid, Path, description = "the session"), ("id" = Uuid, Path, description = "the attachment"), ("expires_in_minutes" = Option<i64>, Query, description = "1 to 60, 15 by default")), responses((status = 200, description = "a signed link to the service", body = DownloadLink), (status = 400, description = "expiry out of range", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /sessions/{session_id}/attachments/{id}/download`
pub(crate) async fn link_session_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
    QueryParams(query): QueryParams<LinkQuery>,
) -> Result<Json<DownloadLink>> {
    link(&service, &caller, session(&owner)?, &id, query).await
}

#[utoipa::path(get, path = "/clients/{client_id}/attachments/{id}/download", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client"), ("id" = Uuid, Path, description = "the attachment"), ("expires_in_minutes" = Option<i64>, Query, description = "1 to 60, 15 by default")), responses((status = 200, description = "a signed link to the service", body = DownloadLink), (status = 400, description = "expiry out of range", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /clients/{client_id}/attachments/{id}/download`
pub(crate) async fn link_client_file(
    State(service): State<Service>,
    caller: Caller,
    Path((owner, id)): Path<(String, String)>,
    QueryParams(query): QueryParams<LinkQuery>,
) -> Result<Json<DownloadLink>> {
    link(&service, &caller, client(&owner)?, &id, query).await
}
