use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt as _;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::common::{self, BOUNDARY, form, jpeg};

type Chunk = Result<Frame<Bytes>, Infallible>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_slots_wait_for_one_and_are_refused_503_when_the_wait_runs_out() {
    let stack =
        common::embedded_with(|s| s.with_upload_concurrency(1, Duration::from_secs(3))).await;
    let (client_id, _) = common::client_and_session(&stack).await;
    let url = format!("{}/api/v1/clients/{client_id}/attachments", stack.base);

    // Upload A takes the only slot and holds it: half its body sent, the rest held back.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Chunk>(4);
    let whole = form("held.jpg", &jpeg(1));
    let (head, rest) = whole.split_at(whole.len() / 2);
    tx.send(Ok(Frame::data(Bytes::copy_from_slice(head))))
        .await
        .expect("send");
    let http: Client<_, StreamBody<futures::channel::mpsc::Receiver<Chunk>>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(&url)
        .header("authorization", format!("Bearer {}", stack.token))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(StreamBody::new(rx))
        .expect("request");
    let held = tokio::spawn(http.request(request));
    let mut polls = 0;
    while stack.service.uploads_in_progress() == 0 {
        polls += 1;
        assert!(polls < 500, "the held upload never took its slot");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Upload B waits for the slot as long as the service allows, then is told to come back.
    let busy = common::upload(
        &stack,
        &stack.token,
        &format!("/clients/{client_id}"),
        "b.jpg",
        &jpeg(2),
    )
    .await;
    assert_eq!(busy.status, 503, "{}", String::from_utf8_lossy(&busy.body));
    assert_eq!(busy.code(), "upload.busy");
    assert_eq!(busy.headers["retry-after"], "5");
    assert_eq!(stack.service.uploads_in_progress(), 1);

    // Upload C waits; once A finishes, C gets the slot and is stored.
    let waiting = {
        let url = format!("/clients/{client_id}");
        let (base, token) = (stack.base.clone(), stack.token.clone());
        tokio::spawn(async move {
            common::send(
                "POST",
                &format!("{base}/api/v1{url}/attachments"),
                Some(&token),
                Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
                form("c.jpg", &jpeg(3)),
                &[],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "C must wait while A holds the slot");
    tx.send(Ok(Frame::data(Bytes::copy_from_slice(rest))))
        .await
        .expect("send");
    drop(tx);
    let a = held.await.expect("task").expect("answer");
    assert_eq!(a.status(), 201);
    let _ = a.into_body().collect().await;
    let c = waiting.await.expect("task");
    assert_eq!(c.status, 201, "{}", String::from_utf8_lossy(&c.body));
    assert_eq!(stack.service.uploads_in_progress(), 0);
    stack.stop().await;
}
