//! Bar charts: one rect per released bar, markers for withheld cells, no leaked numbers.

use super::{
    counts_by_decile_and_level, counts_by_level, filled_rects, hex, layout_of, numbers, svg, texts,
    LEVELS,
};
use crate::chart::ChartKind;

#[test]
fn one_dimension_bars_have_one_rect_per_released_cell_and_a_marker_for_the_withheld() {
    let table = counts_by_level();
    let (_, elements) = svg(&table, ChartKind::Bars);
    let bars = filled_rects(&elements, &hex(0));
    assert_eq!(bars.len(), 3, "three released bars, no legend swatch");

    // No bar in the withheld category's band; one in each other band.
    let layout = layout_of(&table, ChartKind::Bars);
    for category in 0..4 {
        let (left, right) = layout.category_band(category, 4);
        let inside = bars
            .iter()
            .filter(|r| r.number("x") >= left && r.number("x") < right)
            .count();
        assert_eq!(inside, usize::from(category != 2), "category {category}");
    }
    // Heights follow the counts: 2412 > 1733 > 1287.
    let height = |i: usize| bars[i].number("height");
    assert!(height(1) > height(2) && height(2) > height(0), "{bars:?}");

    let texts = texts(&elements);
    let marker_x: Vec<f64> = elements
        .iter()
        .filter(|e| e.name == "text" && e.text == "×")
        .map(|e| e.number("x"))
        .collect();
    assert_eq!(
        marker_x.len(),
        2,
        "one marker on the baseline, one in the legend"
    );
    let (left, right) = layout.category_band(2, 4);
    assert!(marker_x.iter().any(|x| *x >= left && *x < right));
    assert!(texts.contains(&"withheld (threshold)"), "{texts:?}");
    for label in LEVELS.iter().filter(|l| !l.contains(' ')) {
        assert!(texts.contains(label), "label {label} in {texts:?}");
    }
    assert!(texts.contains(&"Persons in duo.onderwijs_2024 ⋈ cbs.inkomen_2024"));
    assert!(texts.contains(&"persons"));
    assert!(texts.contains(&"duo.onderwijs_2024.niveau"));
    let notes = texts.join(" ");
    assert!(notes.contains("cell-key method (max noise 2)"), "{notes}");
}

#[test]
fn grouped_bars_have_a_colour_per_series_a_legend_and_markers_per_reason() {
    let table = counts_by_decile_and_level();
    let (_, elements) = svg(&table, ChartKind::Bars);
    // Released bars per level (10 deciles, minus withheld) + one legend swatch each.
    for (level, withheld) in [(0, 2), (1, 0), (2, 0), (3, 1)] {
        let rects = filled_rects(&elements, &hex(level));
        assert_eq!(rects.len(), 10 - withheld + 1, "level {level}");
    }
    let texts = texts(&elements);
    assert!(texts.contains(&"duo.onderwijs_2024.niveau:"), "{texts:?}");
    for level in LEVELS {
        assert!(texts.contains(&level), "legend entry {level}");
    }
    // Two reasons with different initials: letters, each explained.
    assert_eq!(texts.iter().filter(|t| **t == "T").count(), 2 + 1);
    assert_eq!(texts.iter().filter(|t| **t == "S").count(), 1 + 1);
    assert!(texts.contains(&"withheld (threshold)"));
    assert!(texts.contains(&"withheld (secondary)"));
    assert!(!texts.contains(&"×"));
    for decile in 1..=10 {
        assert!(texts.contains(&decile.to_string().as_str()));
    }
    let notes = texts.join(" ");
    assert!(notes.contains("Secondary suppression protects the margins."));
}

#[test]
fn the_svg_shows_no_number_but_ticks_and_the_tables_own_text() {
    let table = counts_by_level();
    let (_, elements) = svg(&table, ChartKind::Bars);
    let layout = layout_of(&table, ChartKind::Bars);
    let ticks: Vec<String> = layout
        .axis
        .ticks
        .iter()
        .map(|t| layout.axis.label(*t))
        .collect();
    let dimensions: Vec<String> = table
        .dimensions
        .iter()
        .map(|d| format!("{} {}", d.variable, d.labels.join(" ")))
        .collect();
    let own_text = format!(
        "{} {} {} {}",
        table.title,
        table.value_label,
        table.notes.join(" "),
        dimensions.join(" ")
    );
    let allowed: Vec<String> = numbers(&own_text).into_iter().chain(ticks).collect();
    for text in texts(&elements) {
        for number in numbers(text) {
            assert!(allowed.contains(&number), "{number} in {text:?}");
        }
    }
    // The released values are drawn, not printed; a withheld one has nothing to print.
    for value in ["1287", "2412", "1733"] {
        assert!(!texts(&elements).iter().any(|t| t.contains(value)));
    }
}
