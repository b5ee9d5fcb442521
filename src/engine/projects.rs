//! Projects in the engine: creating, changing and closing them, holders'
//! approvals, each with its log entry in the same commit.
//!
//! Projects live in memory behind `Arc`s, replaced after each commit, so
//! the authorisation decision reads them without touching the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use super::{entry, Engine, EngineError};
use crate::audit::event::Event;
use crate::audit::Receipt;
use crate::auth::Caller;
use crate::field_path::FieldPath;
use crate::project::{check_member, check_purpose, Approval, Approved, Project, MAX_MEMBERS};

/// A project as an administrator asks for it.
#[derive(Clone, Debug, Default)]
pub struct ProjectDraft {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub purpose: String,
    /// Analysts, `organisation/analyst/name`.
    pub members: Vec<String>,
    /// Declared datasets it asks for.
    pub datasets: Vec<String>,
}

/// A change to a project's members and datasets.
#[derive(Clone, Debug, Default)]
pub struct ProjectChange {
    /// The project.
    pub name: String,
    /// Members to add.
    pub add_members: Vec<String>,
    /// Members to remove.
    pub remove_members: Vec<String>,
    /// Datasets to ask for (each awaits its holder's approval).
    pub add_datasets: Vec<String>,
    /// Datasets to take out, with their approvals.
    pub remove_datasets: Vec<String>,
}

/// A project as it is after a change, with the change's log receipt.
pub type Changed = (Arc<Project>, Receipt);

impl Engine {
    /// Creates an open project; its datasets await their holders' approval.
    pub fn create_project(
        &self,
        caller: &Caller,
        draft: &ProjectDraft,
        now: SystemTime,
    ) -> Result<Changed, EngineError> {
        let limits = &self.table_limits.request;
        limits.check_project(FieldPath::new("name"), &draft.name)?;
        check_purpose(&draft.purpose)
            .map_err(|reason| super::request::invalid(FieldPath::new("purpose"), reason))?;
        let members = members(&draft.members, "members")?;
        let mut store = self.lock_store();
        if self.read().projects.contains_key(&draft.name) {
            return Err(EngineError::ProjectExists);
        }
        let mut project = Project {
            name: draft.name.clone(),
            purpose: draft.purpose.clone(),
            created_ms: super::millis(now),
            created_by: caller.subject().to_owned(),
            closed_ms: None,
            members,
            datasets: Default::default(),
        };
        self.add_datasets(&mut project, &draft.datasets, "datasets")?;
        let event = Event::ProjectCreated {
            project: project.name.clone(),
            purpose: project.purpose.clone(),
            members: project.members.iter().cloned().collect(),
            datasets: project.datasets.keys().cloned().collect(),
        };
        let receipt = store.save_project(&project, &entry(caller, now, event))?;
        Ok((self.install(project), receipt))
    }

    /// Adds and removes members and datasets of an open project.
    pub fn change_project(
        &self,
        caller: &Caller,
        change: &ProjectChange,
        now: SystemTime,
    ) -> Result<Changed, EngineError> {
        let add = members(&change.add_members, "add_members")?;
        let mut store = self.lock_store();
        let mut project = self.open_project(&change.name, "name")?;
        let added_members: Vec<String> = add
            .into_iter()
            .filter(|m| project.members.insert(m.clone()))
            .collect();
        let removed_members: Vec<String> = change
            .remove_members
            .iter()
            .filter(|m| project.members.remove(m.as_str()))
            .cloned()
            .collect();
        if project.members.len() > MAX_MEMBERS {
            return Err(too_many("add_members"));
        }
        let before: BTreeSet<String> = project.datasets.keys().cloned().collect();
        self.add_datasets(&mut project, &change.add_datasets, "add_datasets")?;
        let added_datasets = project
            .datasets
            .keys()
            .filter(|d| !before.contains(*d))
            .cloned()
            .collect();
        let removed_datasets = change
            .remove_datasets
            .iter()
            .filter(|d| project.datasets.remove(d.as_str()).is_some())
            .cloned()
            .collect();
        let event = Event::ProjectChanged {
            project: project.name.clone(),
            added_members,
            removed_members,
            added_datasets,
            removed_datasets,
        };
        let receipt = store.save_project(&project, &entry(caller, now, event))?;
        Ok((self.install(project), receipt))
    }

    /// Closes an open project for good: no table is asked in it again.
    pub fn close_project(
        &self,
        caller: &Caller,
        name: &str,
        now: SystemTime,
    ) -> Result<Changed, EngineError> {
        let mut store = self.lock_store();
        let mut project = self.open_project(name, "name")?;
        let entry = entry(
            caller,
            now,
            Event::ProjectClosed {
                project: project.name.clone(),
            },
        );
        project.closed_ms = Some(entry.at_ms);
        let receipt = store.save_project(&project, &entry)?;
        Ok((self.install(project), receipt))
    }

    /// Records the holder's approval of `dataset` in the project (or, with
    /// `approve` false, withdraws it). The access decision has checked that
    /// the caller's organisation holds the dataset.
    pub fn approve_dataset(
        &self,
        caller: &Caller,
        project: &str,
        dataset: &str,
        approve: bool,
        now: SystemTime,
    ) -> Result<Changed, EngineError> {
        let mut store = self.lock_store();
        let mut project = self.open_project(project, "project")?;
        let slot = project
            .datasets
            .get_mut(dataset)
            .ok_or(EngineError::NotInProject)?;
        let (name, organisation) = (project.name.clone(), slot.holder.clone());
        let dataset = dataset.to_owned();
        let event = if approve {
            Event::DatasetApproved {
                project: name,
                dataset,
                organisation,
            }
        } else {
            Event::ApprovalWithdrawn {
                project: name,
                dataset,
                organisation,
            }
        };
        let entry = entry(caller, now, event);
        slot.approved = approve.then(|| Approved {
            at_ms: entry.at_ms,
            by: caller.subject().to_owned(),
        });
        let receipt = store.save_project(&project, &entry)?;
        Ok((self.install(project), receipt))
    }

    /// The projects `caller` may see, by name.
    pub fn visible_projects(&self, caller: &Caller) -> Vec<Arc<Project>> {
        self.read()
            .projects
            .values()
            .filter(|p| crate::access::sees_project(caller, p))
            .cloned()
            .collect()
    }

    /// The open project `name` (a copy to change); a missing one is
    /// reported at `field`.
    fn open_project(&self, name: &str, field: &'static str) -> Result<Project, EngineError> {
        let project = self
            .read()
            .projects
            .get(name)
            .map(|p| Project::clone(p))
            .ok_or_else(|| EngineError::ProjectNotFound {
                field: FieldPath::new(field),
            })?;
        if !project.is_open() {
            return Err(EngineError::ProjectClosed);
        }
        Ok(project)
    }

    /// Adds declared datasets to `project`, pending approval; one already
    /// in the project keeps its approval.
    fn add_datasets(
        &self,
        project: &mut Project,
        names: &[String],
        field: &'static str,
    ) -> Result<(), EngineError> {
        for (i, name) in names.iter().enumerate() {
            let l = self.loaded(name, || FieldPath::new(field).index(i))?;
            project
                .datasets
                .entry(name.clone())
                .or_insert_with(|| Approval {
                    holder: l.info.def.organisation().to_owned(),
                    approved: None,
                });
        }
        if project.datasets.len() > MAX_MEMBERS {
            return Err(too_many(field));
        }
        Ok(())
    }

    /// Puts the committed `project` in memory.
    fn install(&self, project: Project) -> Arc<Project> {
        let project = Arc::new(project);
        self.write()
            .projects
            .insert(project.name.clone(), Arc::clone(&project));
        project
    }
}

/// Checked member names.
fn members(names: &[String], field: &'static str) -> Result<BTreeSet<String>, EngineError> {
    if names.len() > MAX_MEMBERS {
        return Err(too_many(field));
    }
    for (i, m) in names.iter().enumerate() {
        check_member(m).map_err(|r| super::request::invalid(FieldPath::new(field).index(i), r))?;
    }
    Ok(names.iter().cloned().collect())
}

fn too_many(field: &'static str) -> EngineError {
    super::request::invalid(
        FieldPath::new(field),
        format!("a project has at most {MAX_MEMBERS} members and {MAX_MEMBERS} datasets"),
    )
}
