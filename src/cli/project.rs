//! `ddc project …`: projects, their members, and holders' approvals.

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::time::utc;
use super::{connect, status_error, ServerArg};
use crate::proto;

/// Project commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum ProjectCommand {
    /// Create an open project (administrators). Its datasets await their
    /// holders' approval.
    Create {
        /// The project's name: lower-case letters, digits, `_` or `-`.
        name: String,
        /// What the project is for, as approved.
        #[arg(long)]
        purpose: String,
        /// An analyst, `organisation/analyst/name` (repeat for more).
        #[arg(long = "member")]
        members: Vec<String>,
        /// A declared dataset the project asks for (repeat for more).
        #[arg(long = "dataset")]
        datasets: Vec<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Add or remove members and datasets (administrators).
    Change {
        /// The project.
        name: String,
        /// Add this analyst.
        #[arg(long)]
        add_member: Vec<String>,
        /// Remove this analyst.
        #[arg(long)]
        remove_member: Vec<String>,
        /// Ask for this dataset (awaits its holder's approval).
        #[arg(long)]
        add_dataset: Vec<String>,
        /// Take this dataset out, with its approval.
        #[arg(long)]
        remove_dataset: Vec<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Close a project for good (administrators).
    Close {
        /// The project.
        name: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Approve the use of your organisation's dataset in a project (data holders).
    Approve {
        /// The project.
        name: String,
        /// Your dataset.
        #[arg(long)]
        dataset: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Withdraw that approval (data holders).
    Withdraw {
        /// The project.
        name: String,
        /// Your dataset.
        #[arg(long)]
        dataset: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// List the projects you may see.
    List {
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
}

/// Runs a project command.
pub(super) async fn run(command: ProjectCommand) -> anyhow::Result<()> {
    let refused = |s| status_error("project", s);
    match command {
        ProjectCommand::Create {
            name,
            purpose,
            members,
            datasets,
            server,
        } => {
            let mut c = connect(&server).await?;
            let request = proto::CreateProjectRequest {
                name,
                purpose,
                members,
                datasets,
            };
            let p = c.projects.create_project(request).await.map_err(refused)?;
            print!("{}", render_project(&p.into_inner()));
        }
        ProjectCommand::Change {
            name,
            add_member,
            remove_member,
            add_dataset,
            remove_dataset,
            server,
        } => {
            let mut c = connect(&server).await?;
            let request = proto::ChangeProjectRequest {
                name,
                add_members: add_member,
                remove_members: remove_member,
                add_datasets: add_dataset,
                remove_datasets: remove_dataset,
            };
            let p = c.projects.change_project(request).await.map_err(refused)?;
            print!("{}", render_project(&p.into_inner()));
        }
        ProjectCommand::Close { name, server } => {
            let mut c = connect(&server).await?;
            let request = proto::CloseProjectRequest { name };
            let p = c.projects.close_project(request).await.map_err(refused)?;
            print!("{}", render_project(&p.into_inner()));
        }
        ProjectCommand::Approve {
            name,
            dataset,
            server,
        } => approval(name, dataset, &server, true).await?,
        ProjectCommand::Withdraw {
            name,
            dataset,
            server,
        } => approval(name, dataset, &server, false).await?,
        ProjectCommand::List { format, server } => {
            let mut c = connect(&server).await?;
            let list = c
                .projects
                .list_projects(proto::ListProjectsRequest {})
                .await
                .map_err(refused)?
                .into_inner();
            output::print(&list, format.format)?;
        }
    }
    Ok(())
}

/// Approves (or withdraws the approval of) the caller's dataset.
async fn approval(
    project: String,
    dataset: String,
    server: &ServerArg,
    approve: bool,
) -> anyhow::Result<()> {
    let mut c = connect(server).await?;
    let request = proto::ApprovalRequest { project, dataset };
    let p = if approve {
        c.projects.approve_dataset(request).await
    } else {
        c.projects.withdraw_approval(request).await
    };
    let p = p.map_err(|s| status_error("approval", s))?;
    print!("{}", render_project(&p.into_inner()));
    Ok(())
}

/// A project: name and state, purpose, members, datasets with approvals.
fn render_project(p: &proto::Project) -> String {
    let state = match p.closed_ms {
        0 => "open".to_owned(),
        ms => format!("closed {}", utc(ms.max(0) as u64)),
    };
    let mut out = format!(
        "{}  ({state}; created {} by {})
  purpose: {}
  members: {}
",
        p.name,
        utc(p.created_ms.max(0) as u64),
        p.created_by,
        p.purpose,
        if p.members.is_empty() {
            "none".to_owned()
        } else {
            p.members.join(", ")
        }
    );
    for d in &p.datasets {
        let approval = if d.approved {
            format!(
                "approved {} by {}",
                utc(d.approved_ms.max(0) as u64),
                d.approved_by
            )
        } else {
            format!("awaiting approval by {}", d.holder)
        };
        out.push_str(&format!(
            "  dataset {}: {approval}
",
            d.dataset
        ));
    }
    if let Some(log) = &p.log {
        out.push_str(&format!("  log entry #{}\n", log.index));
    }
    out
}

/// One row per project; `datasets` lists the datasets asked for and
/// `approved` those approved (in JSON `datasets` holds objects `{dataset,
/// holder, approved, approved_at, approved_by}` instead of names).
impl Output for proto::ListProjectsResponse {
    fn text(&self) -> String {
        match self.projects.len() {
            0 => "no projects\n".to_owned(),
            _ => self.projects.iter().map(render_project).collect(),
        }
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "name",
            "state",
            "purpose",
            "members",
            "datasets",
            "approved",
            "created",
            "created_by",
            "closed",
        ]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.projects
            .iter()
            .map(|p| project_row(p, false))
            .collect()
    }

    fn json(&self) -> Value {
        Value::Array(
            self.projects
                .iter()
                .map(|p| Value::Object(project_row(p, true)))
                .collect(),
        )
    }
}

fn project_row(p: &proto::Project, nested: bool) -> Map<String, Value> {
    let names = |approved: bool| -> Vec<&str> {
        p.datasets
            .iter()
            .filter(|d| !approved || d.approved)
            .map(|d| d.dataset.as_str())
            .collect()
    };
    let datasets = if nested {
        p.datasets
            .iter()
            .map(|d| {
                json!({
                    "dataset": d.dataset,
                    "holder": d.holder,
                    "approved": d.approved,
                    "approved_at": output::time(d.approved_ms),
                    "approved_by": output::text_or_null(&d.approved_by),
                })
            })
            .collect()
    } else {
        json!(names(false))
    };
    let mut r = row([
        ("name", json!(p.name)),
        (
            "state",
            json!(if p.closed_ms == 0 { "open" } else { "closed" }),
        ),
        ("purpose", json!(p.purpose)),
        ("members", json!(p.members)),
        ("datasets", datasets),
        ("created", output::time(p.created_ms)),
        ("created_by", json!(p.created_by)),
        ("closed", output::time(p.closed_ms)),
    ]);
    r.insert("approved".into(), json!(names(true)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_shows_its_state_members_and_approvals() {
        let p = proto::Project {
            name: "kansen".into(),
            purpose: "gelijke kansen".into(),
            created_by: "ocw/administrator/a".into(),
            members: vec!["uva/analyst/jansen".into()],
            datasets: vec![
                proto::ProjectDataset {
                    dataset: "cbs.p".into(),
                    holder: "cbs".into(),
                    approved: true,
                    approved_ms: 1_000,
                    approved_by: "cbs/provider/x".into(),
                },
                proto::ProjectDataset {
                    dataset: "duo.q".into(),
                    holder: "duo".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let text = render_project(&p);
        assert!(text.starts_with("kansen  (open;"), "{text}");
        assert!(text.contains("members: uva/analyst/jansen"), "{text}");
        assert!(
            text.contains("dataset cbs.p: approved 1970-01-01"),
            "{text}"
        );
        assert!(text.contains("by cbs/provider/x"), "{text}");
        assert!(
            text.contains("dataset duo.q: awaiting approval by duo"),
            "{text}"
        );
        let closed = proto::Project {
            closed_ms: 2_000,
            ..p
        };
        assert!(render_project(&closed).contains("(closed 1970-01-01"));
    }
}
