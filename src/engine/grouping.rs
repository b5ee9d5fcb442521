//! One grouping variable of a table: the level it is grouped at, the
//! subtotals it shows, and its positions with codes and labels.
//!
//! Requested as `dataset.column`, `dataset.column@level` (grouped at a
//! coarser level of the column's classification) and with `+level` for
//! each coarser level whose subtotals the table shows.

use serde::Serialize;

use super::levels::Levels;
use super::structure::Position;
use crate::tabulate::{Axis, Dimension, Variable, HIDDEN};

/// A variable reference as requested: `dataset.column[@level][+level…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct VariableRef<'s> {
    /// `dataset.column`.
    pub(super) variable: &'s str,
    /// The level to group or filter at, if not the column's own.
    pub(super) level: Option<&'s str>,
    /// Coarser levels whose subtotals to show.
    pub(super) subtotals: Vec<&'s str>,
}

impl<'s> VariableRef<'s> {
    pub(super) fn parse(s: &'s str) -> Self {
        let mut parts = s.split('+');
        let head = parts.next().unwrap_or_default();
        let (variable, level) = match head.split_once('@') {
            Some((v, l)) => (v, Some(l)),
            None => (head, None),
        };
        VariableRef {
            variable,
            level,
            subtotals: parts.collect(),
        }
    }
}

/// One position of a dimension as the table shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Category {
    /// The code.
    pub code: String,
    /// Dutch label (the code when the column has no code list).
    pub label: String,
    /// English label, if the code list has one.
    pub label_en: Option<String>,
    /// The code list the code belongs to ("" without one).
    pub level: String,
    /// Whether this is a subtotal.
    pub subtotal: bool,
    /// The subtotal this position lies under; `None` for the total.
    pub parent: Option<usize>,
}

/// A grouping variable with the positions it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableDimension {
    /// The variable as requested.
    pub variable: String,
    /// Categories, then subtotals, in the cube's order.
    pub categories: Vec<Category>,
}

/// A resolved grouping: the tabulation's dimension, its positions (for
/// structural zeros) and what the table shows.
pub(super) struct Grouped {
    pub(super) dimension: Dimension,
    pub(super) positions: Vec<Position>,
    pub(super) categories: Vec<Category>,
}

/// Groups `v` at `level` with the subtotals of `subtotals` (coarser levels,
/// ascending), showing the codes some person passing the filters can hold
/// (`possible`, over level-0 codes) in `order` (codes at `level`).
pub(super) fn group(
    v: Variable,
    levels: &Levels<'_>,
    level: usize,
    subtotals: &[usize],
    possible: &[bool],
    order: impl IntoIterator<Item = usize>,
) -> Grouped {
    let up = levels.ancestors(level);
    let mut shown = vec![false; levels.len(level)];
    for (code, _) in possible.iter().enumerate().filter(|(_, p)| **p) {
        shown[up[code] as usize] = true;
    }
    let leaves: Vec<usize> = order.into_iter().filter(|&c| shown[c]).collect();
    // Blocks of positions: the leaves, then each subtotal level's codes
    // that have a shown leaf under them, in list order.
    let mut blocks: Vec<(usize, Vec<usize>)> = vec![(level, leaves)];
    for &s in subtotals {
        let mut under = vec![false; levels.len(s)];
        for &c in &blocks[0].1 {
            under[levels.ancestor(c as u32, level, s) as usize] = true;
        }
        blocks.push((s, (0..under.len()).filter(|&c| under[c]).collect()));
    }
    let mut position_of: Vec<Vec<u32>> = blocks
        .iter()
        .map(|(l, _)| vec![HIDDEN; levels.len(*l)])
        .collect();
    let mut next = 0u32;
    for (b, (_, codes)) in blocks.iter().enumerate() {
        for &c in codes {
            position_of[b][c] = next;
            next += 1;
        }
    }
    let total = next as usize;
    let mut positions = Vec::with_capacity(total);
    let mut parents = Vec::with_capacity(total);
    let mut categories = Vec::with_capacity(total);
    for (b, (l, codes)) in blocks.iter().enumerate() {
        for &c in codes {
            let parent = blocks.get(b + 1).map(|(pl, _)| {
                let p = levels.ancestor(c as u32, *l, *pl) as usize;
                position_of[b + 1][p] as usize
            });
            let (label, label_en) = levels.labels(*l, c);
            positions.push(Position {
                level: *l,
                code: c as u32,
            });
            parents.push(parent.unwrap_or(total));
            categories.push(Category {
                code: levels.code(*l, c).to_owned(),
                label: label.to_owned(),
                label_en: label_en.map(str::to_owned),
                level: levels.name(*l).to_owned(),
                subtotal: b > 0,
                parent,
            });
        }
    }
    let leaves = blocks[0].1.len();
    let axis = Axis::new(leaves, parents).expect("every leaf lies under one position per level");
    let index_of_code = (0..possible.len())
        .map(|code| match possible[code] {
            true => position_of[0][up[code] as usize],
            false => HIDDEN,
        })
        .collect();
    Grouped {
        dimension: Dimension {
            variable: v,
            index_of_code,
            axis,
        },
        positions,
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_level_and_subtotal_levels() {
        let r = VariableRef::parse("cbs.persons.gemeente@corop+provincie");
        assert_eq!(r.variable, "cbs.persons.gemeente");
        assert_eq!(r.level, Some("corop"));
        assert_eq!(r.subtotals, ["provincie"]);
        let plain = VariableRef::parse("duo.pupils.niveau");
        assert_eq!((plain.level, plain.subtotals.len()), (None, 0));
    }

    #[test]
    fn a_column_without_a_code_list_shows_its_possible_categories() {
        let categories = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let levels = Levels::new(&categories, None);
        let v = Variable {
            dataset: 0,
            column: 0,
        };
        let g = group(v, &levels, 0, &[], &[true, false, true], 0..3);
        let codes: Vec<&str> = g.categories.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["a", "c"]);
        assert_eq!(g.dimension.index_of_code, [0, HIDDEN, 1]);
        assert_eq!(g.dimension.axis, Axis::flat(2));
    }
}
