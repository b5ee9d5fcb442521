//! Who may do what: the one authorisation decision of every call.
//!
//! [`decide`] is a pure function of the caller, what the call does
//! ([`Action`]) and the catalogue (which organisation holds which
//! dataset). Deny by default: an action is allowed only by a rule below.
//!
//! | role | may |
//! |---|---|
//! | provider of organisation O | declare datasets of O; read, upload to and delete O's datasets; list datasets (it sees O's); publish and read code lists; list the releases that used O's datasets; list the projects that ask for O's datasets, approve them or withdraw the approval |
//! | analyst | inside an open project it is a member of, and only over the datasets the project's holders approved: ask for tables and linkage figures, list and read those datasets; list its projects; read code lists |
//! | auditor | read the linkage log, its checkpoints and proofs, and the release history |
//! | administrator | key status and rotation; create, change, close and list projects; publish and read code lists |
//! | probe | nothing but the health check (`grpc.health.v1`, which needs no decision) |
//!
//! The development identity (a plaintext server on loopback) may do
//! everything, in any project name.

use std::sync::Arc;

use crate::auth::{Caller, Identity, Role};
use crate::project::Project;

/// What a call does, as far as the decision needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Declare a dataset held by `organisation`.
    DeclareDataset {
        /// The organisation the declaration names.
        organisation: &'a str,
    },
    /// List datasets (each caller sees only what it may read).
    ListDatasets,
    /// Read a dataset's declaration.
    ReadDataset {
        /// The dataset.
        dataset: &'a str,
    },
    /// Delete a dataset with its rows.
    DeleteDataset {
        /// The dataset.
        dataset: &'a str,
    },
    /// Upload into a dataset.
    Upload {
        /// The dataset.
        dataset: &'a str,
    },
    /// Publish a code list version.
    PublishCodeList,
    /// List or read code lists.
    ReadCodeLists,
    /// Ask for a table.
    Tabulate {
        /// The project asked under.
        project: &'a str,
        /// Every dataset the request names.
        datasets: &'a [&'a str],
    },
    /// Ask for linkage figures.
    Linkage {
        /// The project asked under.
        project: &'a str,
        /// The datasets named (none: the project's).
        datasets: &'a [&'a str],
    },
    /// Create a project.
    CreateProject,
    /// Change a project's members or datasets.
    ChangeProject,
    /// Close a project.
    CloseProject,
    /// Approve a dataset's use in a project.
    ApproveDataset {
        /// The dataset.
        dataset: &'a str,
    },
    /// Withdraw that approval.
    WithdrawApproval {
        /// The dataset.
        dataset: &'a str,
    },
    /// List projects (each caller sees only its own).
    ListProjects,
    /// Read log entries, checkpoints or proofs.
    ReadLog,
    /// List releases, of one dataset or all.
    ListReleases {
        /// The dataset asked about, if any.
        dataset: Option<&'a str>,
    },
    /// Read one release record.
    ReadRelease,
    /// Read the key status.
    KeyStatus,
    /// Rotate the storage key.
    RotateKeys,
}

impl Action<'_> {
    /// The action's name, as the log records a denial of it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::DeclareDataset { .. } => "declare_dataset",
            Action::ListDatasets => "list_datasets",
            Action::ReadDataset { .. } => "read_dataset",
            Action::DeleteDataset { .. } => "delete_dataset",
            Action::Upload { .. } => "upload",
            Action::PublishCodeList => "publish_code_list",
            Action::ReadCodeLists => "read_code_lists",
            Action::Tabulate { .. } => "tabulate",
            Action::Linkage { .. } => "linkage",
            Action::CreateProject => "create_project",
            Action::ChangeProject => "change_project",
            Action::CloseProject => "close_project",
            Action::ApproveDataset { .. } => "approve_dataset",
            Action::WithdrawApproval { .. } => "withdraw_approval",
            Action::ListProjects => "list_projects",
            Action::ReadLog => "read_log",
            Action::ListReleases { .. } => "list_releases",
            Action::ReadRelease => "read_release",
            Action::KeyStatus => "key_status",
            Action::RotateKeys => "rotate_keys",
        }
    }
}

/// What the decision looks up.
pub trait Catalogue {
    /// The organisation that holds `dataset`, if it is declared.
    fn holder(&self, dataset: &str) -> Option<String>;
    /// The project `name`, if it exists.
    fn project(&self, name: &str) -> Option<Arc<Project>>;
    /// Every project.
    fn projects(&self) -> Vec<Arc<Project>>;
}

/// Why a call is denied: a sentence, naming no value of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

/// Whether `caller` may take `action`.
pub fn decide(
    caller: &Caller,
    action: Action<'_>,
    catalogue: &impl Catalogue,
) -> Result<(), Denied> {
    let Some(identity) = caller.identity() else {
        return match caller.subject() {
            "development" => Ok(()),
            _ => Err(Denied("the caller is not identified")),
        };
    };
    let own = |dataset: &str| catalogue.holder(dataset).as_deref() == Some(&identity.organisation);
    let allowed = match (identity.role, action) {
        (Role::Provider, Action::DeclareDataset { organisation }) => {
            organisation == identity.organisation
        }
        (
            Role::Provider,
            Action::ReadDataset { dataset }
            | Action::Upload { dataset }
            | Action::DeleteDataset { dataset }
            | Action::ApproveDataset { dataset }
            | Action::WithdrawApproval { dataset },
        ) => own(dataset),
        (Role::Provider, Action::ListReleases { dataset: Some(d) }) => own(d),
        (
            Role::Provider,
            Action::ListDatasets
            | Action::PublishCodeList
            | Action::ReadCodeLists
            | Action::ListProjects,
        ) => true,
        (
            Role::Analyst,
            Action::Tabulate { project, datasets } | Action::Linkage { project, datasets },
        ) => return inside_project(caller, project, datasets, catalogue),
        (Role::Analyst, Action::ReadDataset { dataset }) => {
            analyst_reads(caller, dataset, catalogue)
        }
        (Role::Analyst, Action::ListDatasets | Action::ReadCodeLists | Action::ListProjects) => {
            true
        }
        (Role::Auditor, Action::ReadLog | Action::ListReleases { .. } | Action::ReadRelease) => {
            true
        }
        (
            Role::Administrator,
            Action::KeyStatus
            | Action::RotateKeys
            | Action::PublishCodeList
            | Action::ReadCodeLists
            | Action::CreateProject
            | Action::ChangeProject
            | Action::CloseProject
            | Action::ListProjects,
        ) => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied(why(identity.role, action)))
    }
}

/// An analyst's request inside `project`: allowed when the project is
/// open, the caller is a member, and every dataset named is approved.
fn inside_project(
    caller: &Caller,
    project: &str,
    datasets: &[&str],
    catalogue: &impl Catalogue,
) -> Result<(), Denied> {
    let project = catalogue
        .project(project)
        .filter(|p| p.has_member(caller.subject()))
        .ok_or(Denied(
            "an analyst asks only inside a project it is a member of (give the project)",
        ))?;
    if !project.is_open() {
        return Err(Denied("the project is closed"));
    }
    if !datasets.iter().all(|d| project.approves(d)) {
        return Err(Denied(
            "the request names a dataset that its holder has not approved for the project",
        ));
    }
    Ok(())
}

/// Whether an analyst may read `dataset`: approved in an open project of its.
fn analyst_reads(caller: &Caller, dataset: &str, catalogue: &impl Catalogue) -> bool {
    catalogue
        .projects()
        .iter()
        .any(|p| p.is_open() && p.has_member(caller.subject()) && p.approves(dataset))
}

/// Whether `caller` sees `dataset`, held by `holder`, in a list of datasets.
pub fn lists(caller: &Caller, dataset: &str, holder: &str, catalogue: &impl Catalogue) -> bool {
    match caller.identity() {
        None => caller.subject() == "development",
        Some(id) => match id.role {
            Role::Provider => id.organisation == holder,
            Role::Analyst => analyst_reads(caller, dataset, catalogue),
            Role::Auditor | Role::Administrator | Role::Probe => false,
        },
    }
}

/// Whether `caller` sees `project` in a list of projects: administrators
/// see every project, analysts those they are members of, providers those
/// that ask for one of their organisation's datasets.
pub fn sees_project(caller: &Caller, project: &Project) -> bool {
    match caller.identity() {
        None => caller.subject() == "development",
        Some(Identity {
            role, organisation, ..
        }) => match role {
            Role::Administrator => true,
            Role::Analyst => project.has_member(caller.subject()),
            Role::Provider => project.involves(organisation),
            Role::Auditor | Role::Probe => false,
        },
    }
}

fn why(role: Role, action: Action<'_>) -> &'static str {
    match (role, action) {
        (Role::Provider, Action::DeclareDataset { .. }) => {
            "a data provider declares datasets of its own organisation only"
        }
        (
            Role::Provider,
            Action::ReadDataset { .. } | Action::Upload { .. } | Action::DeleteDataset { .. },
        ) => "a data provider reads, uploads to and deletes its own organisation's datasets only",
        (Role::Provider, Action::ListReleases { .. }) => {
            "a data provider lists the releases of its own organisation's datasets only (give --dataset)"
        }
        (Role::Provider, Action::ApproveDataset { .. } | Action::WithdrawApproval { .. }) => {
            "a data provider approves the use of its own organisation's datasets only"
        }
        (Role::Provider, _) => "a data provider may not do this",
        (Role::Analyst, Action::ReadDataset { .. }) => {
            "an analyst reads the datasets approved for its open projects only"
        }
        (Role::Analyst, _) => "an analyst asks for tables inside its projects only",
        (Role::Auditor, _) => "an auditor reads the log and the release history only",
        (Role::Administrator, _) => {
            "an administrator manages keys, projects and code lists, and reads no data or tables"
        }
        (Role::Probe, _) => "a probe may only ask whether the server serves",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{Approval, Approved};

    /// Datasets are held by the organisation before the dot; one project
    /// `kansen` (member `uva/analyst/jansen`, cbs.p approved, duo.q
    /// pending) and one closed project `oud` with the same member.
    struct Held;
    impl Catalogue for Held {
        fn holder(&self, dataset: &str) -> Option<String> {
            dataset.split_once('.').map(|(org, _)| org.to_owned())
        }
        fn project(&self, name: &str) -> Option<Arc<Project>> {
            self.projects().into_iter().find(|p| p.name == name)
        }
        fn projects(&self) -> Vec<Arc<Project>> {
            let approval = |holder: &str, approved: bool| Approval {
                holder: holder.into(),
                approved: approved.then(|| Approved {
                    at_ms: 1,
                    by: format!("{holder}/provider/x"),
                }),
            };
            let project = |name: &str, closed_ms| Project {
                name: name.into(),
                purpose: "onderzoek".into(),
                created_ms: 0,
                created_by: "ocw/administrator/a".into(),
                closed_ms,
                members: ["uva/analyst/jansen".to_owned()].into(),
                datasets: [
                    ("cbs.p".to_owned(), approval("cbs", true)),
                    ("duo.q".to_owned(), approval("duo", false)),
                ]
                .into(),
            };
            vec![
                Arc::new(project("kansen", None)),
                Arc::new(project("oud", Some(5))),
            ]
        }
    }

    fn caller(org: &str, role: Role, name: &str) -> Caller {
        Caller::identified(Identity {
            organisation: org.into(),
            role,
            name: name.into(),
        })
    }

    fn table<'a>(project: &'a str, datasets: &'a [&'a str]) -> Action<'a> {
        Action::Tabulate { project, datasets }
    }

    #[test]
    fn a_provider_acts_on_its_own_organisation_only() {
        let cbs = caller("cbs", Role::Provider, "x");
        assert!(decide(&cbs, Action::Upload { dataset: "cbs.p" }, &Held).is_ok());
        assert!(decide(&cbs, Action::Upload { dataset: "duo.p" }, &Held).is_err());
        assert!(decide(&cbs, Action::Upload { dataset: "nobody" }, &Held).is_err());
        assert!(decide(&cbs, Action::DeleteDataset { dataset: "cbs.p" }, &Held).is_ok());
        assert!(decide(&cbs, Action::DeleteDataset { dataset: "duo.q" }, &Held).is_err());
        let declare = Action::DeclareDataset {
            organisation: "duo",
        };
        assert!(decide(&cbs, declare, &Held).is_err());
        let releases = |dataset| Action::ListReleases { dataset };
        assert!(decide(&cbs, releases(Some("cbs.p")), &Held).is_ok());
        assert!(decide(&cbs, releases(None), &Held).is_err());
        assert!(decide(&cbs, table("kansen", &["cbs.p"]), &Held).is_err());
        assert!(decide(&cbs, Action::ApproveDataset { dataset: "cbs.p" }, &Held).is_ok());
        assert!(decide(&cbs, Action::ApproveDataset { dataset: "duo.q" }, &Held).is_err());
        assert!(decide(&cbs, Action::WithdrawApproval { dataset: "duo.q" }, &Held).is_err());
        assert!(decide(&cbs, Action::CreateProject, &Held).is_err());
        assert!(lists(&cbs, "cbs.p", "cbs", &Held) && !lists(&cbs, "duo.q", "duo", &Held));
    }

    #[test]
    fn an_analyst_asks_inside_an_open_project_of_its_over_approved_datasets_only() {
        let jansen = caller("uva", Role::Analyst, "jansen");
        assert!(decide(&jansen, table("kansen", &["cbs.p"]), &Held).is_ok());
        let linkage = Action::Linkage {
            project: "kansen",
            datasets: &[],
        };
        assert!(decide(&jansen, linkage, &Held).is_ok());
        let denied = |action| decide(&jansen, action, &Held).unwrap_err().0;
        assert!(denied(table("kansen", &["cbs.p", "duo.q"])).contains("not approved"));
        assert!(denied(table("kansen", &["cbs.other"])).contains("not approved"));
        assert_eq!(denied(table("oud", &["cbs.p"])), "the project is closed");
        assert!(denied(table("nergens", &["cbs.p"])).contains("member"));
        assert!(denied(table("", &["cbs.p"])).contains("member"));
        let other = caller("uva", Role::Analyst, "pietersen");
        assert!(decide(&other, table("kansen", &["cbs.p"]), &Held).is_err());
        // Reads follow the same projects.
        assert!(decide(&jansen, Action::ReadDataset { dataset: "cbs.p" }, &Held).is_ok());
        assert!(decide(&jansen, Action::ReadDataset { dataset: "duo.q" }, &Held).is_err());
        assert!(decide(&other, Action::ReadDataset { dataset: "cbs.p" }, &Held).is_err());
        assert!(lists(&jansen, "cbs.p", "cbs", &Held) && !lists(&jansen, "duo.q", "duo", &Held));
        let kansen = Held.project("kansen").unwrap();
        assert!(sees_project(&jansen, &kansen) && !sees_project(&other, &kansen));
    }

    #[test]
    fn other_roles_keep_to_their_own_work() {
        let admin = caller("ocw", Role::Administrator, "a");
        assert!(decide(&admin, Action::RotateKeys, &Held).is_ok());
        assert!(decide(&admin, Action::CloseProject, &Held).is_ok());
        assert_eq!(
            decide(&admin, table("kansen", &["cbs.p"]), &Held),
            Err(Denied(
                "an administrator manages keys, projects and code lists, and reads no data or tables"
            ))
        );
        assert!(decide(&admin, Action::ApproveDataset { dataset: "cbs.p" }, &Held).is_err());
        let auditor = caller("ocw", Role::Auditor, "a");
        assert!(decide(&auditor, Action::ReadLog, &Held).is_ok());
        assert!(decide(&auditor, Action::ListDatasets, &Held).is_err());
        assert!(decide(&auditor, Action::ListProjects, &Held).is_err());
        let kansen = Held.project("kansen").unwrap();
        assert!(sees_project(&admin, &kansen) && !sees_project(&auditor, &kansen));
        assert!(sees_project(&caller("duo", Role::Provider, "x"), &kansen));
        assert!(!sees_project(&caller("ocw", Role::Provider, "x"), &kansen));
        let analyst = caller("uva", Role::Analyst, "jansen");
        assert!(decide(&analyst, Action::Upload { dataset: "uva.x" }, &Held).is_err());
        assert!(decide(&analyst, Action::CreateProject, &Held).is_err());
        assert!(decide(&Caller::development(), Action::RotateKeys, &Held).is_ok());
        assert!(decide(&Caller::development(), table("", &["x.y"]), &Held).is_ok());
        assert!(decide(&Caller::server(), Action::ReadLog, &Held).is_err());
    }
}
