//! The HTTP client under every AWS SDK client: HTTP/1.1 on hyper, TLS by
//! rustls on ring with the system's root certificates.
//!
//! # Why not the SDK's own client (`aws-smithy-http-client`)
//!
//! It always builds hyper with HTTP/2 and links the `h2` crate, its own
//! connection pool and proxy support: about half a megabyte of every
//! bootstrap that DynamoDB, SQS and Secrets Manager never use, since they
//! answer HTTP/1.1, and a Lambda function reaches them without a proxy.
//!
//! # What it keeps of the SDK client's contract
//!
//! - The connect timeout (TCP and the TLS handshake) and the read timeout
//!   (until the response's headers) of [`HttpConnectorSettings`]; the
//!   attempt and operation timeouts are the SDK's own, above this client.
//! - Errors classified as the SDK's retry strategy expects them:
//!   [`ConnectorError::timeout`], [`ConnectorError::io`] (a refused or
//!   dropped connection: retried), [`ConnectorError::user`], and
//!   [`ConnectorError::other`] for the rest, a refused certificate among
//!   them, which no retry can cure.
//! - Connection poisoning: a connection the SDK poisons after a transient
//!   error (a throttle, a 5xx) is not reused.
//! - `TCP_NODELAY`, and idle connections kept for hyper's 90 s.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{CaptureConnection, HttpConnector as TcpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

/// The connector TLS wraps: hyper-util's TCP connector.
type Https = HttpsConnector<TcpConnector>;

/// The HTTP/1.1 client the SDK asks for a connector per timeout setting.
#[derive(Debug)]
pub(super) struct Http1Client {
    tls: rustls::ClientConfig,
    /// One connector (and so one connection pool) per timeout setting; every
    /// Warden client uses the same [`super::Guards`], so in practice one.
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

/// The two timeouts a connector enforces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl Http1Client {
    /// A client trusting the system's root certificates (`SSL_CERT_FILE`
    /// and `SSL_CERT_DIR` override where they are read from).
    pub(super) fn new() -> Self {
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::warn!(errors = ?native.errors, "some root certificates could not be read");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (_, unparsable) = roots.add_parsable_certificates(native.certs);
        if roots.is_empty() {
            tracing::warn!(
                unparsable,
                "no root certificates: every TLS connection will fail"
            );
        }
        Self::trusting(roots)
    }

    /// A client trusting `roots` only.
    fn trusting(roots: rustls::RootCertStore) -> Self {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        // ring supports every safe default version: this cannot fail.
        .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"))
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            tls,
            connectors: Mutex::new(Vec::new()),
        }
    }

    /// A connector with its own connection pool, enforcing `timeouts`.
    fn connector(&self, timeouts: Timeouts) -> Http1Connector {
        let mut tcp = TcpConnector::new();
        // The TLS layer above decides between http and https.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            // `http` for a local emulator; AWS endpoints are `https`.
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // Without a timer hyper never closes an idle connection.
            .pool_timer(TokioTimer::new())
            .build(ConnectTimeout {
                inner: https,
                limit: timeouts.connect,
            });
        Http1Connector {
            client,
            read_timeout: timeouts.read,
        }
    }
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.shared_connector(Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        })
    }
}

impl Http1Client {
    /// The connector for `timeouts`, made on first use.
    fn shared_connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(self.connector(timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

/// Sends requests over a pool of HTTP/1.1 connections.
#[derive(Debug)]
struct Http1Connector {
    client: Client<ConnectTimeout, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        // The SDK asks for the connection when it wants to poison it.
        let captured = hyper_util::client::legacy::connect::capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || connection_metadata(&captured));
        }
        let sending = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answered = match read_timeout {
                None => sending.await,
                Some(limit) => tokio::time::timeout(limit, sending)
                    .await
                    .map_err(|_| ConnectorError::timeout(Box::new(TimedOut::Read(limit))))?,
            };
            match answered {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(classify(error.into())),
            }
        })
    }
}

/// Sends one request outside the SDK (the hand-made SSM read,
/// [`super::ssm`]) with the same TLS and the given connect and read
/// timeouts: the answer's status and whole body.
pub(super) async fn send(
    request: http::Request<SdkBody>,
    connect: Option<Duration>,
    read: Option<Duration>,
) -> Result<(http::StatusCode, Vec<u8>), BoxError> {
    use http_body_util::BodyExt as _;
    let connector = Http1Client::new().connector(Timeouts { connect, read });
    let response = connector.call(HttpRequest::try_from(request)?).await?;
    let status = http::StatusCode::from_u16(response.status().as_u16())?;
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, body))
}

/// The connection a request went out on, as the SDK sees it: something it
/// can poison so the pool drops it.
fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let proxied = captured.connection_metadata().as_ref()?.is_proxied();
    let captured = captured.clone();
    Some(
        ConnectionMetadata::builder()
            .proxied(proxied)
            .poison_fn(move || {
                if let Some(connected) = captured.connection_metadata().as_ref() {
                    connected.poison();
                }
            })
            .build(),
    )
}

/// The SDK's view of a failed request, for its retry strategy.
fn classify(error: BoxError) -> ConnectorError {
    if find::<TimedOut>(&*error).is_some() {
        return ConnectorError::timeout(error);
    }
    // A certificate refused or a handshake gone wrong: retrying cannot help.
    if find::<rustls::Error>(&*error).is_some() {
        return ConnectorError::other(error, None);
    }
    if let Some(hyper_error) = find::<hyper::Error>(&*error) {
        if hyper_error.is_timeout() {
            return ConnectorError::timeout(error);
        }
        if hyper_error.is_user() {
            return ConnectorError::user(error);
        }
        if hyper_error.is_closed()
            || hyper_error.is_canceled()
            || find::<std::io::Error>(hyper_error).is_some()
        {
            return ConnectorError::io(error);
        }
        if hyper_error.is_incomplete_message() {
            return ConnectorError::other(error, Some(ErrorKind::TransientError));
        }
        return ConnectorError::other(error, None);
    }
    let connecting = find::<hyper_util::client::legacy::Error>(&*error)
        .is_some_and(hyper_util::client::legacy::Error::is_connect);
    if connecting || find::<std::io::Error>(&*error).is_some() {
        return ConnectorError::io(error);
    }
    ConnectorError::other(error, None)
}

/// The first error of type `E` in `error`'s chain. After an `io::Error` the
/// chain goes on with its payload (`io::Error::source` would skip it).
fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    std::iter::successors(Some(error), |&error| {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => error.source(),
        }
    })
    .find_map(|error| error.downcast_ref::<E>())
}

/// A connect or read timeout that ran out.
#[derive(Debug, thiserror::Error)]
enum TimedOut {
    /// No connection (TCP and TLS) within the connect timeout.
    #[error("no connection within the connect timeout of {0:?}")]
    Connect(Duration),
    /// No response headers within the read timeout.
    #[error("no response within the read timeout of {0:?}")]
    Read(Duration),
}

/// The TLS connector with a limit on the whole of connecting, handshake
/// included.
#[derive(Debug, Clone)]
struct ConnectTimeout {
    inner: Https,
    limit: Option<Duration>,
}

/// A connection being made.
type Connecting =
    Pin<Box<dyn Future<Output = Result<MaybeHttpsStream<TokioIo<TcpStream>>, BoxError>> + Send>>;

impl tower_service::Service<Uri> for ConnectTimeout {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connecting.await,
                Some(limit) => tokio::time::timeout(limit, connecting)
                    .await
                    .map_err(|_| Box::new(TimedOut::Connect(limit)) as BoxError)?,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn client() -> Http1Client {
        Http1Client::trusting(rustls::RootCertStore::empty())
    }

    fn get(url: &str) -> HttpRequest {
        let request = http::Request::builder()
            .uri(url)
            .body(SdkBody::empty())
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    /// A server that accepts connections and counts them; `answer` says
    /// whether it answers each request (`200 ok`) or stays silent.
    async fn server(answer: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0_u8; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if answer => {
                                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if stream.write_all(ok).await.is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        (format!("127.0.0.1:{}", addr.port()), accepted)
    }

    #[tokio::test]
    async fn answers_and_reuses_the_connection_until_the_sdk_poisons_it() {
        let (addr, accepted) = server(true).await;
        let connector = client().connector(Timeouts::default());
        let url = format!("http://{addr}/");

        for _ in 0..2 {
            let response = connector.call(get(&url)).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let body = http_body_util::BodyExt::collect(response.into_body()).await;
            assert_eq!(body.unwrap().to_bytes(), &b"ok"[..]);
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the second request reused the connection"
        );

        let mut request = get(&url);
        let capture = CaptureSmithyConnection::new();
        request.add_extension(capture.clone());
        connector.call(request).await.unwrap();
        capture.get().expect("the connection is captured").poison();
        connector.call(get(&url)).await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a poisoned connection is not reused"
        );
    }

    #[tokio::test]
    async fn a_handshake_that_never_completes_is_a_connect_timeout() {
        let (addr, _) = server(false).await;
        let connector = client().connector(Timeouts {
            connect: Some(Duration::from_millis(200)),
            read: None,
        });
        let calling = connector.call(get(&format!("https://{addr}/")));
        let error = tokio::time::timeout(Duration::from_secs(2), calling)
            .await
            .expect("the connect timeout ended the call")
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_read_timeout() {
        let (addr, _) = server(false).await;
        let connector = client().connector(Timeouts {
            connect: Some(Duration::from_secs(1)),
            read: Some(Duration::from_millis(200)),
        });
        let calling = connector.call(get(&format!("http://{addr}/")));
        let error = tokio::time::timeout(Duration::from_secs(2), calling)
            .await
            .expect("the read timeout ended the call")
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_io_so_the_sdk_retries_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let connector = client().connector(Timeouts::default());
        let error = connector
            .call(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[test]
    fn a_refused_certificate_is_not_retried_and_timeouts_are_found_through_io_errors() {
        let tls: BoxError = Box::new(std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        let refused = classify(tls);
        assert!(
            !refused.is_io()
                && !refused.is_timeout()
                && refused.is_other()
                && refused.as_other().is_none()
        );

        let wrapped: BoxError = Box::new(std::io::Error::other(TimedOut::Connect(
            Duration::from_secs(1),
        )));
        assert!(classify(wrapped).is_timeout());
    }

    #[tokio::test]
    async fn one_connector_per_timeout_setting() {
        let client = client();
        let one = Timeouts {
            connect: Some(Duration::from_secs(1)),
            read: None,
        };
        let other = Timeouts {
            connect: Some(Duration::from_secs(2)),
            ..one
        };
        client.shared_connector(one);
        client.shared_connector(one);
        client.shared_connector(other);
        assert_eq!(client.connectors.lock().unwrap().len(), 2);
    }
}
