//! Each cell's print for the release ledger (see [`crate::ledger`]): the
//! linked persons' keyed set hash and screen, gathered while the persons
//! are counted, and each dataset's own side of the cell, gathered in one
//! scan of that dataset.
//!
//! A dataset's side of a cell: its persons that pass its own filters and
//! whose values of its own grouping columns fall in the cell (any value
//! along a dimension grouped on another dataset's column). The cell's
//! linked persons are the intersection of its sides.

use std::ops::Range;
use std::sync::Arc;

use super::cube::{covering_indices, strides};
use super::sides::SideKey;
use super::{in_parallel, split, Axis, CountCube, Query, HIDDEN};
use crate::columns::ColumnData;
use crate::ledger::{sides_digest, CellPrint, PrintKey, Screen, SetHash, Tag};
use crate::link::PersonNo;

/// Accumulates the linked persons of every cell.
pub(super) struct PrintAcc<'a> {
    key: &'a PrintKey,
    persons: Vec<SetHash>,
    screens: Vec<Screen>,
}

impl<'a> PrintAcc<'a> {
    pub(super) fn new(key: &'a PrintKey, cells: usize) -> Self {
        PrintAcc {
            key,
            persons: vec![SetHash::default(); cells],
            screens: vec![Screen::default(); cells],
        }
    }

    /// Adds one person to its category cell `leaf` (the margins are summed
    /// from the category cells in [`PrintAcc::finish`]).
    pub(super) fn add(&mut self, person: PersonNo, leaf: usize) {
        let tag = self.key.tag(person);
        self.persons[leaf].add(tag);
        self.screens[leaf].add(tag);
    }

    /// Adds another partition's persons (disjoint from this one's).
    pub(super) fn merge(&mut self, other: &PrintAcc<'_>) {
        for (a, b) in self.persons.iter_mut().zip(&other.persons) {
            a.merge(b);
        }
        for (a, b) in self.screens.iter_mut().zip(&other.screens) {
            a.merge(b);
        }
    }

    /// Every cell's print, with the sides of the query's datasets (each
    /// scanned in `threads` parts).
    pub(super) fn finish(
        mut self,
        q: &Query<'_>,
        cube: &CountCube,
        threads: usize,
    ) -> Vec<CellPrint> {
        let leaves: Vec<usize> = (0..cube.len())
            .filter(|&i| self.persons[i].count > 0 && cube.is_interior(i))
            .collect();
        for leaf in leaves {
            let (hash, screen) = (self.persons[leaf], self.screens[leaf]);
            for margin in cube.covering(leaf).into_iter().skip(1) {
                self.persons[margin].merge(&hash);
                self.screens[margin].merge(&screen);
            }
        }
        // One dataset: its side of a cell is the cell's persons, no scan needed.
        if q.datasets.len() == 1 {
            return (0..cube.len())
                .map(|i| CellPrint {
                    persons: self.persons[i],
                    sides: sides_digest(&mut [self.persons[i]]),
                    screen: self.screens[i],
                })
                .collect();
        }
        let sides: Vec<Side> = (0..q.datasets.len())
            .map(|d| Side::scan(q, d, self.key, threads))
            .collect();
        let mut scratch = Vec::with_capacity(sides.len());
        (0..cube.len())
            .map(|i| {
                let coords = cube.coordinates(i);
                scratch.clear();
                scratch.extend(sides.iter().map(|s| s.of(&coords)));
                CellPrint {
                    persons: self.persons[i],
                    sides: sides_digest(&mut scratch),
                    screen: self.screens[i],
                }
            })
            .collect()
    }
}

/// One dataset's side of every cell, over its own dimensions.
struct Side {
    /// The query dimensions grouped on this dataset's columns.
    dims: Vec<usize>,
    axes: Vec<Axis>,
    strides: Vec<usize>,
    hashes: Arc<Vec<SetHash>>,
}

impl Side {
    fn scan(q: &Query<'_>, d: usize, key: &PrintKey, threads: usize) -> Side {
        let dims: Vec<usize> = (0..q.group_by.len())
            .filter(|&k| q.group_by[k].variable.dataset == d)
            .collect();
        let axes: Vec<Axis> = dims.iter().map(|&k| q.group_by[k].axis.clone()).collect();
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let strides = strides(&sizes);
        let cached = q.sides.map(|cache| (cache, side_key(q, d, &dims)));
        if let Some(hashes) = cached.as_ref().and_then(|(cache, key)| cache.get(key)) {
            return Side {
                dims,
                axes,
                strides,
                hashes,
            };
        }
        let cells = sizes.iter().map(|n| n + 1).product();
        let mut hashes = vec![SetHash::default(); cells];
        // Each row into its category cell only, in parallel parts; the
        // margins are summed from those afterwards (set hashes of disjoint
        // sets add up).
        let parts = split(q.datasets[d].rows(), threads);
        let mut leaves = vec![SetHash::default(); cells];
        for part in in_parallel(&parts, |rows| side_leaves(q, d, &dims, &strides, key, rows)) {
            for (a, b) in leaves.iter_mut().zip(&part) {
                a.merge(b);
            }
        }
        let mut covering = Vec::with_capacity(1 << dims.len());
        let mut cell = vec![0usize; dims.len()];
        for (index, leaf) in leaves.iter().enumerate().filter(|(_, l)| l.count > 0) {
            let mut rest = index;
            for (c, stride) in cell.iter_mut().zip(&strides) {
                *c = rest / stride;
                rest %= stride;
            }
            covering_indices(&axes, &strides, &cell, &mut covering);
            for &i in &covering {
                hashes[i].merge(leaf);
            }
        }
        let hashes = Arc::new(hashes);
        if let Some((cache, key)) = cached {
            cache.put(key, Arc::clone(&hashes));
        }
        Side {
            dims,
            axes,
            strides,
            hashes,
        }
    }

    /// This side of the cell at `coords` (of the query's cube).
    fn of(&self, coords: &[Option<usize>]) -> SetHash {
        let index = self
            .dims
            .iter()
            .zip(&self.axes)
            .zip(&self.strides)
            .map(|((&k, axis), stride)| coords[k].unwrap_or(axis.len()) * stride)
            .sum::<usize>();
        self.hashes[index]
    }
}

/// What dataset `d`'s side over its dimensions `dims` is computed from.
fn side_key(q: &Query<'_>, d: usize, dims: &[usize]) -> SideKey {
    SideKey {
        generation: q.datasets[d].generation(),
        filters: q
            .filters
            .iter()
            .filter(|f| f.variable.dataset == d)
            .map(|f| (f.variable.column, f.allowed.clone()))
            .collect(),
        dims: dims
            .iter()
            .map(|&k| {
                let g = &q.group_by[k];
                (g.variable.column, g.index_of_code.clone(), g.axis.clone())
            })
            .collect(),
    }
}

/// Dataset `d`'s rows `rows` into the category cells of its own
/// dimensions `dims` (strides `strides`).
fn side_leaves(
    q: &Query<'_>,
    d: usize,
    dims: &[usize],
    strides: &[usize],
    key: &PrintKey,
    rows: Range<usize>,
) -> Vec<SetHash> {
    let data = q.datasets[d];
    let codes = |column: usize| match data.column(column) {
        ColumnData::Codes { codes, .. } => Some(codes.as_slice()),
        ColumnData::Numbers(_) => None,
    };
    let filters: Vec<(&[u32], &[bool])> = q
        .filters
        .iter()
        .filter(|f| f.variable.dataset == d)
        .filter_map(|f| Some((codes(f.variable.column)?, f.allowed.as_slice())))
        .collect();
    let grouped: Vec<(&[u32], &[u32])> = dims
        .iter()
        .filter_map(|&k| {
            let g = &q.group_by[k];
            Some((codes(g.variable.column)?, g.index_of_code.as_slice()))
        })
        .collect();
    let cells = dims.iter().map(|&k| q.group_by[k].axis.len() + 1).product();
    let mut leaves = vec![SetHash::default(); cells];
    let persons = &data.persons()[rows.clone()];
    'rows: for (row, &person) in rows.zip(persons) {
        for (codes, allowed) in &filters {
            if !allowed[codes[row] as usize] {
                continue 'rows;
            }
        }
        let mut index = 0;
        for ((codes, index_of_code), stride) in grouped.iter().zip(strides) {
            match index_of_code[codes[row] as usize] {
                HIDDEN => continue 'rows,
                i => index += i as usize * stride,
            }
        }
        let tag: Tag = key.tag(person);
        leaves[index].add(tag);
    }
    leaves
}

#[cfg(test)]
mod tests {
    use super::super::{tabulate, CodeFilter, Dimension, Query, Variable};
    use crate::columns::{ColumnData, DatasetData};
    use crate::ledger::{print_of, PrintKey, SetHash};

    fn codes(n: usize, f: impl Fn(usize) -> u32) -> ColumnData {
        ColumnData::Codes {
            categories: vec!["a".into(), "b".into(), "c".into()],
            codes: (0..n).map(f).collect(),
        }
    }

    /// A count query without magnitude, structural zeros or side cache.
    fn query<'a>(
        datasets: Vec<&'a DatasetData>,
        group_by: Vec<Dimension>,
        filters: Vec<CodeFilter>,
        record_keys: &'a [u32],
        print_key: &'a PrintKey,
    ) -> Query<'a> {
        Query {
            datasets,
            group_by,
            filters,
            record_keys,
            print_key,
            magnitude: None,
            structural_zeros: Vec::new(),
            sides: None,
            scratch: None,
        }
    }

    #[test]
    fn every_cells_print_is_that_of_its_persons_and_sides() {
        // A holds persons 0..60 (x = p % 3), B holds 20..100 (y = p % 2,
        // z = p % 3, filtered to z != 2).
        let a = DatasetData::new((0..60).collect(), None, vec![codes(60, |r| r as u32 % 3)]);
        let b_persons: Vec<u32> = (20..100).collect();
        let b = DatasetData::new(
            b_persons.clone(),
            None,
            vec![
                codes(80, |r| b_persons[r] % 2),
                codes(80, |r| b_persons[r] % 3),
            ],
        );
        let key = PrintKey::from_bytes([5; 16]);
        let keys = vec![0u32; 100];
        let q = query(
            vec![&a, &b],
            vec![
                Dimension::new(
                    Variable {
                        dataset: 0,
                        column: 0,
                    },
                    3,
                    &[0, 1, 2],
                ),
                Dimension::new(
                    Variable {
                        dataset: 1,
                        column: 0,
                    },
                    3,
                    &[0, 1],
                ),
            ],
            vec![CodeFilter {
                variable: Variable {
                    dataset: 1,
                    column: 1,
                },
                allowed: vec![true, true, false],
            }],
            &keys,
            &key,
        );
        let stats = tabulate(&q);
        let in_a = |p: u32, x: Option<usize>| p < 60 && x.is_none_or(|x| p % 3 == x as u32);
        let in_b = |p: u32, y: Option<usize>| {
            (20..100).contains(&p) && p % 3 != 2 && y.is_none_or(|y| p % 2 == y as u32)
        };
        for i in 0..stats.cube.len() {
            let c = stats.cube.coordinates(i);
            let side = |f: &dyn Fn(u32) -> bool| {
                let mut h = SetHash::default();
                (0..100).filter(|&p| f(p)).for_each(|p| h.add(key.tag(p)));
                h
            };
            let linked: Vec<u32> = (0..100)
                .filter(|&p| in_a(p, c[0]) && in_b(p, c[1]))
                .collect();
            let mut sides = [side(&|p| in_a(p, c[0])), side(&|p| in_b(p, c[1]))];
            assert_eq!(
                stats.prints[i],
                print_of(&key, &linked, &mut sides),
                "cell {c:?}"
            );
            assert_eq!(stats.prints[i].persons.count, stats.cube.count(i));
        }
    }

    #[test]
    fn a_one_dataset_tables_side_is_its_cells_persons() {
        // Persons 20..100, x = p % 3 grouped, filtered to p % 2 == 0.
        let persons: Vec<u32> = (20..100).collect();
        let data = DatasetData::new(
            persons.clone(),
            None,
            vec![codes(80, |r| persons[r] % 3), codes(80, |r| persons[r] % 2)],
        );
        let key = PrintKey::from_bytes([9; 16]);
        let keys = vec![0u32; 100];
        let q = query(
            vec![&data],
            vec![Dimension::new(
                Variable {
                    dataset: 0,
                    column: 0,
                },
                3,
                &[0, 1, 2],
            )],
            vec![CodeFilter {
                variable: Variable {
                    dataset: 0,
                    column: 1,
                },
                allowed: vec![true, false, false],
            }],
            &keys,
            &key,
        );
        let stats = tabulate(&q);
        for i in 0..stats.cube.len() {
            let x = stats.cube.coordinates(i)[0];
            let members: Vec<u32> = (20..100)
                .filter(|p| p % 2 == 0 && x.is_none_or(|x| p % 3 == x as u32))
                .collect();
            let mut side = SetHash::default();
            members.iter().for_each(|&p| side.add(key.tag(p)));
            assert_eq!(stats.prints[i], print_of(&key, &members, &mut [side]));
        }
    }
}
