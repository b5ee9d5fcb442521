//! The table checked and arranged as series × categories, ready to draw.

use super::{ChartDimension, ChartError, ChartTable};

/// The most categories drawn along the x axis.
pub(super) const MAX_CATEGORIES: usize = 200;

/// What one (series, category) position holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Slot {
    /// No cell for this combination: nothing is drawn and nothing is marked.
    Empty,
    /// A released value.
    Released(f64),
    /// A withheld cell: the index of its reason in [`Grid::reasons`]. It has no value.
    Withheld(usize),
}

/// The table's cells as `slots[series][category]`.
#[derive(Debug)]
pub(super) struct Grid<'a> {
    /// The first dimension: its categories run along the x axis.
    pub categories: &'a ChartDimension,
    /// The second dimension, if any: one colour or line per category.
    pub series: Option<&'a ChartDimension>,
    /// One row per series (a single row without a second dimension), one slot per category.
    pub slots: Vec<Vec<Slot>>,
    /// The distinct withheld reasons, in order of first appearance.
    pub reasons: Vec<String>,
}

/// The reason shown for a withheld cell that names none.
const UNNAMED_REASON: &str = "withheld";

impl<'a> Grid<'a> {
    /// Checks the table and arranges its cells; the errors say what is wrong with it.
    pub(super) fn new(table: &'a ChartTable) -> Result<Self, ChartError> {
        let (categories, series) = match table.dimensions.as_slice() {
            [] => return Err(ChartError::NoDimensions),
            [x] => (x, None),
            [x, s] => (x, Some(s)),
            more => return Err(ChartError::TooManyDimensions { count: more.len() }),
        };
        for dimension in &table.dimensions {
            if dimension.labels.is_empty() {
                return Err(ChartError::EmptyDimension {
                    variable: dimension.variable.clone(),
                });
            }
        }
        if categories.labels.len() > MAX_CATEGORIES {
            return Err(ChartError::TooManyCategories {
                variable: categories.variable.clone(),
                count: categories.labels.len(),
                max: MAX_CATEGORIES,
            });
        }
        if let Some(s) = series {
            if s.labels.len() > super::palette::SERIES.len() {
                return Err(ChartError::TooManySeries {
                    variable: s.variable.clone(),
                    count: s.labels.len(),
                    max: super::palette::SERIES.len(),
                });
            }
        }
        if table.cells.is_empty() {
            return Err(ChartError::NoCells);
        }
        let series_count = series.map_or(1, |s| s.labels.len());
        let mut grid = Grid {
            categories,
            series,
            slots: vec![vec![Slot::Empty; categories.labels.len()]; series_count],
            reasons: Vec::new(),
        };
        for (index, cell) in table.cells.iter().enumerate() {
            grid.place(table, index, &cell.coordinates, cell.value, &cell.withheld)?;
        }
        Ok(grid)
    }

    /// Checks one cell and stores it in its slot.
    fn place(
        &mut self,
        table: &ChartTable,
        cell: usize,
        coordinates: &[usize],
        value: Option<f64>,
        withheld: &Option<String>,
    ) -> Result<(), ChartError> {
        if coordinates.len() != table.dimensions.len() {
            return Err(ChartError::CoordinateCount {
                cell,
                expected: table.dimensions.len(),
                found: coordinates.len(),
            });
        }
        for (&index, dimension) in coordinates.iter().zip(&table.dimensions) {
            if index >= dimension.labels.len() {
                return Err(ChartError::CoordinateOutOfRange {
                    cell,
                    variable: dimension.variable.clone(),
                    index,
                    labels: dimension.labels.len(),
                });
            }
        }
        let category = coordinates[0];
        let series = coordinates.get(1).copied().unwrap_or(0);
        let slot = match (value, withheld) {
            (Some(_), Some(_)) => return Err(ChartError::WithheldWithValue { cell }),
            (Some(v), None) if !v.is_finite() => return Err(ChartError::NonFiniteValue { cell }),
            (Some(v), None) => Slot::Released(v),
            (None, reason) => Slot::Withheld(self.reason_index(reason.as_deref())),
        };
        let target = &mut self.slots[series][category];
        if *target != Slot::Empty {
            return Err(ChartError::DuplicateCell { cell });
        }
        *target = slot;
        Ok(())
    }

    /// The index of `reason` in [`Grid::reasons`], adding it on first sight.
    fn reason_index(&mut self, reason: Option<&str>) -> usize {
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(UNNAMED_REASON);
        match self.reasons.iter().position(|r| r == reason) {
            Some(i) => i,
            None => {
                self.reasons.push(reason.to_string());
                self.reasons.len() - 1
            }
        }
    }

    /// The released values, in no particular order.
    pub(super) fn released(&self) -> impl Iterator<Item = f64> + '_ {
        self.slots.iter().flatten().filter_map(|slot| match slot {
            Slot::Released(v) => Some(*v),
            _ => None,
        })
    }

    /// The number of series (1 without a second dimension).
    pub(super) fn series_count(&self) -> usize {
        self.slots.len()
    }

    /// The number of categories along the x axis.
    pub(super) fn category_count(&self) -> usize {
        self.categories.labels.len()
    }
}
