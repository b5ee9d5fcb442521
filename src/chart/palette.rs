//! Colours.

use plotters::style::RGBColor;

/// One colour per series (Tableau 10: distinguishable, and readable on white).
pub(super) const SERIES: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xBA, 0xB0, 0xAC),
];

/// Page background.
pub(super) const BACKGROUND: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
/// Title, labels and axis lines.
pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Secondary text: tick labels, the value label, notes.
pub(super) const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Horizontal grid lines.
pub(super) const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
/// Withheld-cell markers in bar charts.
pub(super) const MARKER: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// The colour of series `index` (the list is as long as the most series a chart allows).
pub(super) fn series(index: usize) -> RGBColor {
    SERIES[index % SERIES.len()]
}
