//! The `Release` gRPC service: protected tables and linkage figures.

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use super::convert::{figure_to_proto, policy_to_proto, status_to_proto, table_spec_from_proto};
use super::status::to_status;
use super::{authorize, blocking, receipt_to_log};
use crate::access::Action;
use crate::auth::caller;
use crate::disclosure::CellStatus;
use crate::engine::{project_or_default, Engine, MeasureSpec, ProtectedTable};
use crate::proto::{self, release_server};

/// Serves [`release_server::Release`] over the engine.
#[derive(Debug, Clone)]
pub struct ReleaseService {
    engine: Arc<Engine>,
}

impl ReleaseService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        ReleaseService { engine }
    }
}

#[tonic::async_trait]
impl release_server::Release for ReleaseService {
    async fn tabulate(
        &self,
        request: Request<proto::TableRequest>,
    ) -> Result<Response<proto::Table>, Status> {
        let caller = caller(&request);
        let spec = table_spec_from_proto(request.into_inner()).map_err(to_status)?;
        let action = Action::Tabulate {
            project: project_or_default(&spec.project),
            datasets: &spec.named_datasets(),
        };
        authorize(&self.engine, &caller, action).await?;
        let engine = Arc::clone(&self.engine);
        let table = blocking(move || engine.tabulate(&caller, &spec, SystemTime::now())).await?;
        Ok(Response::new(table_to_proto(&table)))
    }

    async fn linkage(
        &self,
        request: Request<proto::LinkageRequest>,
    ) -> Result<Response<proto::LinkageReport>, Status> {
        let caller = caller(&request);
        let proto::LinkageRequest { datasets, project } = request.into_inner();
        let named: Vec<&str> = datasets.iter().map(String::as_str).collect();
        let action = Action::Linkage {
            project: project_or_default(&project),
            datasets: &named,
        };
        authorize(&self.engine, &caller, action).await?;
        let engine = Arc::clone(&self.engine);
        let figures =
            blocking(move || engine.linkage(&caller, &project, &datasets, SystemTime::now()))
                .await?;
        Ok(Response::new(proto::LinkageReport {
            datasets: figures
                .datasets
                .iter()
                .map(|(name, f)| proto::DatasetFigure {
                    dataset: name.clone(),
                    persons: Some(figure_to_proto(f)),
                })
                .collect(),
            pairs: figures
                .pairs
                .iter()
                .map(|(left, right, f)| proto::PairFigure {
                    left: left.clone(),
                    right: right.clone(),
                    linked: Some(figure_to_proto(f)),
                })
                .collect(),
            policy: Some(policy_to_proto(&figures.policy)),
            log: figures.receipt.clone().map(receipt_to_log),
        }))
    }
}

fn table_to_proto(t: &ProtectedTable) -> proto::Table {
    let count = |s: CellStatus| t.cells.iter().filter(|c| c.status == s).count() as u64;
    let (measure, variable) = match &t.measure {
        MeasureSpec::Count => (proto::MeasureKind::Count, String::new()),
        MeasureSpec::Sum(v) => (proto::MeasureKind::Sum, v.clone()),
        MeasureSpec::Mean(v) => (proto::MeasureKind::Mean, v.clone()),
    };
    proto::Table {
        dimensions: t
            .dimensions
            .iter()
            .map(|d| proto::Dimension {
                variable: d.variable.clone(),
                categories: d.categories.iter().map(|c| c.code.clone()).collect(),
                entries: d
                    .categories
                    .iter()
                    .map(|c| proto::Category {
                        code: c.code.clone(),
                        label: c.label.clone(),
                        label_en: c.label_en.clone().unwrap_or_default(),
                        level: c.level.clone(),
                        subtotal: c.subtotal,
                        parent: c
                            .parent
                            .map_or(-1, |p| i32::try_from(p).unwrap_or(i32::MAX)),
                    })
                    .collect(),
            })
            .collect(),
        cells: t
            .cells
            .iter()
            .map(|c| proto::Cell {
                coordinates: c
                    .coordinates
                    .iter()
                    .map(|x| x.map_or(-1, |i| i32::try_from(i).unwrap_or(i32::MAX)))
                    .collect(),
                count: c.count,
                status: status_to_proto(c.status) as i32,
                value: c.value,
            })
            .collect(),
        datasets: t.datasets.clone(),
        policy: Some(policy_to_proto(&t.policy)),
        summary: Some(proto::Summary {
            cells: t.cells.len() as u64,
            released: count(CellStatus::Released),
            withheld_threshold: count(CellStatus::WithheldThreshold),
            withheld_secondary: count(CellStatus::WithheldSecondary),
            withheld_group: count(CellStatus::WithheldGroup),
            withheld_dominance: count(CellStatus::WithheldDominance),
            withheld_p_percent: count(CellStatus::WithheldPPercent),
            withheld_value_counts: count(CellStatus::WithheldValueCounts),
            structural_zeros: count(CellStatus::StructuralZero),
        }),
        measure: measure as i32,
        variable,
        release: u64::try_from(t.release).unwrap_or(0),
        log: t.receipt.clone().map(receipt_to_log),
    }
}
