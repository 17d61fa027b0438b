use crate::common::{self, Stack, client_and_session, get, jpeg, json, png, send, upload};

/// A download link's answer fetched: the file's bytes and headers.
async fn fetch_link(stack: &Stack, answer: &common::Answer, range: Option<&str>) -> common::Answer {
    let url = answer.json()["download_url"]
        .as_str()
        .expect("download_url")
        .to_owned();
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
    send(
        "GET",
        &format!("{}{url}", stack.base),
        None,
        None,
        Vec::new(),
        &headers,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attachment_routes_answer_as_the_seed_clients_expect() {
    for stack in common::stacks().await {
        let name = stack.name;
        let api = format!("{}/api/v1", stack.base);
        let t = Some(stack.token.as_str());
        let (client, session) = client_and_session(&stack).await;
        let session_path = format!("/sessions/{session}");
        let client_path = format!("/clients/{client}");

        // Upload: 201 with the item shape, to a session and to the client.
        let photo = jpeg(7);
        let up = upload(
            &stack,
            &stack.token,
            &session_path,
            "wound photo.jpg",
            &photo,
        )
        .await;
        assert_eq!(
            up.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&up.body)
        );
        let item = up.json();
        let id = item["id"].as_str().expect("id").to_owned();
        assert_eq!(
            item["session_id"].as_str(),
            Some(session.as_str()),
            "{name}"
        );
        assert_eq!(item["client_id"].as_str(), Some(client.as_str()), "{name}");
        assert_eq!(
            item["workspace_id"].as_str(),
            Some(stack.ws.id.to_string().as_str())
        );
        assert_eq!(item["file_name"], "wound photo.jpg");
        assert_eq!(item["file_type"], "image/jpeg");
        assert_eq!(item["session_date"], "2026-12-02");
        assert_eq!(item["is_session_file"], true);
        let size = item["file_size_bytes"].as_u64().expect("size");
        assert!(size > 0);
        let form = upload(&stack, &stack.token, &client_path, "consent.png", &png(3)).await;
        assert_eq!(
            form.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&form.body)
        );
        let form_id = form.json()["id"].as_str().expect("id").to_owned();
        assert_eq!(form.json()["is_session_file"], false);
        assert!(form.json()["session_date"].is_null());

        // Listing: the session shows its file; the client shows both, newest first.
        let listed = get(&format!("{api}{session_path}/attachments"), t).await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json()["total"], 1);
        let all = get(&format!("{api}{client_path}/attachments"), t).await;
        assert_eq!(all.json()["total"], 2, "{name}");
        assert_eq!(
            all.json()["items"][0]["id"].as_str(),
            Some(form_id.as_str()),
            "{name}: newest first"
        );

        // Download link: default 15 minutes; 1..=60 allowed, with the seed's messages.
        let link = get(&format!("{api}{session_path}/attachments/{id}/download"), t).await;
        assert_eq!(link.status, 200, "{name}");
        assert_eq!(link.json()["expires_in_seconds"], 900);
        for (minutes, message) in [(0, "at least 1 minute"), (61, "60 minutes")] {
            let bad = get(
                &format!(
                    "{api}{session_path}/attachments/{id}/download?expires_in_minutes={minutes}"
                ),
                t,
            )
            .await;
            assert_eq!(bad.status, 400, "{name}: {minutes} minutes");
            assert!(
                bad.json()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(message)
            );
        }

        // The link streams the decrypted, sanitised file: a session's file downloads.
        let got = fetch_link(&stack, &link, None).await;
        assert_eq!(
            got.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&got.body)
        );
        assert_eq!(got.body.len() as u64, size);
        assert_eq!(&got.body[..3], &[0xFF, 0xD8, 0xFF], "{name}: a JPEG");
        assert_eq!(got.headers["content-type"], "image/jpeg");
        assert_eq!(got.headers["accept-ranges"], "bytes");
        let disposition = got.headers["content-disposition"].to_str().expect("ascii");
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            disposition.contains("filename*=UTF-8''wound%20photo.jpg"),
            "{disposition}"
        );
        // A range: 206 with exactly those bytes.
        let part = fetch_link(&stack, &link, Some("bytes=10-109")).await;
        assert_eq!(part.status, 206, "{name}");
        assert_eq!(&part.body[..], &got.body[10..110]);
        assert_eq!(
            part.headers["content-range"].to_str().expect("ascii"),
            format!("bytes 10-109/{size}")
        );
        let outside = fetch_link(&stack, &link, Some(&format!("bytes={}-", size + 5))).await;
        assert_eq!(outside.status, 416, "{name}");
        // A client's own file is shown inline.
        let form_link = get(
            &format!("{api}{client_path}/attachments/{form_id}/download"),
            t,
        )
        .await;
        let shown = fetch_link(&stack, &form_link, None).await;
        assert!(
            shown.headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("inline;")
        );

        // Rename: 200; a duplicate is 409; an empty name or another type is 400.
        let renamed = json(
            "PATCH",
            &format!("{api}{session_path}/attachments/{id}"),
            t,
            &serde_json::json!({"file_name": "left arm.jpg"}),
        )
        .await;
        assert_eq!(
            renamed.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&renamed.body)
        );
        assert_eq!(renamed.json()["file_name"], "left arm.jpg");
        let dup = json(
            "PATCH",
            &format!("{api}{client_path}/attachments/{form_id}"),
            t,
            &serde_json::json!({"file_name": "left arm.png"}),
        )
        .await;
        assert_eq!(dup.status, 200, "{name}: another extension is another name");
        let clash = json(
            "PATCH",
            &format!("{api}{client_path}/attachments/{form_id}"),
            t,
            &serde_json::json!({"file_name": "left arm.jpg"}),
        )
        .await;
        assert_eq!(clash.status, 400, "{name}: a PNG cannot be renamed to .jpg");
        let upload_dup = upload(&stack, &stack.token, &client_path, "left arm.jpg", &jpeg(9)).await;
        assert_eq!(
            upload_dup.status,
            409,
            "{name}: {}",
            String::from_utf8_lossy(&upload_dup.body)
        );
        let empty = json(
            "PATCH",
            &format!("{api}{session_path}/attachments/{id}"),
            t,
            &serde_json::json!({"file_name": "  "}),
        )
        .await;
        assert_eq!(empty.status, 400);
        let schema = json(
            "PATCH",
            &format!("{api}{session_path}/attachments/{id}"),
            t,
            &serde_json::json!({"name": 3}),
        )
        .await;
        assert_eq!(schema.status, 422);
        assert_eq!(schema.code(), "schema");

        // Refused files: 415 for a type ward does not take, 422 for a damaged one.
        let gif = upload(
            &stack,
            &stack.token,
            &session_path,
            "x.gif",
            b"GIF89a\x01\x00\x01\x00",
        )
        .await;
        assert_eq!(
            gif.status,
            415,
            "{name}: {}",
            String::from_utf8_lossy(&gif.body)
        );
        let mut broken = jpeg(1);
        broken.truncate(broken.len() / 2);
        let damaged = upload(&stack, &stack.token, &session_path, "broken.jpg", &broken).await;
        assert_eq!(
            damaged.status,
            422,
            "{name}: {}",
            String::from_utf8_lossy(&damaged.body)
        );
        let mismatch = upload(&stack, &stack.token, &session_path, "photo.png", &jpeg(2)).await;
        assert_eq!(mismatch.status, 422, "{name}");
        assert_eq!(mismatch.code(), "mismatch");

        // Storage figures count what is stored.
        let storage = get(&format!("{api}/workspaces/{}/storage", stack.ws.id), t).await;
        assert_eq!(storage.status, 200);
        let used = storage.json()["used_bytes"].as_u64().expect("used");
        assert!(used >= size, "{name}: {used}");
        assert_eq!(storage.json()["quota_exceeded"], false);

        // Delete: 204, then the file is gone from lists, links and quota.
        let deleted = send(
            "DELETE",
            &format!("{api}{session_path}/attachments/{id}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(deleted.status, 204, "{name}");
        let again = send(
            "DELETE",
            &format!("{api}{session_path}/attachments/{id}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(again.status, 404);
        let gone = fetch_link(&stack, &link, None).await;
        assert_eq!(gone.status, 404, "{name}: a deleted file's link");
        let after = get(&format!("{api}/workspaces/{}/storage", stack.ws.id), t).await;
        assert_eq!(
            after.json()["used_bytes"].as_u64(),
            Some(used - size),
            "{name}"
        );
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_sessions_are_created_read_updated_and_found_by_email() {
    for stack in common::stacks().await {
        let api = format!("{}/api/v1", stack.base);
        let t = Some(stack.token.as_str());
        let (client, session) = client_and_session(&stack).await;
        let got = get(&format!("{api}/clients/{client}"), t).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.json()["name"], "Jane Roe");
        let updated = json(
            "PATCH",
            &format!("{api}/clients/{client}"),
            t,
            &serde_json::json!({"phone": "+1 555 0100"}),
        )
        .await;
        assert_eq!(
            updated.status,
            200,
            "{}",
            String::from_utf8_lossy(&updated.body)
        );
        assert_eq!(updated.json()["phone"], "+1 555 0100");
        assert_eq!(
            updated.json()["email"],
            "jane@example.org",
            "absent fields are kept"
        );
        let found = get(&format!("{api}/clients?email=JANE@example.org"), t).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.json()["total"], 1);
        assert_eq!(
            found.json()["items"][0]["id"].as_str(),
            Some(client.as_str())
        );
        let notes = json(
            "PATCH",
            &format!("{api}/sessions/{session}"),
            t,
            &serde_json::json!({"soap_notes": "S: sore"}),
        )
        .await;
        assert_eq!(notes.status, 200);
        assert_eq!(notes.json()["soap_notes"], "S: sore");
        let bad_date = json(
            "POST",
            &format!("{api}/sessions"),
            t,
            &serde_json::json!({"client_id": client, "session_date": "02/12/2026"}),
        )
        .await;
        assert_eq!(bad_date.status, 422);
        let no_name = json(
            "POST",
            &format!("{api}/clients"),
            t,
            &serde_json::json!({"email": "a@b.c"}),
        )
        .await;
        assert_eq!(no_name.status, 422);
        let health = get(&format!("{}/health", stack.base), None).await;
        assert_eq!(health.status, 200);
        let ready = get(&format!("{}/ready", stack.base), None).await;
        assert_eq!(
            ready.status,
            200,
            "{}",
            String::from_utf8_lossy(&ready.body)
        );
        assert_eq!(ready.json()["status"], "ready");
        assert!(ready.headers.contains_key("x-request-id"));
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_mib_chunked_body_is_refused_without_being_read_whole() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const TOTAL: u64 = 60 << 20;
    const CHUNK: usize = 64 << 10;
    let stack = common::embedded().await;
    let (_, session) = client_and_session(&stack).await;
    // Over a raw connection: the answer is read while the body is still being written, and a
    // write the service refuses (it stops reading and closes) ends the writer, not the test.
    let address = stack.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let head = format!(
        "POST /api/v1/sessions/{session}/attachments HTTP/1.1\r\nhost: {address}\r\n\
         authorization: Bearer {}\r\ncontent-type: multipart/form-data; boundary={}\r\n\
         transfer-encoding: chunked\r\n\r\n",
        stack.token,
        common::BOUNDARY
    );
    let part = format!(
        "--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n",
        common::BOUNDARY
    );
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let mut at = 0_u64;
        let filler = vec![0xAB_u8; CHUNK];
        while at < TOTAL {
            let bytes: &[u8] = if at == 0 { part.as_bytes() } else { &filler };
            writer
                .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
                .await?;
            writer.write_all(bytes).await?;
            writer.write_all(b"\r\n").await?;
            at += bytes.len() as u64;
            counter.store(at, Ordering::SeqCst);
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    // Read the answer's head, noting how much of the body had been sent by then.
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 8192];
    let head_end = loop {
        let n = reader.read(&mut buffer).await.expect("read the answer");
        assert!(n > 0, "the service closed without answering");
        answer.extend_from_slice(&buffer[..n]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let at_answer = sent.load(Ordering::SeqCst);
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(
        at_answer < 40 << 20,
        "the service read {at_answer} bytes of a 60 MiB body before refusing it"
    );
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    while answer.len() < head_end + length {
        let n = reader.read(&mut buffer).await.expect("read the body");
        assert!(n > 0, "the answer's body ended early");
        answer.extend_from_slice(&buffer[..n]);
    }
    let body = &answer[head_end..head_end + length];
    let code = serde_json::from_slice::<serde_json::Value>(body).expect("json")["code"].clone();
    assert!(code == "limit.body" || code == "limit.file_size", "{code}");
    // The writer ends either way: the body refused mid-way (a broken pipe), or written out.
    let _ = writing.await.expect("the writer task");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_files_download_as_one_streamed_zip_all_or_nothing() {
    for stack in common::stacks().await {
        let name = stack.name;
        let api = format!("{}/api/v1", stack.base);
        let t = Some(stack.token.as_str());
        let (client, session) = client_and_session(&stack).await;
        let mut ids = Vec::new();
        let mut originals = Vec::new();
        for (owner, file, bytes) in [
            (format!("/clients/{client}"), "consent.png", png(1)),
            (format!("/sessions/{session}"), "photo.jpg", jpeg(2)),
        ] {
            let up = upload(&stack, &stack.token, &owner, file, &bytes).await;
            assert_eq!(up.status, 201, "{name}");
            let id = up.json()["id"].as_str().expect("id").to_owned();
            let link = get(&format!("{api}{owner}/attachments/{id}/download"), t).await;
            originals.push(fetch_link(&stack, &link, None).await.body);
            ids.push(id);
        }
        let url = format!("{api}/clients/{client}/attachments/download-multiple");
        let zip = json(
            "POST",
            &url,
            t,
            &serde_json::json!({ "attachment_ids": ids }),
        )
        .await;
        assert_eq!(
            zip.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&zip.body)
        );
        assert_eq!(zip.headers["content-type"], "application/zip");
        let disposition = zip.headers["content-disposition"].to_str().expect("ascii");
        assert!(
            disposition.starts_with("attachment; filename=\"client-files-")
                && disposition.ends_with(".zip\""),
            "{disposition}"
        );
        assert_eq!(&zip.body[..4], b"PK\x03\x04", "{name}");
        let bytes = &zip.body[..];
        for original in &originals {
            assert!(
                bytes.windows(original.len()).any(|w| w == &original[..]),
                "{name}: each file is stored whole in the archive"
            );
        }
        judge_zip(bytes, &["consent.png", "photo.jpg"]);

        // All or nothing: one id of another client, or unknown, and nothing is sent.
        let stranger = json(
            "POST",
            &format!("{api}/clients"),
            t,
            &serde_json::json!({ "name": "John Doe" }),
        )
        .await
        .json()["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let elsewhere = format!("{api}/clients/{stranger}/attachments/download-multiple");
        let answer = json(
            "POST",
            &elsewhere,
            t,
            &serde_json::json!({ "attachment_ids": ids }),
        )
        .await;
        assert_eq!(answer.status, 404, "{name}");
        let mut with_unknown = ids.clone();
        with_unknown.push(uuid::Uuid::new_v4().to_string());
        let answer = json(
            "POST",
            &url,
            t,
            &serde_json::json!({ "attachment_ids": with_unknown }),
        )
        .await;
        assert_eq!(answer.status, 404, "{name}");
        let none = json(
            "POST",
            &url,
            t,
            &serde_json::json!({ "attachment_ids": [] }),
        )
        .await;
        assert_eq!(none.status, 400, "{name}");
        let many: Vec<String> = (0..51).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let too_many = json(
            "POST",
            &url,
            t,
            &serde_json::json!({ "attachment_ids": many }),
        )
        .await;
        assert_eq!(too_many.status, 400, "{name}");
        let (_, other) = stack.other_workspace().await;
        let foreign = json(
            "POST",
            &url,
            Some(&other),
            &serde_json::json!({ "attachment_ids": ids }),
        )
        .await;
        assert_eq!(foreign.status, 404, "{name}");
        stack.stop().await;
    }
}

/// Python's zipfile (an independent reader) opens the archive, checks every entry's CRC and
/// finds exactly `names`. Skipped, with the reason printed, where python3 is missing.
fn judge_zip(bytes: &[u8], names: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.zip");
    std::fs::write(&path, bytes).expect("write");
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint('\\n'.join(z.namelist()))";
    match std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "zipfile refused the archive: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            assert_eq!(listed, names);
        }
        Err(e) => eprintln!("skipping the zipfile check: python3 does not run ({e})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_changed_by_admins_only_and_then_enforced() {
    let stack = common::embedded().await;
    let api = format!("{}/api/v1", stack.base);
    let url = format!("{api}/workspaces/{}/storage/quota", stack.ws.id);
    let member = json(
        "PATCH",
        &url,
        Some(&stack.token),
        &serde_json::json!({"quota_bytes": 100}),
    )
    .await;
    assert_eq!((member.status, member.code().as_str()), (403, "role.admin"));
    let admin = stack.admin_token();
    let set = json(
        "PATCH",
        &url,
        Some(&admin),
        &serde_json::json!({"quota_bytes": 100}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    assert_eq!(set.json()["quota_bytes"], 100);
    let (_, other) = stack.other_workspace().await;
    assert_eq!(
        json(
            "PATCH",
            &url,
            Some(&other),
            &serde_json::json!({"quota_bytes": 1})
        )
        .await
        .status,
        404
    );
    let (client, _) = client_and_session(&stack).await;
    let up = upload(
        &stack,
        &stack.token,
        &format!("/clients/{client}"),
        "a.png",
        &png(5),
    )
    .await;
    assert_eq!(
        (up.status, up.code().as_str()),
        (507, "quota.workspace"),
        "{}",
        String::from_utf8_lossy(&up.body)
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_rate_limit_get_429_with_retry_after() {
    let stack = common::embedded_with_upload_rate(2).await;
    let (client, _) = client_and_session(&stack).await;
    let owner = format!("/clients/{client}");
    let mut statuses = Vec::new();
    for i in 0..4_u8 {
        let up = upload(&stack, &stack.token, &owner, &format!("f{i}.png"), &png(i)).await;
        statuses.push(up.status);
        if up.status == 429 {
            assert_eq!(up.code(), "rate_limit");
            let retry: u64 = up.headers["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry), "{retry}");
        }
    }
    // Two fit the window; the next ones are refused (a window boundary in between may let one
    // more through, never all four).
    assert_eq!(&statuses[..2], &[201, 201], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another user has a count of their own.
    let other = stack.token_for(stack.ws.id.as_uuid(), "nurse-2", 600);
    assert_eq!(
        upload(&stack, &other, &owner, "g.png", &png(9))
            .await
            .status,
        201
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_refusals_by_rule() {
    let stack = common::embedded_with_upload_rate(1).await;
    let (client, _) = client_and_session(&stack).await;
    let owner = format!("/clients/{client}");
    assert_eq!(
        upload(&stack, &stack.token, &owner, "m1.png", &png(1))
            .await
            .status,
        201
    );
    assert_eq!(
        upload(&stack, &stack.token, &owner, "m2.png", &png(2))
            .await
            .status,
        429
    );
    let text = get(&format!("{}/metrics", stack.base), None).await;
    assert_eq!(text.status, 200);
    let text = String::from_utf8_lossy(&text.body).into_owned();
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(
        has(
            "ward_http_requests_total{method=\"POST\",route=\"/api/v1/clients/{client_id}/attachments\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(
        has(
            "ward_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/clients/{client_id}/attachments\""
        ),
        "{text}"
    );
    assert!(has("ward_refusals_total{reason=\"rate_limit\"}"), "{text}");
    assert!(has("ward_upload_bytes_total"), "{text}");
    assert!(!text.contains(&client), "metrics never hold ids or paths");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document_and_every_documented_route_is_served() {
    let stack = common::embedded().await;
    let doc = get(&format!("{}/openapi.json", stack.base), None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "patch", "delete", "put"] {
            if item.get(method).is_some() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut expected = vec![
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "POST /api/v1/sessions/{session_id}/attachments",
        "GET /api/v1/sessions/{session_id}/attachments",
        "PATCH /api/v1/sessions/{session_id}/attachments/{id}",
        "DELETE /api/v1/sessions/{session_id}/attachments/{id}",
        "GET /api/v1/sessions/{session_id}/attachments/{id}/download",
        "POST /api/v1/clients/{client_id}/attachments",
        "GET /api/v1/clients/{client_id}/attachments",
        "PATCH /api/v1/clients/{client_id}/attachments/{id}",
        "DELETE /api/v1/clients/{client_id}/attachments/{id}",
        "GET /api/v1/clients/{client_id}/attachments/{id}/download",
        "POST /api/v1/clients/{client_id}/attachments/download-multiple",
        "GET /api/v1/files/{id}",
        "POST /api/v1/clients",
        "GET /api/v1/clients",
        "GET /api/v1/clients/{client_id}",
        "PATCH /api/v1/clients/{client_id}",
        "DELETE /api/v1/clients/{client_id}",
        "POST /api/v1/sessions",
        "GET /api/v1/sessions/{session_id}",
        "PATCH /api/v1/sessions/{session_id}",
        "DELETE /api/v1/sessions/{session_id}",
        "GET /api/v1/workspaces/{id}/storage",
        "PATCH /api/v1/workspaces/{id}/storage/quota",
    ];
    expected.sort_unstable();
    assert_eq!(documented, expected);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Each documented route is served: asked with made-up ids and no token, it answers from a
    // handler (an error in ward's JSON, or a success), never axum's bare 404 or 405.
    for route in &documented {
        let (method, path) = route.split_once(' ').expect("method and path");
        let mut url = String::new();
        for part in path.split('/').skip(1) {
            url.push('/');
            if part.starts_with('{') {
                url.push_str(&uuid::Uuid::new_v4().to_string());
            } else {
                url.push_str(part);
            }
        }
        let answer = send(
            method,
            &format!("{}{url}", stack.base),
            None,
            None,
            vec![],
            &[],
        )
        .await;
        assert_ne!(answer.status, 405, "{route}");
        if answer.status == 404 || answer.status >= 400 {
            assert!(
                !answer.body.is_empty(),
                "{route}: {} with no body (not matched)",
                answer.status
            );
        }
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_sessions_are_soft_deleted_once_their_files_are_gone() {
    for stack in common::stacks().await {
        let name = stack.name;
        let api = format!("{}/api/v1", stack.base);
        let t = Some(stack.token.as_str());
        let (client, session) = client_and_session(&stack).await;
        let up = upload(
            &stack,
            &stack.token,
            &format!("/sessions/{session}"),
            "a.jpg",
            &jpeg(8),
        )
        .await;
        let file = up.json()["id"].as_str().expect("id").to_owned();
        let refused = send(
            "DELETE",
            &format!("{api}/clients/{client}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (409, "conflict"),
            "{name}"
        );
        let refused = send(
            "DELETE",
            &format!("{api}/sessions/{session}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(refused.status, 409, "{name}");
        let gone = send(
            "DELETE",
            &format!("{api}/sessions/{session}/attachments/{file}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(gone.status, 204);
        let deleted = send(
            "DELETE",
            &format!("{api}/sessions/{session}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(deleted.status, 204, "{name}");
        assert_eq!(
            get(&format!("{api}/sessions/{session}"), t).await.status,
            404
        );
        assert_eq!(
            get(&format!("{api}/clients/{client}"), t).await.status,
            200,
            "the client stays"
        );
        let deleted = send(
            "DELETE",
            &format!("{api}/clients/{client}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(deleted.status, 204, "{name}");
        assert_eq!(get(&format!("{api}/clients/{client}"), t).await.status, 404);
        assert_eq!(
            get(&format!("{api}/clients?email=jane@example.org"), t)
                .await
                .json()["total"],
            0
        );
        let late = upload(
            &stack,
            &stack.token,
            &format!("/clients/{client}"),
            "b.jpg",
            &jpeg(9),
        )
        .await;
        assert_eq!(
            late.status, 404,
            "{name}: nothing is filed under a deleted client"
        );
        let again = send(
            "DELETE",
            &format!("{api}/clients/{client}"),
            t,
            None,
            vec![],
            &[],
        )
        .await;
        assert_eq!(again.status, 404);
        stack.stop().await;
    }
}

/// A phone's HEIC photo with EXIF, XMP and IPTC, from ward-sanitize's corpus.
fn heic_with_metadata() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ward-sanitize/tests/corpus/heic/L_exif_xmp_iptc.heic"),
    )
    .expect("corpus file")
}

/// With the `heic` feature a HEIC photo uploads, is stored cleaned and downloads as
/// `image/heic`, its metadata gone.
#[cfg(feature = "heic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heic_photos_upload_cleaned_and_download_as_image_heic() {
    let stack = common::embedded().await;
    let (_, session) = client_and_session(&stack).await;
    let session_path = format!("/sessions/{session}");
    let photo = heic_with_metadata();
    let up = upload(&stack, &stack.token, &session_path, "IMG_0001.HEIC", &photo).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    assert_eq!(up.json()["file_type"], "image/heic");
    let size = up.json()["file_size_bytes"].as_u64().expect("size");
    assert!(size < photo.len() as u64 / 10, "{size} of {}", photo.len());
    let id = up.json()["id"].as_str().expect("id").to_owned();
    let api = format!("{}/api/v1", stack.base);
    let link = get(
        &format!("{api}{session_path}/attachments/{id}/download"),
        Some(stack.token.as_str()),
    )
    .await;
    let got = fetch_link(&stack, &link, None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "image/heic");
    assert_eq!(&got.body[4..12], b"ftypheic");
    assert_eq!(got.body.len() as u64, size);
    for marker in [&b"xmpmeta"[..], b"Exif\0\0", b"Photoshop"] {
        assert!(
            !got.body.windows(marker.len()).any(|w| w == marker),
            "{}",
            String::from_utf8_lossy(marker)
        );
    }
    stack.stop().await;
}

/// Without the `heic` feature a HEIC photo is refused as an unsupported type.
#[cfg(not(feature = "heic"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heic_photos_are_refused_without_the_heic_feature() {
    let stack = common::embedded().await;
    let (_, session) = client_and_session(&stack).await;
    let up = upload(
        &stack,
        &stack.token,
        &format!("/sessions/{session}"),
        "IMG_0001.HEIC",
        &heic_with_metadata(),
    )
    .await;
    assert_eq!(up.status, 415, "{}", String::from_utf8_lossy(&up.body));
    stack.stop().await;
}
