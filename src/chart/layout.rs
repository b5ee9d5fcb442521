//! Where everything goes: page size, plot rectangle, value axis, x labels, legend, notes.
//!
//! Computed once from the table and the embedded font's metrics, so SVG and PNG agree.

use super::axis::ValueAxis;
use super::grid::Grid;
use super::legend::{self, Entry};
use super::{text, ChartError, ChartKind, ChartTable};

/// Text sizes (plotters font sizes, in pixels).
pub(super) const TITLE_SIZE: f64 = 23.0;
pub(super) const LABEL_SIZE: f64 = 16.0;
pub(super) const TICK_SIZE: f64 = 15.0;
pub(super) const NOTE_SIZE: f64 = 15.0;

/// Page margin.
pub(super) const MARGIN: i32 = 20;
/// Line heights.
pub(super) const TITLE_LINE: i32 = 26;
const LABEL_LINE: i32 = 17;
const NOTE_LINE: i32 = 18;
/// Plot height, and the narrowest the plot may be.
const PLOT_HEIGHT: i32 = 380;
const MIN_PLOT_WIDTH: i32 = 720;
const MAX_PLOT_WIDTH: i32 = 3000;
/// Room per category: per bar in a group (plus the group's gap), or per point on a line.
const BAR_ROOM: i32 = 12;
const GROUP_GAP_ROOM: i32 = 14;
const POINT_ROOM: i32 = 44;
/// Tick mark length, and the gap between a tick and its label.
pub(super) const TICK: i32 = 5;
pub(super) const TICK_GAP: i32 = 4;
/// The longest a rotated x label may be.
const MAX_ROTATED: u32 = 170;
/// Horizontal x labels: at most this many lines, and the plot may widen to this for them.
const LABEL_LINES: usize = 3;
const MAX_HORIZONTAL_PLOT: i32 = 1600;
/// A category needs no more room than this for a long label (which is then shortened).
const MAX_LABEL_ROOM: u32 = 130;
/// Space kept between neighbouring horizontal labels.
const LABEL_PADDING: u32 = 8;

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

/// How the category labels under the x axis are drawn.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum XLabels {
    /// Horizontal, each broken into at most [`LABEL_LINES`] lines that fit its category.
    Horizontal(Vec<Vec<String>>),
    /// Rotated to read upwards, each shortened to at most [`MAX_ROTATED`] pixels.
    Rotated(Vec<String>),
}

/// Everything's place on the page.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// Page size.
    pub width: u32,
    pub height: u32,
    /// The title's lines; the first line's top.
    pub title: Vec<String>,
    pub title_top: i32,
    /// What the values are, above the plot's top-left corner.
    pub value_label: String,
    /// The plot area (the axes are its left and bottom edges).
    pub plot: Rect,
    /// The value axis.
    pub axis: ValueAxis,
    /// The category labels, and the top of their band.
    pub x_labels: XLabels,
    pub x_labels_top: i32,
    /// The first variable's name under the labels, and its top.
    pub x_title: String,
    pub x_title_top: i32,
    /// Legend entries, and the legend's top.
    pub legend: Vec<Entry>,
    pub legend_top: i32,
    /// The notes' lines, and the first line's top.
    pub notes: Vec<String>,
    pub notes_top: i32,
}

impl Layout {
    /// Lays out a chart of `kind` for `table` (already checked into `grid`).
    pub(super) fn new(
        table: &ChartTable,
        grid: &Grid<'_>,
        kind: ChartKind,
    ) -> Result<Self, ChartError> {
        text::font()?;
        let axis = ValueAxis::new(grid.released());
        let mut tick_width = 0;
        for tick in &axis.ticks {
            tick_width = tick_width.max(text::width(&axis.label(*tick), TICK_SIZE)? as i32);
        }
        let categories = grid.category_count() as i32;
        let room = match kind {
            ChartKind::Bars => grid.series_count() as i32 * BAR_ROOM + GROUP_GAP_ROOM,
            ChartKind::Lines => POINT_ROOM,
        };
        let mut plot_width = (categories * room).clamp(MIN_PLOT_WIDTH, MAX_PLOT_WIDTH);
        let labels = &grid.categories.labels;
        let label_room = horizontal_room(labels)? as i32;
        let horizontal = categories * label_room <= MAX_HORIZONTAL_PLOT.max(plot_width);
        if horizontal {
            plot_width = plot_width.max(categories * label_room);
        }
        let plot_left = MARGIN + tick_width + TICK + TICK_GAP;
        let width = plot_left + plot_width + MARGIN;
        let inner = (width - 2 * MARGIN) as u32;

        let title = text::wrap(&table.title, TITLE_SIZE, inner, 2)?;
        let title_top = MARGIN;
        let value_label_top = title_top + title.len() as i32 * TITLE_LINE + 6;
        let value_label = text::fit(&table.value_label, LABEL_SIZE, inner)?;
        let plot_top = value_label_top + LABEL_LINE + 12;
        let plot = Rect {
            left: plot_left,
            top: plot_top,
            right: plot_left + plot_width,
            bottom: plot_top + PLOT_HEIGHT,
        };

        let slot = (plot_width / categories) as u32;
        let x_labels = x_labels(labels, horizontal, slot.saturating_sub(LABEL_PADDING))?;
        let x_labels_top = plot.bottom + TICK + TICK_GAP;
        let x_labels_height = match &x_labels {
            XLabels::Horizontal(lines) => {
                lines.iter().map(Vec::len).max().unwrap_or(1) as i32 * LABEL_LINE
            }
            XLabels::Rotated(labels) => {
                let mut widest = 0;
                for label in labels {
                    widest = widest.max(text::width(label, LABEL_SIZE)? as i32);
                }
                widest
            }
        };
        let x_title = text::fit(&grid.categories.variable, LABEL_SIZE, plot_width as u32)?;
        let x_title_top = x_labels_top + x_labels_height + 8;

        let legend = legend::entries(grid, width - plot_left - MARGIN)?;
        let legend_top = x_title_top + LABEL_LINE + 10;
        let notes_top = legend_top + legend::rows(&legend) * legend::ROW + 12;
        let mut notes = Vec::new();
        for note in &table.notes {
            notes.extend(text::wrap(note, NOTE_SIZE, inner, 4)?);
        }
        let height = notes_top + notes.len() as i32 * NOTE_LINE + MARGIN;

        Ok(Layout {
            width: width as u32,
            height: height as u32,
            title,
            title_top,
            value_label,
            plot,
            axis,
            x_labels,
            x_labels_top,
            x_title,
            x_title_top,
            legend,
            legend_top,
            notes,
            notes_top,
        })
    }

    /// The left and right edge of category `index`'s band along the x axis.
    pub(super) fn category_band(&self, index: usize, count: usize) -> (f64, f64) {
        let width = f64::from(self.plot.right - self.plot.left) / count as f64;
        let left = f64::from(self.plot.left) + index as f64 * width;
        (left, left + width)
    }

    /// The pixel row of `value` on the value axis (clamped into the plot).
    pub(super) fn y(&self, value: f64) -> i32 {
        let height = f64::from(self.plot.bottom - self.plot.top);
        self.plot.bottom - (self.axis.fraction(value) * height).round() as i32
    }

    /// The line height of labels.
    pub(super) fn label_line(&self) -> i32 {
        LABEL_LINE
    }

    /// The line height of notes.
    pub(super) fn note_line(&self) -> i32 {
        NOTE_LINE
    }
}

/// The width a category needs for its label to lie horizontally in at most
/// [`LABEL_LINES`] lines: the widest unbreakable piece, or a third of the label (with
/// slack for uneven breaks) up to [`MAX_LABEL_ROOM`]; plus padding.
fn horizontal_room(labels: &[String]) -> Result<u32, ChartError> {
    let mut room = 0;
    for label in labels {
        let mut widest_piece = 0;
        for (piece, _) in text::pieces(label) {
            widest_piece = widest_piece.max(text::width(&piece, LABEL_SIZE)?);
        }
        let whole = text::width(label, LABEL_SIZE)?;
        let third = (whole as f64 / LABEL_LINES as f64 * 1.2).ceil() as u32;
        room = room.max(widest_piece.max(third.min(MAX_LABEL_ROOM)));
    }
    Ok(room + LABEL_PADDING)
}

/// The labels broken into lines of at most `room` pixels, or shortened for rotation.
fn x_labels(labels: &[String], horizontal: bool, room: u32) -> Result<XLabels, ChartError> {
    if horizontal {
        let mut wrapped = Vec::with_capacity(labels.len());
        for label in labels {
            wrapped.push(text::wrap(label, LABEL_SIZE, room, LABEL_LINES)?);
        }
        Ok(XLabels::Horizontal(wrapped))
    } else {
        let mut rotated = Vec::with_capacity(labels.len());
        for label in labels {
            rotated.push(text::fit(label, LABEL_SIZE, MAX_ROTATED)?);
        }
        if has_new_duplicates(labels, &rotated) {
            // Shortening the ends made distinct labels alike: keep their ends instead.
            rotated.clear();
            for label in labels {
                rotated.push(text::fit_middle(label, LABEL_SIZE, MAX_ROTATED)?);
            }
        }
        Ok(XLabels::Rotated(rotated))
    }
}

/// Whether two of `shortened` are equal though their `labels` differ.
fn has_new_duplicates(labels: &[String], shortened: &[String]) -> bool {
    let mut seen = std::collections::HashMap::new();
    labels
        .iter()
        .zip(shortened)
        .any(|(label, short)| *seen.entry(short).or_insert(label) != label)
}
