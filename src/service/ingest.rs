//! The `Ingest` gRPC service: dataset declarations and streamed uploads.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::blocking;
use super::convert::{dataset_def_from_proto, dataset_to_proto};
use super::status::to_status;
use crate::auth::caller;
use crate::engine::{Engine, UploadMode};
use crate::ingest::InvalidRows;
use crate::proto::{self, ingest_server, upload_request::Part};

/// Chunks buffered between the network and the parser.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Serves [`ingest_server::Ingest`] over the engine.
#[derive(Debug, Clone)]
pub struct IngestService {
    engine: Arc<Engine>,
}

impl IngestService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        IngestService { engine }
    }
}

#[tonic::async_trait]
impl ingest_server::Ingest for IngestService {
    async fn create_dataset(
        &self,
        request: Request<proto::CreateDatasetRequest>,
    ) -> Result<Response<proto::Dataset>, Status> {
        let caller = caller(&request);
        let def = dataset_def_from_proto(request.into_inner()).map_err(to_status)?;
        let engine = Arc::clone(&self.engine);
        let info = blocking(move || engine.create_dataset(&caller, def, SystemTime::now())).await?;
        Ok(Response::new(dataset_to_proto(&info)))
    }

    async fn list_datasets(
        &self,
        _request: Request<proto::ListDatasetsRequest>,
    ) -> Result<Response<proto::ListDatasetsResponse>, Status> {
        let datasets = self
            .engine
            .datasets()
            .iter()
            .map(dataset_to_proto)
            .collect();
        Ok(Response::new(proto::ListDatasetsResponse { datasets }))
    }

    async fn get_dataset(
        &self,
        request: Request<proto::GetDatasetRequest>,
    ) -> Result<Response<proto::Dataset>, Status> {
        let info = self
            .engine
            .dataset(&request.get_ref().name)
            .map_err(to_status)?;
        Ok(Response::new(dataset_to_proto(&info)))
    }

    async fn upload(
        &self,
        request: Request<Streaming<proto::UploadRequest>>,
    ) -> Result<Response<proto::UploadReceipt>, Status> {
        let caller = caller(&request);
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(proto::UploadRequest {
                part: Some(Part::Header(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be an UploadHeader",
                ))
            }
        };
        let mode = if header.replace {
            UploadMode::Replace
        } else {
            UploadMode::Create
        };
        let on_invalid = if header.skip_invalid {
            InvalidRows::Skip
        } else {
            InvalidRows::Reject
        };
        // Fail fast, before the file is sent, if the upload cannot commit.
        self.engine
            .upload_target(&header.dataset, mode)
            .map_err(to_status)?;

        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let forward = tokio::spawn(forward_chunks(stream, tx));
        let engine = Arc::clone(&self.engine);
        let dataset = header.dataset.clone();
        let parse = blocking(move || {
            let reader = ChunkReader::new(rx);
            engine.upload(
                &caller,
                &dataset,
                reader,
                mode,
                on_invalid,
                SystemTime::now(),
            )
        });
        let result = parse.await;
        // A protocol error on the stream explains a failed parse better.
        match forward.await {
            Ok(Err(status)) => return Err(status),
            Err(join) => {
                return Err(Status::internal(format!(
                    "upload stream task failed: {join}"
                )))
            }
            Ok(Ok(())) => {}
        }
        let outcome = result?;
        Ok(Response::new(proto::UploadReceipt {
            dataset: header.dataset,
            version: outcome.version,
            rows_read: outcome.rows_read,
            rows_stored: outcome.rows_stored,
            rows_rejected: outcome.rows_rejected,
            problems: outcome
                .problems
                .into_iter()
                .map(|p| proto::RowProblem {
                    row: p.row,
                    column: p.column.unwrap_or_default(),
                    reason: p.reason,
                })
                .collect(),
        }))
    }
}

type Chunk = Result<Vec<u8>, io::Error>;

/// Moves chunks from the gRPC stream to the parser. A broken stream or a
/// misplaced header reaches the parser as a read error, so nothing commits.
async fn forward_chunks(
    mut stream: Streaming<proto::UploadRequest>,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), Status> {
    loop {
        let (item, outcome) = match stream.message().await {
            Ok(Some(proto::UploadRequest {
                part: Some(Part::Chunk(c)),
            })) => (Ok(c), Ok(())),
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {
                let status = Status::invalid_argument("only the first message may be a header");
                (Err(io::Error::other("protocol error")), Err(status))
            }
            Err(status) => (Err(io::Error::other("stream broke off")), Err(status)),
        };
        let failed = item.is_err();
        if tx.send(item).await.is_err() {
            // The parser stopped early (it has failed); drain nothing more.
            return outcome;
        }
        if failed {
            return outcome;
        }
    }
}

/// A blocking [`Read`] over the chunks of an upload stream.
struct ChunkReader {
    rx: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        ChunkReader {
            rx,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk?;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
