//! A bitmap backend whose text is laid out like the SVG's.
//!
//! Plotters' bitmap text (through its `ab_glyph` feature) places each glyph at the left
//! edge of its ink rather than at its origin, so letters with side bearings ("1", "j",
//! "i") sit unevenly. This wrapper forwards all drawing to [`BitMapBackend`] except text,
//! which it rasterises itself from [`text::shape`], anchored the way the SVG backend
//! anchors `<text>` (`text-anchor`, and `dy` of 0.76em / 0.5ex / −0.5ex).

use ab_glyph::Font;
use plotters::backend::{BitMapBackend, RGBPixel};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use super::text;

/// The x-height of DejaVu Sans, in em (1120 / 2048).
const EX: f32 = 0.547;

/// [`BitMapBackend`] (RGB) with its own text rendering.
pub(super) struct Raster<'a> {
    inner: BitMapBackend<'a, RGBPixel>,
}

impl<'a> Raster<'a> {
    /// Wraps `inner`.
    pub(super) fn new(inner: BitMapBackend<'a, RGBPixel>) -> Self {
        Raster { inner }
    }
}

type Error = <BitMapBackend<'static, RGBPixel> as DrawingBackend>::ErrorType;

impl DrawingBackend for Raster<'_> {
    type ErrorType = Error;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let shaped = text::shape(text, style.size())
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let font = text::font().map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -shaped.width / 2.0,
            HPos::Right => -shaped.width,
        };
        let baseline = match style.anchor().v_pos {
            VPos::Top => 0.76 * shaped.em,
            VPos::Center => 0.5 * EX * shaped.em,
            VPos::Bottom => -0.5 * EX * shaped.em,
        };
        let transform = style.transform();
        let (width, height) = self.get_size();
        for mut glyph in shaped.glyphs {
            glyph.position.x += dx;
            glyph.position.y += baseline;
            let Some(outline) = font.outline_glyph(glyph) else {
                continue; // a space, or a glyph without ink
            };
            let bounds = outline.px_bounds();
            let mut coverage = Vec::new();
            outline.draw(|x, y, c| coverage.push((x, y, c)));
            for (x, y, c) in coverage {
                let local = (
                    bounds.min.x as i32 + x as i32,
                    bounds.min.y as i32 + y as i32,
                );
                let (x, y) = transform.transform(local.0, local.1);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x < 0 || y < 0 || x >= width as i32 || y >= height as i32 {
                    continue;
                }
                let alpha = color.alpha * f64::from(c.clamp(0.0, 1.0));
                self.inner.draw_pixel(
                    (x, y),
                    BackendColor {
                        alpha,
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}
