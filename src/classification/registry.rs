//! Every version of every code list, and lineages resolved for lookups.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{check_draft, err, CodeList, CodeListDraft, CodeListError, CodeListId, MAX_DEPTH};
use crate::field_path::FieldPath;

/// The registry of code lists, each with all its versions (ascending).
#[derive(Clone, Debug, Default)]
pub struct Classifications {
    lists: BTreeMap<String, Vec<Arc<CodeList>>>,
}

/// What [`Classifications::prepare`] decided about a draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// A new version, to be stored and then [inserted](Classifications::insert).
    New(CodeList),
    /// The draft equals the latest version: nothing to store.
    Unchanged(Arc<CodeList>),
}

impl Classifications {
    /// A registry holding `lists` (in any order; versions must be complete).
    pub fn from_lists(lists: impl IntoIterator<Item = CodeList>) -> Self {
        let mut all: Vec<CodeList> = lists.into_iter().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let mut registry = Classifications::default();
        for list in all {
            registry
                .lists
                .entry(list.id.name.clone())
                .or_default()
                .push(Arc::new(list));
        }
        registry
    }

    /// Validates a draft against the registry: its own fields, and that the
    /// parent list exists, names every parent code, and keeps the chain of
    /// ancestors within [`MAX_DEPTH`]. The new version is the latest + 1;
    /// a draft equal to the latest version is [`Prepared::Unchanged`].
    pub fn prepare(&self, draft: &CodeListDraft) -> Result<Prepared, Vec<CodeListError>> {
        let mut problems = check_draft(draft);
        let parent = match &draft.parent {
            None => None,
            Some(name) if *name == draft.name => {
                problems.push(err(
                    FieldPath::new("parent"),
                    "a list cannot be its own parent",
                ));
                None
            }
            Some(name) => match self.latest(name) {
                Some(list) => Some(list.clone()),
                None => {
                    problems.push(err(FieldPath::new("parent"), "no code list of that name"));
                    None
                }
            },
        };
        if let Some(parent) = &parent {
            if self.depth(parent.id()) + 1 > MAX_DEPTH {
                problems.push(err(
                    FieldPath::new("parent"),
                    format!("a list has at most {} ancestor lists", MAX_DEPTH - 1),
                ));
            }
            let known: std::collections::HashSet<&str> =
                parent.codes().iter().map(|c| c.code.as_str()).collect();
            for (i, c) in draft.codes.iter().enumerate() {
                if c.parent.as_deref().is_some_and(|p| !known.contains(p)) {
                    problems.push(err(
                        FieldPath::new("codes").index(i).field("parent"),
                        "not a code of the parent list",
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let parent_id = parent.map(|p| p.id().clone());
        if let Some(latest) = self.latest(&draft.name) {
            if latest.same_content(parent_id.as_ref(), &draft.codes) {
                return Ok(Prepared::Unchanged(latest.clone()));
            }
        }
        let version = self.latest(&draft.name).map_or(1, |l| l.id.version + 1);
        Ok(Prepared::New(CodeList {
            id: CodeListId {
                name: draft.name.clone(),
                version,
            },
            parent: parent_id,
            codes: draft.codes.clone(),
        }))
    }

    /// Adds a version that [`prepare`](Self::prepare) returned as new.
    pub fn insert(&mut self, list: CodeList) -> Arc<CodeList> {
        let list = Arc::new(list);
        let versions = self.lists.entry(list.id.name.clone()).or_default();
        debug_assert_eq!(list.id.version as usize, versions.len() + 1);
        versions.push(list.clone());
        list
    }

    /// One version.
    pub fn get(&self, id: &CodeListId) -> Option<&Arc<CodeList>> {
        let versions = self.lists.get(&id.name)?;
        versions.get((id.version as usize).checked_sub(1)?)
    }

    /// The latest version of `name`.
    pub fn latest(&self, name: &str) -> Option<&Arc<CodeList>> {
        self.lists.get(name).and_then(|v| v.last())
    }

    /// Every version of `name`, ascending.
    pub fn versions(&self, name: &str) -> &[Arc<CodeList>] {
        self.lists.get(name).map_or(&[], Vec::as_slice)
    }

    /// The latest version of every list, by name.
    pub fn latest_all(&self) -> impl Iterator<Item = &Arc<CodeList>> {
        self.lists.values().filter_map(|v| v.last())
    }

    /// The list `id` and its ancestors, resolved; `None` if `id` (or an
    /// ancestor) is not in the registry.
    pub fn lineage(&self, id: &CodeListId) -> Option<Lineage> {
        let mut levels = vec![self.get(id)?.clone()];
        while let Some(parent) = levels.last().and_then(|l| l.parent.clone()) {
            levels.push(self.get(&parent)?.clone());
        }
        let up = levels
            .windows(2)
            .map(|pair| {
                let index: HashMap<&str, u32> = (0u32..)
                    .zip(pair[1].codes())
                    .map(|(i, c)| (c.code.as_str(), i))
                    .collect();
                pair[0]
                    .codes()
                    .iter()
                    .map(|c| {
                        // `prepare` checked every parent code against the parent list.
                        let parent = c.parent.as_deref().unwrap_or_default();
                        index.get(parent).copied().unwrap_or(0)
                    })
                    .collect()
            })
            .collect();
        Some(Lineage { levels, up })
    }

    fn depth(&self, id: &CodeListId) -> usize {
        self.lineage(id).map_or(1, |l| l.levels.len())
    }
}

/// A code list and its ancestor lists, level 0 being the list itself.
#[derive(Clone, Debug)]
pub struct Lineage {
    levels: Vec<Arc<CodeList>>,
    /// `up[k][c]`: the parent, at level k + 1, of code `c` at level k.
    up: Vec<Vec<u32>>,
}

impl Lineage {
    /// The lists, from the list itself up to its farthest ancestor.
    pub fn levels(&self) -> &[Arc<CodeList>] {
        &self.levels
    }

    /// The level of the list called `name`.
    pub fn level_named(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.id.name == name)
    }

    /// The level of list version `id`.
    pub fn level_of(&self, id: &CodeListId) -> Option<usize> {
        self.levels.iter().position(|l| &l.id == id)
    }

    /// The ancestor at level `to` of code `code` at level `from` (`from <= to`).
    pub fn ancestor(&self, mut code: u32, from: usize, to: usize) -> u32 {
        for up in &self.up[from..to] {
            code = up[code as usize];
        }
        code
    }

    /// For every code at level `from`, its ancestor at level `to`.
    pub fn ancestors(&self, from: usize, to: usize) -> Vec<u32> {
        let n = self.levels[from].codes().len() as u32;
        (0..n).map(|c| self.ancestor(c, from, to)).collect()
    }
}

/// Two columns of one dataset that must agree in every row: the code list
/// of `parent` is the ancestor at `level` of the code list of `child`, so
/// a row's `parent` value is the ancestor of its `child` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// Column index of the more detailed column.
    pub child: usize,
    /// Column index of the coarser column.
    pub parent: usize,
    /// The parent's level in the child's lineage (at least 1).
    pub level: usize,
}

/// The dependencies among a dataset's columns, given each column's code
/// list (`None` for a column on none). Columns on the same list do not
/// depend on each other.
pub fn dependencies(lists: &[Option<&CodeListId>], registry: &Classifications) -> Vec<Dependency> {
    let mut found = Vec::new();
    for (child, id) in lists.iter().enumerate() {
        let Some(lineage) = id.and_then(|id| registry.lineage(id)) else {
            continue;
        };
        for (parent, other) in lists.iter().enumerate() {
            if let Some(level) = other.and_then(|o| lineage.level_of(o)).filter(|&l| l > 0) {
                found.push(Dependency {
                    child,
                    parent,
                    level,
                });
            }
        }
    }
    found
}
