//! What a request's classifications and filters imply: which values of a
//! column any person passing the filters can still hold, and which cells
//! no person can fall in (structural zeros).
//!
//! Within one dataset, a column on a code list whose ancestor list another
//! column is declared on agrees with it in every row (uploads check it).
//! So with `niveau` within `sector`, a filter `sector = vo` leaves only the
//! vo levels possible, and the cell (sector po, niveau havo) is empty by
//! definition. Every conclusion here is sound: a value is ruled out, or a
//! cell marked structural, only when no row that uploads accept fits it.

use std::collections::HashMap;
use std::sync::Arc;

use super::levels::Levels;
use super::Loaded;
use crate::classification::{dependencies, Classifications, CodeListId};
use crate::columns::ColumnData;
use crate::schema::DatasetDef;
use crate::tabulate::{CodeFilter, CountCube, Variable};

/// One shown position of a dimension (a category or a subtotal): a code
/// at a level of the grouped column's classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    /// Level in the grouped column's classification.
    pub(super) level: usize,
    /// Code at that level.
    pub(super) code: u32,
}

/// The classifications of a request's columns and what its filters leave.
pub(super) struct Classified<'a> {
    levels: HashMap<Variable, Levels<'a>>,
    /// For a classified column X: X itself (level 0) and every column of
    /// its dataset on one of X's ancestor lists, with that list's level.
    above: HashMap<Variable, Vec<(Variable, usize)>>,
    /// For the same columns X: the level-0 codes that pass every filter
    /// on X and on the columns above it.
    feasible: HashMap<Variable, Vec<bool>>,
    filters: &'a [CodeFilter],
}

/// The code list a column is declared on, if any.
pub(super) fn code_list(def: &DatasetDef, column: usize) -> Option<&CodeListId> {
    def.columns()[column].kind.code_list()
}

impl<'a> Classified<'a> {
    /// The classifications of `used` columns and of the columns that
    /// depend on them, with `filters` applied.
    pub(super) fn new(
        loaded: &'a [Arc<Loaded>],
        registry: &Classifications,
        used: &[Variable],
        filters: &'a [CodeFilter],
    ) -> Self {
        let mut levels = HashMap::new();
        let mut above: HashMap<Variable, Vec<(Variable, usize)>> = HashMap::new();
        for (dataset, l) in loaded.iter().enumerate() {
            let def = &l.info.def;
            let lists: Vec<Option<&CodeListId>> = (0..def.columns().len())
                .map(|c| code_list(def, c))
                .collect();
            let var = |column| Variable { dataset, column };
            let deps = dependencies(&lists, registry);
            let uses = |column| used.contains(&var(column));
            for (column, list) in lists.iter().enumerate() {
                let parents = deps.iter().filter(|d| d.child == column);
                let relevant = uses(column) || parents.clone().any(|d| uses(d.parent));
                if list.is_none() || !relevant {
                    continue;
                }
                let mut chain = vec![(var(column), 0)];
                chain.extend(parents.map(|d| (var(d.parent), d.level)));
                above.insert(var(column), chain);
            }
            for (column, list) in lists.iter().enumerate() {
                let v = var(column);
                if uses(column) || above.contains_key(&v) {
                    let lineage = list.and_then(|id| registry.lineage(id));
                    levels.insert(v, Levels::new(categories(l, column), lineage));
                }
            }
        }
        let mut classified = Classified {
            levels,
            above,
            feasible: HashMap::new(),
            filters,
        };
        let feasible = classified
            .above
            .keys()
            .map(|&x| (x, classified.feasible_codes(x)))
            .collect();
        classified.feasible = feasible;
        classified
    }

    /// The levels of a used column.
    pub(super) fn levels(&self, v: Variable) -> &Levels<'a> {
        &self.levels[&v]
    }

    /// Codes of X that pass the filters on X and on the columns above it.
    fn feasible_codes(&self, x: Variable) -> Vec<bool> {
        let lx = &self.levels[&x];
        let mut ok = vec![true; lx.len(0)];
        for &(y, level) in &self.above[&x] {
            for f in self.filters.iter().filter(|f| f.variable == y) {
                for (code, ok) in ok.iter_mut().enumerate() {
                    let up = lx.ancestor(code as u32, 0, level) as usize;
                    *ok &= f.allowed[up];
                }
            }
        }
        ok
    }

    /// The level-0 codes of the used column `y` that some person passing
    /// the filters can hold.
    pub(super) fn possible(&self, y: Variable) -> Vec<bool> {
        let mut ok = vec![true; self.levels[&y].len(0)];
        for f in self.filters.iter().filter(|f| f.variable == y) {
            ok.iter_mut().zip(&f.allowed).for_each(|(o, a)| *o &= *a);
        }
        for (x, chain) in &self.above {
            let Some(&(_, level)) = chain.iter().find(|(v, _)| *v == y) else {
                continue;
            };
            let lx = &self.levels[x];
            let mut reached = vec![false; ok.len()];
            for (code, _) in self.feasible[x].iter().enumerate().filter(|(_, f)| **f) {
                reached[lx.ancestor(code as u32, 0, level) as usize] = true;
            }
            ok.iter_mut().zip(&reached).for_each(|(o, r)| *o &= *r);
        }
        ok
    }

    /// The cells of `cube` that no person can fall in, given each
    /// dimension's variable and positions (the total excluded). Empty
    /// when there are none.
    pub(super) fn structural_zeros(
        &self,
        cube: &CountCube,
        dims: &[(Variable, &[Position])],
    ) -> Vec<bool> {
        let mut zeros = vec![false; cube.len()];
        let mut any = false;
        for (x, chain) in &self.above {
            // Per related dimension: for each position, the feasible codes
            // of X that lie under it.
            let related: Vec<(usize, Vec<Bits>)> = dims
                .iter()
                .enumerate()
                .filter_map(|(d, (y, positions))| {
                    let &(_, level) = chain.iter().find(|(v, _)| v == y)?;
                    Some((d, self.position_bits(*x, level, positions)))
                })
                .collect();
            if related.len() < 2 {
                continue;
            }
            for (i, zero) in zeros.iter_mut().enumerate() {
                let coords = cube.coordinates(i);
                let sets: Vec<&Bits> = related
                    .iter()
                    .filter_map(|(d, bits)| coords[*d].map(|p| &bits[p]))
                    .collect();
                if sets.len() >= 2 && Bits::all_disjoint(&sets) {
                    *zero = true;
                    any = true;
                }
            }
        }
        if any {
            zeros
        } else {
            Vec::new()
        }
    }

    /// For each position of a dimension on the column `level` levels above
    /// X: the feasible codes of X under it. One pass over X's codes per
    /// level the positions lie at.
    fn position_bits(&self, x: Variable, level: usize, positions: &[Position]) -> Vec<Bits> {
        let lx = &self.levels[&x];
        let feasible = &self.feasible[&x];
        let mut bits: Vec<Bits> = positions
            .iter()
            .map(|_| Bits::new(feasible.len()))
            .collect();
        let mut at_level: Vec<usize> = positions.iter().map(|p| p.level).collect();
        at_level.sort_unstable();
        at_level.dedup();
        for l in at_level {
            let position: HashMap<u32, usize> = (positions.iter().enumerate())
                .filter(|(_, p)| p.level == l)
                .map(|(i, p)| (p.code, i))
                .collect();
            let up = lx.ancestors(level + l);
            for code in (0..feasible.len()).filter(|&c| feasible[c]) {
                if let Some(&i) = position.get(&up[code]) {
                    bits[i].insert(code);
                }
            }
        }
        bits
    }
}

/// The stored categories (level-0 codes) of a categorical column.
fn categories(l: &Loaded, column: usize) -> &[String] {
    match l.data.column(column) {
        ColumnData::Codes { categories, .. } => categories,
        ColumnData::Numbers(_) => &[],
    }
}

/// A set of codes.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Whether the sets have no code in common.
    fn all_disjoint(sets: &[&Bits]) -> bool {
        let words = sets[0].0.len();
        (0..words).all(|w| sets.iter().fold(u64::MAX, |acc, s| acc & s.0[w]) == 0)
    }
}
