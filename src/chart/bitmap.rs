//! PNG output: the page drawn into an RGB buffer by plotters' bitmap backend (text
//! rasterised from the embedded font by [`Raster`]), then encoded with the `png` crate.

use plotters::backend::{BitMapBackend, RGBPixel};
use plotters::prelude::IntoDrawingArea;

use super::grid::Grid;
use super::layout::Layout;
use super::raster::Raster;
use super::{page, ChartError, ChartKind};

/// Bytes per pixel in the drawing buffer (RGB).
const CHANNELS: usize = 3;

/// The chart as a PNG image.
pub(super) fn render(
    grid: &Grid<'_>,
    layout: &Layout,
    kind: ChartKind,
) -> Result<Vec<u8>, ChartError> {
    let (width, height) = (layout.width, layout.height);
    let mut pixels = vec![0u8; width as usize * height as usize * CHANNELS];
    {
        let backend =
            BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut pixels, (width, height))
                .map_err(|e| ChartError::Drawing(e.to_string()))?;
        let area = Raster::new(backend).into_drawing_area();
        page::draw(&area, grid, layout, kind)?;
    }
    encode(&pixels, width, height)
}

/// An 8-bit RGB PNG of `pixels`.
fn encode(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut encoder = ::png::Encoder::new(&mut out, width, height);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        encoder.set_compression(::png::Compression::High);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
    }
    Ok(out)
}
