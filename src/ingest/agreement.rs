//! Row-by-row agreement of dependent columns: where one column's code list
//! is an ancestor of another's (sector above level), a row's coarse code
//! must be the ancestor of its detailed code.
//!
//! The code lists are resolved once, when the upload opens, into one table
//! per dependency (detailed code → expected coarse code), so that a row
//! costs one array access per dependency. A disagreement names both
//! columns, never their values.

use super::values::Parsed;
use crate::classification::{dependencies, Classifications};
use crate::schema::DatasetDef;

/// One dependency of the dataset, resolved.
struct Agreement {
    /// Column index of the detailed column.
    child: usize,
    /// Column index of the coarse column.
    parent: usize,
    /// `expected[c]`: the coarse code of detailed code `c`.
    expected: Vec<u32>,
    /// Why a row that disagrees is invalid, in declared names only.
    reason: String,
}

/// Every dependency among a dataset's columns. See the [module docs](self).
pub(super) struct Agreements(Vec<Agreement>);

impl Agreements {
    /// The dependencies among `def`'s columns, with their lists from `lists`.
    pub(super) fn new(def: &DatasetDef, lists: &Classifications) -> Self {
        let found = dependencies(&def.code_lists(), lists)
            .into_iter()
            .filter_map(|d| {
                let lineage = lists.lineage(def.columns()[d.child].kind.code_list()?)?;
                let (child, parent) = (&def.columns()[d.child].name, &def.columns()[d.parent].name);
                Some(Agreement {
                    child: d.child,
                    parent: d.parent,
                    expected: lineage.ancestors(0, d.level),
                    reason: format!("the `{child}` code does not lie within the row's `{parent}`"),
                })
            })
            .collect();
        Agreements(found)
    }

    /// The disagreements of one row whose values all parsed (`parsed[i]`
    /// for column `i`): the detailed column's index with the reason.
    pub(super) fn check<'a>(
        &'a self,
        parsed: &'a [Parsed],
    ) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        self.0.iter().filter_map(move |a| {
            let (Parsed::Code(child), Parsed::Code(parent)) = (parsed[a.child], parsed[a.parent])
            else {
                return None;
            };
            let expected = a.expected.get(child as usize).copied();
            (expected != Some(parent)).then_some((a.child, a.reason.as_str()))
        })
    }
}
