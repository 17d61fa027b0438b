use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::common::{self, client_and_session, jpeg};

type Served = tokio::task::JoinHandle<std::io::Result<()>>;

/// The stack's service on a new port, stopped (with `deadline` to drain) when the sender fires.
async fn serve_until_stopped(
    stack: &common::Stack,
    deadline: Duration,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    Served,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ward_api::server::serve(
        listener,
        stack.service.clone(),
        async move {
            let _ = stopped.await;
        },
        deadline,
    ));
    (addr, stop, server)
}

/// A request still sending its body when the shutdown signal comes is finished and answered;
/// then the server stops, and takes no new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_the_request_in_flight_finish() {
    let stack = common::embedded().await;
    let (client, _) = client_and_session(&stack).await;
    let (addr, stop, server) = serve_until_stopped(&stack, Duration::from_secs(20)).await;

    let form = common::form("late.jpg", &jpeg(3));
    let (first, second) = form.split_at(form.len() / 2);
    let (first, second) = (
        Bytes::copy_from_slice(first),
        Bytes::copy_from_slice(second),
    );
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let chunks = futures::stream::unfold((0_u8, Some(wait)), move |(step, wait)| {
        let (first, second) = (first.clone(), second.clone());
        async move {
            match step {
                0 => Some((
                    Ok::<_, std::convert::Infallible>(Frame::data(first)),
                    (1, wait),
                )),
                1 => {
                    if let Some(w) = wait {
                        let _ = w.await;
                    }
                    Some((Ok(Frame::data(second)), (2, None)))
                }
                _ => None,
            }
        }
    });
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/api/v1/clients/{client}/attachments"))
        .header("authorization", format!("Bearer {}", stack.token))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={}", common::BOUNDARY),
        )
        .body(StreamBody::new(chunks).boxed())
        .expect("request");
    let http: Client<_, _> = Client::builder(TokioExecutor::new()).build_http();
    let in_flight = tokio::spawn(http.request(request));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).expect("signal");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    go.send(()).expect("release the body");
    let answer = in_flight.await.expect("task").expect("an answer");
    assert_eq!(answer.status(), 201);
    let started = Instant::now();
    server.await.expect("task").expect("serve");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped after the drain"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connection after the shutdown"
    );
    stack.stop().await;
}

/// A request that never finishes is cut off at the drain deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_stops_at_its_deadline() {
    let stack = common::embedded().await;
    let (addr, stop, server) = serve_until_stopped(&stack, Duration::from_millis(500)).await;
    // A body that never ends.
    let never = futures::stream::pending::<Result<Frame<Bytes>, std::convert::Infallible>>();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/api/v1/clients/{}/attachments",
            uuid::Uuid::new_v4()
        ))
        .header("authorization", format!("Bearer {}", stack.token))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={}", common::BOUNDARY),
        )
        .body(StreamBody::new(never).boxed())
        .expect("request");
    let http: Client<_, _> = Client::builder(TokioExecutor::new()).build_http();
    let _hanging = tokio::spawn(http.request(request));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    stop.send(()).expect("signal");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops at its deadline")
        .expect("task")
        .expect("serve");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "it waited for the deadline"
    );
    stack.stop().await;
}
