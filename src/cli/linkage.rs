//! `ddc linkage`: protected linkage figures.

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::render::{mark, render_linkage};
use super::{connect, status_error, ServerArg};
use crate::proto::{Figure, LinkageReport, LinkageRequest};

/// Flags of `ddc linkage`.
#[derive(Debug, clap::Args)]
pub(super) struct LinkageArgs {
    /// Datasets to report on (default: the project's approved datasets; on
    /// a development server without a project, all that hold data).
    datasets: Vec<String>,
    /// The project the figures are asked under.
    #[arg(long, env = "DDC_PROJECT", default_value = "default")]
    project: String,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    server: ServerArg,
}

pub(super) async fn run(a: LinkageArgs) -> anyhow::Result<()> {
    let mut clients = connect(&a.server).await?;
    let report = clients
        .release
        .linkage(LinkageRequest {
            datasets: a.datasets,
            project: a.project,
        })
        .await
        .map_err(|s| status_error("linkage figures refused", s))?
        .into_inner();
    output::print(&report, a.format.format)
}

/// A figure's fields: the released (perturbed, rounded) persons, or null,
/// and the status.
fn figure(f: Option<&Figure>) -> [(&'static str, Value); 2] {
    let f = f.cloned().unwrap_or_default();
    [
        ("persons", json!(f.rounded)),
        ("status", json!(mark(f.status))),
    ]
}

/// CSV: one row per dataset (`linked_with` empty), then one per pair.
/// JSON: `{datasets: [{dataset, persons, status}], pairs: [{dataset,
/// linked_with, persons, status}], policy: {threshold, rounding_base},
/// log_index}`.
impl Output for LinkageReport {
    fn text(&self) -> String {
        render_linkage(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &["dataset", "linked_with", "persons", "status"]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        let datasets = self.datasets.iter().map(|d| {
            let [p, s] = figure(d.persons.as_ref());
            row([
                ("dataset", json!(d.dataset)),
                ("linked_with", Value::Null),
                p,
                s,
            ])
        });
        let pairs = self.pairs.iter().map(|pair| {
            let [p, s] = figure(pair.linked.as_ref());
            row([
                ("dataset", json!(pair.left)),
                ("linked_with", json!(pair.right)),
                p,
                s,
            ])
        });
        datasets.chain(pairs).collect()
    }

    fn json(&self) -> Value {
        let (datasets, pairs): (Vec<_>, Vec<_>) = self
            .rows()
            .into_iter()
            .partition(|r| r["linked_with"].is_null());
        let datasets: Vec<Value> = datasets
            .into_iter()
            .map(|mut r| {
                r.remove("linked_with");
                Value::Object(r)
            })
            .collect();
        let policy = self.policy.clone().unwrap_or_default();
        json!({
            "datasets": datasets,
            "pairs": pairs,
            "policy": {"threshold": policy.threshold, "rounding_base": policy.rounding_base},
            "log_index": self.log.as_ref().map(|l| l.index),
        })
    }
}
