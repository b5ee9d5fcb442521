//! `ddc release list|show`: the release history, read without creating a
//! release.

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
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
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Show one release as recorded: request, policy, released cells.
    Show {
        /// The release's number.
        id: u64,
        #[command(flatten)]
        format: FormatArg,
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
            format,
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
            output::print(&Releases(list.releases), format.format)
        }
        ReleaseCommand::Show { id, format, server } => {
            let mut clients = connect(&server).await?;
            let record = clients
                .audit
                .get_release(proto::GetReleaseRequest { id })
                .await
                .map_err(|s| status_error("release", s))?
                .into_inner();
            output::print(&record, format.format)
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

/// The release history as listed.
struct Releases(Vec<proto::ReleaseSummary>);

/// Parsed JSON, or the text itself if it is not JSON.
fn parsed(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_owned()))
}

fn summary_row(r: &proto::ReleaseSummary) -> Map<String, Value> {
    row([
        ("id", json!(r.id)),
        ("at", output::time(r.at_ms)),
        ("actor", json!(r.actor)),
        ("project", json!(r.project)),
        ("kind", json!(r.kind)),
        ("datasets", json!(r.datasets)),
        ("cells", json!(r.cells)),
        ("withheld", json!(r.withheld)),
        ("log_index", json!(r.log_index)),
        ("asked", json!(describe_request(&r.request_json))),
        ("request", parsed(&r.request_json)),
    ])
}

const SUMMARY_COLUMNS: &[&str] = &[
    "id",
    "at",
    "actor",
    "project",
    "kind",
    "datasets",
    "cells",
    "withheld",
    "log_index",
    "asked",
    "request",
];

/// One row per release; `request` is the request as recorded (JSON text
/// in CSV, an object in JSON).
impl Output for Releases {
    fn text(&self) -> String {
        render_list(&self.0)
    }

    fn columns(&self) -> &'static [&'static str] {
        SUMMARY_COLUMNS
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.0.iter().map(summary_row).collect()
    }
}

/// CSV: the cells as recorded, one per row (`coordinates` the category
/// index per dimension, empty for a total). JSON: `{summary, request,
/// policy, cells}`.
impl Output for proto::ReleaseRecord {
    fn text(&self) -> String {
        render_record(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &["coordinates", "count", "value", "status"]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        match parsed(&self.cells_json) {
            Value::Array(cells) => cells
                .into_iter()
                .filter_map(|c| match c {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "summary": self.summary.as_ref().map(|s| Value::Object(summary_row(s))),
            "request": parsed(&self.request_json),
            "policy": parsed(&self.policy_json),
            "cells": parsed(&self.cells_json),
        })
    }
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
