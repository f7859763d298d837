//! Text in the PNG charts, laid out and rasterised correctly.
//!
//! plotters 0.3.7 draws `ab_glyph` text glyph by glyph (`style/font/ab_glyph.rs`,
//! `FontDataInternal::draw`): it rasterises each glyph at the origin, then places the glyph's
//! *pixel bounding box* at the pen position. That drops every glyph's left side bearing and
//! truncates the pen to whole pixels per glyph, so a narrow glyph with a wide bearing ("s",
//! "t", "d" after a round letter) sits too far left or right of its neighbours, and a title
//! reads "bs d" or "por ts use d". It also puts the baseline at half the pixel size whatever
//! the glyph, which lowers glyphs whose bounds are rounded down.
//!
//! [`Glyphs`] wraps the bitmap backend and replaces only its text path: each glyph is
//! positioned at its fractional pen position on a common baseline (the font's scaled ascent
//! below the text's top), advances by its horizontal advance plus the pair's kerning, and is
//! rasterised there, so the bearings and sub-pixel offsets are the font's. Everything else is
//! delegated untouched. The SVG backend writes `<text>` elements that the viewer lays out, so
//! it needs no fix.
//!
//! Every chart names one family ([`super::plot::FONT`]), registered as the embedded Noto Sans;
//! this module lays out with that same font, so widths measured for layout and the pixels
//! drawn agree.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::sync::OnceLock;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    // The embedded font is a valid TrueType file: `plot::ensure_font` registers the same bytes.
    FONT.get_or_init(|| FontRef::try_from_slice(ttf_noto_sans::REGULAR).expect("embedded Noto Sans parses"))
}

/// One glyph placed on the line: its id and its pen position (x) from the text's start.
struct Placed {
    id: ab_glyph::GlyphId,
    x: f32,
}

/// The glyphs of `text` at `size` pixels, and the line's width and height in pixels.
fn lay_out(text: &str, size: f32) -> (Vec<Placed>, f32, f32) {
    let f = font().as_scaled(PxScale::from(size));
    let mut pen = 0f32;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        glyphs.push(Placed { id, x: pen });
        pen += f.h_advance(id);
        prev = Some(id);
    }
    (glyphs, pen, f.ascent() - f.descent())
}

/// The pixel width and height of `text` at `size` pixels, as [`Glyphs`] draws it.
pub(crate) fn text_size(text: &str, size: f64) -> (u32, u32) {
    let (_, w, h) = lay_out(text, size as f32);
    (w.ceil() as u32, h.ceil() as u32)
}

/// A drawing backend whose text is drawn by [`lay_out`]; see the module doc for why.
///
/// It also draws at `scale` device pixels per chart pixel (`--scale`, for high-DPI screens):
/// the figure lays itself out in chart pixels (the size it reports is the buffer's divided by
/// the scale) and every coordinate, stroke width, radius and text size is multiplied on the
/// way to the bitmap, so a chart at scale 2 is the same drawing with four times the pixels,
/// not a blown-up image. At scale 1 every call passes through unchanged.
pub(crate) struct Glyphs<B> {
    pub inner: B,
    pub scale: f64,
}

/// A style with its stroke width scaled.
struct Scaled<'a, S> {
    style: &'a S,
    scale: f64,
}

impl<S: BackendStyle> BackendStyle for Scaled<'_, S> {
    fn color(&self) -> BackendColor {
        self.style.color()
    }
    fn stroke_width(&self) -> u32 {
        scale_len(self.style.stroke_width(), self.scale)
    }
}

fn scale_len(v: u32, scale: f64) -> u32 {
    if scale == 1.0 { v } else { (f64::from(v) * scale).round() as u32 }
}

impl<B: DrawingBackend> Glyphs<B> {
    fn at(&self, p: BackendCoord) -> BackendCoord {
        if self.scale == 1.0 {
            p
        } else {
            ((f64::from(p.0) * self.scale).round() as i32, (f64::from(p.1) * self.scale).round() as i32)
        }
    }

    /// The last device pixel of the chart pixel `p`, for filled shapes.
    fn last_of(&self, p: BackendCoord) -> BackendCoord {
        let q = self.at((p.0 + 1, p.1 + 1));
        if self.scale == 1.0 { p } else { (q.0 - 1, q.1 - 1) }
    }

    fn style<'a, S>(&self, style: &'a S) -> Scaled<'a, S> {
        Scaled { style, scale: self.scale }
    }
}

impl<B: DrawingBackend> DrawingBackend for Glyphs<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        if self.scale == 1.0 {
            (w, h)
        } else {
            ((f64::from(w) / self.scale).round() as u32, (f64::from(h) / self.scale).round() as u32)
        }
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if self.scale == 1.0 {
            return self.inner.draw_pixel(p, c);
        }
        let (a, b) = (self.at(p), self.last_of(p));
        for x in a.0..=b.0 {
            for y in a.1..=b.1 {
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (from, to, style) = (self.at(from), self.at(to), self.style(style));
        self.inner.draw_line(from, to, &style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (a, b) = if fill { (self.at(a), self.last_of(b)) } else { (self.at(a), self.at(b)) };
        let style = self.style(style);
        self.inner.draw_rect(a, b, &style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let path: Vec<BackendCoord> = path.into_iter().map(|p| self.at(p)).collect();
        let style = self.style(style);
        self.inner.draw_path(path, &style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        centre: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (centre, radius, style) = (self.at(centre), scale_len(radius, self.scale), self.style(style));
        self.inner.draw_circle(centre, radius, &style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let vert: Vec<BackendCoord> = vert.into_iter().map(|p| self.at(p)).collect();
        let style = self.style(style);
        self.inner.fill_polygon(vert, &style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        // No chart blits an image; one would be placed, not scaled.
        let pos = self.at(pos);
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok(text_size(text, style.size()))
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let colour = style.color();
        if colour.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let size = (style.size() * self.scale) as f32;
        let pos = self.at(pos);
        let (glyphs, width, height) = lay_out(text, size);
        let f = font().as_scaled(PxScale::from(size));
        // The anchor moves the text's box (top left at 0, 0) before the rotation, as plotters'
        // default text path does, so rotated axis titles keep their place.
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Right => -width,
            HPos::Center => -width / 2.0,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let baseline = f.ascent() + dy;
        let trans = style.transform();
        let (w, h) = self.inner.get_size();
        for g in glyphs {
            let glyph = g.id.with_scale_and_position(PxScale::from(size), point(g.x + dx, baseline));
            let Some(outline) = f.outline_glyph(glyph) else { continue };
            let min = outline.px_bounds().min;
            let mut result = Ok(());
            outline.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (x, y) = trans.transform(min.x as i32 + x as i32, min.y as i32 + y as i32);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let c = BackendColor { alpha: colour.alpha * coverage.min(1.0) as f64, rgb: colour.rgb };
                    result = self.inner.draw_pixel((x, y), c);
                }
            });
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pen advances by the font's advances and kerning only: the width of a word is the sum
    /// of its glyphs' advances plus the kerning of its pairs, whatever the glyphs' bearings.
    #[test]
    fn width_is_advances_plus_kerning() {
        let f = font().as_scaled(PxScale::from(20.0));
        let word = "ports used";
        let ids: Vec<_> = word.chars().map(|c| f.glyph_id(c)).collect();
        let advances: f32 = ids.iter().map(|&i| f.h_advance(i)).sum();
        let kerning: f32 = ids.windows(2).map(|p| f.kern(p[0], p[1])).sum();
        let (glyphs, width, height) = lay_out(word, 20.0);
        assert!((width - (advances + kerning)).abs() < 1e-3);
        assert!((height - 20.0).abs() < 0.5, "a line is the pixel size high, got {height}");
        // Each glyph starts where the previous one's advance (plus kerning) ended.
        for (i, pair) in glyphs.windows(2).enumerate() {
            let step = f.h_advance(ids[i]) + f.kern(ids[i], ids[i + 1]);
            assert!((pair[1].x - pair[0].x - step).abs() < 1e-3);
        }
    }
}
