use crate::common::{self, client_and_session, get, jpeg, json, send, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_gets_404_on_every_route() {
    for stack in common::stacks().await {
        let name = stack.name;
        let api = format!("{}/api/v1", stack.base);
        let (client, session) = client_and_session(&stack).await;
        let up = upload(
            &stack,
            &stack.token,
            &format!("/sessions/{session}"),
            "a.jpg",
            &jpeg(4),
        )
        .await;
        assert_eq!(up.status, 201);
        let id = up.json()["id"].as_str().expect("id").to_owned();
        let (_, other) = stack.other_workspace().await;
        let o = Some(other.as_str());
        let form = common::form("b.jpg", &jpeg(5));
        let multipart = format!("multipart/form-data; boundary={}", common::BOUNDARY);
        let rename = serde_json::to_vec(&serde_json::json!({"file_name": "c.jpg"})).expect("json");
        let cases: Vec<(&str, String, Option<&str>, Vec<u8>)> = vec![
            (
                "POST",
                format!("{api}/sessions/{session}/attachments"),
                Some(&multipart),
                form.clone(),
            ),
            (
                "GET",
                format!("{api}/sessions/{session}/attachments"),
                None,
                vec![],
            ),
            (
                "GET",
                format!("{api}/sessions/{session}/attachments/{id}/download"),
                None,
                vec![],
            ),
            (
                "PATCH",
                format!("{api}/sessions/{session}/attachments/{id}"),
                Some("application/json"),
                rename.clone(),
            ),
            (
                "DELETE",
                format!("{api}/sessions/{session}/attachments/{id}"),
                None,
                vec![],
            ),
            (
                "POST",
                format!("{api}/clients/{client}/attachments"),
                Some(&multipart),
                form,
            ),
            (
                "GET",
                format!("{api}/clients/{client}/attachments"),
                None,
                vec![],
            ),
            (
                "GET",
                format!("{api}/clients/{client}/attachments/{id}/download"),
                None,
                vec![],
            ),
            (
                "PATCH",
                format!("{api}/clients/{client}/attachments/{id}"),
                Some("application/json"),
                rename,
            ),
            (
                "DELETE",
                format!("{api}/clients/{client}/attachments/{id}"),
                None,
                vec![],
            ),
            ("GET", format!("{api}/clients/{client}"), None, vec![]),
            (
                "PATCH",
                format!("{api}/clients/{client}"),
                Some("application/json"),
                b"{\"phone\":\"1\"}".to_vec(),
            ),
            ("GET", format!("{api}/sessions/{session}"), None, vec![]),
            (
                "PATCH",
                format!("{api}/sessions/{session}"),
                Some("application/json"),
                b"{\"soap_notes\":null}".to_vec(),
            ),
            (
                "GET",
                format!("{api}/workspaces/{}/storage", stack.ws.id),
                None,
                vec![],
            ),
            ("DELETE", format!("{api}/sessions/{session}"), None, vec![]),
            ("DELETE", format!("{api}/clients/{client}"), None, vec![]),
        ];
        for (method, url, content_type, body) in cases {
            let answer = send(method, &url, o, content_type, body, &[]).await;
            assert_eq!(
                answer.status,
                404,
                "{name}: {method} {url}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            assert_eq!(answer.code(), "not_found");
        }
        // A search in the other workspace finds nothing; a session there cannot name the client.
        let found = get(&format!("{api}/clients?email=jane@example.org"), o).await;
        assert_eq!(found.json()["total"], 0, "{name}");
        let s = json(
            "POST",
            &format!("{api}/sessions"),
            o,
            &serde_json::json!({"client_id": client, "session_date": "2026-12-03"}),
        )
        .await;
        assert_eq!(s.status, 404, "{name}");
        // Nothing was changed by those calls.
        let listed = get(
            &format!("{api}/sessions/{session}/attachments"),
            Some(&stack.token),
        )
        .await;
        assert_eq!(listed.json()["total"], 1, "{name}");
        assert_eq!(listed.json()["items"][0]["file_name"], "a.jpg");
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_tampered_tokens_and_links_are_refused() {
    let stack = common::embedded().await;
    let api = format!("{}/api/v1", stack.base);
    let (client, session) = client_and_session(&stack).await;
    let url = format!("{api}/clients/{client}");
    let none = get(&url, None).await;
    assert_eq!((none.status, none.code().as_str()), (401, "token.missing"));
    let expired = stack.token_for(stack.ws.id.as_uuid(), "nurse-1", -3600);
    let answer = get(&url, Some(&expired)).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (401, "token.expired")
    );
    let mut tampered = stack.token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(get(&url, Some(&tampered)).await.status, 401);
    let foreign = common::token(
        "c2VjcmV0LWtleS1vZi1hbm90aGVyLXNlcnZpY2UtMzJieXRlcw==",
        stack.ws.id.as_uuid(),
        "nurse-1",
        ward_api::Role::Member,
        600,
    );
    let answer = get(&url, Some(&foreign)).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (401, "token.signature")
    );
    let basic = send(
        "GET",
        &url,
        None,
        None,
        vec![],
        &[("authorization", "Basic dXNlcjpwYXNz")],
    )
    .await;
    assert_eq!(basic.status, 401);

    let up = upload(
        &stack,
        &stack.token,
        &format!("/sessions/{session}"),
        "a.jpg",
        &jpeg(6),
    )
    .await;
    let id = up.json()["id"].as_str().expect("id").to_owned();
    let link = get(
        &format!("{api}/sessions/{session}/attachments/{id}/download?expires_in_minutes=1"),
        Some(&stack.token),
    )
    .await;
    let good = link.json()["download_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(
        get(&format!("{}{good}", stack.base), None).await.status,
        200
    );
    // Every part of the link is signed: change any and it names nothing.
    let e_at = good.find("&e=").expect("expiry") + 3;
    let e_end = good[e_at..].find('&').expect("end") + e_at;
    let expiry: u64 = good[e_at..e_end].parse().expect("number");
    let stretched = format!("{}{}{}", &good[..e_at], expiry + 3600, &good[e_end..]);
    let other_user = good.replace("u=user:nurse-1", "u=user:nurse-2");
    let mut bad_sig = good.clone();
    let last = bad_sig.pop().expect("char");
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    let other_file = good.replace(&id, &uuid::Uuid::new_v4().to_string());
    for tampered in [stretched, other_user, bad_sig, other_file] {
        let answer = get(&format!("{}{tampered}", stack.base), None).await;
        assert_eq!(answer.status, 404, "{tampered}");
    }
    // A genuine link past its expiry.
    let keys = stack.service.keys();
    let old = ward_api::auth::Link {
        attachment: id.parse().expect("uuid"),
        workspace: stack.ws.id,
        actor: "user:nurse-1",
        expires: 1_000,
    };
    let url = format!(
        "{}/api/v1/files/{id}?w={}&u=user:nurse-1&e=1000&s={}",
        stack.base,
        stack.ws.id,
        keys.sign_link(&old)
    );
    let answer = get(&url, None).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (401, "link.expired")
    );
    stack.stop().await;
}
