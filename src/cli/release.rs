//! `ddc release list|show`: the release history, read without creating a
//! release.

use super::time::utc;
use super::{connect, status_error, ServerArg};
use crate::proto;

/// Release history commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum ReleaseCommand {
    /// List the releases, oldest first.
    List {
        /// Only this project's releases.
        #[arg(long)]
        project: Option<String>,
        /// Only releases that used this dataset.
        #[arg(long)]
        dataset: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Show one release as recorded: request, policy, released cells.
    Show {
        /// The release's number.
        id: u64,
        #[command(flatten)]
        server: ServerArg,
    },
}

/// Runs a release history command.
pub(super) async fn run(command: ReleaseCommand) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::List {
            project,
            dataset,
            server,
        } => {
            let mut clients = connect(&server).await?;
            let list = clients
                .audit
                .list_releases(proto::ListReleasesRequest {
                    project: project.unwrap_or_default(),
                    dataset: dataset.unwrap_or_default(),
                })
                .await
                .map_err(|s| status_error("releases", s))?
                .into_inner();
            print!("{}", render_list(&list.releases));
            Ok(())
        }
        ReleaseCommand::Show { id, server } => {
            let mut clients = connect(&server).await?;
            let record = clients
                .audit
                .get_release(proto::GetReleaseRequest { id })
                .await
                .map_err(|s| status_error("release", s))?
                .into_inner();
            print!("{}", render_record(&record));
            Ok(())
        }
    }
}

fn summary_line(r: &proto::ReleaseSummary) -> String {
    let log = r.log_index.map_or("-".to_owned(), |i| format!("#{i}"));
    format!(
        "{:>5}  {}  {:<12} {:<12} {:<8} {:>5} cells {:>4} withheld  log {log:<7} {}\n",
        r.id,
        utc(r.at_ms.max(0) as u64),
        r.actor,
        r.project,
        r.kind,
        r.cells,
        r.withheld,
        r.datasets.join(" ⋈ ")
    )
}

/// One line per release.
fn render_list(releases: &[proto::ReleaseSummary]) -> String {
    if releases.is_empty() {
        return "no releases\n".to_owned();
    }
    releases.iter().map(summary_line).collect()
}

/// A release's summary line, then its request, policy and cells as stored.
fn render_record(r: &proto::ReleaseRecord) -> String {
    let summary = r.summary.as_ref().map(summary_line).unwrap_or_default();
    let pretty = |json: &str| {
        serde_json::from_str::<serde_json::Value>(json)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| json.to_owned())
    };
    format!(
        "{summary}request: {}\npolicy: {}\ncells: {}\n",
        pretty(&r.request_json),
        pretty(&r.policy_json),
        pretty(&r.cells_json)
    )
}
