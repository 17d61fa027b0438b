//! `GET /api/v1/files/{id}`: a signed download link, streamed and decrypted.
//!
//! The stored bytes are ward ciphertext, useless to a browser, so links point here instead of
//! at the store. A link is checked (signature first, then expiry), the attachment is opened in
//! the link's workspace and decrypted as it is sent: memory stays constant whatever the size.
//! A single `Range` is answered with 206 (several ranges are answered with the whole file, as
//! RFC 9110 allows); a range past the end is 416. The download is audited, in the name of the
//! user the link was issued to, when the link is used, not when it was issued.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio_util::io::ReaderStream;
use ward_domain::{Actor, WorkspaceId};

use super::doc::ErrorDoc;
use super::records::{QueryParams, parse_id};
use crate::auth::{Link, unix_now};
use crate::error::{Error, Result};
use crate::service::Service;

/// The query of a link.
/// The size of the frames a download is sent in.
const FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct LinkParams {
    w: String,
    u: String,
    e: u64,
    s: String,
}

#[utoipa::path(get, path = "/files/{id}", tag = "files", params(("id" = Uuid, Path, description = "the attachment"), ("w" = Uuid, Query, description = "the workspace"), ("u" = String, Query, description = "the user the link was issued to"), ("e" = u64, Query, description = "expiry, Unix seconds"), ("s" = String, Query, description = "the signature"), ("Range" = Option<String>, Header, description = "one byte range")), responses((status = 200, description = "the file, decrypted", content_type = "application/octet-stream"), (status = 206, description = "the range asked for"), (status = 401, description = "the link has expired", body = ErrorDoc), (status = 404, description = "no such file, or a link altered", body = ErrorDoc), (status = 416, description = "range outside the file")))]
/// `GET /files/{id}?w=&u=&e=&s=`
pub(crate) async fn serve(
    State(service): State<Service>,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<LinkParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let attachment = parse_id(&id, "file")?;
    let workspace: WorkspaceId = params.w.parse().map_err(|_| Error::not_found("file"))?;
    let link = Link {
        attachment,
        workspace,
        actor: &params.u,
        expires: params.e,
    };
    if !service.keys().link_is_genuine(&link, &params.s) {
        return Err(Error::not_found("file"));
    }
    if unix_now() > params.e {
        return Err(Error::refused(
            StatusCode::UNAUTHORIZED,
            "link.expired",
            "the download link has expired",
        ));
    }
    let actor = Actor::new(params.u.clone()).map_err(|_| Error::not_found("file"))?;
    // The record is read once: its size settles the range, then its object is read from the
    // store and the read audited.
    let found = service
        .attachments()
        .find_download(workspace, attachment)
        .await?;
    let len = found.attachment().size_bytes;
    let range = match headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match requested_range(text, len) {
            Ok(r) => r,
            Err(()) => {
                let mut answer = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    answer.headers_mut().insert(CONTENT_RANGE, v);
                }
                return Ok(answer);
            }
        },
    };
    let (found, got) = service
        .attachments()
        .download_found(&actor, found, range.clone())
        .await?;
    tracing::info!(attachment = %found.id, bytes = got.range.end - got.range.start, "attachment downloaded");
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    // Frames of a stream chunk's size: `ReaderStream`'s default of 4 KiB made a frame, a wake-up
    // and an allocation per 4 KiB, about a third of the service's time on a download.
    let mut answer = Response::new(Body::from_stream(ReaderStream::with_capacity(
        got.body,
        FRAME_BYTES,
    )));
    *answer.status_mut() = status;
    let h = answer.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(found.kind.media_type()),
    );
    h.insert(
        CONTENT_LENGTH,
        HeaderValue::from(got.range.end - got.range.start),
    );
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if range.is_some() {
        let value = format!("bytes {}-{}/{len}", got.range.start, got.range.end - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(CONTENT_RANGE, v);
        }
    }
    let disposition = content_disposition(found.session_id.is_some(), &found.display_name);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(answer)
}

/// The one range asked for, in bytes of a `len`-byte file: `Ok(None)` for several ranges or a
/// header that is not a byte range (the whole file is sent), `Err` when the range is outside
/// the file.
fn requested_range(
    header: &str,
    len: u64,
) -> std::result::Result<Option<std::ops::Range<u64>>, ()> {
    let Ok(parsed) = http_range_header::parse_range_header(header) else {
        return Ok(None);
    };
    let ranges = parsed.validate(len).map_err(|_| ())?;
    match ranges.as_slice() {
        [one] => Ok(Some(*one.start()..one.end().saturating_add(1))),
        _ => Ok(None),
    }
}

/// `Content-Disposition` per RFC 6266: `attachment` for a session's file (downloaded), `inline`
/// for a client's (shown); the name as an ASCII fallback and in full as RFC 8187 UTF-8.
fn content_disposition(download: bool, name: &str) -> String {
    let kind = if download { "attachment" } else { "inline" };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_per_rfc_6266() {
        assert_eq!(
            content_disposition(true, "scan \"1\".pdf"),
            "attachment; filename=\"scan _1_.pdf\"; filename*=UTF-8''scan%20%221%22.pdf"
        );
        assert_eq!(
            content_disposition(false, "Größe.png"),
            "inline; filename=\"Gr__e.png\"; filename*=UTF-8''Gr%C3%B6%C3%9Fe.png"
        );
    }

    #[test]
    fn one_range_is_served_several_are_not_and_outside_is_refused() {
        assert_eq!(requested_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(requested_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(requested_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(requested_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(requested_range("bytes=100-", 100), Err(()));
        assert_eq!(requested_range("lines=1-2", 100), Ok(None));
    }
}
