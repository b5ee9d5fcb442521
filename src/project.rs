//! Projects: the only place analysts may ask for tables.
//!
//! A project has a name, a purpose, members (analysts, by their log name
//! `organisation/analyst/name`) and datasets. A dataset counts for the
//! project only once its holder has approved it; the holder may withdraw
//! the approval. A project is open until an administrator closes it, for
//! good. Pure data and rules: the store keeps projects, the engine changes
//! them together with their log entries, [`crate::access`] decides with them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Most characters of a purpose.
pub const MAX_PURPOSE_LEN: usize = 2000;

/// Most members, and most datasets, of one project.
pub const MAX_MEMBERS: usize = 500;

/// One project as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Its name (a lower-case name, as releases record it).
    pub name: String,
    /// What it is for, as approved.
    pub purpose: String,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// Who created it (a log name).
    pub created_by: String,
    /// When it was closed, if it was.
    pub closed_ms: Option<i64>,
    /// The analysts who may ask inside it.
    pub members: BTreeSet<String>,
    /// Its datasets, by name, with their holders' approvals.
    pub datasets: BTreeMap<String, Approval>,
}

/// A dataset's place in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The organisation that holds the dataset.
    pub holder: String,
    /// When and by whom its holder approved it; `None` while pending or
    /// after the approval was withdrawn.
    pub approved: Option<Approved>,
}

/// A holder's approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approved {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Who (a log name of the holder's organisation).
    pub by: String,
}

impl Project {
    /// Whether analysts may still ask inside it.
    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }

    /// Whether `subject` (a log name) is a member.
    pub fn has_member(&self, subject: &str) -> bool {
        self.members.contains(subject)
    }

    /// Whether `dataset` is in the project with its holder's approval.
    pub fn approves(&self, dataset: &str) -> bool {
        self.datasets
            .get(dataset)
            .is_some_and(|a| a.approved.is_some())
    }

    /// The datasets approved by their holders, by name.
    pub fn approved_datasets(&self) -> impl Iterator<Item = &str> {
        self.datasets
            .iter()
            .filter(|(_, a)| a.approved.is_some())
            .map(|(name, _)| name.as_str())
    }

    /// Whether the project names a dataset of `organisation` (approved or not).
    pub fn involves(&self, organisation: &str) -> bool {
        self.datasets.values().any(|a| a.holder == organisation)
    }
}

/// Why a purpose is refused, if it is.
pub fn check_purpose(purpose: &str) -> Result<(), String> {
    let n = purpose.chars().count();
    if purpose.trim().is_empty() || n > MAX_PURPOSE_LEN || purpose.chars().any(char::is_control) {
        return Err(format!(
            "give the project's purpose: 1 to {MAX_PURPOSE_LEN} characters, no control characters"
        ));
    }
    Ok(())
}

/// Why a member name is refused, if it is: a member is an analyst, named
/// as the log names it (`organisation/analyst/name`).
pub fn check_member(member: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = member.split('/').collect();
    let well_formed = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty() && p.len() <= 64 && !p.chars().any(|c| c.is_control() || c == ' ')
        });
    match (well_formed, parts.get(1)) {
        (true, Some(&"analyst")) => Ok(()),
        (true, _) => Err("a member is an analyst: `organisation/analyst/name`"),
        (false, _) => Err("name a member as the log does: `organisation/analyst/name`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        let mut datasets = BTreeMap::new();
        datasets.insert(
            "cbs.p".to_owned(),
            Approval {
                holder: "cbs".into(),
                approved: Some(Approved {
                    at_ms: 2,
                    by: "cbs/provider/x".into(),
                }),
            },
        );
        datasets.insert(
            "duo.q".to_owned(),
            Approval {
                holder: "duo".into(),
                approved: None,
            },
        );
        Project {
            name: "kansen".into(),
            purpose: "gelijke kansen".into(),
            created_ms: 1,
            created_by: "ocw/administrator/a".into(),
            closed_ms: None,
            members: ["uva/analyst/jansen".to_owned()].into(),
            datasets,
        }
    }

    #[test]
    fn only_approved_datasets_count() {
        let p = project();
        assert!(p.approves("cbs.p") && !p.approves("duo.q") && !p.approves("x.y"));
        assert_eq!(p.approved_datasets().collect::<Vec<_>>(), ["cbs.p"]);
        assert!(p.involves("duo") && !p.involves("ocw"));
        assert!(p.has_member("uva/analyst/jansen") && !p.has_member("uva/analyst/other"));
        assert!(p.is_open());
    }

    #[test]
    fn members_are_analysts_named_as_in_the_log() {
        assert!(check_member("uva/analyst/jansen").is_ok());
        assert!(check_member("uva/provider/jansen").is_err());
        assert!(check_member("uva/analyst").is_err());
        assert!(check_member("uva/analyst/ja nsen").is_err());
        assert!(check_member("uva//jansen").is_err());
        assert!(check_purpose("Kansengelijkheid in het onderwijs").is_ok());
        assert!(check_purpose("  ").is_err());
        assert!(check_purpose(&"x".repeat(MAX_PURPOSE_LEN + 1)).is_err());
    }
}
