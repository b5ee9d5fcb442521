//! The legend: one entry per series, one per withheld marker; laid out in rows; drawn.

use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::element::{Circle, Rectangle, Text};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontTransform, RGBColor};

use super::error::drawing;
use super::grid::Grid;
use super::{palette, text, ChartError, ChartKind};

/// Legend text size.
const SIZE: f64 = 16.0;
/// Height of one legend row.
pub(super) const ROW: i32 = 22;
/// Width of a colour swatch or a marker's column.
const SWATCH: i32 = 16;
/// Space between a swatch and its text, and after an entry.
const GAP: i32 = 6;
const AFTER: i32 = 18;
/// The widest a series label may be in the legend.
const MAX_LABEL: u32 = 260;

/// The symbol marking a withheld cell when there is one reason, or reasons' initials clash.
pub(super) const WITHHELD: &str = "×";

/// What one legend entry shows before its text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Key {
    /// The legend's heading: the series variable; no key.
    Heading,
    /// A series' colour.
    Series(RGBColor),
    /// A withheld marker.
    Marker(String),
}

/// A legend entry and where it goes (relative to the legend's top-left corner).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// What comes before the text.
    pub key: Key,
    /// The entry's text.
    pub text: String,
    /// Left edge, from the legend's left.
    pub x: i32,
    /// Row index.
    pub row: i32,
}

/// The marker symbol for each of `reasons` (same order): "×" when there is one reason,
/// otherwise the reasons' capital initials if they differ, otherwise "×" for all.
pub(super) fn markers(reasons: &[String]) -> Vec<String> {
    let initials: Vec<String> = reasons
        .iter()
        .map(|r| {
            r.chars()
                .next()
                .map(|c| c.to_uppercase().collect())
                .unwrap_or_default()
        })
        .collect();
    let distinct = initials
        .iter()
        .enumerate()
        .all(|(i, a)| !a.is_empty() && initials[..i].iter().all(|b| b != a));
    if reasons.len() > 1 && distinct {
        initials
    } else {
        vec![WITHHELD.to_string(); reasons.len()]
    }
}

/// The legend's entries, flowed into rows at most `width` pixels wide.
pub(super) fn entries(grid: &Grid<'_>, width: i32) -> Result<Vec<Entry>, ChartError> {
    let mut keyed: Vec<(Key, String)> = Vec::new();
    if let Some(series) = grid.series {
        keyed.push((Key::Heading, format!("{}:", series.variable)));
        for (i, label) in series.labels.iter().enumerate() {
            keyed.push((Key::Series(palette::series(i)), label.clone()));
        }
    }
    let symbols = markers(&grid.reasons);
    if symbols.iter().all(|s| s == WITHHELD) && !symbols.is_empty() {
        keyed.push((
            Key::Marker(WITHHELD.to_string()),
            withheld_text(&grid.reasons),
        ));
    } else {
        for (symbol, reason) in symbols.into_iter().zip(&grid.reasons) {
            keyed.push((
                Key::Marker(symbol),
                withheld_text(std::slice::from_ref(reason)),
            ));
        }
    }
    let mut placed = Vec::with_capacity(keyed.len());
    let (mut x, mut row) = (0, 0);
    for (key, label) in keyed {
        let label = text::fit(&label, SIZE, MAX_LABEL)?;
        let lead = if key == Key::Heading { 0 } else { SWATCH + GAP };
        let w = lead + text::width(&label, SIZE)? as i32 + AFTER;
        if x > 0 && x + w > width {
            x = 0;
            row += 1;
        }
        placed.push(Entry {
            key,
            text: label,
            x,
            row,
        });
        x += w;
    }
    Ok(placed)
}

/// "withheld (threshold, secondary)"; a reason-less cell is just "withheld".
fn withheld_text(reasons: &[String]) -> String {
    let named: Vec<&str> = reasons
        .iter()
        .map(String::as_str)
        .filter(|r| *r != "withheld")
        .collect();
    if named.is_empty() {
        "withheld".to_string()
    } else {
        format!("withheld ({})", named.join(", "))
    }
}

/// The number of rows `entries` take.
pub(super) fn rows(entries: &[Entry]) -> i32 {
    entries.last().map_or(0, |e| e.row + 1)
}

/// Draws `entries` with their top-left corner at `(left, top)`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    (left, top): (i32, i32),
    kind: ChartKind,
) -> Result<(), ChartError> {
    let label = text::style(
        SIZE,
        palette::INK,
        HPos::Left,
        VPos::Center,
        FontTransform::None,
    );
    for entry in entries {
        let x = left + entry.x;
        let mid = top + entry.row * ROW + ROW / 2;
        let text_x = match &entry.key {
            Key::Heading => x,
            Key::Series(color) => {
                draw_swatch(area, *color, (x, mid), kind)?;
                x + SWATCH + GAP
            }
            Key::Marker(symbol) => {
                let style = text::style(
                    18.0,
                    palette::MARKER,
                    HPos::Center,
                    VPos::Center,
                    FontTransform::None,
                );
                area.draw(&Text::new(symbol.clone(), (x + SWATCH / 2, mid), style))
                    .map_err(drawing)?;
                x + SWATCH + GAP
            }
        };
        area.draw(&Text::new(entry.text.clone(), (text_x, mid), label.clone()))
            .map_err(drawing)?;
    }
    Ok(())
}

/// A filled block for bars; a short thick stroke with a dot for lines.
fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    color: RGBColor,
    (x, mid): (i32, i32),
    kind: ChartKind,
) -> Result<(), ChartError> {
    let (half_height, dot) = match kind {
        ChartKind::Bars => (6, false),
        ChartKind::Lines => (1, true),
    };
    area.draw(&Rectangle::new(
        [(x, mid - half_height), (x + SWATCH, mid + half_height + 1)],
        color.filled(),
    ))
    .map_err(drawing)?;
    if dot {
        area.draw(&Circle::new((x + SWATCH / 2, mid), 3, color.filled()))
            .map_err(drawing)?;
    }
    Ok(())
}
