//! Counting distinct persons (and summing a numeric variable) over linked
//! datasets into a cube with all margins.
//!
//! Every margin is counted directly from the persons, not summed from the
//! cells, so that the disclosure check can verify that each margin equals
//! the sum of the cells it covers. Each cell also gets its cell key and, for
//! magnitude tables, the contributions of its distinct units (persons or
//! households). This module does no I/O and knows nothing of disclosure rules.

mod axis;
mod cube;
mod magnitude;
mod prints;

pub use axis::{Axis, AxisError};
pub use cube::CountCube;
pub use magnitude::{MagnitudeSpec, MagnitudeStats, TOP_CONTRIBUTIONS};

use crate::columns::{ColumnData, DatasetData};
use crate::ledger::{CellPrint, PrintKey};
use cube::{covering_indices, strides};
use magnitude::MagnitudeAcc;
use prints::PrintAcc;

/// A categorical variable: a column of one of the query's datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variable {
    /// Index into [`Query::datasets`].
    pub dataset: usize,
    /// Column index in that dataset.
    pub column: usize,
}

/// A grouping variable and the positions it shows: `index_of_code[code]`
/// is the table category of a value's code (several codes may share one,
/// as when grouping at a coarser level of a classification), or [`HIDDEN`]
/// for a value a filter excludes; `axis` adds any subtotals.
#[derive(Clone, Debug)]
pub struct Dimension {
    /// The variable grouped on.
    pub variable: Variable,
    /// Table category of each value code.
    pub index_of_code: Vec<u32>,
    /// The categories, subtotals and total.
    pub axis: Axis,
}

/// Marks a category that a table does not show.
pub const HIDDEN: u32 = u32::MAX;

impl Dimension {
    /// Shows the categories whose code is `shown`, in that order.
    pub fn new(variable: Variable, codes: usize, shown: &[usize]) -> Self {
        let mut index_of_code = vec![HIDDEN; codes];
        for (i, &code) in (0u32..).zip(shown) {
            index_of_code[code] = i;
        }
        Dimension {
            variable,
            index_of_code,
            axis: Axis::flat(shown.len()),
        }
    }
}

/// Keep the persons whose value of `variable` is allowed.
#[derive(Clone, Debug)]
pub struct CodeFilter {
    /// The variable filtered on.
    pub variable: Variable,
    /// `allowed[code]` for each category code.
    pub allowed: Vec<bool>,
}

/// A query over the persons present in every dataset.
#[derive(Debug)]
pub struct Query<'a> {
    /// The linked datasets (inner join on the person).
    pub datasets: Vec<&'a DatasetData>,
    /// The grouping variables, 0 to 3 (categorical).
    pub group_by: Vec<Dimension>,
    /// Filters, all of which must hold.
    pub filters: Vec<CodeFilter>,
    /// Every person's record key, by person number (for cell keys).
    pub record_keys: &'a [u32],
    /// The key of the persons' tags in the cells' prints.
    pub print_key: &'a PrintKey,
    /// A numeric variable to sum, if this is a magnitude table.
    pub magnitude: Option<MagnitudeSpec>,
    /// Cells (margins included) that the classifications rule out: no
    /// person can fall in them. Empty when there are none.
    pub structural_zeros: Vec<bool>,
}

/// Most grouping variables a query may have.
pub const MAX_DIMENSIONS: usize = 3;

/// What a query found, cell by cell (margins included).
#[derive(Debug)]
pub struct TableStats {
    /// Distinct persons per cell.
    pub cube: CountCube,
    /// Cell keys: wrapping sums of the contributors' record keys.
    pub keys: Vec<u32>,
    /// Sums and unit contributions, for a magnitude table.
    pub magnitude: Option<MagnitudeStats>,
    /// Each cell's print for the release ledger (empty for a table built
    /// by hand).
    pub prints: Vec<CellPrint>,
    /// The query's structural zeros (empty when there are none).
    pub structural_zeros: Vec<bool>,
}

impl TableStats {
    /// A count table from its cube alone (zero cell keys, no persons), for
    /// checking disclosure rules on tables built by hand.
    pub fn of_counts(cube: CountCube) -> Self {
        let keys = vec![0; cube.len()];
        TableStats {
            cube,
            keys,
            magnitude: None,
            prints: Vec::new(),
            structural_zeros: Vec::new(),
        }
    }
}

/// Scans the persons present in all of the query's datasets that pass the
/// filters and counts them (and their values) into every cell and margin.
pub fn tabulate(q: &Query<'_>) -> TableStats {
    let codes = |v: &Variable| match q.datasets[v.dataset].column(v.column) {
        ColumnData::Codes { codes, .. } => codes.as_slice(),
        ColumnData::Numbers(_) => panic!("grouping and filter variables are categorical"),
    };
    let dims: Vec<(&[u32], &[u32])> = q
        .group_by
        .iter()
        .map(|d| (codes(&d.variable), d.index_of_code.as_slice()))
        .collect();
    let filters: Vec<(&[u32], usize, &[bool])> = q
        .filters
        .iter()
        .map(|f| (codes(&f.variable), f.variable.dataset, f.allowed.as_slice()))
        .collect();
    let mut cube = CountCube::with_axes(q.group_by.iter().map(|d| d.axis.clone()).collect());
    let mut keys = vec![0u32; cube.len()];
    let mut magnitude = q
        .magnitude
        .as_ref()
        .map(|m| MagnitudeAcc::new(m, q, cube.axes()));
    let strides = strides(cube.sizes());
    let mut prints = PrintAcc::new(q.print_key, cube.len());
    let Some(driver) = (0..q.datasets.len()).min_by_key(|&d| q.datasets[d].rows()) else {
        let prints = prints.finish(q, &cube);
        return TableStats {
            cube,
            keys,
            magnitude: None,
            prints,
            structural_zeros: q.structural_zeros.clone(),
        };
    };
    let mut rows = vec![0usize; q.datasets.len()];
    let mut covering = Vec::with_capacity(1 << dims.len());
    'persons: for (row, &person) in q.datasets[driver].persons().iter().enumerate() {
        for (d, data) in q.datasets.iter().enumerate() {
            rows[d] = if d == driver {
                row
            } else {
                match data.row_of(person) {
                    Some(r) => r,
                    None => continue 'persons,
                }
            };
        }
        for &(codes, dataset, allowed) in &filters {
            if !allowed[codes[rows[dataset]] as usize] {
                continue 'persons;
            }
        }
        let mut cell = [0usize; MAX_DIMENSIONS];
        for (d, (codes, index_of_code)) in dims.iter().enumerate() {
            match index_of_code[codes[rows[q.group_by[d].variable.dataset]] as usize] {
                HIDDEN => continue 'persons,
                i => cell[d] = i as usize,
            }
        }
        let cell = &cell[..dims.len()];
        covering_indices(cube.axes(), &strides, cell, &mut covering);
        prints.add(person, &covering);
        let record_key = q.record_keys[person as usize];
        for &i in &covering {
            cube.add(i, 1);
            keys[i] = keys[i].wrapping_add(record_key);
        }
        if let Some(m) = magnitude.as_mut() {
            m.add_person(person, cell, &covering, &rows);
        }
    }
    let magnitude = magnitude.map(|m| m.finish(&strides));
    let prints = prints.finish(q, &cube);
    TableStats {
        cube,
        keys,
        magnitude,
        prints,
        structural_zeros: q.structural_zeros.clone(),
    }
}
