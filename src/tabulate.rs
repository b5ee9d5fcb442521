//! Counting distinct persons over linked datasets into a cube with margins.
//!
//! Every margin is counted directly from the persons, not summed from the
//! cells, so that the disclosure check can verify that each margin equals
//! the sum of the cells it covers. This module does no I/O and knows
//! nothing of disclosure rules.

use crate::columns::{ColumnData, DatasetData};

/// A categorical variable: a column of one of the query's datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Index into [`CountQuery::datasets`].
    pub dataset: usize,
    /// Column index in that dataset.
    pub column: usize,
}

/// A grouping variable and the categories it shows: `index_of_code[code]`
/// is the category's position in the table, or [`HIDDEN`] for a category a
/// filter excludes.
#[derive(Clone, Debug)]
pub struct Dimension {
    /// The variable grouped on.
    pub variable: Variable,
    /// Table position of each category code.
    pub index_of_code: Vec<u32>,
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
        }
    }

    fn size(&self) -> usize {
        self.index_of_code.iter().filter(|&&i| i != HIDDEN).count()
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

/// A count query over the persons present in every dataset.
#[derive(Debug)]
pub struct CountQuery<'a> {
    /// The linked datasets (inner join on the person).
    pub datasets: Vec<&'a DatasetData>,
    /// The grouping variables, 0 to 3 (categorical).
    pub group_by: Vec<Dimension>,
    /// Filters, all of which must hold.
    pub filters: Vec<CodeFilter>,
}

/// Counts per cell. Along each dimension of `n` categories, index `n` is
/// the total over that dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountCube {
    sizes: Vec<usize>,
    counts: Vec<u64>,
}

impl CountCube {
    /// A cube of zeros with `sizes[i]` categories along dimension `i`.
    pub fn zeros(sizes: Vec<usize>) -> Self {
        let cells = sizes.iter().map(|n| n + 1).product();
        CountCube {
            sizes,
            counts: vec![0; cells],
        }
    }

    /// Categories per dimension (totals not included).
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of cells, margins included.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether the cube has no cells (never: a 0-dimensional cube has one).
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The count at a flat index.
    pub fn count(&self, index: usize) -> u64 {
        self.counts[index]
    }

    /// Adds `by` at a flat index.
    pub fn add(&mut self, index: usize, by: u64) {
        self.counts[index] += by;
    }

    /// The coordinates of a flat index; `None` stands for a total.
    pub fn coordinates(&self, mut index: usize) -> Vec<Option<usize>> {
        let mut coords = vec![None; self.sizes.len()];
        for (d, &n) in self.sizes.iter().enumerate().rev() {
            let c = index % (n + 1);
            index /= n + 1;
            coords[d] = (c < n).then_some(c);
        }
        coords
    }

    /// The flat index of coordinates (`None` for a total).
    pub fn index(&self, coords: &[Option<usize>]) -> usize {
        self.sizes
            .iter()
            .zip(coords)
            .fold(0, |acc, (&n, c)| acc * (n + 1) + c.unwrap_or(n))
    }

    /// Flat indices of every cell that covers `index` (itself included):
    /// replace any subset of its category coordinates by totals.
    pub fn covering(&self, index: usize) -> Vec<usize> {
        let coords = self.coordinates(index);
        let open: Vec<usize> = (0..coords.len()).filter(|&d| coords[d].is_some()).collect();
        (0u32..1 << open.len())
            .map(|mask| {
                let mut c = coords.clone();
                for (bit, &d) in open.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        c[d] = None;
                    }
                }
                self.index(&c)
            })
            .collect()
    }

    /// Whether the cell at `index` is an interior cell (no totals).
    pub fn is_interior(&self, index: usize) -> bool {
        self.coordinates(index).iter().all(Option::is_some)
    }
}

/// Counts the persons present in all of the query's datasets that pass the
/// filters, into every cell and margin.
pub fn count_persons(q: &CountQuery<'_>) -> CountCube {
    let codes = |v: &Variable| match q.datasets[v.dataset].column(v.column) {
        ColumnData::Codes { codes, categories } => (codes.as_slice(), categories.len()),
        ColumnData::Numbers(_) => panic!("grouping and filter variables are categorical"),
    };
    let dims: Vec<(&[u32], &[u32], usize)> = q
        .group_by
        .iter()
        .map(|d| (codes(&d.variable).0, d.index_of_code.as_slice(), d.size()))
        .collect();
    let filters: Vec<(&[u32], usize, &[bool])> = q
        .filters
        .iter()
        .map(|f| {
            (
                codes(&f.variable).0,
                f.variable.dataset,
                f.allowed.as_slice(),
            )
        })
        .collect();
    let mut cube = CountCube::zeros(dims.iter().map(|d| d.2).collect());
    let strides = strides(cube.sizes());
    let Some(driver) = (0..q.datasets.len()).min_by_key(|&d| q.datasets[d].rows()) else {
        return cube;
    };
    let mut rows = vec![0usize; q.datasets.len()];
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
        let mut cell = [0usize; 8];
        for (d, (codes, index_of_code, _)) in dims.iter().enumerate() {
            match index_of_code[codes[rows[q.group_by[d].variable.dataset]] as usize] {
                HIDDEN => continue 'persons,
                i => cell[d] = i as usize,
            }
        }
        add_to_all_margins(&mut cube, &cell[..dims.len()], &strides);
    }
    cube
}

fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for d in (0..sizes.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * (sizes[d + 1] + 1);
    }
    strides
}

/// Adds one person to its cell and to every margin covering it.
fn add_to_all_margins(cube: &mut CountCube, cell: &[usize], strides: &[usize]) {
    let k = cell.len();
    for mask in 0u32..1 << k {
        let index: usize = (0..k)
            .map(|d| {
                let c = if mask & (1 << d) != 0 {
                    cube.sizes[d]
                } else {
                    cell[d]
                };
                c * strides[d]
            })
            .sum();
        cube.add(index, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_and_index_round_trip() {
        let cube = CountCube::zeros(vec![2, 3]);
        for i in 0..cube.len() {
            assert_eq!(cube.index(&cube.coordinates(i)), i);
        }
        assert_eq!(cube.coordinates(cube.len() - 1), [None, None]);
        assert_eq!(cube.covering(cube.index(&[Some(1), Some(2)])).len(), 4);
    }
}
