//! The `Ingest` gRPC service: dataset declarations and streamed uploads.

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status, Streaming};

use super::convert::{dataset_def_from_proto, dataset_to_proto};
use super::status::to_status;
use super::upload::{UploadLimits, Uploads};
use super::{authorize, blocking, receipt_to_log};
use crate::access::Action;
use crate::auth::caller;
use crate::engine::{Engine, UploadOutcome};
use crate::proto::{self, ingest_server};

/// Serves [`ingest_server::Ingest`] over the engine.
#[derive(Debug, Clone)]
pub struct IngestService {
    engine: Arc<Engine>,
    uploads: Uploads,
}

impl IngestService {
    /// A service over `engine`, receiving uploads within `limits`.
    pub fn new(engine: Arc<Engine>, limits: UploadLimits) -> Self {
        IngestService {
            uploads: Uploads::new(Arc::clone(&engine), limits),
            engine,
        }
    }
}

#[tonic::async_trait]
impl ingest_server::Ingest for IngestService {
    async fn create_dataset(
        &self,
        request: Request<proto::CreateDatasetRequest>,
    ) -> Result<Response<proto::Dataset>, Status> {
        let caller = caller(&request);
        let organisation = request.get_ref().organisation.as_str();
        authorize(
            &self.engine,
            &caller,
            Action::DeclareDataset { organisation },
        )
        .await?;
        let def = dataset_def_from_proto(request.into_inner()).map_err(to_status)?;
        let engine = Arc::clone(&self.engine);
        let info = blocking(move || engine.create_dataset(&caller, def, SystemTime::now())).await?;
        Ok(Response::new(dataset_to_proto(&info)))
    }

    async fn list_datasets(
        &self,
        request: Request<proto::ListDatasetsRequest>,
    ) -> Result<Response<proto::ListDatasetsResponse>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::ListDatasets).await?;
        let datasets = self
            .engine
            .datasets()
            .iter()
            .filter(|d| {
                crate::access::lists(&caller, d.def.name(), d.def.organisation(), &*self.engine)
            })
            .map(dataset_to_proto)
            .collect();
        Ok(Response::new(proto::ListDatasetsResponse { datasets }))
    }

    async fn get_dataset(
        &self,
        request: Request<proto::GetDatasetRequest>,
    ) -> Result<Response<proto::Dataset>, Status> {
        let dataset = request.get_ref().name.as_str();
        authorize(
            &self.engine,
            &caller(&request),
            Action::ReadDataset { dataset },
        )
        .await?;
        let info = self.engine.dataset(dataset).map_err(to_status)?;
        Ok(Response::new(dataset_to_proto(&info)))
    }

    async fn delete_dataset(
        &self,
        request: Request<proto::DeleteDatasetRequest>,
    ) -> Result<Response<proto::DeleteDatasetResponse>, Status> {
        let caller = caller(&request);
        let name = request.into_inner().name;
        authorize(
            &self.engine,
            &caller,
            Action::DeleteDataset { dataset: &name },
        )
        .await?;
        let engine = Arc::clone(&self.engine);
        let dataset = name.clone();
        let (rows, projects, receipt) =
            blocking(move || engine.delete_dataset(&caller, &dataset, SystemTime::now())).await?;
        Ok(Response::new(proto::DeleteDatasetResponse {
            dataset: name,
            rows,
            projects,
            log: Some(receipt_to_log(receipt)),
        }))
    }

    async fn upload(
        &self,
        request: Request<Streaming<proto::UploadRequest>>,
    ) -> Result<Response<proto::UploadReceipt>, Status> {
        let caller = caller(&request);
        let outcome = self.uploads.receive(caller, request.into_inner()).await?;
        Ok(Response::new(receipt_to_proto(outcome)))
    }
}

fn receipt_to_proto(outcome: UploadOutcome) -> proto::UploadReceipt {
    proto::UploadReceipt {
        dataset: outcome.dataset,
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
        upload_id: outcome.upload_id,
        replayed: outcome.replayed,
        checked: outcome.checked,
        log: outcome.log.map(receipt_to_log),
    }
}
