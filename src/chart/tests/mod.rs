//! Tests of whole charts: the SVG is parsed and its elements checked; the PNG decoded.
//!
//! This file holds the sample tables and the small SVG reader the tests share.

mod bars;
mod errors;
mod labels;
mod lines;
mod png;

use std::collections::HashMap;

use super::grid::Grid;
use super::layout::Layout;
use super::{palette, render, ChartCell, ChartDimension, ChartFormat, ChartKind, ChartTable};

// Sample tables.

pub(super) const LEVELS: [&str; 4] = [
    "Vmbo basis/kader",
    "Vmbo gemengd/theoretisch",
    "Havo",
    "Vwo",
];

pub(super) fn dimension(variable: &str, labels: &[&str]) -> ChartDimension {
    ChartDimension {
        variable: variable.to_string(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
    }
}

pub(super) fn released(coordinates: &[usize], value: f64) -> ChartCell {
    ChartCell {
        coordinates: coordinates.to_vec(),
        value: Some(value),
        withheld: None,
    }
}

pub(super) fn withheld(coordinates: &[usize], reason: &str) -> ChartCell {
    ChartCell {
        coordinates: coordinates.to_vec(),
        value: None,
        withheld: Some(reason.to_string()),
    }
}

pub(super) const NOTE: &str =
    "Counts perturbed by the cell-key method (max noise 2); cells below 10 persons \
                    withheld (threshold rule)";

/// Persons by school level; "Havo" (index 2) withheld. The table has no margins, so the
/// withheld count cannot be derived from anything in it.
pub(super) fn counts_by_level() -> ChartTable {
    ChartTable {
        title: "Persons in duo.onderwijs_2024 ⋈ cbs.inkomen_2024".to_string(),
        value_label: "persons".to_string(),
        dimensions: vec![dimension("duo.onderwijs_2024.niveau", &LEVELS)],
        cells: vec![
            released(&[0], 1287.0),
            released(&[1], 2412.0),
            withheld(&[2], "threshold"),
            released(&[3], 1733.0),
        ],
        notes: vec![NOTE.to_string()],
    }
}

/// Persons by income decile (1..10) × level; three cells withheld for two reasons.
pub(super) fn counts_by_decile_and_level() -> ChartTable {
    let mut cells = Vec::new();
    for decile in 0..10 {
        for level in 0..4 {
            let cell = match (decile, level) {
                (9, 0) | (0, 3) => withheld(&[decile, level], "threshold"),
                (8, 0) => withheld(&[decile, level], "secondary"),
                _ => released(&[decile, level], 100.0 + (decile * 31 + level * 17) as f64),
            };
            cells.push(cell);
        }
    }
    let deciles: Vec<String> = (1..=10).map(|d| d.to_string()).collect();
    let deciles: Vec<&str> = deciles.iter().map(String::as_str).collect();
    ChartTable {
        title: "Persons by income decile and level".to_string(),
        value_label: "persons".to_string(),
        dimensions: vec![
            dimension("cbs.inkomen_2024.inkomensdecile", &deciles),
            dimension("duo.onderwijs_2024.niveau", &LEVELS),
        ],
        cells,
        notes: vec![
            NOTE.to_string(),
            "Secondary suppression protects the margins.".to_string(),
        ],
    }
}

/// Shares of havo/vwo across five deciles; vwo's share in decile 3 withheld.
pub(super) fn shares() -> ChartTable {
    let values = [
        [21.5, 12.25],
        [24.0, 15.5],
        [26.5, f64::NAN],
        [28.0, 22.75],
        [30.5, 27.0],
    ];
    let mut cells = Vec::new();
    for (decile, row) in values.iter().enumerate() {
        for (level, value) in row.iter().enumerate() {
            cells.push(if value.is_nan() {
                withheld(&[decile, level], "dominance")
            } else {
                released(&[decile, level], *value)
            });
        }
    }
    ChartTable {
        title: "Havo/vwo share by income decile".to_string(),
        value_label: "% of row (computed from perturbed values)".to_string(),
        dimensions: vec![
            dimension(
                "cbs.inkomen_2024.inkomensdecile",
                &["1", "2", "3", "4", "5"],
            ),
            dimension("duo.onderwijs_2024.niveau", &["havo", "vwo"]),
        ],
        cells,
        notes: vec![NOTE.to_string()],
    }
}

// A small SVG reader.

/// One SVG element: its name, attributes and (for `<text>`) its text.
#[derive(Debug)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) attributes: HashMap<String, String>,
    pub(super) text: String,
}

impl Element {
    pub(super) fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
    pub(super) fn number(&self, key: &str) -> f64 {
        self.attribute(key).parse().unwrap_or(f64::NAN)
    }
    /// The points of a `<polyline>`.
    pub(super) fn points(&self) -> Vec<(i32, i32)> {
        self.attribute("points")
            .split_whitespace()
            .filter_map(|p| p.split_once(','))
            .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
            .collect()
    }
}

pub(super) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The opening tags of `svg` in order (plotters writes one element per tag, attributes
/// in double quotes).
pub(super) fn elements(svg: &str) -> Vec<Element> {
    let mut found = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let end = rest.find('>').expect("unclosed tag");
        let tag = rest[..end].trim_end_matches('/');
        let name = tag.split_whitespace().next().unwrap_or("").to_string();
        let mut attributes = HashMap::new();
        let mut attrs = &tag[name.len()..];
        while let Some(eq) = attrs.find("=\"") {
            let key = attrs[..eq].trim().to_string();
            let value_end = attrs[eq + 2..].find('"').expect("unclosed attribute") + eq + 2;
            attributes.insert(key, unescape(&attrs[eq + 2..value_end]));
            attrs = &attrs[value_end + 1..];
        }
        rest = &rest[end + 1..];
        let text = if name == "text" {
            let close = rest.find("</text>").expect("unclosed text");
            unescape(rest[..close].trim())
        } else {
            String::new()
        };
        found.push(Element {
            name,
            attributes,
            text,
        });
    }
    found
}

pub(super) fn svg(table: &ChartTable, kind: ChartKind) -> (String, Vec<Element>) {
    let bytes = render(table, kind, ChartFormat::Svg).expect("renders");
    let text = String::from_utf8(bytes).expect("SVG is UTF-8");
    let parsed = elements(&text);
    (text, parsed)
}

pub(super) fn hex(index: usize) -> String {
    let c = palette::series(index);
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

pub(super) fn texts(elements: &[Element]) -> Vec<&str> {
    elements
        .iter()
        .filter(|e| e.name == "text")
        .map(|e| e.text.as_str())
        .collect()
}

pub(super) fn filled_rects<'a>(elements: &'a [Element], color: &str) -> Vec<&'a Element> {
    elements
        .iter()
        .filter(|e| e.name == "rect" && e.attribute("fill") == color)
        .collect()
}

pub(super) fn layout_of(table: &ChartTable, kind: ChartKind) -> Layout {
    let grid = Grid::new(table).unwrap();
    Layout::new(table, &grid, kind).unwrap()
}

/// Every run of digits (with a decimal point) in `text`.
pub(super) fn numbers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !current.is_empty()) {
            current.push(c);
        } else if !current.is_empty() {
            found.push(current.trim_end_matches('.').to_string());
            current.clear();
        }
    }
    found
}
