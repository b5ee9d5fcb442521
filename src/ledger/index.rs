//! The in-memory ledger: every distinct cell ever admitted, by the datasets
//! it was linked over and by size, so that a new cell is compared only with
//! the earlier cells whose size is within the threshold of its own.

use std::collections::{BTreeMap, HashMap};

use super::print::{CellPrint, SetHash};

/// A cell of a table about to be released, or of one released before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerCell {
    /// Its print.
    pub print: CellPrint,
    /// Whether its value was released (not withheld).
    pub released: bool,
}

/// Why a table may not be released. Says nothing about which cell, which
/// release or how many persons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooClose;

/// Every distinct admitted cell.
#[derive(Debug, Default)]
pub struct Ledger {
    spaces: HashMap<String, Space>,
}

/// The cells over one set of datasets.
#[derive(Debug, Default)]
struct Space {
    released: BTreeMap<u64, Vec<CellPrint>>,
    withheld: BTreeMap<u64, Vec<CellPrint>>,
    /// Whether each distinct cell was ever released.
    known: HashMap<(SetHash, [u8; 16]), bool>,
}

impl Ledger {
    /// Distinct cells held.
    pub fn len(&self) -> usize {
        self.spaces.values().map(|s| s.known.len()).sum()
    }

    /// Whether no cell is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a table of `cells` over `datasets` (see
    /// [`datasets_key`](super::datasets_key)) may be released: unless one of
    /// its cells is near an earlier cell (see [`CellPrint::near`]) and at
    /// least one of the two was or would be released. Two withheld cells
    /// show no values to difference.
    ///
    /// What a table shows again adds nothing: a cell released before (or
    /// withheld before and now) is skipped, and so is an earlier cell that
    /// the table itself holds as well, since the pair then lies within the
    /// table, where secondary suppression answers for it. (Suppression is
    /// per table: a margin a table withholds may have been released by
    /// another, with the same noise.)
    pub fn check(
        &self,
        datasets: &str,
        cells: &[LedgerCell],
        threshold: u64,
    ) -> Result<(), TooClose> {
        let Some(space) = self.spaces.get(datasets) else {
            return Ok(());
        };
        let shown: std::collections::HashSet<(SetHash, [u8; 16])> =
            cells.iter().map(|c| id(&c.print)).collect();
        for cell in cells.iter().filter(|c| c.print.persons.count > 0) {
            match space.known.get(&id(&cell.print)) {
                Some(true) => continue,
                Some(false) if !cell.released => continue,
                _ => {}
            }
            let n = cell.print.persons.count;
            let window = n.saturating_sub(threshold - 1)..=n.saturating_add(threshold - 1);
            let near = |index: &BTreeMap<u64, Vec<CellPrint>>| {
                index
                    .range(window.clone())
                    .flat_map(|(_, prints)| prints)
                    .any(|p| p.near(&cell.print, threshold) && !shown.contains(&id(p)))
            };
            if near(&space.released) || (cell.released && near(&space.withheld)) {
                return Err(TooClose);
            }
        }
        Ok(())
    }

    /// Adds a released table's cells.
    pub fn insert(&mut self, datasets: &str, cells: &[LedgerCell]) {
        let space = self.spaces.entry(datasets.to_owned()).or_default();
        for cell in cells.iter().filter(|c| c.print.persons.count > 0) {
            let p = cell.print;
            let id = id(&p);
            match space.known.get(&id).copied() {
                Some(true) => continue,
                Some(false) if !cell.released => continue,
                Some(false) => {
                    // Withheld before, released now: move it.
                    if let Some(v) = space.withheld.get_mut(&p.persons.count) {
                        v.retain(|q| !q.same(&p));
                    }
                }
                None => {}
            }
            space.known.insert(id, cell.released);
            let index = if cell.released {
                &mut space.released
            } else {
                &mut space.withheld
            };
            index.entry(p.persons.count).or_default().push(p);
        }
    }
}

fn id(p: &CellPrint) -> (SetHash, [u8; 16]) {
    (p.persons, p.sides)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::print::{print_of, PrintKey};

    fn cell(persons: std::ops::Range<u32>, released: bool) -> LedgerCell {
        let key = PrintKey::from_bytes([1; 16]);
        let persons: Vec<u32> = persons.collect();
        let mut side = SetHash::default();
        persons.iter().for_each(|&p| side.add(key.tag(p)));
        LedgerCell {
            print: print_of(&key, &persons, &mut [side]),
            released,
        }
    }

    #[test]
    fn a_cell_a_few_persons_off_an_earlier_released_one_is_refused() {
        let mut ledger = Ledger::default();
        ledger.insert("a|b", &[cell(0..100, true), cell(200..205, false)]);
        assert_eq!(
            ledger.check("a|b", &[cell(3..100, true)], 10),
            Err(TooClose)
        );
        assert_eq!(
            ledger.check("a|b", &[cell(3..100, false)], 10),
            Err(TooClose)
        );
        assert_eq!(ledger.check("a", &[cell(3..100, true)], 10), Ok(()));
        assert_eq!(ledger.check("a|b", &[cell(0..100, true)], 10), Ok(()));
        assert_eq!(ledger.check("a|b", &[cell(10..100, true)], 10), Ok(()));
        // A margin and a cell within one table: asked again, admitted.
        let table = [cell(0..100, true), cell(0..95, true)];
        let mut ledger2 = Ledger::default();
        ledger2.insert("t", &table);
        assert_eq!(ledger2.check("t", &table, 10), Ok(()));
        assert_eq!(
            ledger2.check("t", &[cell(0..95, true), cell(0..97, true)], 10),
            Err(TooClose)
        );
        // Near a withheld cell: refused only if the new one is released.
        assert_eq!(ledger.check("a|b", &[cell(200..204, false)], 10), Ok(()));
        assert_eq!(
            ledger.check("a|b", &[cell(200..212, true)], 10),
            Err(TooClose)
        );
    }

    #[test]
    fn a_cell_released_after_being_withheld_counts_as_released() {
        let mut ledger = Ledger::default();
        ledger.insert("a", &[cell(0..20, false)]);
        assert_eq!(ledger.check("a", &[cell(1..20, false)], 10), Ok(()));
        ledger.insert("a", &[cell(0..20, true), cell(0..20, true)]);
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger.check("a", &[cell(1..20, false)], 10), Err(TooClose));
    }
}
