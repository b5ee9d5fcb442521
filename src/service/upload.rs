//! The `Upload` stream: header, chunks, closing message, each awaited
//! without holding a thread, and parsed on a blocking thread only while
//! there is work to do.
//!
//! tonic ends a cancelled request stream like a finished one, so the end
//! of the stream proves nothing: only the closing `UploadEnd`, matching the
//! bytes that arrived, lets an upload commit. An upload that waits for the
//! network holds a permit (of [`UploadLimits`]) and some buffers, never one
//! of the runtime's blocking threads: hundreds of idle streams cannot
//! starve tables and health checks. Chunk `k + 1` is received while chunk
//! `k` is parsed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tonic::{Status, Streaming};

use super::status::{internal, to_status};
use super::{authorize, blocking};
use crate::access::Action;
use crate::admission::{Admission, Full};
use crate::auth::Caller;
use crate::engine::{
    BrokenUpload, Engine, EngineError, UploadEnd, UploadId, UploadMode, UploadOutcome,
    UploadRequest, UploadSession, UploadStart,
};
use crate::ingest::InvalidRows;
use crate::proto::{self, upload_request::Part};

/// How many uploads may be open at once, and how long one may stay silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Open uploads over all organisations.
    pub total: usize,
    /// Open uploads into one organisation's datasets.
    pub per_organisation: usize,
    /// An upload that sends nothing for this long is cancelled.
    pub idle: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            total: 16,
            per_organisation: 4,
            idle: Duration::from_secs(60),
        }
    }
}

/// Receives uploads within limits.
#[derive(Debug, Clone)]
pub(super) struct Uploads {
    engine: Arc<Engine>,
    admission: Arc<Admission>,
    idle: Duration,
}

impl Uploads {
    pub(super) fn new(engine: Arc<Engine>, limits: UploadLimits) -> Self {
        Uploads {
            engine,
            admission: Admission::new(limits.total, limits.per_organisation),
            idle: limits.idle,
        }
    }

    /// Receives one upload stream and commits it, or stores nothing.
    pub(super) async fn receive(
        &self,
        caller: Caller,
        mut stream: Streaming<proto::UploadRequest>,
    ) -> Result<UploadOutcome, Status> {
        let header = match self.next(&mut stream).await {
            Ok(Part::Header(h)) => h,
            Ok(_) => {
                return Err(to_status(EngineError::UploadBroken(
                    BrokenUpload::Protocol("the first message must be an UploadHeader"),
                )))
            }
            Err(Ok(why)) => return Err(to_status(EngineError::UploadBroken(why))),
            Err(Err(status)) => return Err(status),
        };
        let dataset = header.dataset.as_str();
        authorize(&self.engine, &caller, Action::Upload { dataset }).await?;
        let request = upload_request(header).map_err(to_status)?;
        let engine = Arc::clone(&self.engine);
        let who = caller.clone();
        let start = blocking(move || engine.begin_upload(who, request, SystemTime::now())).await?;
        let session = match start {
            UploadStart::Replayed(receipt) => return Ok(receipt),
            UploadStart::Open(session) => session,
        };
        let _permit = match self.admission.try_admit(session.organisation()) {
            Ok(permit) => permit,
            Err(full) => {
                let scope = match full {
                    Full::Total => "in total",
                    Full::PerKey => "for this organisation",
                };
                return Err(refuse(session, EngineError::UploadLimit(scope)).await);
            }
        };
        self.stream_into(session, stream).await
    }

    async fn stream_into(
        &self,
        session: Box<UploadSession>,
        mut stream: Streaming<proto::UploadRequest>,
    ) -> Result<UploadOutcome, Status> {
        let mut slot = Slot::Ready(session);
        let end = loop {
            let next = self.next(&mut stream).await;
            let mut session = slot.settle().await?;
            match next {
                Ok(Part::Chunk(chunk)) => {
                    slot = Slot::Busy(tokio::task::spawn_blocking(move || {
                        session.feed(&chunk);
                        session
                    }));
                }
                Ok(Part::End(end)) => break (session, end),
                Ok(Part::Header(_)) => {
                    let why = BrokenUpload::Protocol("only the first message may be a header");
                    return Err(abandon(session, why).await);
                }
                Err(failure) => return Err(broken_off(session, failure).await),
            }
        };
        let (session, end) = end;
        let end = match closing(end) {
            Ok(end) => end,
            Err(why) => return Err(abandon(session, why).await),
        };
        // The stream must end right after the closing message.
        match self.next(&mut stream).await {
            Err(Ok(BrokenUpload::NoEnd)) => {}
            Ok(_) => {
                let why = BrokenUpload::Protocol("a message followed UploadEnd");
                return Err(abandon(session, why).await);
            }
            Err(failure) => return Err(broken_off(session, failure).await),
        }
        blocking(move || session.finish(end, SystemTime::now())).await
    }

    /// The next message's part; `Err(Ok(NoEnd))` at the end of the stream,
    /// `Err(Ok(Idle))` after the idle time, `Err(Err(status))` when the
    /// stream fails.
    async fn next(
        &self,
        stream: &mut Streaming<proto::UploadRequest>,
    ) -> Result<Part, Result<BrokenUpload, Status>> {
        match tokio::time::timeout(self.idle, stream.message()).await {
            Err(_) => Err(Ok(BrokenUpload::Idle(self.idle.as_secs()))),
            Ok(Err(status)) => Err(Err(status)),
            Ok(Ok(None)) => Err(Ok(BrokenUpload::NoEnd)),
            Ok(Ok(Some(proto::UploadRequest { part: None }))) => Err(Ok(BrokenUpload::Protocol(
                "an UploadRequest must carry a header, a chunk or an end",
            ))),
            Ok(Ok(Some(proto::UploadRequest { part: Some(part) }))) => Ok(part),
        }
    }
}

/// The session, or the blocking task that is feeding it a chunk.
enum Slot {
    Ready(Box<UploadSession>),
    Busy(JoinHandle<Box<UploadSession>>),
}

impl Slot {
    async fn settle(self) -> Result<Box<UploadSession>, Status> {
        match self {
            Slot::Ready(session) => Ok(session),
            Slot::Busy(task) => task
                .await
                .map_err(|e| internal(&format!("upload worker failed: {e}"))),
        }
    }
}

/// Audits an upload whose stream failed or ended early (see
/// [`Uploads::next`]); returns the status to answer with: the stream's own
/// when it failed.
async fn broken_off(session: Box<UploadSession>, failure: Result<BrokenUpload, Status>) -> Status {
    match failure {
        Ok(why) => abandon(session, why).await,
        Err(status) => {
            abandon(session, BrokenUpload::Stream).await;
            status
        }
    }
}

/// Audits a broken upload; returns the status to answer with.
async fn abandon(session: Box<UploadSession>, why: BrokenUpload) -> Status {
    refuse(session, EngineError::UploadBroken(why)).await
}

/// Audits an upload that may not go on; returns the status to answer with.
async fn refuse(session: Box<UploadSession>, error: EngineError) -> Status {
    let result = blocking(move || Err::<(), _>(session.refuse(error, SystemTime::now()))).await;
    result
        .err()
        .unwrap_or_else(|| internal(&"a refused upload reported success"))
}

fn closing(end: proto::UploadEnd) -> Result<UploadEnd, BrokenUpload> {
    let sha256 = end
        .sha256
        .try_into()
        .map_err(|_| BrokenUpload::Protocol("UploadEnd.sha256 must be 32 bytes"))?;
    Ok(UploadEnd {
        bytes: end.bytes,
        sha256,
    })
}

fn upload_request(header: proto::UploadHeader) -> Result<UploadRequest, EngineError> {
    let delimiter = match header.delimiter.as_str() {
        "" | "," => b',',
        ";" => b';',
        "\t" => b'\t',
        "|" => b'|',
        _ => {
            return Err(EngineError::InvalidRequest {
                field: crate::field_path::FieldPath::new("header").field("delimiter"),
                reason: "a delimiter is `,`, `;`, a tab or `|`".into(),
            })
        }
    };
    Ok(UploadRequest {
        delimiter,
        check_only: header.check_only,
        upload_id: UploadId::parse(&header.upload_id)?,
        mode: if header.replace {
            UploadMode::Replace
        } else {
            UploadMode::Create
        },
        on_invalid: if header.skip_invalid {
            InvalidRows::Skip
        } else {
            InvalidRows::Reject
        },
        dataset: header.dataset,
    })
}
