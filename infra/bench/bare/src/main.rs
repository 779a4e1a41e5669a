//! A bare hyper 1 HTTP/1 server that answers every request with `200` and a
//! fixed ~60-byte JSON body: the ceiling `warden serve` is compared with.
//!
//! Usage: `warden-bench-bare [ADDR]` (default `127.0.0.1:8099`).
//! The runtime is tokio's multi-thread one, like `warden serve`'s
//! `#[tokio::main]`, so `TOKIO_WORKER_THREADS=1` limits both the same way.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"sessions":[{"id":"01J0000000000000000000000","ok":true}]}"#;

async fn answer(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .expect("static response is valid"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_string())
        .parse()
        .expect("ADDR must be host:port");
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(_) => continue,
        };
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
