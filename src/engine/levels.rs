//! A categorical column seen through its classification: the levels it can
//! be grouped or filtered at, their codes and labels, and each value's
//! ancestor at every level.
//!
//! A column without a code list has one level, its own categories.

use crate::classification::Lineage;

/// A categorical column's levels; level 0 is the column's own codes.
pub(super) struct Levels<'a> {
    /// The column's categories (level-0 codes), as stored.
    categories: &'a [String],
    /// The column's classification, if it is declared on a code list.
    lineage: Option<Lineage>,
}

impl<'a> Levels<'a> {
    pub(super) fn new(categories: &'a [String], lineage: Option<Lineage>) -> Self {
        Levels {
            categories,
            lineage,
        }
    }

    /// The classification, if any.
    pub(super) fn lineage(&self) -> Option<&Lineage> {
        self.lineage.as_ref()
    }

    /// Number of levels (1 without a code list).
    pub(super) fn count(&self) -> usize {
        self.lineage.as_ref().map_or(1, |l| l.levels().len())
    }

    /// The level whose code list is called `name`.
    pub(super) fn named(&self, name: &str) -> Option<usize> {
        self.lineage.as_ref()?.level_named(name)
    }

    /// The code list name of `level` ("" without a code list).
    pub(super) fn name(&self, level: usize) -> &str {
        self.lineage
            .as_ref()
            .map_or("", |l| l.levels()[level].id().name.as_str())
    }

    /// Codes at `level`.
    pub(super) fn len(&self, level: usize) -> usize {
        match &self.lineage {
            Some(l) => l.levels()[level].codes().len(),
            None => self.categories.len(),
        }
    }

    /// Code `i` at `level`.
    pub(super) fn code(&self, level: usize, i: usize) -> &str {
        match &self.lineage {
            Some(l) => &l.levels()[level].codes()[i].code,
            None => &self.categories[i],
        }
    }

    /// Dutch and English labels of code `i` at `level` (the code itself
    /// when the column has no code list).
    pub(super) fn labels(&self, level: usize, i: usize) -> (&str, Option<&str>) {
        match &self.lineage {
            Some(l) => {
                let c = &l.levels()[level].codes()[i];
                (&c.label, c.label_en.as_deref())
            }
            None => (&self.categories[i], None),
        }
    }

    /// The ancestor at `level` of every level-0 code.
    pub(super) fn ancestors(&self, level: usize) -> Vec<u32> {
        match &self.lineage {
            Some(l) => l.ancestors(0, level),
            None => (0..self.categories.len() as u32).collect(),
        }
    }

    /// The ancestor at level `to` of code `code` at level `from`.
    pub(super) fn ancestor(&self, code: u32, from: usize, to: usize) -> u32 {
        match &self.lineage {
            Some(l) => l.ancestor(code, from, to),
            None => code,
        }
    }
}
