//! Client helpers shared by the CLI, the demo and the tests.

use std::io::Read;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::proto::{
    admin_client::AdminClient, audit_client::AuditClient,
    classifications_client::ClassificationsClient, ingest_client::IngestClient,
    projects_client::ProjectsClient, release_client::ReleaseClient, upload_request::Part,
    UploadEnd, UploadHeader, UploadReceipt, UploadRequest,
};
use crate::server::{MAX_RELEASE_MESSAGE, UPLOAD_CHUNK};
use crate::tls::{ClientTls, TlsError};

/// Connected stubs for every ddc service.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Data holders' service.
    pub ingest: IngestClient<Channel>,
    /// Administrators' code lists.
    pub classifications: ClassificationsClient<Channel>,
    /// Analysts' service.
    pub release: ReleaseClient<Channel>,
    /// Administrators' keys.
    pub admin: AdminClient<Channel>,
    /// Auditors' service.
    pub audit: AuditClient<Channel>,
    /// Projects: administrators' and holders' side.
    pub projects: ProjectsClient<Channel>,
}

/// Connects to a ddc server over plaintext, e.g. `http://127.0.0.1:50051`
/// (a development server on loopback).
pub async fn connect(url: &str) -> Result<Clients, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?.connect().await?;
    Ok(clients(channel))
}

/// Connects to `url` (`https://…`) presenting the client certificate of `tls`.
pub async fn connect_tls(url: &str, tls: &ClientTls) -> Result<Clients, ConnectError> {
    Ok(clients(channel(url, Some(tls)).await?))
}

/// A channel to `url`: TLS with `tls`'s client certificate, or plaintext.
pub async fn channel(url: &str, tls: Option<&ClientTls>) -> Result<Channel, ConnectError> {
    channel_with(url, tls, &Timeouts::default()).await
}

/// How long a client waits.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For the connection (TCP and TLS) to be made.
    pub connect: Duration,
    /// For each request's answer; `None` for calls that may rightly take
    /// long (uploads, following the log).
    pub request: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: None,
        }
    }
}

/// A channel to `url` that gives up after `timeouts`.
pub async fn channel_with(
    url: &str,
    tls: Option<&ClientTls>,
    timeouts: &Timeouts,
) -> Result<Channel, ConnectError> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())?.connect_timeout(timeouts.connect);
    if let Some(request) = timeouts.request {
        endpoint = endpoint.timeout(request);
    }
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.config()?)?;
    }
    let connecting = endpoint.connect();
    match tokio::time::timeout(timeouts.connect, connecting).await {
        Ok(channel) => Ok(channel?),
        Err(_) => Err(ConnectError::Timeout(timeouts.connect)),
    }
}

/// Why a TLS connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TLS files.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The connection.
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    /// No connection within the connect timeout.
    #[error("no connection within {0:?}")]
    Timeout(Duration),
}

fn clients(channel: Channel) -> Clients {
    Clients::new(channel)
}

impl Clients {
    /// Stubs for every service over `channel`.
    pub fn new(channel: Channel) -> Self {
        Clients {
            ingest: IngestClient::new(channel.clone()),
            classifications: ClassificationsClient::new(channel.clone()),
            admin: AdminClient::new(channel.clone()),
            audit: AuditClient::new(channel.clone()),
            projects: ProjectsClient::new(channel.clone()),
            release: ReleaseClient::new(channel).max_decoding_message_size(MAX_RELEASE_MESSAGE),
        }
    }
}

/// A fresh random upload id: 32 hex digits from the system's secure generator.
pub fn new_upload_id() -> String {
    let mut bytes = [0u8; 16];
    // The system generator failing is not recoverable; fall back to time
    // and process id, which are unique enough for an idempotency key.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (now ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How often [`upload_with_retry`] tries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled after each further one.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Whether a failed upload may have lost only its connection, so that
/// sending it again under the same upload id is the way to find out.
pub fn is_connection_loss(status: &tonic::Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown)
}

/// Uploads like [`upload`], and after a lost connection sends the file
/// again under the same upload id: the server answers a retry of an
/// upload it committed with the original receipt (`replayed`), so a retry
/// never stores a second version. `open` opens the source for each attempt;
/// `on_retry` hears of each retry with the failure that caused it.
pub async fn upload_with_retry<R, O>(
    client: &mut IngestClient<Channel>,
    header: UploadHeader,
    open: O,
    retry: Retry,
    progress: impl Fn(u64) + Clone + Send + 'static,
    on_retry: impl Fn(u32, &tonic::Status),
) -> Result<UploadReceipt, tonic::Status>
where
    R: Read + Send + 'static,
    O: Fn() -> std::io::Result<R>,
{
    let mut wait = retry.backoff;
    let mut attempt = 1;
    loop {
        let source = open().map_err(|e| {
            tonic::Status::failed_precondition(format!("cannot open the file: {e}"))
        })?;
        match upload(client, header.clone(), source, progress.clone()).await {
            Err(status) if attempt < retry.attempts && is_connection_loss(&status) => {
                attempt += 1;
                on_retry(attempt, &status);
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            result => return result,
        }
    }
}

/// Streams a CSV source to the server in [`UPLOAD_CHUNK`]-sized messages
/// and closes the stream with its byte count and SHA-256, without which
/// the server commits nothing. `progress` is called with the bytes sent so
/// far. The source is read on a blocking thread; if reading fails, the
/// call is cancelled, so the server stores nothing.
pub async fn upload<R>(
    client: &mut IngestClient<Channel>,
    header: UploadHeader,
    source: R,
    progress: impl Fn(u64) + Send + 'static,
) -> Result<UploadReceipt, tonic::Status>
where
    R: Read + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let first = UploadRequest {
        part: Some(Part::Header(header)),
    };
    tx.send(first)
        .await
        .map_err(|_| tonic::Status::cancelled("upload stream closed"))?;
    let mut reader = tokio::task::spawn_blocking(move || read_chunks(source, tx, progress));
    // Boxed, not pinned on the stack, so that dropping it cancels the call.
    let mut call = Box::pin(client.upload(ReceiverStream::new(rx)));
    let read = tokio::select! {
        response = &mut call => return response.map(tonic::Response::into_inner),
        read = &mut reader => read,
    };
    match read {
        Ok(Ok(())) => call.await.map(tonic::Response::into_inner),
        Ok(Err((e, open_stream))) => {
            // Cancel the call while the stream is still open: the server
            // never sees the closing message, so it stores nothing.
            drop(call);
            drop(open_stream);
            Err(tonic::Status::aborted(format!(
                "reading the file failed: {e}"
            )))
        }
        Err(join) => Err(tonic::Status::internal(format!(
            "reader task failed: {join}"
        ))),
    }
}

type ReadFailure = (std::io::Error, mpsc::Sender<UploadRequest>);

fn read_chunks<R: Read>(
    mut source: R,
    tx: mpsc::Sender<UploadRequest>,
    progress: impl Fn(u64),
) -> Result<(), ReadFailure> {
    let mut sent = 0u64;
    let mut digest = Sha256::new();
    loop {
        let mut chunk = vec![0u8; UPLOAD_CHUNK];
        let mut filled = 0;
        while filled < chunk.len() {
            match source.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err((e, tx)),
            }
        }
        let message = if filled == 0 {
            Part::End(UploadEnd {
                bytes: sent,
                sha256: std::mem::take(&mut digest).finalize().to_vec(),
            })
        } else {
            chunk.truncate(filled);
            digest.update(&chunk);
            sent += filled as u64;
            Part::Chunk(chunk)
        };
        let last = matches!(message, Part::End(_));
        if tx
            .blocking_send(UploadRequest {
                part: Some(message),
            })
            .is_err()
            || last
        {
            // Done, or the server answered early (an error): the call reports it.
            return Ok(());
        }
        progress(sent);
    }
}
