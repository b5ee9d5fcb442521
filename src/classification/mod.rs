//! Classifications: versioned code lists, their hierarchies, and what they
//! imply for the columns declared on them.
//!
//! - A [`CodeList`] holds codes with labels in display order; it may name a
//!   parent code list, in which case every code names its parent code there
//!   (level within sector, gemeente within COROP-gebied within provincie).
//! - [`Classifications`] is the registry of every version of every list;
//!   a [`Lineage`] is a list with its chain of ancestors, resolved to
//!   integer maps so that tables and uploads look parents up by index.
//! - [`dependencies`]: which columns of a dataset must agree row by row
//!   because one's code list is an ancestor of the other's.
//!
//! Code lists are public by construction: an administrator publishes them,
//! and their codes and labels may appear in any table. No I/O here.

mod registry;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use registry::{dependencies, Classifications, Dependency, Lineage, Prepared};

use crate::field_path::FieldPath;
use crate::names::is_simple_name;

/// Most codes one code list may hold.
pub const MAX_CODES: usize = 10_000;
/// Longest code, in bytes.
pub const MAX_CODE_LEN: usize = 64;
/// Longest label, in bytes.
pub const MAX_LABEL_LEN: usize = 200;
/// Deepest chain of parent lists (a list and its ancestors).
pub const MAX_DEPTH: usize = 8;

/// A code list version: its name and version number (from 1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CodeListId {
    /// Lower-case name, e.g. `onderwijsniveau`.
    pub name: String,
    /// Version, counting from 1.
    pub version: u32,
}

impl fmt::Display for CodeListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.name, self.version)
    }
}

/// One code with its labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The code as data files hold it, e.g. `havo` or `GM0363`.
    pub code: String,
    /// Dutch label.
    pub label: String,
    /// English label, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_en: Option<String>,
    /// The parent code in the parent list (required when the list has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// A validated code list version. Built only by [`Classifications::prepare`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeList {
    id: CodeListId,
    /// The parent list version, pinned at creation.
    parent: Option<CodeListId>,
    /// Codes in display order.
    codes: Vec<Code>,
}

impl CodeList {
    /// Name and version.
    pub fn id(&self) -> &CodeListId {
        &self.id
    }

    /// The parent list version, if the list has one.
    pub fn parent(&self) -> Option<&CodeListId> {
        self.parent.as_ref()
    }

    /// The codes, in display order.
    pub fn codes(&self) -> &[Code] {
        &self.codes
    }

    /// Position of `code`, if the list holds it.
    pub fn position(&self, code: &str) -> Option<usize> {
        self.codes.iter().position(|c| c.code == code)
    }

    /// Whether `other` holds the same codes, labels and parents.
    fn same_content(&self, parent: Option<&CodeListId>, codes: &[Code]) -> bool {
        self.parent.as_ref() == parent && self.codes == codes
    }
}

/// A code list as an administrator submits it: the parent list is named
/// by name (its latest version is pinned).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeListDraft {
    /// The list's name.
    pub name: String,
    /// The parent list's name, if any.
    pub parent: Option<String>,
    /// Codes in display order.
    pub codes: Vec<Code>,
}

/// What is wrong with a code list draft, at the field at fault
/// (`name`, `parent`, `codes[3].parent`). Never repeats a code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct CodeListError {
    /// The field at fault.
    pub field: FieldPath,
    /// Why.
    pub reason: String,
}

fn err(field: FieldPath, reason: impl Into<String>) -> CodeListError {
    CodeListError {
        field,
        reason: reason.into(),
    }
}

/// Checks a code or label: non-empty, no surrounding spaces or control
/// characters, at most `max` bytes.
fn text_problem(s: &str, max: usize) -> Option<String> {
    if s.is_empty() || s.trim() != s {
        Some("must be non-empty without surrounding spaces".into())
    } else if s.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else if s.len() > max {
        Some(format!("at most {max} bytes"))
    } else {
        None
    }
}

/// Validates the draft's own fields (not its parent references).
fn check_draft(draft: &CodeListDraft) -> Vec<CodeListError> {
    let mut problems = Vec::new();
    if !is_simple_name(&draft.name) {
        problems.push(err(
            FieldPath::new("name"),
            "must be a lower-case name such as `onderwijsniveau`",
        ));
    }
    if draft.codes.is_empty() {
        problems.push(err(FieldPath::new("codes"), "give at least one code"));
    }
    if draft.codes.len() > MAX_CODES {
        problems.push(err(
            FieldPath::new("codes"),
            format!("at most {MAX_CODES} codes"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in draft.codes.iter().enumerate() {
        let at = |f: &'static str| FieldPath::new("codes").index(i).field(f);
        if let Some(reason) = text_problem(&c.code, MAX_CODE_LEN) {
            problems.push(err(at("code"), reason));
        } else if !seen.insert(c.code.as_str()) {
            problems.push(err(at("code"), "duplicate code"));
        }
        if let Some(reason) = text_problem(&c.label, MAX_LABEL_LEN) {
            problems.push(err(at("label"), reason));
        }
        if let Some(reason) = c
            .label_en
            .as_deref()
            .and_then(|l| text_problem(l, MAX_LABEL_LEN))
        {
            problems.push(err(at("label_en"), reason));
        }
        match (&draft.parent, &c.parent) {
            (Some(_), None) => problems.push(err(
                at("parent"),
                "the list has a parent list: every code names its parent code",
            )),
            (None, Some(_)) => problems.push(err(
                at("parent"),
                "the list has no parent list: name one, or leave the parent out",
            )),
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests;
