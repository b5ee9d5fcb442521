//! Lines: one per series across the categories of the first variable.
//!
//! A line is broken at every withheld (or missing) point: each run of released points is
//! its own stroke, every released point gets a dot, and a withheld point gets a marker in
//! the series' colour on the baseline (stacked upwards when several series lack that point).

use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::element::{Circle, PathElement, Text};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontTransform};

use super::error::drawing;
use super::grid::{Grid, Slot};
use super::layout::Layout;
use super::{legend, palette, text, ChartError};

/// Line width, dot radius, marker size and the rise between stacked markers.
const STROKE: u32 = 2;
const DOT: i32 = 3;
const MARKER_SIZE: f64 = 18.0;
const MARKER_RISE: i32 = 15;

/// Draws the lines, dots and withheld markers inside `layout.plot`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &Grid<'_>,
    layout: &Layout,
) -> Result<(), ChartError> {
    let categories = grid.category_count();
    let x = |c: usize| {
        let (left, right) = layout.category_band(c, categories);
        ((left + right) / 2.0).round() as i32
    };
    for (s, row) in grid.slots.iter().enumerate() {
        let style = palette::series(s).stroke_width(STROKE);
        for run in runs(row) {
            let points: Vec<(i32, i32)> = run.iter().map(|&(c, v)| (x(c), layout.y(v))).collect();
            if points.len() > 1 {
                area.draw(&PathElement::new(points.clone(), style))
                    .map_err(drawing)?;
            }
            for point in points {
                area.draw(&Circle::new(point, DOT, style.filled()))
                    .map_err(drawing)?;
            }
        }
    }
    draw_markers(area, grid, layout, x)
}

/// The runs of consecutive released points of one series, as (category, value).
fn runs(row: &[Slot]) -> Vec<Vec<(usize, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (c, slot) in row.iter().enumerate() {
        match slot {
            Slot::Released(v) => current.push((c, *v)),
            Slot::Withheld(_) | Slot::Empty => {
                if !current.is_empty() {
                    runs.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// A marker for every withheld point, in its series' colour, on the baseline.
fn draw_markers<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &Grid<'_>,
    layout: &Layout,
    x: impl Fn(usize) -> i32,
) -> Result<(), ChartError> {
    let symbols = legend::markers(&grid.reasons);
    let baseline = layout.y(0.0);
    for c in 0..grid.category_count() {
        let mut stacked = 0;
        for (s, row) in grid.slots.iter().enumerate() {
            let Slot::Withheld(reason) = row[c] else {
                continue;
            };
            let symbol = symbols.get(reason).map_or(legend::WITHHELD, String::as_str);
            let style = text::style(
                MARKER_SIZE,
                palette::series(s),
                HPos::Center,
                VPos::Bottom,
                FontTransform::None,
            );
            let y = baseline - 1 - stacked * MARKER_RISE;
            area.draw(&Text::new(symbol.to_string(), (x(c), y), style))
                .map_err(drawing)?;
            stacked += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{runs, Slot};

    #[test]
    fn withheld_and_missing_points_break_the_line() {
        let row = [
            Slot::Released(1.0),
            Slot::Released(2.0),
            Slot::Withheld(0),
            Slot::Released(3.0),
            Slot::Empty,
            Slot::Released(4.0),
            Slot::Released(5.0),
        ];
        assert_eq!(
            runs(&row),
            vec![
                vec![(0, 1.0), (1, 2.0)],
                vec![(3, 3.0)],
                vec![(5, 4.0), (6, 5.0)]
            ]
        );
    }
}
