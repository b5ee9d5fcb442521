//! Each cell's print for the release ledger (see [`crate::ledger`]): the
//! linked persons' keyed set hash and screen, gathered while the persons
//! are counted, and each dataset's own side of the cell, gathered in one
//! scan of that dataset.
//!
//! A dataset's side of a cell: its persons that pass its own filters and
//! whose values of its own grouping columns fall in the cell (any value
//! along a dimension grouped on another dataset's column). The cell's
//! linked persons are the intersection of its sides.

use super::cube::{covering_indices, strides};
use super::{Axis, CountCube, Query, HIDDEN};
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

    /// Adds one person to the cells `covering`.
    pub(super) fn add(&mut self, person: PersonNo, covering: &[usize]) {
        let tag = self.key.tag(person);
        for &i in covering {
            self.persons[i].add(tag);
            self.screens[i].add(tag);
        }
    }

    /// Every cell's print, with the sides of the query's datasets.
    pub(super) fn finish(self, q: &Query<'_>, cube: &CountCube) -> Vec<CellPrint> {
        let sides: Vec<Side> = (0..q.datasets.len())
            .map(|d| Side::scan(q, d, self.key))
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
    hashes: Vec<SetHash>,
}

impl Side {
    fn scan(q: &Query<'_>, d: usize, key: &PrintKey) -> Side {
        let data = q.datasets[d];
        let codes = |column: usize| match data.column(column) {
            ColumnData::Codes { codes, .. } => Some(codes.as_slice()),
            ColumnData::Numbers(_) => None,
        };
        let dims: Vec<usize> = (0..q.group_by.len())
            .filter(|&k| q.group_by[k].variable.dataset == d)
            .collect();
        let axes: Vec<Axis> = dims.iter().map(|&k| q.group_by[k].axis.clone()).collect();
        let sizes: Vec<usize> = axes.iter().map(Axis::len).collect();
        let strides = strides(&sizes);
        let mut hashes = vec![SetHash::default(); sizes.iter().map(|n| n + 1).product()];
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
        let mut cell = vec![0usize; dims.len()];
        let mut covering = Vec::with_capacity(1 << dims.len());
        'rows: for (row, &person) in data.persons().iter().enumerate() {
            for (codes, allowed) in &filters {
                if !allowed[codes[row] as usize] {
                    continue 'rows;
                }
            }
            for (c, (codes, index_of_code)) in cell.iter_mut().zip(&grouped) {
                match index_of_code[codes[row] as usize] {
                    HIDDEN => continue 'rows,
                    i => *c = i as usize,
                }
            }
            covering_indices(&axes, &strides, &cell, &mut covering);
            let tag: Tag = key.tag(person);
            for &i in &covering {
                hashes[i].add(tag);
            }
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
