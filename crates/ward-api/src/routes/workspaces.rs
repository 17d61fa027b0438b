//! `GET /workspaces/{id}/storage`: the caller's workspace's storage use against its quota;
//! `PATCH /workspaces/{id}/storage/quota`: its quota, for the workspace's admins.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ward_domain::Workspace;

use super::doc::ErrorDoc;
use super::records::{JsonBody, parse_id};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::service::Service;

/// Bytes in a megabyte as the figures count them (MiB).
const MB: f64 = 1024.0 * 1024.0;

/// A workspace's storage figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Storage {
    workspace_id: Uuid,
    used_bytes: u64,
    quota_bytes: u64,
    remaining_bytes: u64,
    percentage_used: f64,
    quota_exceeded: bool,
    used_mb: f64,
    quota_mb: f64,
    remaining_mb: f64,
}

/// Rounds to two decimals, as the figures are shown.
fn two_places(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[utoipa::path(get, path = "/workspaces/{id}/storage", tag = "workspaces", params(("id" = Uuid, Path, description = "the caller's workspace")), responses((status = 200, description = "storage figures", body = Storage), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /workspaces/{id}/storage`: only the token's own workspace; any other id is 404.
pub(crate) async fn storage(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Storage>> {
    let id = parse_id(&id, "workspace")?;
    if id != caller.workspace.as_uuid() {
        return Err(Error::not_found("workspace"));
    }
    let ws = service.domain().workspaces().get(caller.workspace).await?;
    Ok(Json(figures(&ws)))
}

/// The body of a quota change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaChange {
    quota_bytes: u64,
}

#[utoipa::path(patch, path = "/workspaces/{id}/storage/quota", tag = "workspaces", params(("id" = Uuid, Path, description = "the caller's workspace")), request_body = QuotaChange, responses((status = 200, description = "the new figures", body = Storage), (status = 403, description = "not a workspace admin", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `PATCH /workspaces/{id}/storage/quota`: admins of the workspace only (403 for its members;
/// 404 for any other workspace's id).
pub(crate) async fn set_quota(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<QuotaChange>,
) -> Result<Json<Storage>> {
    let id = parse_id(&id, "workspace")?;
    if id != caller.workspace.as_uuid() {
        return Err(Error::not_found("workspace"));
    }
    if caller.role != Role::Admin {
        return Err(Error::refused(
            StatusCode::FORBIDDEN,
            "role.admin",
            "changing the quota takes a workspace admin",
        ));
    }
    let ws = service
        .domain()
        .workspaces()
        .set_quota(&caller.actor, caller.workspace, body.quota_bytes)
        .await?;
    Ok(Json(figures(&ws)))
}

fn figures(ws: &Workspace) -> Storage {
    let id = ws.id.as_uuid();
    let remaining = ws.quota_bytes.saturating_sub(ws.used_bytes);
    let percentage = if ws.quota_bytes == 0 {
        100.0
    } else {
        ws.used_bytes as f64 * 100.0 / ws.quota_bytes as f64
    };
    Storage {
        workspace_id: id,
        used_bytes: ws.used_bytes,
        quota_bytes: ws.quota_bytes,
        remaining_bytes: remaining,
        percentage_used: two_places(percentage),
        quota_exceeded: ws.used_bytes >= ws.quota_bytes,
        used_mb: two_places(ws.used_bytes as f64 / MB),
        quota_mb: two_places(ws.quota_bytes as f64 / MB),
        remaining_mb: two_places(remaining as f64 / MB),
    }
}
