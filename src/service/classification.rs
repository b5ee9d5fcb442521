//! The `Classifications` gRPC service: publishing and reading code lists.

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use super::convert::{code_list_draft_from_proto, code_list_to_proto};
use super::status::to_status;
use super::{authorize, blocking};
use crate::access::Action;
use crate::auth::caller;
use crate::engine::Engine;
use crate::proto::{self, classifications_server};

/// Serves [`classifications_server::Classifications`] over the engine.
#[derive(Debug, Clone)]
pub struct ClassificationService {
    engine: Arc<Engine>,
}

impl ClassificationService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        ClassificationService { engine }
    }
}

#[tonic::async_trait]
impl classifications_server::Classifications for ClassificationService {
    async fn create_code_list(
        &self,
        request: Request<proto::CreateCodeListRequest>,
    ) -> Result<Response<proto::CodeList>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::PublishCodeList).await?;
        let draft = code_list_draft_from_proto(request.into_inner());
        let engine = Arc::clone(&self.engine);
        let list =
            blocking(move || engine.create_code_list(&caller, draft, SystemTime::now())).await?;
        Ok(Response::new(code_list_to_proto(&list)))
    }

    async fn list_code_lists(
        &self,
        request: Request<proto::ListCodeListsRequest>,
    ) -> Result<Response<proto::ListCodeListsResponse>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadCodeLists).await?;
        let code_lists = self
            .engine
            .code_lists()
            .iter()
            .map(|l| code_list_to_proto(l))
            .collect();
        Ok(Response::new(proto::ListCodeListsResponse { code_lists }))
    }

    async fn get_code_list(
        &self,
        request: Request<proto::GetCodeListRequest>,
    ) -> Result<Response<proto::CodeList>, Status> {
        authorize(&self.engine, &caller(&request), Action::ReadCodeLists).await?;
        let r = request.get_ref();
        let version = Some(r.version).filter(|&v| v != 0);
        let list = self.engine.code_list(&r.name, version).map_err(to_status)?;
        Ok(Response::new(code_list_to_proto(&list)))
    }
}
