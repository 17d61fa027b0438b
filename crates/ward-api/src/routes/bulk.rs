//! `POST /clients/{client_id}/attachments/download-multiple`: several of a client's files as one
//! ZIP, streamed.
//!
//! The body names 1 to 50 attachment ids of the client whose recorded sizes come to at most
//! 100 MiB; any id that is not a live file of the client in the caller's workspace makes the
//! whole request 404 (nothing is sent). The ZIP is written while it is sent (entries stored,
//! with data descriptors), so memory stays bounded by one 64 KiB buffer whatever the total. The
//! download is audited once, before the first byte, as `attachment.bulk_download` of the client.
//! A failure after the answer has started cuts the connection, so a client never takes a
//! truncated archive for a whole one.

use std::collections::HashSet;

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::Response;
use futures::{AsyncWriteExt as _, StreamExt as _};
use serde::Deserialize;
use tokio::io::AsyncReadExt as _;
use tokio_util::io::ReaderStream;
use uuid::Uuid;
use ward_domain::BulkDownload;

use super::doc::ErrorDoc;
use super::records::{JsonBody, parse_id};
use crate::auth::Caller;
use crate::error::Result;
use crate::service::Service;

/// The pipe between the ZIP writer and the answer, and the copy buffer: 64 KiB each.
const BUFFER: usize = 64 * 1024;

/// The body of a bulk download.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkRequest {
    attachment_ids: Vec<Uuid>,
}

#[utoipa::path(post, path = "/clients/{client_id}/attachments/download-multiple", tag = "attachments", params(("client_id" = Uuid, Path, description = "the client")), request_body = BulkRequest, responses((status = 200, description = "a ZIP of the files, streamed", content_type = "application/zip"), (status = 400, description = "not 1 to 50 ids", body = ErrorDoc), (status = 401, description = "no or bad token", body = ErrorDoc), (status = 404, description = "not in the caller's workspace", body = ErrorDoc), (status = 413, description = "over 100 MiB", body = ErrorDoc)), security(("bearer" = [])))]
/// `POST /clients/{client_id}/attachments/download-multiple`
pub(crate) async fn download_multiple(
    State(service): State<Service>,
    caller: Caller,
    Path(client): Path<String>,
    JsonBody(body): JsonBody<BulkRequest>,
) -> Result<Response> {
    let client = parse_id(&client, "client")?;
    let bulk = service
        .attachments()
        .download_many(
            &caller.actor,
            caller.workspace,
            client,
            &body.attachment_ids,
        )
        .await?;
    let names = entry_names(bulk.files().map(|a| a.display_name.as_str()));
    tracing::info!(
        %client,
        files = names.len(),
        bytes = bulk.total_bytes(),
        "bulk download"
    );
    let (writer, reader) = tokio::io::duplex(BUFFER);
    let (done, outcome) = tokio::sync::oneshot::channel::<bool>();
    tokio::spawn(async move {
        let written = write_zip(&bulk, &names, writer).await;
        if let Err(e) = &written {
            tracing::warn!(%client, error = %e, "bulk download cut off");
        }
        let _ = done.send(written.is_ok());
    });
    // After the archive's last byte, the writer's outcome: a failure becomes a body error, which
    // aborts the connection instead of ending the answer cleanly.
    let ending = futures::stream::once(async move {
        match outcome.await {
            Ok(true) => None,
            _ => Some(Err(std::io::Error::other(
                "the archive could not be completed",
            ))),
        }
    })
    .filter_map(std::future::ready);
    let stream = ReaderStream::with_capacity(reader, BUFFER).chain(ending);
    let mut answer = Response::new(Body::from_stream(stream));
    let h = answer.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        archive_name(time::OffsetDateTime::now_utc())
    )) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(answer)
}

/// Writes the archive: each file decrypted into a stored entry, then the central directory.
async fn write_zip(
    bulk: &BulkDownload,
    names: &[String],
    writer: tokio::io::DuplexStream,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut zip = ZipFileWriter::with_tokio(writer);
    let mut buf = vec![0_u8; BUFFER];
    for (index, name) in names.iter().enumerate() {
        let mut got = bulk.open(index).await?;
        let entry =
            ZipEntryBuilder::new(name.clone().into(), Compression::Stored).unix_permissions(0o644);
        let mut out = zip.write_entry_stream(entry).await?;
        loop {
            let n = got.body.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).await?;
        }
        out.close().await?;
    }
    zip.close().await?;
    Ok(())
}

/// The entries' names: each display name, with ` (2)`, ` (3)`, … before the extension of a
/// name already taken (compared without case, as the file systems archives are unpacked on
/// often do).
fn entry_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
            _ => (name, String::new()),
        };
        let mut candidate = name.to_owned();
        let mut n = 2;
        while !taken.insert(candidate.to_lowercase()) {
            candidate = format!("{stem} ({n}){ext}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// `client-files-<UTC yyyymmdd_hhmmss>.zip`.
fn archive_name(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "client-files-{:04}{:02}{:02}_{:02}{:02}{:02}.zip",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_numbered_before_the_extension() {
        let names = [
            "scan.pdf",
            "Scan.pdf",
            "scan.pdf",
            "photo.jpg",
            "scan (2).pdf",
            "noext",
        ];
        assert_eq!(
            entry_names(names.into_iter()),
            [
                "scan.pdf",
                "Scan (2).pdf",
                "scan (3).pdf",
                "photo.jpg",
                "scan (2) (2).pdf",
                "noext"
            ]
        );
    }

    #[test]
    fn the_archive_is_named_by_its_utc_time() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_796_000_000).expect("time");
        assert_eq!(archive_name(at), "client-files-20261130_005320.zip");
    }
}
