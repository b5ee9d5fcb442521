//! The `Audit` gRPC service: the log, its checkpoints and proofs, and the
//! release history. Read-only.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::status::to_status;
use super::{authorize, blocking};
use crate::access::Action;
use crate::audit::note::Checkpoint;
use crate::auth::caller;
use crate::engine::{Engine, EngineError, ReleaseSummary};
use crate::field_path::FieldPath;
use crate::proto::{self, audit_server};
use crate::store::{LogFilter, StoredEntry};

/// Entries sent per read while streaming a long log.
const PAGE: u64 = 1000;
/// How often a follower looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

type EntryStream = Pin<Box<dyn Stream<Item = Result<proto::LogEntry, Status>> + Send>>;

/// Serves [`audit_server::Audit`] over the engine.
#[derive(Debug, Clone)]
pub struct AuditService {
    engine: Arc<Engine>,
}

impl AuditService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        AuditService { engine }
    }
}

#[tonic::async_trait]
impl audit_server::Audit for AuditService {
    type ListEntriesStream = EntryStream;
    type FollowEntriesStream = EntryStream;

    async fn list_entries(
        &self,
        request: Request<proto::ListEntriesRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadLog).await?;
        let filter = filter_from_proto(request.into_inner());
        Ok(Response::new(stream_entries(
            Arc::clone(&self.engine),
            filter,
            false,
        )))
    }

    async fn follow_entries(
        &self,
        request: Request<proto::FollowEntriesRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadLog).await?;
        let filter = LogFilter {
            from_index: request.into_inner().from_index,
            ..LogFilter::default()
        };
        Ok(Response::new(stream_entries(
            Arc::clone(&self.engine),
            filter,
            true,
        )))
    }

    async fn get_checkpoint(
        &self,
        request: Request<proto::GetCheckpointRequest>,
    ) -> Result<Response<proto::Checkpoint>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadLog).await?;
        let engine = Arc::clone(&self.engine);
        let note = blocking(move || engine.checkpoint()).await?;
        let verifier = self.engine.log_verifier();
        let Some(note) = note else {
            return Err(Status::not_found("the log has no checkpoint yet"));
        };
        let checkpoint = verifier
            .verify(&note)
            .ok()
            .and_then(|body| Checkpoint::parse(body).ok())
            .ok_or_else(|| {
                to_status(EngineError::Store(crate::store::StoreError::LogTampered(
                    "the stored checkpoint does not verify".into(),
                )))
            })?;
        Ok(Response::new(proto::Checkpoint {
            size: checkpoint.size,
            root: checkpoint.root.to_vec(),
            verifier_key: verifier.encode(),
            note,
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<proto::InclusionProofRequest>,
    ) -> Result<Response<proto::Proof>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadLog).await?;
        let r = request.into_inner();
        let engine = Arc::clone(&self.engine);
        let hashes = blocking(move || engine.inclusion_proof(r.index, r.tree_size)).await?;
        Ok(Response::new(proof(hashes)))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<proto::ConsistencyProofRequest>,
    ) -> Result<Response<proto::Proof>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadLog).await?;
        let r = request.into_inner();
        let engine = Arc::clone(&self.engine);
        let hashes = blocking(move || engine.consistency_proof(r.old_size, r.new_size)).await?;
        Ok(Response::new(proof(hashes)))
    }

    async fn list_releases(
        &self,
        request: Request<proto::ListReleasesRequest>,
    ) -> Result<Response<proto::ListReleasesResponse>, Status> {
        let dataset = non_empty(&request.get_ref().dataset);
        authorize(
            &self.engine,
            &caller(&request),
            Action::ListReleases { dataset },
        )
        .await?;
        let r = request.into_inner();
        let engine = Arc::clone(&self.engine);
        let releases =
            blocking(move || engine.releases(non_empty(&r.project), non_empty(&r.dataset))).await?;
        Ok(Response::new(proto::ListReleasesResponse {
            releases: releases.into_iter().map(summary_to_proto).collect(),
        }))
    }

    async fn get_release(
        &self,
        request: Request<proto::GetReleaseRequest>,
    ) -> Result<Response<proto::ReleaseRecord>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadRelease).await?;
        let id = i64::try_from(request.into_inner().id).unwrap_or(i64::MAX);
        let engine = Arc::clone(&self.engine);
        let release = blocking(move || engine.release(id)).await?;
        let Some(r) = release else {
            return Err(to_status(EngineError::ReleaseNotFound {
                field: FieldPath::new("id"),
            }));
        };
        Ok(Response::new(proto::ReleaseRecord {
            summary: Some(summary_to_proto(r.summary)),
            request_json: r.request,
            policy_json: r.policy,
            cells_json: r.cells,
        }))
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn filter_from_proto(r: proto::ListEntriesRequest) -> LogFilter {
    let text = |s: String| (!s.is_empty()).then_some(s);
    LogFilter {
        from_index: r.from_index,
        from_ms: (r.from_ms != 0).then_some(r.from_ms),
        to_ms: (r.to_ms != 0).then_some(r.to_ms),
        actor: text(r.actor),
        kind: text(r.kind),
        dataset: text(r.dataset),
        project: text(r.project),
        limit: r.limit,
    }
}

/// Streams the entries `filter` selects, a page at a time; a follower
/// then waits for new ones until the client goes away.
fn stream_entries(engine: Arc<Engine>, filter: LogFilter, follow: bool) -> EntryStream {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut next = filter.from_index;
        let mut left = filter.limit;
        loop {
            let page = LogFilter {
                from_index: next,
                limit: if left == 0 { PAGE } else { left.min(PAGE) },
                ..filter.clone()
            };
            let engine = Arc::clone(&engine);
            let entries = match blocking(move || engine.log_entries(&page)).await {
                Ok(entries) => entries,
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            let got = entries.len() as u64;
            for e in entries {
                next = e.index + 1;
                if tx.send(Ok(entry_to_proto(e))).await.is_err() {
                    return;
                }
            }
            if filter.limit > 0 {
                left -= got.min(left);
                if left == 0 {
                    return;
                }
            }
            if got < PAGE {
                if !follow {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    _ = tx.closed() => return,
                }
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

fn entry_to_proto(e: StoredEntry) -> proto::LogEntry {
    proto::LogEntry {
        index: e.index,
        at_ms: e.at_ms,
        actor: e.actor,
        kind: e.kind,
        datasets: e.datasets,
        project: e.project.unwrap_or_default(),
        entry: e.bytes,
    }
}

fn proof(hashes: Vec<crate::audit::merkle::Hash>) -> proto::Proof {
    proto::Proof {
        hashes: hashes.into_iter().map(|h| h.to_vec()).collect(),
    }
}

fn summary_to_proto(s: ReleaseSummary) -> proto::ReleaseSummary {
    proto::ReleaseSummary {
        id: u64::try_from(s.id).unwrap_or(0),
        at_ms: s.at_ms,
        actor: s.actor,
        project: s.project,
        kind: s.kind.to_owned(),
        datasets: s.datasets,
        cells: s.cells,
        withheld: s.withheld,
        log_index: s.log_index,
        request_json: s.request,
    }
}
