//! Traffic checks against in-process servers on 127.0.0.1 (issue 5): curl, expect_http,
//! sample, TLS, resolve, redirects, simulated targets, and curl's own command line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use meshbook::http::{
    curl, curl_argv, expect_http, expect_http_with, parse_curl_output, render_outcome, sample,
    Attempt, CheckOutcome, Expectations, KeyFn, Matcher, NoSimulatedTargets, RequestOptions,
    Resolve, Response,
};

mod expectations;
mod in_pods;
mod requests;
mod sampling;

/// A deadline for anything a test awaits: a hung request fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(20);

async fn within_deadline<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("the test's deadline passed")
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// `/` says hello, `/missing` is a 404, `/host` echoes the Host header, `/slow` takes 300 ms,
/// `/hang` never answers, `/old` redirects to `/new`, `/json` is a JSON document.
fn bookinfo() -> Router {
    Router::new()
        .route("/", get(|| async { ([("server", "istio-envoy"), ("x-envoy-upstream-service-time", "3")], "hello from productpage\n") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "not here") }))
        .route("/host", get(|headers: HeaderMap| async move { headers["host"].to_str().unwrap().to_string() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/hang", get(std::future::pending::<String>))
        .route("/old", get(|| async { Redirect::to("/new") }))
        .route("/new", get(|| async { "arrived" }))
        .route(
            "/json",
            get(|| async {
                axum::Json(serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
            }),
        )
}

fn quick(within_ms: u64) -> Expectations {
    Expectations {
        within: Duration::from_millis(within_ms),
        ..Expectations::default()
    }
}

fn contains(text: &str) -> Matcher {
    Matcher::parse("contains", text).unwrap()
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TLS server with a fresh self-signed certificate for `localhost`, answering every request
/// with `body`. Returns its port.
async fn serve_tls(body: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listener, port, acceptor, _) = crate::support::tls_localhost().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}
