//! Client helpers shared by the CLI, the demo and the tests.

use std::io::Read;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::proto::{
    ingest_client::IngestClient, release_client::ReleaseClient, upload_request::Part, UploadHeader,
    UploadReceipt, UploadRequest,
};
use crate::server::{MAX_RELEASE_MESSAGE, UPLOAD_CHUNK};

/// Connected stubs for every ddc service.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Data holders' service.
    pub ingest: IngestClient<Channel>,
    /// Analysts' service.
    pub release: ReleaseClient<Channel>,
}

/// Connects to a ddc server, e.g. `http://127.0.0.1:50051`.
pub async fn connect(url: &str) -> Result<Clients, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?.connect().await?;
    Ok(Clients {
        ingest: IngestClient::new(channel.clone()),
        release: ReleaseClient::new(channel).max_decoding_message_size(MAX_RELEASE_MESSAGE),
    })
}

/// Streams a CSV source to the server in [`UPLOAD_CHUNK`]-sized messages.
/// `progress` is called with the bytes sent so far. The source is read on a
/// blocking thread; if reading fails, the call is cancelled, so the server
/// stores nothing.
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
            // Cancel the call while the stream is still open, so that the
            // server sees a broken stream rather than a clean end.
            drop(call);
            drop(open_stream);
            Err(tonic::Status::cancelled(format!(
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
        if filled == 0 {
            return Ok(());
        }
        chunk.truncate(filled);
        sent += filled as u64;
        let message = UploadRequest {
            part: Some(Part::Chunk(chunk)),
        };
        if tx.blocking_send(message).is_err() {
            // The server answered early (an error); the call reports it.
            return Ok(());
        }
        progress(sent);
    }
}
