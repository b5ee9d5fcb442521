//! Counting distinct persons (and summing a numeric variable) over linked
//! datasets into a cube with all margins.
//!
//! A scan adds each person to its category cell only; every margin is then
//! the merge of the category cells it covers (persons are disjoint across
//! category cells, and a household in several of them is kept apart as a
//! unit of every cell that covers any of its members). Each cell also gets
//! its cell key and, for magnitude tables, the contributions of its
//! distinct units (persons or households). This module does no I/O and
//! knows nothing of disclosure rules.

mod axis;
mod cube;
mod magnitude;
mod prints;
mod scratch;
mod sides;

pub use axis::{Axis, AxisError};
pub use cube::CountCube;
pub use magnitude::{MagnitudeSpec, MagnitudeStats, TOP_CONTRIBUTIONS};
pub use scratch::Scratch;
pub use sides::SideCache;

use std::ops::Range;

use crate::columns::{ColumnData, DatasetData};
use crate::ledger::{CellPrint, PrintKey};
use cube::{strides, CoveringTable};
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
    /// Where datasets' sides of the cells are kept between tables, if anywhere.
    pub sides: Option<&'a SideCache>,
    /// Where memory for household members is kept between tables, if anywhere.
    pub scratch: Option<&'a Scratch>,
}

/// Most grouping variables a query may have.
pub const MAX_DIMENSIONS: usize = 3;

/// What a query found, cell by cell (margins included).
#[derive(Debug, PartialEq)]
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

/// [`tabulate_in`] on one thread.
pub fn tabulate(q: &Query<'_>) -> TableStats {
    tabulate_in(q, 1)
}

/// Scans the persons present in all of the query's datasets that pass the
/// filters and counts them (and their values) into every cell and margin,
/// the persons cut into `threads` parts scanned side by side.
pub fn tabulate_in(q: &Query<'_>, threads: usize) -> TableStats {
    let rows = driver(q).map_or(0, |d| q.datasets[d].rows());
    tabulate_partitioned(q, &split(rows, threads))
}

/// Tabulates each part of the persons on its own thread (`parts`: ranges
/// of rows of the smallest dataset, which is sorted by person, so each is
/// a range of persons) and merges the partial aggregates. Every partial
/// merges exactly (counts, wrapping key sums, fixed-point sums, top
/// contributions of disjoint units, set hashes; household members are
/// merged before they are grouped), so any cut gives the same table as
/// one part.
pub fn tabulate_partitioned(q: &Query<'_>, parts: &[Range<usize>]) -> TableStats {
    let plan = Plan::of(q);
    let threads = parts.len().max(1);
    let mut partials = in_parallel(parts, |rows| plan.scan(q, rows)).into_iter();
    let mut total = partials.next().unwrap_or_else(|| plan.scan(q, 0..0));
    for p in partials {
        total.merge(p);
    }
    let leaves = total.spread(&plan.covering);
    let magnitude = total
        .magnitude
        .map(|m| m.finish(&plan.covering, &leaves, threads));
    let prints = total.prints.finish(q, &total.cube, threads);
    TableStats {
        cube: total.cube,
        keys: total.keys,
        magnitude,
        prints,
        structural_zeros: q.structural_zeros.clone(),
    }
}

/// The dataset whose persons a scan walks: the smallest (any person of
/// the table is in all of them).
fn driver(q: &Query<'_>) -> Option<usize> {
    (0..q.datasets.len()).min_by_key(|&d| q.datasets[d].rows())
}

/// `0..n` cut into at most `parts` contiguous ranges of nearly equal size
/// (one, possibly empty, when `parts` is 0 or 1).
pub(crate) fn split(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|i| n * i / parts..n * (i + 1) / parts)
        .collect()
}

/// `f` over each range, each on its own scoped thread (the first on the
/// caller's), results in the order of `ranges`.
pub(crate) fn in_parallel<T: Send>(
    ranges: &[Range<usize>],
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    match ranges {
        [] => Vec::new(),
        [only] => vec![f(only.clone())],
        [first, rest @ ..] => std::thread::scope(|scope| {
            let f = &f;
            let others: Vec<_> = rest
                .iter()
                .map(|r| {
                    let r = r.clone();
                    scope.spawn(move || f(r))
                })
                .collect();
            let mut out = vec![f(first.clone())];
            out.extend(others.into_iter().map(|h| match h.join() {
                Ok(t) => t,
                Err(panic) => std::panic::resume_unwind(panic),
            }));
            out
        }),
    }
}

/// What a scan reads, resolved once per query.
struct Plan<'q> {
    driver: Option<usize>,
    /// What is checked in each dataset, the driver's first.
    steps: Vec<Step<'q>>,
    /// Each cell's covering cells.
    covering: CoveringTable,
}

/// What a scan checks in one dataset once a person's row there is known.
struct Step<'q> {
    dataset: usize,
    /// Codes and allowed codes of each of the dataset's filters.
    filters: Vec<(&'q [u32], &'q [bool])>,
    /// Codes, table position of each code, and flat-index step of each of
    /// the dimensions grouped on the dataset's columns.
    dims: Vec<(&'q [u32], &'q [u32], usize)>,
}

impl Step<'_> {
    /// Whether the person at `row` passes this dataset's filters and shows
    /// in the table along its dimensions, and `cell` moved to its position
    /// along them (meaningless when it does not pass). Without branches:
    /// which persons pass is data, and a mispredicted branch per person
    /// costs more than the checks.
    #[inline]
    fn check(&self, row: usize, mut cell: usize) -> (bool, usize) {
        let mut ok = true;
        for &(codes, allowed) in &self.filters {
            ok &= allowed[codes[row] as usize];
        }
        for &(codes, index_of_code, stride) in &self.dims {
            let i = index_of_code[codes[row] as usize];
            ok &= i != HIDDEN;
            cell = cell.wrapping_add((i as usize).wrapping_mul(stride));
        }
        (ok, cell)
    }
}

/// Persons a scan checks together (see [`Plan::scan`]).
const BLOCK: usize = 1024;

/// One part's partial aggregates.
struct Partial<'q> {
    cube: CountCube,
    keys: Vec<u32>,
    magnitude: Option<MagnitudeAcc<'q>>,
    prints: PrintAcc<'q>,
}

impl<'q> Partial<'q> {
    /// Adds another part's aggregates (of other persons).
    fn merge(&mut self, other: Partial<'q>) {
        self.cube.merge(&other.cube);
        for (a, b) in self.keys.iter_mut().zip(&other.keys) {
            *a = a.wrapping_add(*b);
        }
        if let (Some(mine), Some(theirs)) = (self.magnitude.as_mut(), other.magnitude) {
            mine.merge(theirs);
        }
        self.prints.merge(&other.prints);
    }

    /// Adds each category cell's count and key into the margins that cover
    /// it, and returns the category cells that hold persons.
    fn spread(&mut self, covering: &CoveringTable) -> Vec<usize> {
        let leaves: Vec<usize> = (0..self.cube.len())
            .filter(|&i| self.cube.count(i) > 0)
            .collect();
        for &leaf in &leaves {
            let (count, key) = (self.cube.count(leaf), self.keys[leaf]);
            for &margin in &covering.of(leaf)[1..] {
                self.cube.add(margin, count);
                self.keys[margin] = self.keys[margin].wrapping_add(key);
            }
        }
        leaves
    }
}

impl<'q> Plan<'q> {
    fn of(q: &'q Query<'q>) -> Self {
        let codes = |v: &Variable| match q.datasets[v.dataset].column(v.column) {
            ColumnData::Codes { codes, .. } => codes.as_slice(),
            ColumnData::Numbers(_) => panic!("grouping and filter variables are categorical"),
        };
        let axes: Vec<Axis> = q.group_by.iter().map(|d| d.axis.clone()).collect();
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let strides = strides(&sizes);
        let driver = driver(q);
        let order = driver
            .into_iter()
            .chain((0..q.datasets.len()).filter(|&d| Some(d) != driver));
        Plan {
            covering: CoveringTable::new(&axes),
            driver,
            steps: order
                .map(|d| Step {
                    dataset: d,
                    filters: q
                        .filters
                        .iter()
                        .filter(|f| f.variable.dataset == d)
                        .map(|f| (codes(&f.variable), f.allowed.as_slice()))
                        .collect(),
                    dims: q
                        .group_by
                        .iter()
                        .zip(&strides)
                        .filter(|(g, _)| g.variable.dataset == d)
                        .map(|(g, &stride)| {
                            (codes(&g.variable), g.index_of_code.as_slice(), stride)
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Counts the persons of the driver's rows `rows` into their category
    /// cells.
    fn scan(&self, q: &'q Query<'q>, rows: Range<usize>) -> Partial<'q> {
        let mut cube = CountCube::with_axes(q.group_by.iter().map(|d| d.axis.clone()).collect());
        let mut keys = vec![0u32; cube.len()];
        let mut magnitude = q
            .magnitude
            .as_ref()
            .map(|m| MagnitudeAcc::new(m, q, cube.axes(), rows.len()));
        let mut prints = PrintAcc::new(q.print_key, cube.len());
        let Some(driver) = self.driver else {
            return Partial {
                cube,
                keys,
                magnitude,
                prints,
            };
        };
        // A block of the driver's persons at a time: those that pass each
        // dataset's checks are kept, with their rows so far and their cell,
        // for the next dataset; those left are counted.
        let persons = q.datasets[driver].persons();
        let mut rows_at = vec![[0u32; BLOCK]; self.steps.len()];
        let mut cells = [0usize; BLOCK];
        let mut at = vec![0usize; q.datasets.len()];
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK).min(rows.end);
            let mut kept = 0;
            for row in start..end {
                let (ok, cell) = self.steps[0].check(row, 0);
                rows_at[0][kept] = row as u32;
                cells[kept] = cell;
                kept += usize::from(ok);
            }
            for (s, step) in self.steps.iter().enumerate().skip(1) {
                let data = q.datasets[step.dataset];
                let (before, from_here) = rows_at.split_at_mut(s);
                let mine = &mut from_here[0];
                let mut next = 0;
                for j in 0..kept {
                    // The driver is the smallest dataset: this one has rows.
                    let found = data.row_or_absent(persons[before[0][j] as usize]);
                    let present = found != crate::link::NO_ROW;
                    let row = if present { found as usize } else { 0 };
                    let (ok, cell) = step.check(row, cells[j]);
                    for earlier in before.iter_mut() {
                        earlier[next] = earlier[j];
                    }
                    mine[next] = row as u32;
                    cells[next] = cell;
                    next += usize::from(ok && present);
                }
                kept = next;
            }
            for j in 0..kept {
                let person = persons[rows_at[0][j] as usize];
                let cell = cells[j];
                prints.add(person, cell);
                cube.add(cell, 1);
                keys[cell] = keys[cell].wrapping_add(q.record_keys[person as usize]);
                if let Some(m) = magnitude.as_mut() {
                    for (step, rows) in self.steps.iter().zip(&rows_at) {
                        at[step.dataset] = rows[j] as usize;
                    }
                    m.add_person(person, cell, &at);
                }
            }
            start = end;
        }
        Partial {
            cube,
            keys,
            magnitude,
            prints,
        }
    }
}
