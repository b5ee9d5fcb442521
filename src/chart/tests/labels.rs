//! Labels and notes: non-ASCII, escaping, rotation and shortening, wrapping.

use super::{counts_by_level, released, svg, texts, Element};
use crate::chart::{ChartDimension, ChartKind, ChartTable};

#[test]
fn non_ascii_and_markup_characters_survive_escaped() {
    let mut table = counts_by_level();
    table.dimensions[0].labels[3] = "Geëxamineerd <elders> & \"anders\"".to_string();
    let (raw, elements) = svg(&table, ChartKind::Bars);
    for escaped in ["&lt;elders&gt;", "&amp;", "&quot;anders&quot;"] {
        assert!(raw.contains(escaped), "{escaped}");
    }
    assert!(!raw.contains("<elders>"));
    let joined = texts(&elements).join(" ");
    assert!(joined.contains("Geëxamineerd"), "{joined}");
    assert!(joined.contains("<elders>"), "{joined}");
}

#[test]
fn many_long_labels_are_rotated_and_shortened() {
    let labels: Vec<String> = (0..40)
        .map(|i| format!("Gemeente met een bijzonder lange naam nummer {i}"))
        .collect();
    let table = ChartTable {
        dimensions: vec![ChartDimension {
            variable: "gemeente".to_string(),
            labels,
        }],
        cells: (0..40).map(|i| released(&[i], i as f64)).collect(),
        ..counts_by_level()
    };
    let (_, elements) = svg(&table, ChartKind::Bars);
    let rotated: Vec<&Element> = elements
        .iter()
        .filter(|e| e.name == "text" && e.attribute("transform").starts_with("rotate(270"))
        .collect();
    assert_eq!(rotated.len(), 40);
    // Shortened in the middle, so the numbers that tell them apart remain.
    for (i, label) in rotated.iter().enumerate() {
        assert!(label.text.starts_with("Gemeente"), "{}", label.text);
        assert!(label.text.contains('…'), "{}", label.text);
        assert!(label.text.ends_with(&format!(" {i}")), "{}", label.text);
    }
}

#[test]
fn short_labels_stay_horizontal_and_long_notes_wrap_without_losing_words() {
    let mut table = counts_by_level();
    let long_note =
        "Counts perturbed by the cell-key method (max noise 2); cells below 10 persons \
                     withheld (threshold rule); secondary suppression applied so that no withheld \
                     cell can be recovered from the published margins of this or earlier releases.";
    table.notes = vec![long_note.to_string()];
    let (_, elements) = svg(&table, ChartKind::Bars);
    assert!(!elements
        .iter()
        .any(|e| e.attribute("transform").starts_with("rotate")));
    let note_lines: Vec<&str> = texts(&elements)
        .into_iter()
        .skip_while(|t| !t.starts_with("Counts perturbed"))
        .collect();
    assert!(note_lines.len() >= 2, "{note_lines:?}");
    assert_eq!(note_lines.join(" "), long_note);
}
