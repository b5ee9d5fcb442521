//! The layout of a table with all its margins: a dense array with one extra
//! index (the total) along each dimension.

/// Counts per cell. Along each dimension of `n` categories, index `n` is
/// the total over that dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountCube {
    pub(super) sizes: Vec<usize>,
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

/// The flat-index step of each dimension (row-major, last dimension fastest).
pub(crate) fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for d in (0..sizes.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * (sizes[d + 1] + 1);
    }
    strides
}

/// The flat indices of an interior cell and every margin covering it, for
/// coordinates `cell` (all categories): one per subset of dimensions totalled.
pub(crate) fn covering_indices(
    sizes: &[usize],
    strides: &[usize],
    cell: &[usize],
    out: &mut Vec<usize>,
) {
    out.clear();
    let k = cell.len();
    for mask in 0u32..1 << k {
        let index: usize = (0..k)
            .map(|d| {
                let c = if mask & (1 << d) != 0 {
                    sizes[d]
                } else {
                    cell[d]
                };
                c * strides[d]
            })
            .sum();
        out.push(index);
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
        covering_indices(cube.sizes(), &strides(cube.sizes()), &[1, 2], &mut out);
        let mut expected = cube.covering(cube.index(&[Some(1), Some(2)]));
        expected.sort();
        out.sort();
        assert_eq!(out, expected);
    }
}
