//! The server's edge: identifies the caller of every request once, from
//! its client certificate (see [`crate::auth`]), and writes the server's
//! own log of requests. A request whose certificate identifies nobody is
//! answered `UNAUTHENTICATED` here, before any service sees it; the
//! [`Caller`] of every other request is in its extensions.
//!
//! The log: one line per call, written when the
//! response ends, with the method, the caller, the gRPC outcome and the
//! duration (`duration_us`). Lines are at `info`; those of server faults
//! (`INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `UNAVAILABLE`) at `warn`.
//!
//! The outcome is the `grpc-status` of the response's headers (a refusal
//! sent before any message) or of its trailers (the end of every other
//! response, streams included). A response dropped before its end (the
//! client went away) is logged as `CANCELLED`. No request or response
//! content is ever logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::{identify, AuthError, Caller, DenyList};

/// How the edge identifies callers.
#[derive(Clone, Debug)]
pub enum Identification {
    /// By client certificate, refusing the revoked ones.
    Certificates(DenyList),
    /// Everyone is the development identity (plaintext on loopback).
    Development,
}

/// Wraps every service of the server in [`Gate`].
#[derive(Clone, Debug)]
pub struct Edge(Arc<Identification>);

impl Edge {
    /// An edge that identifies callers `how`.
    pub fn new(how: Identification) -> Self {
        Edge(Arc::new(how))
    }
}

impl<S> Layer<S> for Edge {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            how: Arc::clone(&self.0),
        }
    }
}

/// A service whose callers are identified and whose calls are logged.
#[derive(Clone, Debug)]
pub struct Gate<S> {
    inner: S,
    how: Arc<Identification>,
}

impl<S, B> Service<http::Request<B>> for Gate<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<LoggedBody<tonic::body::Body>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let identified = identify_request(&self.how, &request);
        let mut call = Call {
            method: request.uri().path().to_owned(),
            caller: identified
                .as_ref()
                .map_or("unidentified", |c| c.subject())
                .to_owned(),
            started: Instant::now(),
            status: None,
        };
        let caller = match identified {
            Ok(caller) => caller,
            Err(why) => {
                let refusal = tonic::Status::unauthenticated(why.to_string()).into_http();
                call.status = grpc_status(refusal.headers());
                let response = refusal.map(|body| LoggedBody {
                    inner: Box::pin(body),
                    call: Some(call),
                });
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        request.extensions_mut().insert(caller);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let mut call = call;
            call.status = grpc_status(response.headers());
            Ok(response.map(|body| LoggedBody {
                inner: Box::pin(body),
                call: Some(call),
            }))
        })
    }
}

/// A call being answered.
#[derive(Debug)]
struct Call {
    method: String,
    caller: String,
    started: Instant,
    status: Option<i32>,
}

impl Call {
    fn log(self, ended: bool) {
        let code = match (self.status, ended) {
            (Some(code), _) => code,
            (None, true) => 0,
            (None, false) => tonic::Code::Cancelled as i32,
        };
        let (method, caller) = (self.method.as_str(), self.caller.as_str());
        let duration_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let outcome = code_name(code);
        use tonic::Code;
        let fault = [
            Code::Internal,
            Code::Unknown,
            Code::DataLoss,
            Code::Unavailable,
        ]
        .iter()
        .any(|c| *c as i32 == code);
        match (code, fault) {
            (0, _) => tracing::info!(method, caller, outcome, duration_us, "request"),
            (_, false) => tracing::info!(method, caller, outcome, duration_us, "request refused"),
            (_, true) => tracing::warn!(method, caller, outcome, duration_us, "request failed"),
        }
    }
}

/// A response body that logs its call when it ends or is dropped.
pub struct LoggedBody<B> {
    inner: Pin<Box<B>>,
    call: Option<Call>,
}

impl<B> std::fmt::Debug for LoggedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(call)) = (frame.trailers_ref(), self.call.as_mut()) {
                    call.status = grpc_status(trailers).or(call.status);
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = self.call.take() {
                    call.log(true);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for LoggedBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            // Trailers seen means the response was complete.
            let ended = call.status.is_some();
            call.log(ended);
        }
    }
}

/// The caller of `request`: the development identity, or who its leaf
/// client certificate names.
fn identify_request<B>(
    how: &Identification,
    request: &http::Request<B>,
) -> Result<Caller, AuthError> {
    let deny = match how {
        Identification::Development => return Ok(Caller::development()),
        Identification::Certificates(deny) => deny,
    };
    let certs = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .ok_or(AuthError::NoCertificate)?;
    let leaf = certs.first().ok_or(AuthError::NoCertificate)?;
    identify(leaf, deny)
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// The canonical name of a gRPC status code (`INVALID_ARGUMENT`).
pub(crate) fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_canonical_names() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(
            code_name(tonic::Code::InvalidArgument as i32),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            code_name(tonic::Code::Unauthenticated as i32),
            "UNAUTHENTICATED"
        );
        assert_eq!(code_name(tonic::Code::DataLoss as i32), "DATA_LOSS");
        assert_eq!(code_name(99), "UNKNOWN");
        assert_eq!(code_name(-1), "UNKNOWN");
    }
}
