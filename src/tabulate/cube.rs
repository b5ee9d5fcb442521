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
