//! The embedded font, text measurement, truncation and wrapping.
//!
//! Both backends lay text out with the metrics of DejaVu Sans (embedded, subset to Latin,
//! Greek, punctuation, arrows, mathematical operators and geometric shapes; licence in
//! `font/LICENSE-DejaVu.txt`). The PNG backend also rasterises with it; an SVG names it
//! first in `font-family`, with the viewer's sans-serif as fallback.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, Glyph, PxScale};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, FontDesc, FontFamily, FontStyle, FontTransform, RGBColor, TextStyle};

use super::ChartError;

/// The font family every text in a chart uses (also written into SVG `font-family`).
pub(super) const FAMILY: &str = "DejaVu Sans, sans-serif";

/// DejaVu Sans Book 2.37, subset (see `font/README.md`).
static FONT_DATA: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");

/// The text that ends a truncated label.
const ELLIPSIS: &str = "…";

/// Plotters' SVG backend writes `font-size` as the style's size divided by this; text is
/// measured and rasterised at that same em size so both formats lay out alike.
const SIZE_PER_EM: f64 = 1.24;

/// The embedded font, parsed once per process (and registered with plotters, so any
/// plotters code path that measures text finds it too).
pub(super) fn font() -> Result<&'static FontRef<'static>, ChartError> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| {
        let font = FontRef::try_from_slice(FONT_DATA).ok()?;
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_DATA).ok()?;
        Some(font)
    })
    .as_ref()
    .ok_or_else(|| ChartError::Font("the embedded font is not a valid TrueType font".to_string()))
}

/// A line of text laid out along a baseline at y = 0, starting at x = 0.
pub(super) struct Shaped {
    /// The glyphs, positioned (kerning applied) and scaled.
    pub glyphs: Vec<Glyph>,
    /// The advance width of the whole line, in pixels.
    pub width: f32,
    /// The em size, in pixels.
    pub em: f32,
}

/// Lays `text` out at plotters font size `size`.
pub(super) fn shape(text: &str, size: f64) -> Result<Shaped, ChartError> {
    let font = font()?;
    let em = (size / SIZE_PER_EM) as f32;
    let units = font.units_per_em().unwrap_or(2048.0);
    let per_unit = em / units;
    let scale = PxScale::from(font.height_unscaled() * per_unit);
    let mut glyphs = Vec::with_capacity(text.len());
    let mut caret = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(previous) = previous {
            caret += font.kern_unscaled(previous, id) * per_unit;
        }
        glyphs.push(Glyph {
            id,
            scale,
            position: point(caret, 0.0),
        });
        caret += font.h_advance_unscaled(id) * per_unit;
        previous = Some(id);
    }
    Ok(Shaped {
        glyphs,
        width: caret,
        em,
    })
}

/// The width of `text` in whole pixels at plotters font size `size`.
pub(super) fn width(text: &str, size: f64) -> Result<u32, ChartError> {
    Ok(shape(text, size)?.width.ceil() as u32)
}

/// The chart font at `size` pixels.
fn font_desc(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

/// A text style: font size, colour, anchor and rotation.
pub(super) fn style(
    size: f64,
    color: RGBColor,
    h: HPos,
    v: VPos,
    rotation: FontTransform,
) -> TextStyle<'static> {
    TextStyle {
        font: font_desc(size).transform(rotation),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// `text`, shortened at its end with an ellipsis if it is wider than `max` pixels.
pub(super) fn fit(text: &str, size: f64, max: u32) -> Result<String, ChartError> {
    if width(text, size)? <= max {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let head = longest_prefix(&chars, size, max, "")?;
    Ok(format!("{}{ELLIPSIS}", head.trim_end()))
}

/// `text`, shortened in its middle with an ellipsis if it is wider than `max` pixels: its
/// end (up to a third of the room) is kept, so labels that differ only at the end stay
/// apart ("Gemeente Súdwest-Fr…deel 3").
pub(super) fn fit_middle(text: &str, size: f64, max: u32) -> Result<String, ChartError> {
    if width(text, size)? <= max {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut tail_start = chars.len();
    while tail_start > 1 {
        let longer: String = chars[tail_start - 1..].iter().collect();
        if width(&longer, size)? > max / 3 {
            break;
        }
        tail_start -= 1;
    }
    let tail: String = chars[tail_start..].iter().collect();
    let tail = tail.trim_start();
    let suffix = format!("{ELLIPSIS}{tail}");
    let head = longest_prefix(&chars[..tail_start], size, max, &suffix)?;
    Ok(format!("{}{suffix}", head.trim_end()))
}

/// The longest prefix of `chars` that, followed by an ellipsis and `suffix` (or just the
/// ellipsis when `suffix` is empty), fits in `max` pixels; found by binary search.
fn longest_prefix(chars: &[char], size: f64, max: u32, suffix: &str) -> Result<String, ChartError> {
    let ending = if suffix.is_empty() { ELLIPSIS } else { suffix };
    let candidate = |n: usize| -> String {
        let prefix: String = chars[..n].iter().collect();
        format!("{}{ending}", prefix.trim_end())
    };
    let (mut low, mut high) = (0usize, chars.len());
    while low < high {
        let mid = (low + high).div_ceil(2);
        if width(&candidate(mid), size)? <= max {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(chars[..low].iter().collect())
}

/// The places a line may break: each word (a space before it), and within a word after
/// each '/' or '-' (no space). Each piece comes with whether a space joins it to the last.
pub(super) fn pieces(text: &str) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    for word in text.split_whitespace() {
        let mut space = true;
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if c == '/' || c == '-' {
                pieces.push((std::mem::take(&mut piece), space));
                space = false;
            }
        }
        if !piece.is_empty() {
            pieces.push((piece, space));
        }
    }
    pieces
}

/// `line` with `piece` appended.
fn join(line: &str, (piece, space): &(String, bool)) -> String {
    if line.is_empty() {
        piece.clone()
    } else if *space {
        format!("{line} {piece}")
    } else {
        format!("{line}{piece}")
    }
}

/// `text` broken into lines at most `max` pixels wide, at spaces and after '/' or '-';
/// a piece wider than a line is truncated. At most `max_lines` lines: the last one then
/// ends in an ellipsis.
pub(super) fn wrap(
    text: &str,
    size: f64,
    max: u32,
    max_lines: usize,
) -> Result<Vec<String>, ChartError> {
    let pieces = pieces(text);
    let mut lines = Vec::new();
    let mut next = 0;
    while next < pieces.len() && lines.len() < max_lines {
        let mut line = pieces[next].0.clone();
        next += 1;
        while let Some(piece) = pieces.get(next) {
            let longer = join(&line, piece);
            if width(&longer, size)? > max {
                break;
            }
            line = longer;
            next += 1;
        }
        if lines.len() + 1 == max_lines {
            // The last line allowed: the rest goes on it, and `fit` shortens it.
            for piece in &pieces[next..] {
                line = join(&line, piece);
            }
            next = pieces.len();
        }
        lines.push(fit(&line, size, max)?);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::{fit, fit_middle, pieces, width, wrap};

    #[test]
    fn pieces_break_at_spaces_slashes_and_hyphens() {
        let got: Vec<(String, bool)> = pieces("Vmbo gemengd/theoretisch  Noord-Brabant");
        let want = [
            ("Vmbo", true),
            ("gemengd/", true),
            ("theoretisch", false),
            ("Noord-", true),
            ("Brabant", false),
        ];
        assert_eq!(got.len(), want.len());
        for ((p, s), (wp, ws)) in got.iter().zip(want) {
            assert_eq!((p.as_str(), *s), (wp, ws));
        }
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_the_words_in_order() {
        let text = "Voortgezet speciaal onderwijs, Curaçao en Saba — geëxamineerd";
        let lines = wrap(text, 16.0, 120, 10).unwrap();
        assert!(lines.len() > 2);
        for line in &lines {
            assert!(width(line, 16.0).unwrap() <= 120, "{line}");
        }
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn too_many_lines_end_in_an_ellipsis() {
        let lines = wrap("een twee drie vier vijf zes zeven acht", 16.0, 60, 2).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'), "{lines:?}");
        assert!(width(&lines[1], 16.0).unwrap() <= 60);
    }

    #[test]
    fn middle_fitting_keeps_the_distinguishing_end() {
        let a = fit_middle("Gemeente Súdwest-Fryslân deel 11", 16.0, 150).unwrap();
        let b = fit_middle("Gemeente Súdwest-Fryslân deel 12", 16.0, 150).unwrap();
        assert_ne!(a, b);
        assert!(
            a.starts_with("Gemeente") && a.ends_with("11") && a.contains('…'),
            "{a}"
        );
        assert!(width(&a, 16.0).unwrap() <= 150);
        assert_eq!(fit_middle("Havo", 16.0, 150).unwrap(), "Havo");
    }

    #[test]
    fn fitting_shortens_on_character_boundaries() {
        let short = fit("Geëxamineerd elders ëëëëëëëëëë", 16.0, 80).unwrap();
        assert!(short.ends_with('…') && short.starts_with("Geë"), "{short}");
        assert!(width(&short, 16.0).unwrap() <= 80);
        assert_eq!(fit("Havo", 16.0, 80).unwrap(), "Havo");
    }
}
