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

/// Two lines per release: its summary, then what was asked.
fn render_list(releases: &[proto::ReleaseSummary]) -> String {
    if releases.is_empty() {
        return "no releases\n".to_owned();
    }
    releases
        .iter()
        .map(|r| {
            format!(
                "{}       asked: {}\n",
                summary_line(r),
                describe_request(&r.request_json)
            )
        })
        .collect()
}

/// A request as one line: `count by a × b, where c in [x, y]`, or the
/// linkage datasets; the JSON itself if it has another shape.
fn describe_request(json: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return json.to_owned();
    };
    let strings = |key: &str, of: &serde_json::Value| -> Vec<String> {
        of.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let Some(group_by) = v.get("group_by") else {
        let datasets = strings("datasets", &v);
        return match datasets.len() {
            0 => "linkage figures of every dataset".to_owned(),
            _ => format!("linkage figures of {}", datasets.join(", ")),
        };
    };
    let measure = match v.get("measure") {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .next()
            .map(|(kind, var)| format!("{kind} of {}", var.as_str().unwrap_or_default()))
            .unwrap_or_default(),
        Some(m) => m.as_str().unwrap_or("count").to_owned(),
        None => "count".to_owned(),
    };
    let by: Vec<&str> = group_by
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let mut out = format!("{measure} by {}", by.join(" × "));
    let filters = v.get("filters").and_then(|f| f.as_array());
    for (i, f) in filters.into_iter().flatten().enumerate() {
        let variable = f
            .get("variable")
            .and_then(|x| x.as_str())
            .unwrap_or_default();
        let negate = f.get("negate").and_then(|x| x.as_bool()).unwrap_or(false);
        out.push_str(if i == 0 { ", where " } else { " and " });
        let op = if negate { "not in" } else { "in" };
        out.push_str(&format!(
            "{variable} {op} [{}]",
            strings("values", f).join(", ")
        ));
    }
    let joined = strings("datasets", &v);
    if !joined.is_empty() {
        out.push_str(&format!(", persons also in {}", joined.join(", ")));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_as_one_line() {
        let json = r#"{"project":"p","measure":{"mean":"cbs.p.inkomen"},"group_by":["duo.q.niveau","cbs.p.decile"],
            "filters":[{"variable":"duo.q.sector","values":["vo"],"negate":false},
                       {"variable":"cbs.p.regio","values":["a","b"],"negate":true}],"datasets":["x.y"]}"#;
        assert_eq!(
            describe_request(json),
            "mean of cbs.p.inkomen by duo.q.niveau × cbs.p.decile, where duo.q.sector in [vo] \
             and cbs.p.regio not in [a, b], persons also in x.y"
        );
        let count = r#"{"measure":"count","group_by":["a.b.c"],"filters":[],"datasets":[]}"#;
        assert_eq!(describe_request(count), "count by a.b.c");
        assert_eq!(
            describe_request(r#"{"datasets":["a.b","c.d"]}"#),
            "linkage figures of a.b, c.d"
        );
        assert_eq!(describe_request("not json"), "not json");
    }
}
