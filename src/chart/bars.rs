//! Bars: one per category, or a group per category with one bar per series.
//!
//! A withheld cell gets no bar: its place in the group holds a marker on the baseline.

use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::element::{Rectangle, Text};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontTransform};

use super::error::drawing;
use super::grid::{Grid, Slot};
use super::layout::Layout;
use super::{legend, palette, text, ChartError};

/// The share of a category's band the group of bars takes.
const GROUP_SHARE: f64 = 0.8;
/// Marker text size.
const MARKER_SIZE: f64 = 18.0;

/// Draws the bars and withheld markers inside `layout.plot`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &Grid<'_>,
    layout: &Layout,
) -> Result<(), ChartError> {
    let symbols = legend::markers(&grid.reasons);
    let marker = text::style(
        MARKER_SIZE,
        palette::MARKER,
        HPos::Center,
        VPos::Bottom,
        FontTransform::None,
    );
    let baseline = layout.y(0.0);
    let categories = grid.category_count();
    let series = grid.series_count();
    for (s, row) in grid.slots.iter().enumerate() {
        let color = palette::series(s);
        for (c, slot) in row.iter().enumerate() {
            let (left, right) = bar_span(layout.category_band(c, categories), s, series);
            match slot {
                Slot::Empty => {}
                Slot::Released(value) => {
                    let top = layout.y(*value);
                    area.draw(&Rectangle::new(
                        [(left, top.min(baseline)), (right, top.max(baseline))],
                        color.filled(),
                    ))
                    .map_err(drawing)?;
                }
                Slot::Withheld(reason) => {
                    let symbol = symbols
                        .get(*reason)
                        .map_or(legend::WITHHELD, String::as_str);
                    let center = (left + right) / 2;
                    area.draw(&Text::new(
                        symbol.to_string(),
                        (center, baseline - 1),
                        marker.clone(),
                    ))
                    .map_err(drawing)?;
                }
            }
        }
    }
    Ok(())
}

/// The left and right pixel of series `index`'s bar (of `count`) within a category band.
fn bar_span((left, right): (f64, f64), index: usize, count: usize) -> (i32, i32) {
    let band = right - left;
    let group_left = left + band * (1.0 - GROUP_SHARE) / 2.0;
    let bar = band * GROUP_SHARE / count as f64;
    let x0 = group_left + index as f64 * bar;
    // A one-pixel gap between neighbouring bars when they are wide enough to spare it.
    let gap = if count > 1 && bar >= 4.0 { 1.0 } else { 0.0 };
    (x0.round() as i32, (x0 + bar - gap).round() as i32)
}
