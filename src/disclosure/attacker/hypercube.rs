//! Hypercube witnesses: the cheapest box of cells whose alternating change
//! moves a protected cell to its target, without solving anything.
//!
//! Responsible for the moves of one dimension that keep its equations
//! (leaf against leaf, or a leaf with every position above it), the boxes
//! they span, and the box with the cheapest released corners that has room
//! for the change. Not responsible for deciding when boxes are used, or for
//! proving anything: a box's change is a [`Witness`] that the evidence
//! checks like any other.
//!
//! Along one dimension, a move gives each position a sign in {-1, 0, +1}
//! such that every equation of that dimension still adds up: two leaves
//! with their paths up to their lowest common ancestor, opposite signs; or
//! one leaf with its whole path up to the total, one sign. The product of
//! one move per dimension changes every corner of the box by `delta` times
//! the product of its signs and keeps every equation of the table, so once
//! its corners are withheld the attacker cannot tell that table from the
//! true one. This is the method of tau-Argus's hypercube (GHMITER),
//! generalised to hierarchical axes.

use super::budget::{OverBudget, WorkBudget};
use super::evidence::Witness;
use super::Table;
use crate::tabulate::Axis;

/// Most boxes examined for one protection side: each dimension keeps its
/// cheapest moves, as many as this bound allows over all dimensions.
const MAX_BOXES: usize = 4096;

/// Corners examined per unit of work: a corner's check takes a few
/// nanoseconds, a unit about a quarter of a microsecond (see `budget`).
const CORNERS_PER_UNIT: u64 = 64;

/// The table's dimensions, for finding boxes.
#[derive(Debug, Clone)]
pub(crate) struct Geometry<'a> {
    axes: &'a [Axis],
    strides: Vec<usize>,
}

/// One dimension's move: positions with their signs (the protected cell's
/// position has +1).
type Move = Vec<(usize, f64)>;

impl<'a> Geometry<'a> {
    /// The geometry of a cube along `axes` (positions `0..=len` each).
    pub(crate) fn new(axes: &'a [Axis]) -> Self {
        let mut strides = vec![1; axes.len()];
        for d in (0..axes.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * (axes[d + 1].len() + 1);
        }
        Geometry { axes, strides }
    }

    /// Cells of the cube.
    pub(crate) fn cells(&self) -> usize {
        self.axes.iter().map(|a| a.len() + 1).product()
    }

    /// The cheapest box that moves `cell` to `goal`: its released corners
    /// (ascending) and the table it shows; `None` when no box examined has
    /// room for the change.
    ///
    /// A box's cost is the sum of `cost` over its released corners; ties go
    /// to the box found first, so the answer depends on the input only.
    /// The corners to examine are charged to `work` before the search.
    pub(crate) fn cheapest_box(
        &self,
        table: &Table<'_>,
        withheld: &[bool],
        cost: &[f64],
        cell: usize,
        goal: f64,
        work: &mut WorkBudget,
    ) -> Result<Option<(Vec<usize>, Witness)>, OverBudget> {
        let facts = table.facts();
        let delta = goal - facts[cell].value;
        if delta == 0.0 || facts.len() != self.cells() {
            return Ok(None);
        }
        let coords: Vec<usize> = self
            .axes
            .iter()
            .zip(&self.strides)
            .map(|(axis, &stride)| cell / stride % (axis.len() + 1))
            .collect();
        let per_dim = per_dimension_limit(self.axes.len());
        let search = Search {
            table,
            withheld,
            cost,
            delta,
        };
        let mut candidates = Vec::with_capacity(self.axes.len());
        for (d, axis) in self.axes.iter().enumerate() {
            let line = |p: usize| cell - coords[d] * self.strides[d] + p * self.strides[d];
            let mut scored: Vec<(f64, Move)> = moves(axis, coords[d])
                .into_iter()
                .filter_map(|m| {
                    let cells = m.iter().map(|&(p, s)| (line(p), s));
                    search.corners_cost(cells).map(|c| (c, m))
                })
                .collect();
            if scored.is_empty() {
                return Ok(None);
            }
            // Stable: equally cheap moves keep their order.
            scored.sort_by(|a, b| a.0.total_cmp(&b.0));
            scored.truncate(per_dim);
            candidates.push(scored.into_iter().map(|(_, m)| m).collect::<Vec<_>>());
        }
        let corners_examined = candidates.iter().fold(1u64, |n, moves| {
            let widest = moves.iter().map(Vec::len).max().unwrap_or(0) as u64;
            n.saturating_mul(moves.len() as u64).saturating_mul(widest)
        });
        work.charge(corners_examined.div_ceil(CORNERS_PER_UNIT))?;
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut choice = vec![0usize; candidates.len()];
        let (mut corners, mut spare) = (Vec::new(), Vec::new());
        loop {
            self.corners(&candidates, &choice, &mut corners, &mut spare);
            let bound = best.as_ref().map_or(f64::INFINITY, |b| b.0);
            if let Some(c) = search.corners_cost_below(corners.iter().copied(), bound) {
                best = Some((c, choice.clone()));
            }
            if !advance(&mut choice, &candidates) {
                break;
            }
        }
        let Some((_, choice)) = best else {
            return Ok(None);
        };
        self.corners(&candidates, &choice, &mut corners, &mut spare);
        let mut released: Vec<usize> = corners
            .iter()
            .map(|&(c, _)| c)
            .filter(|&c| !withheld[c])
            .collect();
        released.sort_unstable();
        let cells: Vec<usize> = corners.iter().map(|&(c, _)| c).collect();
        let values: Vec<f64> = corners
            .iter()
            .map(|&(c, s)| facts[c].value + delta * s)
            .collect();
        Ok(Some((
            released,
            Witness::from_values(facts, &cells, &values),
        )))
    }

    /// The corners of the box of one move per dimension, with their
    /// signs, into `corners` (`spare` is working space).
    fn corners(
        &self,
        candidates: &[Vec<Move>],
        choice: &[usize],
        corners: &mut Vec<(usize, f64)>,
        spare: &mut Vec<(usize, f64)>,
    ) {
        corners.clear();
        corners.push((0, 1.0));
        for (d, (moves, &k)) in candidates.iter().zip(choice).enumerate() {
            let stride = self.strides[d];
            spare.clear();
            for &(base, sign) in corners.iter() {
                spare.extend(moves[k].iter().map(|&(p, s)| (base + p * stride, sign * s)));
            }
            std::mem::swap(corners, spare);
        }
    }
}

/// What a box is scored against.
struct Search<'s> {
    table: &'s Table<'s>,
    withheld: &'s [bool],
    cost: &'s [f64],
    delta: f64,
}

impl Search<'_> {
    /// The cost of the released corners, or `None` when a corner has no
    /// room for its change within its a-priori bounds.
    fn corners_cost(&self, corners: impl Iterator<Item = (usize, f64)>) -> Option<f64> {
        self.corners_cost_below(corners, f64::INFINITY)
    }

    /// [`Search::corners_cost`], or `None` as soon as it reaches `bound`.
    fn corners_cost_below(
        &self,
        corners: impl Iterator<Item = (usize, f64)>,
        bound: f64,
    ) -> Option<f64> {
        let facts = self.table.facts();
        let mut total = 0.0;
        for (c, sign) in corners {
            let f = facts[c];
            let value = f.value + self.delta * sign;
            if !(value >= f.lower && value <= f.upper) {
                return None;
            }
            if !self.withheld[c] {
                total += self.cost[c];
                if total >= bound {
                    return None;
                }
            }
        }
        Some(total)
    }
}

/// Moves of one dimension that give position `c` the sign +1.
fn moves(axis: &Axis, c: usize) -> Vec<Move> {
    let leaves: Vec<usize> = (0..axis.leaves()).collect();
    let under = |l: usize| axis.chain(l).contains(&c);
    let mut out = Vec::new();
    for &l in leaves.iter().filter(|&&l| under(l)) {
        let up = axis.chain(l);
        // The leaf with its whole path, the total included.
        out.push(up.iter().map(|&p| (p, 1.0)).collect());
        for &other in leaves.iter().filter(|&&o| !under(o)) {
            let across = axis.chain(other);
            let common = up.iter().find(|p| across.contains(p)).copied();
            let mut m: Move = up
                .iter()
                .take_while(|&&p| Some(p) != common)
                .map(|&p| (p, 1.0))
                .collect();
            m.extend(
                across
                    .iter()
                    .take_while(|&&p| Some(p) != common)
                    .map(|&p| (p, -1.0)),
            );
            out.push(m);
        }
    }
    out
}

/// Moves kept per dimension so that the boxes stay within [`MAX_BOXES`].
fn per_dimension_limit(dims: usize) -> usize {
    let dims = dims.max(1) as u32;
    let mut k = 2usize;
    while (k + 1).checked_pow(dims).is_some_and(|n| n <= MAX_BOXES) {
        k += 1;
    }
    k
}

/// The next combination of one move per dimension; `false` after the last.
fn advance(choice: &mut [usize], candidates: &[Vec<Move>]) -> bool {
    for d in (0..choice.len()).rev() {
        choice[d] += 1;
        if choice[d] < candidates[d].len() {
            return true;
        }
        choice[d] = 0;
    }
    false
}

#[cfg(test)]
mod tests;
