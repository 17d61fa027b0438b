//! Clients and sessions: the minimal records that make the service usable end to end (create,
//! read, update, and a client search by exact email through the blind index), and the request
//! extractors every route shares.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ward_domain::{Client, ClientFields, Session, SoapNotes};

use super::attachments::Listing;
use super::doc::ErrorDoc;
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::service::Service;

/// A JSON body; a body that is not JSON of the route's shape is 422 (`schema`), without echoing
/// any of it (it may hold PHI).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(Error::refused(
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                "schema",
                "the body is not JSON of the shape this route takes",
            )),
        }
    }
}

/// A query string; one that does not fit the route is 400, without echoing it.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(_) => Err(Error::bad_request(
                "query",
                "the query string does not fit this route",
            )),
        }
    }
}

/// A path id: anything that is not a UUID names nothing, so it is 404 like an unknown id.
pub(crate) fn parse_id(text: &str, resource: &'static str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::not_found(resource))
}

fn parse_date(text: &str, field: &'static str) -> Result<Date> {
    Date::parse(text, &Iso8601::DATE).map_err(|_| {
        Error::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema",
            format!("{field} must be a date as YYYY-MM-DD"),
        )
    })
}

/// A client as the API shows it (to a caller of its workspace: these are the opened values).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ClientItem {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    date_of_birth: Option<String>,
    notes: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Client> for ClientItem {
    fn from(c: &Client) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace.as_uuid(),
            name: c.fields.name.clone(),
            email: c.fields.email.clone(),
            phone: c.fields.phone.clone(),
            date_of_birth: c.fields.date_of_birth.map(|d| d.to_string()),
            notes: c.fields.notes.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The body of a client's creation, or of its update (absent fields keep their value).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientBody {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    date_of_birth: Option<String>,
    notes: Option<String>,
}

impl ClientBody {
    /// The fields: this body's over `base`.
    fn onto(self, base: Option<&ClientFields>) -> Result<ClientFields> {
        let name = match (self.name, base) {
            (Some(n), _) => n,
            (None, Some(b)) => b.name.clone(),
            (None, None) => {
                return Err(Error::refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "schema",
                    "name is required",
                ));
            }
        };
        let date_of_birth = match self.date_of_birth {
            Some(d) => Some(parse_date(&d, "date_of_birth")?),
            None => base.and_then(|b| b.date_of_birth),
        };
        let mut fields = ClientFields::named(name);
        fields.email = self.email.or_else(|| base.and_then(|b| b.email.clone()));
        fields.phone = self.phone.or_else(|| base.and_then(|b| b.phone.clone()));
        fields.notes = self.notes.or_else(|| base.and_then(|b| b.notes.clone()));
        fields.date_of_birth = date_of_birth;
        Ok(fields)
    }
}

/// The query of a client search.
#[derive(Debug, Deserialize)]
pub(crate) struct ClientSearch {
    email: String,
}

#[utoipa::path(post, path = "/clients", tag = "clients", request_body = ClientBody, responses((status = 201, description = "created", body = ClientItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 422, description = "malformed body", body = ErrorDoc)), security(("bearer" = [])))]
/// `POST /clients`
pub(crate) async fn create_client(
    State(service): State<Service>,
    caller: Caller,
    JsonBody(body): JsonBody<ClientBody>,
) -> Result<(StatusCode, Json<ClientItem>)> {
    let fields = body.onto(None)?;
    let client = service
        .domain()
        .clients()
        .create(&caller.actor, caller.workspace, fields)
        .await?;
    tracing::info!(client = %client.id, "client created");
    Ok((StatusCode::CREATED, Json(ClientItem::from(&client))))
}

#[utoipa::path(get, path = "/clients/{client_id}", tag = "clients", params(("client_id" = Uuid, Path, description = "the client")), responses((status = 200, description = "the client", body = ClientItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /clients/{client_id}`
pub(crate) async fn get_client(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ClientItem>> {
    let id = parse_id(&id, "client")?;
    let client = service
        .domain()
        .clients()
        .get(&caller.actor, caller.workspace, id)
        .await?;
    Ok(Json(ClientItem::from(&client)))
}

#[utoipa::path(patch, path = "/clients/{client_id}", tag = "clients", params(("client_id" = Uuid, Path, description = "the client")), request_body = ClientBody, responses((status = 200, description = "updated; absent fields kept", body = ClientItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 422, description = "malformed body", body = ErrorDoc)), security(("bearer" = [])))]
/// `PATCH /clients/{client_id}`
pub(crate) async fn update_client(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ClientBody>,
) -> Result<Json<ClientItem>> {
    let id = parse_id(&id, "client")?;
    let clients = service.domain().clients();
    let current = clients.get(&caller.actor, caller.workspace, id).await?;
    let fields = body.onto(Some(&current.fields))?;
    let client = clients
        .update(&caller.actor, caller.workspace, id, fields)
        .await?;
    Ok(Json(ClientItem::from(&client)))
}

#[utoipa::path(delete, path = "/clients/{client_id}", tag = "clients", params(("client_id" = Uuid, Path, description = "the client")), responses((status = 204, description = "soft-deleted, with its sessions"), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "the client still has attachments", body = ErrorDoc)), security(("bearer" = [])))]
/// `DELETE /clients/{client_id}`: soft delete (its sessions too); refused with 409 while the
/// client has attachments.
pub(crate) async fn delete_client(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = parse_id(&id, "client")?;
    service
        .domain()
        .clients()
        .delete(&caller.actor, caller.workspace, id)
        .await?;
    tracing::info!(client = %id, "client deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/clients", tag = "clients", params(("email" = String, Query, description = "exact email, any case")), responses((status = 200, description = "the clients with that email", body = Listing<ClientItem>), (status = 401, description = "no or bad token", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /clients?email=…`: exact match through the blind index.
pub(crate) async fn find_clients(
    State(service): State<Service>,
    caller: Caller,
    QueryParams(search): QueryParams<ClientSearch>,
) -> Result<Json<Listing<ClientItem>>> {
    let found = service
        .domain()
        .clients()
        .find_by_email(&caller.actor, caller.workspace, &search.email)
        .await?;
    Ok(Json(Listing::new(
        found.iter().map(ClientItem::from).collect(),
    )))
}

/// A session as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionItem {
    id: Uuid,
    workspace_id: Uuid,
    client_id: Uuid,
    session_date: String,
    soap_notes: Option<String>,
    used_bytes: u64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Session> for SessionItem {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id,
            workspace_id: s.workspace.as_uuid(),
            client_id: s.client_id,
            session_date: s.date.to_string(),
            soap_notes: s.soap_notes.as_ref().map(|n| n.0.clone()),
            used_bytes: s.used_bytes,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// The body of a session's creation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSession {
    client_id: Uuid,
    session_date: String,
    soap_notes: Option<String>,
}

/// The body of a session's update.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionUpdate {
    soap_notes: Option<String>,
}

#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = NewSession, responses((status = 201, description = "created", body = SessionItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 422, description = "malformed body", body = ErrorDoc)), security(("bearer" = [])))]
/// `POST /sessions`
pub(crate) async fn create_session(
    State(service): State<Service>,
    caller: Caller,
    JsonBody(body): JsonBody<NewSession>,
) -> Result<(StatusCode, Json<SessionItem>)> {
    let date = parse_date(&body.session_date, "session_date")?;
    let session = service
        .domain()
        .sessions()
        .create(
            &caller.actor,
            caller.workspace,
            body.client_id,
            date,
            body.soap_notes.map(SoapNotes),
        )
        .await?;
    tracing::info!(session = %session.id, "session created");
    Ok((StatusCode::CREATED, Json(SessionItem::from(&session))))
}

#[utoipa::path(get, path = "/sessions/{session_id}", tag = "sessions", params(("session_id" = Uuid, Path, description = "the session")), responses((status = 200, description = "the session", body = SessionItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `GET /sessions/{session_id}`
pub(crate) async fn get_session(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionItem>> {
    let id = parse_id(&id, "session")?;
    let session = service
        .domain()
        .sessions()
        .get(&caller.actor, caller.workspace, id)
        .await?;
    Ok(Json(SessionItem::from(&session)))
}

#[utoipa::path(patch, path = "/sessions/{session_id}", tag = "sessions", params(("session_id" = Uuid, Path, description = "the session")), request_body = SessionUpdate, responses((status = 200, description = "updated", body = SessionItem), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc)), security(("bearer" = [])))]
/// `PATCH /sessions/{session_id}`: replaces the notes (`null` clears them).
pub(crate) async fn update_session(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SessionUpdate>,
) -> Result<Json<SessionItem>> {
    let id = parse_id(&id, "session")?;
    let sessions = service.domain().sessions();
    sessions
        .update_notes(
            &caller.actor,
            caller.workspace,
            id,
            body.soap_notes.map(SoapNotes),
        )
        .await?;
    let session = sessions.get(&caller.actor, caller.workspace, id).await?;
    Ok(Json(SessionItem::from(&session)))
}

#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "sessions", params(("session_id" = Uuid, Path, description = "the session")), responses((status = 204, description = "soft-deleted"), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 409, description = "the session still has attachments", body = ErrorDoc)), security(("bearer" = [])))]
/// `DELETE /sessions/{session_id}`: soft delete; refused with 409 while the session has
/// attachments.
pub(crate) async fn delete_session(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = parse_id(&id, "session")?;
    service
        .domain()
        .sessions()
        .delete(&caller.actor, caller.workspace, id)
        .await?;
    tracing::info!(session = %id, "session deleted");
    Ok(StatusCode::NO_CONTENT)
}
