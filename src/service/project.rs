//! The `Projects` gRPC service: projects, their members and the holders'
//! approvals of their datasets.

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use super::{authorize, blocking, receipt_to_log};
use crate::access::Action;
use crate::auth::caller;
use crate::engine::{Changed, Engine, ProjectChange, ProjectDraft};
use crate::project::Project;
use crate::proto::{self, projects_server};

/// Serves [`projects_server::Projects`] over the engine.
#[derive(Debug, Clone)]
pub struct ProjectService {
    engine: Arc<Engine>,
}

impl ProjectService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        ProjectService { engine }
    }

    /// A provider's approval or withdrawal of its dataset.
    async fn approval(
        &self,
        request: Request<proto::ApprovalRequest>,
        approve: bool,
    ) -> Result<Response<proto::Project>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let action = if approve {
            Action::ApproveDataset {
                dataset: &r.dataset,
            }
        } else {
            Action::WithdrawApproval {
                dataset: &r.dataset,
            }
        };
        authorize(&self.engine, &caller, action).await?;
        let engine = Arc::clone(&self.engine);
        let changed = blocking(move || {
            engine.approve_dataset(&caller, &r.project, &r.dataset, approve, SystemTime::now())
        })
        .await?;
        Ok(Response::new(changed_to_proto(changed)))
    }
}

#[tonic::async_trait]
impl projects_server::Projects for ProjectService {
    async fn create_project(
        &self,
        request: Request<proto::CreateProjectRequest>,
    ) -> Result<Response<proto::Project>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::CreateProject).await?;
        let r = request.into_inner();
        let draft = ProjectDraft {
            name: r.name,
            purpose: r.purpose,
            members: r.members,
            datasets: r.datasets,
        };
        let engine = Arc::clone(&self.engine);
        let changed =
            blocking(move || engine.create_project(&caller, &draft, SystemTime::now())).await?;
        Ok(Response::new(changed_to_proto(changed)))
    }

    async fn change_project(
        &self,
        request: Request<proto::ChangeProjectRequest>,
    ) -> Result<Response<proto::Project>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::ChangeProject).await?;
        let r = request.into_inner();
        let change = ProjectChange {
            name: r.name,
            add_members: r.add_members,
            remove_members: r.remove_members,
            add_datasets: r.add_datasets,
            remove_datasets: r.remove_datasets,
        };
        let engine = Arc::clone(&self.engine);
        let changed =
            blocking(move || engine.change_project(&caller, &change, SystemTime::now())).await?;
        Ok(Response::new(changed_to_proto(changed)))
    }

    async fn close_project(
        &self,
        request: Request<proto::CloseProjectRequest>,
    ) -> Result<Response<proto::Project>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::CloseProject).await?;
        let name = request.into_inner().name;
        let engine = Arc::clone(&self.engine);
        let changed =
            blocking(move || engine.close_project(&caller, &name, SystemTime::now())).await?;
        Ok(Response::new(changed_to_proto(changed)))
    }

    async fn approve_dataset(
        &self,
        request: Request<proto::ApprovalRequest>,
    ) -> Result<Response<proto::Project>, Status> {
        self.approval(request, true).await
    }

    async fn withdraw_approval(
        &self,
        request: Request<proto::ApprovalRequest>,
    ) -> Result<Response<proto::Project>, Status> {
        self.approval(request, false).await
    }

    async fn list_projects(
        &self,
        request: Request<proto::ListProjectsRequest>,
    ) -> Result<Response<proto::ListProjectsResponse>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::ListProjects).await?;
        let projects = self
            .engine
            .visible_projects(&caller)
            .iter()
            .map(|p| project_to_proto(p))
            .collect();
        Ok(Response::new(proto::ListProjectsResponse { projects }))
    }
}

fn changed_to_proto((project, receipt): Changed) -> proto::Project {
    proto::Project {
        log: Some(receipt_to_log(receipt)),
        ..project_to_proto(&project)
    }
}

fn project_to_proto(p: &Project) -> proto::Project {
    proto::Project {
        name: p.name.clone(),
        purpose: p.purpose.clone(),
        created_ms: p.created_ms,
        created_by: p.created_by.clone(),
        closed_ms: p.closed_ms.unwrap_or(0),
        members: p.members.iter().cloned().collect(),
        datasets: p
            .datasets
            .iter()
            .map(|(name, a)| proto::ProjectDataset {
                dataset: name.clone(),
                holder: a.holder.clone(),
                approved: a.approved.is_some(),
                approved_ms: a.approved.as_ref().map_or(0, |x| x.at_ms),
                approved_by: a
                    .approved
                    .as_ref()
                    .map_or_else(String::new, |x| x.by.clone()),
            })
            .collect(),
        log: None,
    }
}
