//! The layout of a table with all its margins: a dense array with, along
//! each dimension, its categories, any subtotals, and the total (see
//! [`Axis`]).

use super::axis::Axis;

/// Counts per cell. Along a dimension of `n` positions (categories and
/// subtotals), index `n` is the total over that dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountCube {
    sizes: Vec<usize>,
    axes: Vec<Axis>,
    counts: Vec<u64>,
}

impl CountCube {
    /// A cube of zeros with `sizes[i]` categories along dimension `i`, no subtotals.
    pub fn zeros(sizes: Vec<usize>) -> Self {
        CountCube::with_axes(sizes.into_iter().map(Axis::flat).collect())
    }

    /// A cube of zeros along `axes`.
    pub fn with_axes(axes: Vec<Axis>) -> Self {
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let cells = sizes.iter().map(|n| n + 1).product();
        CountCube {
            sizes,
            axes,
            counts: vec![0; cells],
        }
    }

    /// Positions per dimension: categories and subtotals (totals not included).
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// How each dimension's positions nest.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
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

    /// Adds the counts of a cube of the same axes (other persons).
    pub fn merge(&mut self, other: &CountCube) {
        debug_assert_eq!(self.sizes, other.sizes);
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
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
    /// replace any of its coordinates by a position above it (a subtotal
    /// or the total).
    pub fn covering(&self, index: usize) -> Vec<usize> {
        let positions: Vec<usize> = self
            .coordinates(index)
            .iter()
            .zip(&self.sizes)
            .map(|(c, &n)| c.unwrap_or(n))
            .collect();
        let mut out = Vec::new();
        covering_indices(&self.axes, &strides(&self.sizes), &positions, &mut out);
        out
    }

    /// Whether the cell at `index` is an interior cell (categories only:
    /// no subtotal, no total).
    pub fn is_interior(&self, index: usize) -> bool {
        self.coordinates(index)
            .iter()
            .zip(&self.axes)
            .all(|(c, axis)| c.is_some_and(|p| axis.is_leaf(p)))
    }
}

/// The flat-index step of each dimension (row-major, last dimension fastest).
pub(crate) fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for d in (0..sizes.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * (sizes[d + 1] + 1);
    }
    strides
}

/// The flat indices of the cell at positions `cell` and of every cell
/// above it: one per choice, along each dimension, of a position on the
/// chain from `cell[d]` to the total. The cell itself comes first.
pub(crate) fn covering_indices(
    axes: &[Axis],
    strides: &[usize],
    cell: &[usize],
    out: &mut Vec<usize>,
) {
    out.clear();
    out.push(0);
    for (d, &p) in cell.iter().enumerate() {
        let chain = axes[d].chain(p);
        let n = out.len();
        for &above in &chain[1..] {
            for j in 0..n {
                out.push(out[j] + above * strides[d]);
            }
        }
        for o in &mut out[..n] {
            *o += chain[0] * strides[d];
        }
    }
}

/// The covering cells of every cell that is not a total along any
/// dimension, computed once per query, so that a scan looks them up
/// instead of computing them per person: `of(index)` is what
/// [`covering_indices`] gives for the cell at flat index `index`.
#[derive(Debug)]
pub(crate) struct CoveringTable {
    starts: Vec<usize>,
    cells: Vec<usize>,
}

impl CoveringTable {
    pub(crate) fn new(axes: &[Axis]) -> Self {
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let strides = strides(&sizes);
        let total: usize = sizes.iter().map(|n| n + 1).product();
        let mut starts = Vec::with_capacity(total + 1);
        starts.push(0);
        let (mut cells, mut out) = (Vec::new(), Vec::new());
        let mut positions = vec![0usize; sizes.len()];
        for index in 0..total {
            let mut rest = index;
            for (p, stride) in positions.iter_mut().zip(&strides) {
                *p = rest / stride;
                rest %= stride;
            }
            if positions.iter().zip(&sizes).all(|(p, n)| p < n) {
                covering_indices(axes, &strides, &positions, &mut out);
                cells.extend_from_slice(&out);
            }
            starts.push(cells.len());
        }
        CoveringTable { starts, cells }
    }

    /// The cells covering the cell at `index`, itself first (empty for a
    /// cell that is a total along some dimension).
    pub(crate) fn of(&self, index: usize) -> &[usize] {
        &self.cells[self.starts[index]..self.starts[index + 1]]
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
        let mut out = Vec::new();
        covering_indices(cube.axes(), &strides(cube.sizes()), &[1, 2], &mut out);
        let mut expected = cube.covering(cube.index(&[Some(1), Some(2)]));
        expected.sort();
        out.sort();
        assert_eq!(out, expected);
    }

    #[test]
    fn the_covering_table_holds_what_covering_indices_computes() {
        let axis = Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap();
        let axes = vec![axis, Axis::flat(2), Axis::flat(1)];
        let cube = CountCube::with_axes(axes.clone());
        let table = CoveringTable::new(&axes);
        let mut out = Vec::new();
        for i in 0..cube.len() {
            let coords = cube.coordinates(i);
            match coords.iter().copied().collect::<Option<Vec<usize>>>() {
                Some(positions) => {
                    covering_indices(&axes, &strides(cube.sizes()), &positions, &mut out);
                    assert_eq!(table.of(i), out, "cell {coords:?}");
                }
                None => assert!(table.of(i).is_empty()),
            }
        }
    }

    #[test]
    fn a_category_under_a_subtotal_is_covered_by_it_and_by_the_total() {
        // Dimension 0: categories 0, 1, 2; subtotal 3 over 0 and 1, subtotal 4 over 2.
        let axis = Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap();
        let cube = CountCube::with_axes(vec![axis, Axis::flat(2)]);
        let covering = cube.covering(cube.index(&[Some(1), Some(0)]));
        let coords: Vec<_> = covering.iter().map(|&i| cube.coordinates(i)).collect();
        assert_eq!(
            coords,
            [
                [Some(1), Some(0)],
                [Some(3), Some(0)],
                [None, Some(0)],
                [Some(1), None],
                [Some(3), None],
                [None, None],
            ]
        );
        assert!(cube.is_interior(cube.index(&[Some(2), Some(1)])));
        assert!(!cube.is_interior(cube.index(&[Some(3), Some(1)])));
    }
}
