//! `--share row|column`: percentages computed from a table's released
//! cells and totals. They inherit the perturbation of both, and a share
//! whose cell or total is withheld is not computed.

use std::collections::HashMap;

use crate::proto::{CellStatus, Table};

/// Which total a share is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Share {
    /// Of the total over the last grouping variable (the row of a two-way table).
    Row,
    /// Of the total over the grouping variable before it (the column).
    Column,
}

impl Share {
    /// How the share is named under a table or chart.
    pub fn title(self) -> &'static str {
        match self {
            Share::Row => "% of the row total (computed from perturbed values)",
            Share::Column => "% of the column total (computed from perturbed values)",
        }
    }

    /// The dimension a share's total runs over.
    fn over(self, dimensions: usize) -> usize {
        match self {
            Share::Row => dimensions - 1,
            Share::Column => dimensions.saturating_sub(2),
        }
    }
}

/// The share of every cell whose figure and total are both released, by
/// coordinates; a count table's counts, a magnitude table's values.
pub(super) fn shares(t: &Table, share: Share) -> HashMap<Vec<i32>, f64> {
    if t.dimensions.is_empty() {
        return HashMap::new();
    }
    let magnitude = t.measure != crate::proto::MeasureKind::Count as i32;
    let figure = |c: &crate::proto::Cell| {
        if c.status != CellStatus::Released as i32 {
            return None;
        }
        if magnitude {
            c.value
        } else {
            c.count.map(|n| n as f64)
        }
    };
    let released: HashMap<&[i32], f64> = t
        .cells
        .iter()
        .filter_map(|c| figure(c).map(|v| (c.coordinates.as_slice(), v)))
        .collect();
    let over = share.over(t.dimensions.len());
    released
        .iter()
        .filter_map(|(&at, &v)| {
            let mut total = at.to_vec();
            total[over] = -1;
            let of = *released.get(total.as_slice())?;
            (of > 0.0).then(|| (at.to_vec(), 100.0 * v / of))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Cell, Dimension};

    fn cell(at: [i32; 2], count: Option<u64>) -> Cell {
        Cell {
            coordinates: at.to_vec(),
            count,
            status: if count.is_some() {
                CellStatus::Released as i32
            } else {
                CellStatus::WithheldThreshold as i32
            },
            value: None,
        }
    }

    #[test]
    fn shares_come_from_released_cells_and_totals_only() {
        let dim = |v: &str| Dimension {
            variable: v.into(),
            categories: vec!["a".into(), "b".into()],
            entries: Vec::new(),
        };
        let t = Table {
            dimensions: vec![dim("x"), dim("y")],
            cells: vec![
                cell([0, 0], Some(30)),
                cell([0, 1], Some(10)),
                cell([0, -1], Some(40)),
                cell([1, 0], None),
                cell([1, 1], Some(20)),
                cell([1, -1], Some(25)),
                cell([-1, 0], Some(35)),
                cell([-1, 1], None),
                cell([-1, -1], Some(65)),
            ],
            ..Table::default()
        };
        let row = shares(&t, Share::Row);
        assert_eq!(row[&vec![0, 0]], 75.0);
        assert_eq!(row[&vec![1, 1]], 80.0);
        assert!(
            !row.contains_key(&vec![1, 0]),
            "a withheld cell has no share"
        );
        let column = shares(&t, Share::Column);
        assert!((column[&vec![0, 0]] - 100.0 * 30.0 / 35.0).abs() < 1e-9);
        assert!(
            !column.contains_key(&vec![0, 1]),
            "no share when the total is withheld"
        );
    }
}
