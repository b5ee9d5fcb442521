//! `ddc linkage`: protected linkage figures.

use super::render::render_linkage;
use super::{connect, status_error, ServerArg};
use crate::proto::LinkageRequest;

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
    print!("{}", render_linkage(&report));
    Ok(())
}
