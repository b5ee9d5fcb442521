//! Who may do what: the one authorisation decision of every call.
//!
//! [`decide`] is a pure function of the caller, what the call does
//! ([`Action`]) and the catalogue (which organisation holds which
//! dataset). Deny by default: an action is allowed only by a rule below.
//!
//! | role | may |
//! |---|---|
//! | provider of organisation O | declare datasets of O; read and upload to O's datasets; list datasets (it sees O's); publish and read code lists; list the releases that used O's datasets |
//! | analyst | list and read datasets; read code lists; ask for tables and linkage figures |
//! | auditor | read the linkage log, its checkpoints and proofs, and the release history |
//! | administrator | key status and rotation; publish and read code lists |
//! | probe | nothing but the health check (`grpc.health.v1`, which needs no decision) |
//!
//! The development identity (a plaintext server on loopback) may do
//! everything. Projects, which narrow what analysts may ask, come with the
//! access-control work that follows.

use crate::auth::{Caller, Role};

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
    Tabulate,
    /// Ask for linkage figures.
    Linkage,
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
            Action::Upload { .. } => "upload",
            Action::PublishCodeList => "publish_code_list",
            Action::ReadCodeLists => "read_code_lists",
            Action::Tabulate => "tabulate",
            Action::Linkage => "linkage",
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
        (Role::Provider, Action::ReadDataset { dataset } | Action::Upload { dataset }) => {
            own(dataset)
        }
        (Role::Provider, Action::ListReleases { dataset: Some(d) }) => own(d),
        (
            Role::Provider,
            Action::ListDatasets | Action::PublishCodeList | Action::ReadCodeLists,
        ) => true,
        (
            Role::Analyst,
            Action::ListDatasets
            | Action::ReadDataset { .. }
            | Action::ReadCodeLists
            | Action::Tabulate
            | Action::Linkage,
        ) => true,
        (Role::Auditor, Action::ReadLog | Action::ListReleases { .. } | Action::ReadRelease) => {
            true
        }
        (
            Role::Administrator,
            Action::KeyStatus
            | Action::RotateKeys
            | Action::PublishCodeList
            | Action::ReadCodeLists,
        ) => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied(why(identity.role, action)))
    }
}

/// Whether `caller` sees `dataset` in a list of datasets.
pub fn lists(caller: &Caller, holder: &str) -> bool {
    match caller.identity() {
        None => caller.subject() == "development",
        Some(id) => match id.role {
            Role::Provider => id.organisation == holder,
            Role::Analyst => true,
            Role::Auditor | Role::Administrator | Role::Probe => false,
        },
    }
}

fn why(role: Role, action: Action<'_>) -> &'static str {
    match (role, action) {
        (Role::Provider, Action::DeclareDataset { .. }) => {
            "a data provider declares datasets of its own organisation only"
        }
        (Role::Provider, Action::ReadDataset { .. } | Action::Upload { .. }) => {
            "a data provider reads and uploads to its own organisation's datasets only"
        }
        (Role::Provider, Action::ListReleases { .. }) => {
            "a data provider lists the releases of its own organisation's datasets only (give --dataset)"
        }
        (Role::Provider, _) => "a data provider may not do this",
        (Role::Analyst, _) => "an analyst asks for tables and reads declarations only",
        (Role::Auditor, _) => "an auditor reads the log and the release history only",
        (Role::Administrator, _) => {
            "an administrator manages keys and code lists, and reads no data or tables"
        }
        (Role::Probe, _) => "a probe may only ask whether the server serves",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;

    struct Held;
    impl Catalogue for Held {
        fn holder(&self, dataset: &str) -> Option<String> {
            dataset.split_once('.').map(|(org, _)| org.to_owned())
        }
    }

    fn caller(org: &str, role: Role) -> Caller {
        Caller::identified(Identity {
            organisation: org.into(),
            role,
            name: "x".into(),
        })
    }

    #[test]
    fn a_provider_acts_on_its_own_organisation_only() {
        let cbs = caller("cbs", Role::Provider);
        assert!(decide(&cbs, Action::Upload { dataset: "cbs.p" }, &Held).is_ok());
        assert!(decide(&cbs, Action::Upload { dataset: "duo.p" }, &Held).is_err());
        assert!(decide(&cbs, Action::Upload { dataset: "nobody" }, &Held).is_err());
        assert!(decide(
            &cbs,
            Action::DeclareDataset {
                organisation: "duo"
            },
            &Held
        )
        .is_err());
        assert!(decide(
            &cbs,
            Action::ListReleases {
                dataset: Some("cbs.p")
            },
            &Held
        )
        .is_ok());
        assert!(decide(&cbs, Action::ListReleases { dataset: None }, &Held).is_err());
        assert!(decide(&cbs, Action::Tabulate, &Held).is_err());
        assert!(lists(&cbs, "cbs") && !lists(&cbs, "duo"));
    }

    #[test]
    fn other_roles_keep_to_their_own_work() {
        let admin = caller("ocw", Role::Administrator);
        assert!(decide(&admin, Action::RotateKeys, &Held).is_ok());
        assert_eq!(
            decide(&admin, Action::Tabulate, &Held),
            Err(Denied(
                "an administrator manages keys and code lists, and reads no data or tables"
            ))
        );
        let auditor = caller("ocw", Role::Auditor);
        assert!(decide(&auditor, Action::ReadLog, &Held).is_ok());
        assert!(decide(&auditor, Action::ListDatasets, &Held).is_err());
        let analyst = caller("ocw", Role::Analyst);
        assert!(decide(&analyst, Action::Tabulate, &Held).is_ok());
        assert!(decide(&analyst, Action::Upload { dataset: "ocw.x" }, &Held).is_err());
        assert!(decide(&Caller::development(), Action::RotateKeys, &Held).is_ok());
        assert!(decide(&Caller::server(), Action::ReadLog, &Held).is_err());
    }
}
