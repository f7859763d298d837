//! What every chart shares: the embedded font, the strategy palette, the layout (title, plot,
//! a legend strip on the right that never covers data), line styles, tick labels, and
//! rendering one figure to both SVG and PNG.

use super::glyphs::Glyphs;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::sync::Once;

/// The family every chart names; [`ensure_font`] registers Noto Sans under it.
pub(crate) const FONT: &str = "sans-serif";

pub(crate) type DrawResult = Result<(), Box<dyn Error>>;

/// The plot area and the legend strip of a chart.
pub(crate) type Areas<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Registers the embedded Noto Sans (from the `ttf-noto-sans` crate) before any text is drawn,
/// so charts need no system font library and look the same everywhere.
pub(crate) fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is a valid TrueType file compiled into the binary.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, ttf_noto_sans::REGULAR);
    });
}

/// Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008) without its black,
/// which the charts keep for references and merged curves. Its yellow is darkened to read on
/// white. Together with the strokes and markers of [`look`], curves stay apart in greyscale.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(181, 164, 0),   // yellow, darkened
];

/// The colour of the `i`-th series of a chart that is not keyed by strategy name.
pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A marker drawn at a few points of a curve, so curves that run on top of each other (and
/// strokes that look alike in greyscale) can still be told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

const MARKERS: [Marker; 5] =
    [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Diamond, Marker::Cross];
const STROKES: [Stroke; 3] = [Stroke::Solid, Stroke::Dashed, Stroke::Dotted];

/// How one strategy is drawn on every chart of every run and report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Look {
    pub colour: RGBColor,
    pub stroke: Stroke,
    pub marker: Marker,
}

/// The built-in strategies and kernel profiles, with (palette, stroke, marker) indices chosen so
/// the strategies shipped scenarios compare side by side never share a look: the six RFC 6056
/// algorithms have six colours, the nine kernel profiles nine colour-stroke-marker triples.
const KNOWN: [(&str, usize, usize, usize); 15] = [
    ("bsd", 0, 0, 0),
    ("random-start", 1, 1, 1),
    ("random-pick", 2, 2, 2),
    ("hash", 3, 1, 3),
    ("double-hash", 4, 2, 4),
    ("random-increments", 5, 0, 1),
    ("linux", 0, 1, 2),
    ("linux-5.12", 5, 2, 3),
    ("linux-legacy", 2, 1, 0),
    ("freebsd", 3, 2, 1),
    ("freebsd-12", 1, 0, 4),
    ("openbsd", 6, 0, 2),
    ("netbsd", 4, 1, 0),
    ("macos", 2, 0, 3),
    ("windows", 5, 1, 4),
];

/// The look of the strategy named `name`: the same on every chart, run and report, so
/// double-hash is one colour everywhere. Built-in names have fixed looks; any other name gets
/// one from a fixed-key SipHash of the name (stable across runs and machines).
pub(crate) fn look(name: &str) -> Look {
    // `portsim compare` names curves "run: strategy": each keeps its strategy's look, which
    // [`looks`] then varies run by run (marker, then stroke).
    let name = name.rsplit_once(": ").map_or(name, |(_, strategy)| strategy);
    let (c, s, m) = match KNOWN.iter().find(|k| k.0 == name) {
        Some(&(_, c, s, m)) => (c, s, m),
        None => {
            use std::hash::Hasher;
            let mut h = siphasher::sip::SipHasher13::new_with_keys(0x706f_7274, 0x0073_696d);
            h.write(name.as_bytes());
            let v = h.finish();
            ((v % 7) as usize, ((v >> 8) % 3) as usize, ((v >> 16) % 5) as usize)
        }
    };
    Look { colour: PALETTE[c], stroke: STROKES[s], marker: MARKERS[m] }
}

/// The looks of a run's strategies, by name; where two share a look (two custom names, or a
/// name used twice) the later one takes the next marker and stroke, so no two are drawn alike.
pub(crate) fn looks<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Look> {
    let mut out: Vec<Look> = Vec::new();
    for name in names {
        let mut l = look(name);
        let mut k = 0;
        while out.contains(&l) && k < MARKERS.len() * STROKES.len() {
            k += 1;
            l.marker =
                MARKERS[(MARKERS.iter().position(|m| *m == l.marker).unwrap_or(0) + 1) % MARKERS.len()];
            if k % MARKERS.len() == 0 {
                l.stroke =
                    STROKES[(STROKES.iter().position(|s| *s == l.stroke).unwrap_or(0) + 1) % STROKES.len()];
            }
        }
        out.push(l);
    }
    out
}

/// Draws `marker` centred on `at`, in the coordinates of `area` (data or pixels).
pub(crate) fn draw_marker<DB, CT>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    marker: Marker,
    colour: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
    CT::From: Clone + 'static,
{
    let r = 5;
    let fill = colour.filled();
    let e = || EmptyElement::at(at.clone());
    match marker {
        Marker::Circle => area.draw(&(e() + Circle::new((0, 0), r, fill)))?,
        Marker::Square => area.draw(&(e() + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], fill)))?,
        Marker::Triangle => {
            area.draw(&(e() + Polygon::new(vec![(0, -r - 1), (r + 1, r), (-r - 1, r)], fill)))?
        }
        Marker::Diamond => {
            area.draw(&(e() + Polygon::new(vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)], fill)))?
        }
        Marker::Cross => area.draw(
            &(e()
                + PathElement::new(vec![(-r, -r), (r, r)], colour.stroke_width(3))
                + PathElement::new(vec![(-r, r), (r, -r)], colour.stroke_width(3))),
        )?,
    }
    Ok(())
}

/// A strategy's curve: its line in its stroke, and its marker at `MARKS` points spread along the
/// curve's pixel length, shifted by `slot` so coinciding curves show every marker.
pub(crate) fn draw_curve<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<(f64, f64)>,
    look: Look,
    width: u32,
    slot: usize,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    const MARKS: usize = 6;
    if points.is_empty() {
        return Ok(());
    }
    let px: Vec<(i32, i32)> = points.iter().map(|p| chart.as_coord_spec().translate(p)).collect();
    let mut length = vec![0f64; px.len()];
    for i in 1..px.len() {
        let (dx, dy) = (f64::from(px[i].0 - px[i - 1].0), f64::from(px[i].1 - px[i - 1].1));
        length[i] = length[i - 1] + (dx * dx + dy * dy).sqrt();
    }
    let total = length[length.len() - 1];
    let mut at = Vec::with_capacity(MARKS);
    if total > 0.0 {
        for k in 0..MARKS {
            // Evenly spread, each strategy's set offset by a fraction of the spacing.
            let frac = (k as f64 + 0.25 + 0.5 * ((slot * 7) % 10) as f64 / 10.0) / MARKS as f64;
            let target = frac * total;
            let i = length.partition_point(|l| *l < target).clamp(1, px.len() - 1);
            let span = length[i] - length[i - 1];
            let t = if span > 0.0 { (target - length[i - 1]) / span } else { 0.0 };
            let (a, b) = (points[i - 1], points[i]);
            at.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
        }
    } else {
        at.push(points[0]);
    }
    draw_line(chart, points, look.colour, look.stroke, width)?;
    for p in at {
        draw_marker(chart.plotting_area(), p, look.marker, look.colour)?;
    }
    Ok(())
}

pub(crate) const INK: RGBColor = RGBColor(40, 40, 40);
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(crate) const SHADE: RGBColor = RGBColor(236, 236, 236);

/// Text sizes in pixels at the default chart size.
pub(crate) const TITLE_PX: u32 = 22;
pub(crate) const AXIS_PX: u32 = 16;
pub(crate) const TICK_PX: u32 = 14;
pub(crate) const LEGEND_PX: u32 = 14;
pub(crate) const NOTE_PX: u32 = 14;

/// The default chart: wide enough for a legend strip beside the plot.
pub(crate) const WIDTH: u32 = 1100;
pub(crate) const HEIGHT: u32 = 620;
pub(crate) const LEGEND_WIDTH: u32 = 230;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stroke {
    Solid,
    Dashed,
    Dotted,
}

/// One legend line: a sample of the stroke (or a filled box) and its label.
#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub colour: RGBColor,
    pub stroke: Stroke,
    pub filled: bool,
    pub marker: Option<Marker>,
}

impl LegendEntry {
    pub fn line(label: impl Into<String>, colour: RGBColor, stroke: Stroke) -> LegendEntry {
        LegendEntry { label: label.into(), colour, stroke, filled: false, marker: None }
    }

    pub fn band(label: impl Into<String>, colour: RGBColor) -> LegendEntry {
        LegendEntry { label: label.into(), colour, stroke: Stroke::Solid, filled: true, marker: None }
    }

    /// A strategy's entry: its stroke and its marker.
    pub fn strategy(label: impl Into<String>, look: Look) -> LegendEntry {
        LegendEntry {
            label: label.into(),
            colour: look.colour,
            stroke: look.stroke,
            filled: false,
            marker: Some(look.marker),
        }
    }

    /// A heading line without a sample.
    pub fn heading(label: impl Into<String>) -> LegendEntry {
        LegendEntry { label: label.into(), colour: WHITE, stroke: Stroke::Solid, filled: false, marker: None }
    }
}

/// A chart: its size and how to draw it on any backend.
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A figure drawn both ways.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    pub svg: String,
    pub png: Vec<u8>,
}

/// How a run's or a sweep's charts are drawn: the command line's `--log-y`, `--chart-size`
/// and `--scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChartStyle {
    /// Log y axes on the failure and collision panels and the sweep's charts, wherever some
    /// value is positive, instead of only where the values span two decades.
    pub log_y: bool,
    /// Every chart at this width and height in chart pixels (the SVG's size), instead of each
    /// chart's own.
    pub size: Option<(u32, u32)>,
    /// PNG pixels per chart pixel: 2 draws a 1100 x 620 chart into a 2200 x 1240 PNG, the
    /// same drawing at twice the resolution, for high-DPI screens and print. The SVG is
    /// unchanged.
    pub scale: f64,
}

impl Default for ChartStyle {
    fn default() -> ChartStyle {
        ChartStyle { log_y: false, size: None, scale: 1.0 }
    }
}

/// The smallest and largest `--chart-size`: the legend strip and the axes need room, and a
/// PNG is kept under about 64 MB of pixels.
pub const MIN_CHART: (u32, u32) = (640, 400);
pub const MAX_CHART: (u32, u32) = (4000, 4000);
/// The largest `--scale`.
pub const MAX_SCALE: f64 = 4.0;

/// Parses `--chart-size WxH` (for clap: the error names the accepted form and bounds).
pub fn parse_chart_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!(
            "expected WIDTHxHEIGHT in pixels, from {}x{} to {}x{} (the default is {WIDTH}x{HEIGHT}), got {s:?}",
            MIN_CHART.0, MIN_CHART.1, MAX_CHART.0, MAX_CHART.1
        )
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| bad());
    let (w, h) = (parse(w)?, parse(h)?);
    if !(MIN_CHART.0..=MAX_CHART.0).contains(&w) || !(MIN_CHART.1..=MAX_CHART.1).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// Parses `--scale` (for clap).
pub fn parse_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (1.0..=MAX_SCALE).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 1 to {MAX_SCALE} (PNG pixels per chart pixel), got {s:?}")),
    }
}

/// Draws `fig` as SVG and as PNG at its own size. Same figure, same bytes: nothing here
/// depends on time, threads or the machine.
pub(crate) fn render(fig: &impl Figure) -> anyhow::Result<Rendered> {
    render_with(fig, &ChartStyle::default())
}

/// [`render`] at `style`'s size and scale.
pub(crate) fn render_with(fig: &impl Figure, style: &ChartStyle) -> anyhow::Result<Rendered> {
    ensure_font();
    let (w, h) = style.size.unwrap_or_else(|| fig.size());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        fig.draw(&root).map_err(|e| anyhow::anyhow!("drawing a chart (SVG): {e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("drawing a chart (SVG): {e}"))?;
    }
    let scale = style.scale.clamp(1.0, MAX_SCALE);
    let (pw, ph) = ((f64::from(w) * scale).round() as u32, (f64::from(h) * scale).round() as u32);
    let mut rgb = vec![0u8; (pw as usize) * (ph as usize) * 3];
    {
        let inner = BitMapBackend::with_buffer(&mut rgb, (pw, ph));
        let root = Glyphs { inner, scale }.into_drawing_area();
        fig.draw(&root).map_err(|e| anyhow::anyhow!("drawing a chart (PNG): {e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("drawing a chart (PNG): {e}"))?;
    }
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, pw, ph);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        if scale != 1.0 {
            // 96 dpi times the scale, so a viewer that reads it shows the chart at its size.
            let per_metre = (96.0 * scale / 0.0254).round() as u32;
            enc.set_pixel_dims(Some(png::PixelDimensions {
                xppu: per_metre,
                yppu: per_metre,
                unit: png::Unit::Meter,
            }));
        }
        let mut writer = enc.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(Rendered { svg, png })
}

/// White background, the title on top, the plot area on the left and the legend strip on the
/// right. Returns (plot, legend).
pub(crate) fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<Areas<DB>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let body = root.titled(title, (FONT, TITLE_PX).into_font().color(&INK))?;
    let (w, _) = body.dim_in_pixel();
    let (plot, legend) = body.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    Ok((plot, legend))
}

/// Cuts a label to about `max` characters.
pub(crate) fn clip(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Splits `text` into lines no wider than `max_px` (at the legend's font), at spaces.
fn wrap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, max_px: u32) -> Vec<String>
where
    DB::ErrorType: 'static,
{
    let font: TextStyle = (FONT, LEGEND_PX).into_font().into();
    let fits = |s: &str| {
        area.estimate_text_size(s, &font).map(|(w, _)| w <= max_px).unwrap_or(s.chars().count() <= 24)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if fits(&candidate) || current.is_empty() {
            current = candidate;
        } else {
            lines.push(std::mem::take(&mut current));
            current = word.to_string();
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    // A single word wider than the strip is cut.
    lines
        .into_iter()
        .map(|l| {
            let mut l = l;
            while !fits(&l) && l.chars().count() > 2 {
                let keep = l.chars().count() - 2;
                l = l.chars().take(keep).collect::<String>() + "…";
            }
            l
        })
        .collect()
}

/// Draws the legend strip: one row per entry, top to bottom; long labels wrap.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let row = (LEGEND_PX as i32 * 3) / 2 + 4;
    let line_gap = LEGEND_PX as i32 + 3;
    let mut y = 30;
    let text = (FONT, LEGEND_PX).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
    let (w, _) = area.dim_in_pixel();
    let x0 = 10;
    let x1 = 44;
    for e in entries {
        let is_heading = e.colour == WHITE && !e.filled;
        if is_heading {
            if e.label.is_empty() {
                y += row / 2;
                continue;
            }
            for l in wrap(area, &e.label, w.saturating_sub(16)) {
                area.draw(&Text::new(l, (x0, y), text.clone()))?;
                y += line_gap;
            }
            y += row - line_gap;
            continue;
        }
        if e.filled {
            area.draw(&Rectangle::new([(x0, y - 6), (x1, y + 6)], e.colour.mix(0.35).filled()))?;
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], e.colour.stroke_width(2)))?;
        } else {
            let style = e.colour.stroke_width(if e.stroke == Stroke::Dotted { 2 } else { 3 });
            match e.stroke {
                Stroke::Solid => area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?,
                Stroke::Dashed => {
                    for s in [x0, x0 + 13, x0 + 26] {
                        area.draw(&PathElement::new(vec![(s, y), ((s + 8).min(x1), y)], style))?;
                    }
                }
                Stroke::Dotted => {
                    let mut s = x0;
                    while s < x1 {
                        area.draw(&PathElement::new(vec![(s, y), (s + 2, y)], style))?;
                        s += 6;
                    }
                }
            }
        }
        if let Some(m) = e.marker {
            draw_marker(area, ((x0 + x1) / 2, y), m, e.colour)?;
        }
        let lines = wrap(area, &e.label, w.saturating_sub(x1 as u32 + 14));
        for l in lines {
            area.draw(&Text::new(l, (x1 + 8, y), text.clone()))?;
            y += line_gap;
        }
        y += row - line_gap;
    }
    Ok(())
}

/// Line width of the `i`-th of `n` series: earlier ones wider, so a series drawn over an equal
/// one leaves the first's colour visible at its edges.
pub(crate) fn line_width(i: usize, n: usize) -> u32 {
    if n <= 1 {
        return 2;
    }
    2 + ((3 * (n - 1 - i.min(n - 1))) as f64 / (n - 1) as f64).round() as u32
}

/// A line through `points` in one of the three strokes.
pub(crate) fn draw_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    stroke: Stroke,
    width: u32,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    if points.is_empty() {
        return Ok(());
    }
    let style = colour.stroke_width(width);
    match stroke {
        Stroke::Solid => {
            chart.draw_series(LineSeries::new(points, style))?;
        }
        Stroke::Dashed => {
            chart.draw_series(DashedLineSeries::new(points, 9, 6, style))?;
        }
        Stroke::Dotted => {
            chart.draw_series(DashedLineSeries::new(points, 2, 5, style))?;
        }
    }
    Ok(())
}

/// A short tick label: `0`, `0.25`, `12`, `1,500`, `12k`, `3.5M`, `1e-5`.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a >= 1e6 {
        return trim(format!("{:.2}", v / 1e6)) + "M";
    }
    if a >= 1e4 {
        return trim(format!("{:.1}", v / 1e3)) + "k";
    }
    if a >= 1000.0 {
        return trim(format!("{:.2}", v / 1e3)) + "k";
    }
    if a < 1e-3 {
        return format!("{v:.0e}");
    }
    trim(format!("{v:.4}"))
}

fn trim(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// Tick labels of a log axis: only the powers of ten and their 2x and 5x.
pub(crate) fn log_tick(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let e = v.log10().floor();
    let m = v / 10f64.powf(e);
    let near = |x: f64| (m - x).abs() < 1e-6 * x;
    if near(1.0) || near(2.0) || near(5.0) {
        if v < 1.0 {
            return trim(format!("{v:.6}"));
        }
        tick(v)
    } else {
        String::new()
    }
}

/// A note in the middle of a plot area (for example "no connection failed").
pub(crate) fn note<DB, CT>(chart: &ChartContext<'_, DB, CT>, text: &str) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    note_at(chart, text, false)
}

/// A small grey note: in the middle of the plot area, or (`corner`) smaller, in its lower right.
pub(crate) fn note_at<DB, CT>(chart: &ChartContext<'_, DB, CT>, text: &str, corner: bool) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    let area = chart.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    let (at, size, pos) = if corner {
        ((w as i32 - 8, h as i32 - 8), TICK_PX, Pos::new(HPos::Right, VPos::Bottom))
    } else {
        ((w as i32 / 2, h as i32 / 2), NOTE_PX, Pos::new(HPos::Center, VPos::Center))
    };
    area.draw(&Text::new(
        text.to_string(),
        at,
        (FONT, size).into_font().color(&RGBColor(110, 110, 110)).pos(pos),
    ))?;
    Ok(())
}

/// A rounded-up "nice" upper bound for an axis from 0.
pub(crate) fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let e = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * e >= v * 1.04 {
            return m * e;
        }
    }
    10.0 * e
}

/// The house style of an axis grid: descriptions, fonts, grid lines; shared by every chart.
pub(crate) fn mesh_style<
    'a,
    'b,
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
>(
    m: &mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
    x_desc: &str,
    y_desc: &str,
) {
    m.x_desc(x_desc.to_string())
        .y_desc(y_desc.to_string())
        .axis_desc_style((FONT, AXIS_PX).into_font().color(&INK))
        .label_style((FONT, TICK_PX).into_font().color(&INK))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(WHITE.mix(0.0))
        .axis_style(RGBColor(120, 120, 120));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strategy is drawn alike wherever it appears, whatever its position in the run; the
    /// built-ins compared side by side never share a look.
    #[test]
    fn looks_follow_names_not_positions() {
        let a = looks(["bsd", "double-hash", "hash"]);
        let b = looks(["double-hash", "random-pick"]);
        assert_eq!(a[1], b[0]);
        assert_eq!(look("double-hash"), look("double-hash"));
        let rfc = ["bsd", "random-start", "random-pick", "hash", "double-hash", "random-increments"];
        let l = looks(rfc);
        for i in 0..l.len() {
            for j in 0..i {
                assert_ne!(l[i].colour, l[j].colour, "{} and {} share a colour", rfc[i], rfc[j]);
            }
        }
        let os = [
            "linux",
            "linux-5.12",
            "linux-legacy",
            "freebsd",
            "freebsd-12",
            "openbsd",
            "netbsd",
            "macos",
            "windows",
        ];
        let l = looks(os);
        for i in 0..l.len() {
            for j in 0..i {
                assert_ne!(l[i], l[j], "{} and {} look alike", os[i], os[j]);
            }
        }
        // Two custom names that hash alike still differ within a run.
        let twice = looks(["mine", "mine"]);
        assert_ne!(twice[0], twice[1]);
    }

    #[test]
    fn ticks_read_well() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(1500.0), "1.5k");
        assert_eq!(tick(28232.0), "28.2k");
        assert_eq!(tick(3_500_000.0), "3.5M");
        assert_eq!(log_tick(100.0), "100");
        assert_eq!(log_tick(300.0), "");
        assert_eq!(log_tick(0.01), "0.01");
        assert_eq!(nice_max(0.93), 1.0);
        assert_eq!(nice_max(470.0), 500.0);
    }
}
