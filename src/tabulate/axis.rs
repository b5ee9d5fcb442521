//! How the positions of one table dimension nest: categories, the
//! subtotals of a coarser level of their classification, and the total.

/// The positions of one dimension. Positions `0..leaves` are categories,
/// `leaves..len` subtotals (each after the positions it sums), and `len`
/// is the total. Every position but the total has one parent: a subtotal
/// or the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    leaves: usize,
    /// `parent[p]` for every position but the total.
    parent: Vec<usize>,
    /// `chains[p]`: `p`, its parent, its parent's parent, …, the total.
    chains: Vec<Vec<usize>>,
    /// `children[p - leaves]` for every subtotal and the total.
    children: Vec<Vec<usize>>,
}

/// Why positions do not form an [`Axis`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AxisError {
    /// A parent is not a later subtotal or the total.
    #[error("position {0} has a parent that is not a later subtotal or the total")]
    BadParent(usize),
    /// A subtotal sums nothing.
    #[error("subtotal {0} has no positions under it")]
    EmptySubtotal(usize),
    /// A category lies under another number of subtotals than the first,
    /// so the categories would not all have the same number of margins.
    #[error("category {0} lies under another number of subtotals than category 0")]
    Ragged(usize),
}

impl Axis {
    /// `n` categories directly under the total.
    pub fn flat(n: usize) -> Self {
        Axis::new(n, vec![n; n]).expect("a flat axis is valid")
    }

    /// `leaves` categories followed by subtotals; `parent[p]` is the parent
    /// of position `p` (the total is `parent.len()`). Every category must
    /// lie under the same number of subtotals.
    pub fn new(leaves: usize, parent: Vec<usize>) -> Result<Self, AxisError> {
        let total = parent.len();
        if let Some(p) = (0..total).find(|&p| {
            let q = parent[p];
            q <= p || q < leaves || q > total
        }) {
            return Err(AxisError::BadParent(p));
        }
        let mut children = vec![Vec::new(); total + 1 - leaves];
        for (p, &q) in parent.iter().enumerate() {
            children[q - leaves].push(p);
        }
        if let Some(s) = (leaves..total).find(|&s| children[s - leaves].is_empty()) {
            return Err(AxisError::EmptySubtotal(s));
        }
        let chains: Vec<Vec<usize>> = (0..=total)
            .map(|p| {
                let mut chain = vec![p];
                while let Some(&q) = parent.get(*chain.last().expect("non-empty")) {
                    chain.push(q);
                }
                chain
            })
            .collect();
        if let Some(p) = (1..leaves).find(|&p| chains[p].len() != chains[0].len()) {
            return Err(AxisError::Ragged(p));
        }
        Ok(Axis {
            leaves,
            parent,
            chains,
            children,
        })
    }

    /// Positions, the total not included.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether the axis has no positions besides the total.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Categories (positions that are not subtotals).
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// Whether `p` is a category.
    pub fn is_leaf(&self, p: usize) -> bool {
        p < self.leaves
    }

    /// The parent of `p` (the total is [`len`](Self::len)); `None` for the total.
    pub fn parent(&self, p: usize) -> Option<usize> {
        self.parent.get(p).copied()
    }

    /// `p` and every position above it, ending with the total.
    pub fn chain(&self, p: usize) -> &[usize] {
        &self.chains[p]
    }

    /// The positions a subtotal or the total sums; empty for a category.
    pub fn children(&self, p: usize) -> &[usize] {
        p.checked_sub(self.leaves)
            .and_then(|i| self.children.get(i))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtotals_nest_between_categories_and_the_total() {
        // Categories 0, 1 under subtotal 3; 2 under subtotal 4; total 5.
        let axis = Axis::new(3, vec![3, 3, 4, 5, 5]).unwrap();
        assert_eq!(axis.chain(0), [0, 3, 5]);
        assert_eq!(axis.chain(2), [2, 4, 5]);
        assert_eq!(axis.chain(5), [5]);
        assert_eq!(axis.children(3), [0, 1]);
        assert_eq!(axis.children(5), [3, 4]);
        assert!(axis.children(1).is_empty());
        assert_eq!(Axis::flat(2).chain(1), [1, 2]);
    }

    #[test]
    fn malformed_nestings_are_refused() {
        assert_eq!(Axis::new(2, vec![0, 2]), Err(AxisError::BadParent(0)));
        assert_eq!(
            Axis::new(2, vec![2, 2, 4, 4]),
            Err(AxisError::EmptySubtotal(3))
        );
        // Category 0 under a subtotal, category 1 directly under the total.
        assert_eq!(Axis::new(2, vec![2, 3, 3]), Err(AxisError::Ragged(1)));
    }
}
