//! The charts every run draws (`charts/*.svg` and `charts/*.png`): candidates per allocation,
//! failures and collisions over time, occupancy over time, the reuse-interval CDF and per-port
//! usage. Each strategy keeps one look (colour, stroke, marker: `plot::look`, by its name) on
//! every chart of every run, and curves that coincide are named in the legend.

use super::plot::{
    self, DrawResult, FONT, Figure, GRID, INK, LegendEntry, Look, NOTE_PX, SHADE, Stroke, TICK_PX,
    draw_curve, draw_legend, draw_line, layout, line_width, log_tick, looks, nice_max, note, tick,
};
pub use super::plot::{ChartStyle, parse_chart_size, parse_scale};
use crate::metrics::Sample;
use crate::scenario::Scenario;
use crate::sim::RunOutput;
use crate::stack::{PortRange, Scope};
use crate::time::secs;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One chart of a run, drawn both ways.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem under `charts/`.
    pub name: &'static str,
    pub title: String,
    /// One sentence on how to read it (the HTML report prints it under the chart).
    pub about: &'static str,
    pub svg: String,
    pub png: Vec<u8>,
}

/// The stems of the charts every run draws, in report order.
pub const RUN_CHARTS: [&str; 5] =
    ["candidates_cdf", "failures_over_time", "occupancy_over_time", "reuse_interval_cdf", "port_usage"];

/// Draws every chart of a run at the default style.
pub fn run_charts(scenario: &Scenario, outputs: &[RunOutput]) -> Result<Vec<Chart>> {
    run_charts_with(scenario, outputs, &ChartStyle::default())
}

/// Draws every chart of a run at `style` (`--log-y`, `--chart-size`, `--scale`).
pub fn run_charts_with(scenario: &Scenario, outputs: &[RunOutput], style: &ChartStyle) -> Result<Vec<Chart>> {
    let strategies: Vec<Strat> = outputs
        .iter()
        .zip(looks(outputs.iter().map(|o| o.summary.name.as_str())))
        .map(|(o, look)| Strat { label: o.summary.name.clone(), colour: look.colour, look })
        .collect();
    let warmup = secs(scenario.warmup);
    let duration = secs(scenario.duration);
    let mut out = Vec::new();

    let cdf = CandidatesCdf::new(&strategies, outputs);
    out.push(finish(
        "candidates_cdf",
        cdf.title.clone(),
        "The fraction of connection attempts that needed at most x candidate ports (x on a log scale): a curve that reaches 1 at x = 1 never met a busy port; the further right a curve climbs, the more ports that strategy examined.",
        &cdf,
        style,
    )?);

    let fail = FailuresOverTime::new(&strategies, outputs, warmup, duration, style.log_y);
    out.push(finish(
        "failures_over_time",
        fail.title.clone(),
        "Top: connection attempts per second that found no usable port (EADDRNOTAVAIL), one small panel per strategy when more than four curves would overlap. Below: candidate ports rejected by check_suitable_port per connection attempt (local collisions) and, on their own axis, new connections per second whose 4-tuple the server still held in TIME_WAIT (remote collisions). Axes turn logarithmic where values span two decades, or with --log-y.",
        &fail,
        style,
    )?);

    let occ = OccupancyOverTime::new(scenario, &strategies, outputs, warmup, duration);
    out.push(finish(
        "occupancy_over_time",
        occ.title.clone(),
        "4-tuples this host holds in TIME_WAIT and live connections over time. With one pool (one source address, and one destination or a scope that shares ports across destinations) live plus TIME_WAIT cannot pass n, the usable ports, and failures start as it gets close; with several, the top panel follows the busiest pool against its n, which the sums below hide.",
        &occ,
        style,
    )?);

    let reuse = ReuseCdf::new(scenario, &strategies, outputs);
    out.push(finish(
        "reuse_interval_cdf",
        reuse.title.clone(),
        "For connections that reused a 4-tuple used before: the fraction whose gap since the previous connection on it closed was at most x seconds (log scale). Curves further left reuse sooner, which is what risks remote collisions and confusion with old segments.",
        &reuse,
        style,
    )?);

    let usage = PortUsage::new(scenario, &strategies, outputs);
    out.push(finish(
        "port_usage",
        usage.title.clone(),
        "Connections per port across each strategy's own range, relative to a perfectly even spread (1.0): the line is the mean of each bin of ports, the band runs from its least to its most used port. The dashed lines are where that band falls 99 % of the time if every connection had picked a usable port uniformly at random: a band inside them is what chance gives, one beyond them is bias. Reserved ports are shaded and left out of the counts.",
        &usage,
        style,
    )?);
    Ok(out)
}

fn finish(
    name: &'static str,
    title: String,
    about: &'static str,
    fig: &impl Figure,
    style: &ChartStyle,
) -> Result<Chart> {
    let r = plot::render_with(fig, style).map_err(|e| e.context(format!("chart {name}")))?;
    Ok(Chart { name, title, about, svg: r.svg, png: r.png })
}

#[derive(Clone, Debug)]
struct Strat {
    label: String,
    colour: RGBColor,
    look: Look,
}

/// Whether two curves are drawn alike: the same x values, and y values within 0.5 % of each
/// other point by point (relative, so small values on a log axis are compared as carefully as
/// large ones).
fn same_curve(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(p, q)| {
            (p.0 - q.0).abs() <= 1e-9 * p.0.abs().max(1.0)
                && (p.1 - q.1).abs() <= 0.005 * p.1.abs().max(q.1.abs())
        })
}

/// Groups of strategies whose curves coincide ([`same_curve`]),
/// as legend lines: "bsd = hash: curves coincide". Only groups of two or more, and not all of
/// them, are named (all alike is drawn as one black line); all-zero curves say nothing.
fn coinciding(series: &[Vec<(f64, f64)>], strategies: &[Strat]) -> Vec<String> {
    let same = |a: &Vec<(f64, f64)>, b: &Vec<(f64, f64)>| same_curve(a, b);
    let mut taken = vec![false; series.len()];
    let mut out = Vec::new();
    for i in 0..series.len() {
        if taken[i] {
            continue;
        }
        let group: Vec<usize> =
            (i..series.len()).filter(|&j| !taken[j] && same(&series[i], &series[j])).collect();
        let all_zero = series[i].iter().all(|q| q.1 == 0.0);
        if group.len() > 1 && group.len() < series.len() && !all_zero {
            for &j in &group {
                taken[j] = true;
            }
            let names: Vec<&str> = group.iter().map(|&j| strategies[j].label.as_str()).collect();
            out.push(format!("{}: curves coincide", names.join(" = ")));
        }
    }
    out
}

fn legend_for(strategies: &[Strat], suffix: impl Fn(usize) -> Option<String>) -> Vec<LegendEntry> {
    strategies
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let label = match suffix(i) {
                Some(x) => format!("{} {x}", s.label),
                None => s.label.clone(),
            };
            LegendEntry::strategy(label, s.look)
        })
        .collect()
}

/// A cumulative distribution as a step line: (x, fraction of weight at values <= x).
fn cdf_steps(hist: &[(f64, u64)], x_end: f64) -> Vec<(f64, f64)> {
    let total: u64 = hist.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut pts = Vec::with_capacity(hist.len() * 2 + 1);
    let mut seen = 0u64;
    for &(x, c) in hist {
        let before = seen as f64 / total as f64;
        seen += c;
        let after = seen as f64 / total as f64;
        if pts.is_empty() {
            pts.push((x, after));
        } else {
            pts.push((x, before));
            pts.push((x, after));
        }
    }
    if let Some(&(x, y)) = pts.last()
        && x_end > x
    {
        pts.push((x_end, y));
    }
    pts
}

/// The area under a curve in the plot's own coordinates (`x` and `y` map data to the axes:
/// log or linear), above `floor`.
fn area(points: &[(f64, f64)], x: &impl Fn(f64) -> f64, y: &impl Fn(f64) -> f64, floor: f64) -> f64 {
    points
        .windows(2)
        .map(|w| (x(w[1].0) - x(w[0].0)).abs() * ((y(w[0].1) - floor) + (y(w[1].1) - floor)) / 2.0)
        .sum()
}

/// The order to draw curves in: the largest area under the curve first, so a small curve (a
/// short failure burst, a recovery) is drawn over a large one instead of hidden under it.
/// Equal areas keep the strategies' order.
fn order_by_area(
    curves: &[Vec<(f64, f64)>],
    x: impl Fn(f64) -> f64,
    y: impl Fn(f64) -> f64,
    floor: f64,
) -> Vec<usize> {
    let areas: Vec<f64> = curves.iter().map(|c| area(c, &x, &y, floor)).collect();
    let mut order: Vec<usize> = (0..curves.len()).collect();
    order.sort_by(|&a, &b| areas[b].total_cmp(&areas[a]).then(a.cmp(&b)));
    order
}

/// More than this many curves within a few pixels of each other make a chart small multiples.
const CROWD: usize = 4;

/// Whether more than [`CROWD`] curves run within 2 % of the axis height of each other over at
/// least a fifth of the x axis (in the plot's coordinates, sampled at 200 columns): drawn on
/// one plot, all but one of them would be hidden there, whatever their strokes.
fn crowded(curves: &[Vec<(f64, f64)>], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64) -> bool {
    const COLUMNS: usize = 200;
    let live: Vec<&Vec<(f64, f64)>> = curves.iter().filter(|c| !c.is_empty()).collect();
    if live.len() <= CROWD {
        return false;
    }
    let xs = live.iter().flat_map(|c| c.iter().map(|p| x(p.0)));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let ys = live.iter().flat_map(|c| c.iter().map(|p| y(p.1)));
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater) {
        return false;
    }
    let height = (y1 - y0).max(1e-12);
    let mut crowded_columns = 0;
    let mut at = Vec::with_capacity(live.len());
    for k in 0..COLUMNS {
        let cx = x0 + (x1 - x0) * (k as f64 + 0.5) / COLUMNS as f64;
        at.clear();
        for c in &live {
            // The curve's value at the column: its last point at or left of it (steps and
            // per-interval rates alike).
            let i = c.partition_point(|p| x(p.0) <= cx);
            if i > 0 {
                at.push((y(c[i - 1].1) - y0) / height);
            }
        }
        at.sort_by(f64::total_cmp);
        let mut most = 0;
        let mut lo = 0;
        for hi in 0..at.len() {
            while at[hi] - at[lo] > 0.02 {
                lo += 1;
            }
            most = most.max(hi - lo + 1);
        }
        crowded_columns += usize::from(most > CROWD);
    }
    crowded_columns * 5 >= COLUMNS
}

/// Rows and columns of a grid of `n` small panels.
fn facet_grid(n: usize) -> (usize, usize) {
    let cols = if n <= 4 { 2 } else { 3 };
    (n.max(1).div_ceil(cols), cols)
}

/// The grey other strategies are drawn in behind a small panel's own curve.
const CONTEXT: RGBColor = RGBColor(190, 190, 190);

/// A small panel's caption (the strategy's name in its colour) above its plot; returns the
/// plot's area.
fn facet_caption<DB: DrawingBackend>(
    cell: &DrawingArea<DB, Shift>,
    label: &str,
    colour: RGBColor,
) -> Result<DrawingArea<DB, Shift>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (cap, body) = cell.split_vertically(22);
    let (w, _) = cap.dim_in_pixel();
    cap.draw(&Text::new(
        plot::clip(label, 30),
        (w as i32 / 2, 4),
        (FONT, plot::LEGEND_PX + 1).into_font().color(&colour).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    Ok(body)
}

// --- candidates per allocation ------------------------------------------------------------

struct CandidatesCdf {
    title: String,
    strategies: Vec<Strat>,
    curves: Vec<Vec<(f64, f64)>>,
    means: Vec<Option<f64>>,
    x_max: f64,
    y_min: f64,
    /// One panel per strategy: more than [`CROWD`] curves lie on top of each other.
    facets: bool,
}

impl CandidatesCdf {
    fn new(strategies: &[Strat], outputs: &[RunOutput]) -> CandidatesCdf {
        let max = outputs.iter().map(|o| o.summary.probes.max).max().unwrap_or(1).max(1);
        let x_max = (f64::from(max) * 1.5).max(10.0);
        let curves: Vec<Vec<(f64, f64)>> = outputs
            .iter()
            .map(|o| {
                let h: Vec<(f64, u64)> =
                    o.summary.probes.histogram.iter().map(|&(k, c)| (f64::from(k.max(1)), c)).collect();
                cdf_steps(&h, x_max)
            })
            .collect();
        let lowest = curves.iter().filter_map(|c| c.first().map(|p| p.1)).fold(1.0f64, f64::min);
        let y_min = if lowest >= 0.95 { 0.9 } else { ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.9) };
        let means = outputs
            .iter()
            .map(|o| (o.summary.connections.attempted > 0).then_some(o.summary.probes.mean))
            .collect();
        let all_alike = curves.windows(2).all(|w| same_curve(&w[0], &w[1]));
        let facets = !all_alike && crowded(&curves, f64::log10, |v| v.max(y_min));
        CandidatesCdf {
            title: "Candidate ports examined per connection attempt (CDF)".into(),
            strategies: strategies.to_vec(),
            curves,
            means,
            x_max,
            y_min,
            facets,
        }
    }

    /// The curves in drawing order: the largest area under the curve first.
    fn order(&self) -> Vec<usize> {
        order_by_area(&self.curves, f64::log10, |v| v.max(self.y_min), self.y_min)
    }

    /// One CDF plot: every curve (in `context` grey but `own`, when given) on one set of axes.
    fn plot<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        own: Option<usize>,
        x_desc: bool,
        y_desc: bool,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let y_top = 1.0 + (1.0 - self.y_min) * 0.02;
        let small = own.is_some();
        let mut chart = ChartBuilder::on(area)
            .margin(if small { 8 } else { 12 })
            .x_label_area_size(if x_desc { 48 } else { 26 })
            .y_label_area_size(if y_desc { 70 } else { 44 })
            .build_cartesian_2d((1f64..self.x_max).log_scale(), self.y_min..y_top)?;
        let f = |v: &f64| log_tick(*v);
        let g = |v: &f64| if *v > 1.0 + 1e-9 { String::new() } else { tick(*v) };
        let mut m = chart.configure_mesh();
        plot::mesh_style(
            &mut m,
            if x_desc { "candidates examined per attempt (log scale)" } else { "" },
            if y_desc { "fraction of attempts with at most x" } else { "" },
        );
        m.x_labels(if small { 30 } else { 60 })
            .y_labels(if small { 4 } else { 10 })
            .x_label_formatter(&f)
            .y_label_formatter(&g)
            .draw()?;
        let order = self.order();
        let n = self.curves.len();
        let clamp = |c: &Vec<(f64, f64)>| c.iter().map(|&(x, y)| (x, y.max(self.y_min))).collect::<Vec<_>>();
        for (pos, &i) in order.iter().enumerate() {
            match own {
                Some(o) if o == i => {}
                Some(_) => draw_line(&mut chart, clamp(&self.curves[i]), CONTEXT, Stroke::Solid, 1)?,
                None => draw_curve(
                    &mut chart,
                    clamp(&self.curves[i]),
                    self.strategies[i].look,
                    line_width(pos, n),
                    i,
                )?,
            }
        }
        if let Some(o) = own {
            draw_curve(&mut chart, clamp(&self.curves[o]), self.strategies[o].look, 3, o)?;
        }
        if self.y_min > 0.0 && !small {
            plot::note_at(&chart, &format!("y axis starts at {}", tick(self.y_min)), true)?;
        }
        Ok(())
    }
}

impl Figure for CandidatesCdf {
    fn size(&self) -> (u32, u32) {
        if self.facets {
            let (rows, _) = facet_grid(self.curves.len());
            (plot::WIDTH, 90 + 230 * rows as u32)
        } else {
            (plot::WIDTH, plot::HEIGHT)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        if self.facets {
            let (rows, cols) = facet_grid(self.curves.len());
            let cells = area.split_evenly((rows, cols));
            for (i, cell) in cells.iter().enumerate().take(self.curves.len()) {
                let s = &self.strategies[i];
                let body = facet_caption(cell, &s.label, s.colour)?;
                let bottom = i + cols >= self.curves.len();
                self.plot(&body, Some(i), bottom, i % cols == 0)?;
            }
        } else {
            self.plot(&area, None, true, true)?;
        }
        let mut entries = vec![LegendEntry::heading("strategy (mean candidates)")];
        entries.extend(legend_for(&self.strategies, |i| {
            Some(match self.means[i] {
                Some(m) => format!("({m:.2})"),
                None => "(no attempts)".into(),
            })
        }));
        push_coinciding(&mut entries, coinciding(&self.curves, &self.strategies));
        if self.facets {
            entries.push(LegendEntry::heading(""));
            entries.push(LegendEntry::line("the other strategies", CONTEXT, Stroke::Solid));
            if self.y_min > 0.0 {
                entries.push(LegendEntry::heading(format!("y axes start at {}", tick(self.y_min))));
            }
        }
        draw_legend(&legend, &entries)
    }
}

fn push_coinciding(entries: &mut Vec<LegendEntry>, groups: Vec<String>) {
    if !groups.is_empty() {
        entries.push(LegendEntry::heading(""));
        entries.extend(groups.into_iter().map(LegendEntry::heading));
    }
}

// --- time series ----------------------------------------------------------------------------

/// Per-second rates of a per-interval count.
fn rate_series(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    let mut prev = 0.0;
    samples
        .iter()
        .map(|s| {
            let dt = (s.t_s - prev).max(1e-9);
            prev = s.t_s;
            (s.t_s, value(s) as f64 / dt)
        })
        .collect()
}

fn level_series(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    let mut pts = vec![(0.0, 0.0)];
    pts.extend(samples.iter().map(|s| (s.t_s, value(s) as f64)));
    pts
}

/// A line of a time panel: a strategy's (with its marker) or a reference's.
#[derive(Clone, Debug)]
struct Line {
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    stroke: Stroke,
    width: u32,
    look: Option<(Look, usize)>,
    /// Drawn thin and grey behind a small panel's own strategy: sets the shared axes but is
    /// not the panel's data.
    context: bool,
}

/// One line per strategy, in its look; or, when every strategy drew the same curve
/// ([`same_curve`]), one black line for all of them. Returns the lines and whether
/// they were merged.
fn strategy_lines(series: &[Vec<(f64, f64)>], strategies: &[Strat]) -> (Vec<Line>, bool) {
    let same = series.len() > 1 && series.windows(2).all(|w| same_curve(&w[0], &w[1]));
    if same {
        return (
            vec![Line {
                points: series[0].clone(),
                colour: INK,
                stroke: Stroke::Solid,
                width: 2,
                look: None,
                context: false,
            }],
            true,
        );
    }
    let n = series.len();
    let lines = series
        .iter()
        .zip(strategies)
        .enumerate()
        .map(|(i, (p, s))| Line {
            points: p.clone(),
            colour: s.colour,
            stroke: s.look.stroke,
            width: line_width(i, n),
            look: Some((s.look, i)),
            context: false,
        })
        .collect();
    (lines, false)
}

/// The bottom of a log panel: a decade below the smallest positive value, where zeros sit.
fn log_bottom(lines: &[Line]) -> f64 {
    let lo = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|q| q.1))
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    lo.log10().floor() - 1.0
}

/// How a panel maps its values onto its y axis.
fn y_map(lines: &[Line], axis: YAxis) -> impl Fn(f64) -> f64 + use<> {
    let bottom = if axis == YAxis::Log { log_bottom(lines) } else { 0.0 };
    move |v: f64| match axis {
        YAxis::Linear => v,
        YAxis::Log if v > 0.0 => v.log10().max(bottom),
        YAxis::Log => bottom,
    }
}

/// Puts the lines of a panel in drawing order (the largest area first: [`order_by_area`])
/// and gives the first drawn the widest stroke, so a line drawn over an equal one leaves the
/// first's colour at its edges.
fn by_area(lines: Vec<Line>, axis: YAxis) -> Vec<Line> {
    let map = y_map(&lines, axis);
    let floor = map(0.0);
    let curves: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.points.clone()).collect();
    let order = order_by_area(&curves, |x| x, &map, floor);
    let n = lines.len();
    let mut slots: Vec<Option<Line>> = lines.into_iter().map(Some).collect();
    order
        .iter()
        .enumerate()
        .filter_map(|(pos, &i)| {
            let mut l = slots[i].take()?;
            if l.look.is_some() {
                l.width = line_width(pos, n);
            }
            Some(l)
        })
        .collect()
}

/// Whether a panel's positive values span at least two decades, so a linear axis would flatten
/// all but the largest (failure rates from 1e-4 to 1e-2 of the attempts, say).
fn spans_decades(lines: &[Line]) -> bool {
    let pos = lines.iter().flat_map(|l| l.points.iter().map(|q| q.1)).filter(|v| *v > 0.0);
    let (lo, hi) = pos.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    lo.is_finite() && hi / lo >= 100.0
}

/// The y axis of a time panel.
#[derive(Clone, Copy, Debug, PartialEq)]
enum YAxis {
    Linear,
    /// Log scale; zeros sit on the bottom edge.
    Log,
}

/// One panel of a time chart: the warm-up shaded, the series, a note when all are zero. On a
/// log axis the values are drawn as their log10 on a linear axis labelled in powers of ten, so
/// zeros (no failure in an interval) have a place: the bottom edge.
#[allow(clippy::too_many_arguments)]
fn time_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    y_desc: &str,
    x_desc: &str,
    duration: f64,
    warmup: f64,
    lines: &[Line],
    empty_note: &str,
    reference: Option<(f64, String)>,
    axis: YAxis,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let data_max = lines.iter().flat_map(|l| l.points.iter().map(|q| q.1)).fold(0.0f64, f64::max);
    let ref_max = reference.as_ref().map(|r| r.0).unwrap_or(0.0);
    let (y_lo, y_hi, map): (f64, f64, Box<dyn Fn(f64) -> f64>) = match axis {
        YAxis::Linear => (0.0, nice_max(data_max.max(ref_max)), Box::new(|v| v)),
        YAxis::Log => {
            // Zeros get their own row one decade below the smallest value, labelled 0.
            let bottom = log_bottom(lines);
            let top = data_max.max(ref_max).log10().ceil().max(bottom + 2.0);
            (bottom, top, Box::new(move |v: f64| if v > 0.0 { v.log10().max(bottom) } else { bottom }))
        }
    };
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(if x_desc.is_empty() { 28 } else { 48 })
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..duration, y_lo..y_hi)?;
    if warmup > 0.0 {
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, y_lo), (warmup, y_hi)], SHADE.filled())))?;
    }
    let f = |v: &f64| tick(*v);
    let g = |v: &f64| match axis {
        YAxis::Linear => tick(*v),
        YAxis::Log if (v - y_lo).abs() < 1e-9 => "0".to_string(),
        YAxis::Log if (v - v.round()).abs() < 1e-9 => log_tick(10f64.powf(v.round())),
        YAxis::Log => String::new(),
    };
    let y_desc = if axis == YAxis::Log && !y_desc.is_empty() {
        format!("{y_desc} (log scale)")
    } else {
        y_desc.to_string()
    };
    let y_labels = if axis == YAxis::Log { (y_hi - y_lo) as usize + 1 } else { 6 };
    let mut m = chart.configure_mesh();
    plot::mesh_style(&mut m, x_desc, &y_desc);
    m.x_label_formatter(&f).y_label_formatter(&g).x_labels(10).y_labels(y_labels).draw()?;
    if warmup > 0.0 {
        let style = (FONT, TICK_PX)
            .into_font()
            .color(&RGBColor(120, 120, 120))
            .pos(Pos::new(HPos::Center, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((warmup / 2.0, y_hi)) + Text::new("warm-up", (0, 6), style),
        ))?;
    }
    if let Some((y, label)) = &reference {
        let y = map(*y);
        draw_line(&mut chart, vec![(0.0, y), (duration, y)], INK, Stroke::Dotted, 2)?;
        // Above the line where there is room (the curves it bounds run below it, up to it at
        // worst), else just under it.
        let above = (y_hi - y) > 0.1 * (y_hi - y_lo);
        let (v, dy) = if above { (VPos::Bottom, -4) } else { (VPos::Top, 5) };
        let style = (FONT, TICK_PX).into_font().color(&INK).pos(Pos::new(HPos::Right, v));
        chart.draw_series(std::iter::once(
            EmptyElement::at((duration, y)) + Text::new(label.clone(), (-8, dy), style),
        ))?;
    }
    for l in lines {
        let pts: Vec<(f64, f64)> = l.points.iter().map(|&(x, y)| (x, map(y))).collect();
        match l.look {
            Some((look, slot)) => draw_curve(&mut chart, pts, look, l.width, slot)?,
            None => draw_line(&mut chart, pts, l.colour, l.stroke, l.width)?,
        }
    }
    let own_max =
        lines.iter().filter(|l| !l.context).flat_map(|l| l.points.iter().map(|q| q.1)).fold(0.0f64, f64::max);
    if own_max == 0.0 && !empty_note.is_empty() {
        // Beside the other strategies' grey lines, in the corner.
        plot::note_at(&chart, empty_note, lines.iter().any(|l| l.context))?;
    }
    Ok(())
}

/// A panel's y axis: log where its values span decades, or wherever one is positive with
/// `--log-y` (`force`); linear otherwise (a log axis of zeros shows nothing).
fn axis_for(lines: &[Line], force: bool) -> YAxis {
    let positive = lines.iter().any(|l| l.points.iter().any(|q| q.1 > 0.0));
    if spans_decades(lines) || (force && positive) { YAxis::Log } else { YAxis::Linear }
}

/// Per-interval ratio of two counts (collisions per attempt); 0 where nothing was attempted.
fn per_attempt_series(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    samples
        .iter()
        .map(|s| (s.t_s, if s.attempts == 0 { 0.0 } else { value(s) as f64 / s.attempts as f64 }))
        .collect()
}

struct FailuresOverTime {
    title: String,
    strategies: Vec<Strat>,
    failed: Vec<Vec<(f64, f64)>>,
    local: Vec<Vec<(f64, f64)>>,
    remote: Vec<Vec<(f64, f64)>>,
    totals: Vec<u64>,
    warmup: f64,
    duration: f64,
    log_y: bool,
    /// The failures in one small panel per strategy: more than [`CROWD`] of them overlap.
    facets: bool,
}

impl FailuresOverTime {
    fn new(
        strategies: &[Strat],
        outputs: &[RunOutput],
        warmup: f64,
        duration: f64,
        log_y: bool,
    ) -> FailuresOverTime {
        let failed: Vec<Vec<(f64, f64)>> =
            outputs.iter().map(|o| rate_series(&o.samples, |s| s.failed)).collect();
        let (lines, same) = strategy_lines(&failed, strategies);
        let map = y_map(&lines, axis_for(&lines, log_y));
        let facets = !same && crowded(&failed, |x| x, map);
        FailuresOverTime {
            title: "Failures and collisions over time".into(),
            strategies: strategies.to_vec(),
            failed,
            local: outputs.iter().map(|o| per_attempt_series(&o.samples, |s| s.collisions_local)).collect(),
            remote: outputs.iter().map(|o| rate_series(&o.samples, |s| s.collisions_remote)).collect(),
            totals: outputs.iter().map(|o| o.summary.connections.failed).collect(),
            warmup,
            duration,
            log_y,
            facets,
        }
    }

    fn any_remote(&self) -> bool {
        self.remote.iter().any(|p| p.iter().any(|q| q.1 > 0.0))
    }

    /// The failures as small panels, one per strategy, on shared axes: each strategy's own
    /// line over the others in grey.
    fn failure_facets<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (all, _) = strategy_lines(&self.failed, &self.strategies);
        let axis = axis_for(&all, self.log_y);
        let (rows, cols) = facet_grid(all.len());
        let cells = area.split_evenly((rows, cols));
        for (i, cell) in cells.iter().enumerate().take(all.len()) {
            let s = &self.strategies[i];
            let body = facet_caption(cell, &s.label, s.colour)?;
            let mut lines: Vec<Line> = all
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| Line {
                    colour: CONTEXT,
                    stroke: Stroke::Solid,
                    width: 1,
                    look: None,
                    context: true,
                    ..l.clone()
                })
                .collect();
            lines = by_area(lines, axis);
            lines.push(Line { width: 3, ..all[i].clone() });
            time_panel(
                &body,
                if i % cols == 0 { "failed / s" } else { "" },
                "",
                self.duration,
                self.warmup,
                &lines,
                "none failed",
                None,
                axis,
            )?;
        }
        Ok(())
    }
}

impl Figure for FailuresOverTime {
    fn size(&self) -> (u32, u32) {
        if self.facets {
            let (rows, _) = facet_grid(self.failed.len());
            let lower = if self.any_remote() { 2 } else { 1 };
            (plot::WIDTH, 60 + 165 * rows as u32 + 230 * lower)
        } else {
            (plot::WIDTH, plot::HEIGHT)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let (_, h) = area.dim_in_pixel();
        let any_remote = self.any_remote();
        // Failures, then local collisions per attempt, then (when there are any) remote
        // collisions per second on their own axis: a failure scan's millions of rejected
        // candidates per second no longer flatten everything else.
        let top_share = match (self.facets, any_remote) {
            (true, _) => {
                let (rows, _) = facet_grid(self.failed.len());
                let lower = if any_remote { 2 } else { 1 };
                (165 * rows * 100 / (165 * rows + 230 * lower)) as u32
            }
            (false, true) => 36,
            (false, false) => 48,
        };
        let (top, rest) = area.split_vertically(h * top_share / 100);
        let (middle, bottom) = if any_remote {
            let (_, rh) = rest.dim_in_pixel();
            let (m, b) = rest.split_vertically(rh * 47 / 100);
            (m, Some(b))
        } else {
            (rest.clone(), None)
        };
        let (fails, fails_same) = strategy_lines(&self.failed, &self.strategies);
        if self.facets {
            self.failure_facets(&top)?;
        } else {
            let axis = axis_for(&fails, self.log_y);
            time_panel(
                &top,
                "failed attempts / s",
                "",
                self.duration,
                self.warmup,
                &by_area(fails, axis),
                "no connection attempt failed",
                None,
                axis,
            )?;
        }
        let (coll, coll_same) = strategy_lines(&self.local, &self.strategies);
        let axis = axis_for(&coll, self.log_y);
        time_panel(
            &middle,
            "local collisions / attempt",
            if bottom.is_some() { "" } else { "simulated time (s)" },
            self.duration,
            self.warmup,
            &by_area(coll, axis),
            "no collision: every first candidate was free",
            None,
            axis,
        )?;
        let mut remote_same = false;
        if let Some(bottom) = &bottom {
            let (remote, same) = strategy_lines(&self.remote, &self.strategies);
            remote_same = same;
            let axis = axis_for(&remote, self.log_y);
            time_panel(
                bottom,
                "remote collisions / s",
                "simulated time (s)",
                self.duration,
                self.warmup,
                &by_area(remote, axis),
                "",
                None,
                axis,
            )?;
        }
        let mut entries = vec![LegendEntry::heading(if self.warmup > 0.0 {
            "strategy (failed after warm-up)"
        } else {
            "strategy (failed)"
        })];
        entries.extend(legend_for(&self.strategies, |i| Some(format!("({})", tick(self.totals[i] as f64)))));
        entries.push(LegendEntry::heading(""));
        if (fails_same && !self.facets) || coll_same || remote_same {
            entries.push(LegendEntry::line("every strategy (identical curves)", INK, Stroke::Solid));
        }
        if self.facets {
            entries.push(LegendEntry::line("failures: the other strategies", CONTEXT, Stroke::Solid));
        }
        let mut groups = Vec::new();
        if !fails_same {
            groups.extend(
                coinciding(&self.failed, &self.strategies).into_iter().map(|g| format!("failures: {g}")),
            );
        }
        if !coll_same {
            groups.extend(
                coinciding(&self.local, &self.strategies).into_iter().map(|g| format!("collisions: {g}")),
            );
        }
        push_coinciding(&mut entries, groups);
        entries.push(LegendEntry::heading(""));
        entries.push(LegendEntry::heading("local collisions: candidates check_suitable_port rejected"));
        if any_remote {
            entries.push(LegendEntry::heading("remote: new connections the server held in TIME_WAIT"));
        } else {
            entries.push(LegendEntry::heading(
                "no remote collision (the server never held a reused 4-tuple in TIME_WAIT)",
            ));
        }
        if self.warmup > 0.0 {
            entries.push(LegendEntry::band("warm-up (not counted)", RGBColor(200, 200, 200)));
        }
        draw_legend(&legend, &entries)
    }
}

/// A time series: (seconds, value) per sample.
type Series = Vec<(f64, f64)>;

struct OccupancyOverTime {
    title: String,
    strategies: Vec<Strat>,
    time_wait: Vec<Vec<(f64, f64)>>,
    live: Vec<Vec<(f64, f64)>>,
    limit: Option<u64>,
    /// With several pools (addresses, or destinations under four-tuple scope) for some
    /// strategy: the busiest pool's live + TIME_WAIT per strategy, and the pool size `n` it
    /// is drawn against (one `n` for all, or each strategy's own, the series then divided by
    /// it).
    busiest: Option<(Vec<Series>, Option<u64>)>,
    warmup: f64,
    duration: f64,
}

/// How many pools (sets of 4-tuples competing for one range) a strategy's scope makes of
/// `addrs` source addresses and `dests` destinations.
fn pool_count(scope: Scope, addrs: u64, dests: u64) -> u64 {
    match scope {
        Scope::FourTuple => addrs * dests,
        Scope::LocalPort => addrs,
        Scope::HostWide => 1,
    }
}

impl OccupancyOverTime {
    fn new(
        scenario: &Scenario,
        strategies: &[Strat],
        outputs: &[RunOutput],
        warmup: f64,
        duration: f64,
    ) -> OccupancyOverTime {
        let addrs = scenario.addrs.len().max(1) as u64;
        let dests = scenario.destination_count().max(1);
        // Per output: its pools and its usable ports n.
        let per: Vec<(u64, u64)> = outputs
            .iter()
            .map(|o| {
                let spec = scenario.strategies.iter().find(|s| s.label == o.summary.name);
                let eff = spec.map(|s| scenario.effective(s));
                let range = eff.as_ref().map(|e| e.range).unwrap_or(crate::scenario::DEFAULT_RANGE);
                let scope = eff.map(|e| e.scope).unwrap_or(Scope::FourTuple);
                (
                    pool_count(scope, addrs, dests),
                    u64::from(range.len() - scenario.ports.reserved.count_in(range)),
                )
            })
            .collect();
        let mut ns: Vec<u64> = per.iter().map(|p| p.1).collect();
        ns.sort_unstable();
        ns.dedup();
        let one_n = (ns.len() == 1).then(|| ns[0]);
        // With one pool for every strategy, live + TIME_WAIT is bounded by the usable ports:
        // draw that bound on the sums.
        let single = per.iter().all(|p| p.0 == 1);
        let limit = if single { one_n } else { None };
        let busiest = (!single).then(|| {
            let series = outputs
                .iter()
                .zip(&per)
                .map(|(o, &(_, n))| {
                    let held = level_series(&o.samples, |s| u64::from(s.busiest_pool_held));
                    match one_n {
                        Some(_) => held,
                        None => held.into_iter().map(|(t, v)| (t, v / n.max(1) as f64)).collect(),
                    }
                })
                .collect();
            (series, one_n)
        });
        OccupancyOverTime {
            title: "Occupancy over time: 4-tuples in TIME_WAIT and live".into(),
            strategies: strategies.to_vec(),
            time_wait: outputs.iter().map(|o| level_series(&o.samples, |s| s.time_wait)).collect(),
            live: outputs.iter().map(|o| level_series(&o.samples, |s| s.live)).collect(),
            limit,
            busiest,
            warmup,
            duration,
        }
    }
}

impl Figure for OccupancyOverTime {
    fn size(&self) -> (u32, u32) {
        if self.busiest.is_some() { (plot::WIDTH, 760) } else { (plot::WIDTH, plot::HEIGHT) }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let (_, h) = area.dim_in_pixel();
        let mut busiest_same = false;
        let sums = match &self.busiest {
            Some((series, n)) => {
                let (top, rest) = area.split_vertically(h * 38 / 100);
                let (lines, same) = strategy_lines(series, &self.strategies);
                busiest_same = same;
                let (desc, reference) = match n {
                    Some(n) => ("busiest pool", (*n as f64, format!("n = {} usable ports", tick(*n as f64)))),
                    None => ("busiest pool / its n", (1.0, "n (each strategy's usable ports)".to_string())),
                };
                time_panel(
                    &top,
                    desc,
                    "",
                    self.duration,
                    self.warmup,
                    &by_area(lines, YAxis::Linear),
                    "",
                    Some(reference),
                    YAxis::Linear,
                )?;
                rest
            }
            None => area,
        };
        let (_, sh) = sums.dim_in_pixel();
        let (top, bottom) = sums.split_vertically(sh * 50 / 100);
        let all = if self.busiest.is_some() { " (all pools)" } else { "" };
        let (tw, tw_same) = strategy_lines(&self.time_wait, &self.strategies);
        let reference = self.limit.map(|n| (n as f64, format!("n = {} usable ports", tick(n as f64))));
        time_panel(
            &top,
            &format!("in TIME_WAIT{all}"),
            "",
            self.duration,
            self.warmup,
            &by_area(tw, YAxis::Linear),
            "nothing in TIME_WAIT (the server closes first)",
            reference,
            YAxis::Linear,
        )?;
        let (live, live_same) = strategy_lines(&self.live, &self.strategies);
        time_panel(
            &bottom,
            &format!("live{}", if all.is_empty() { " connections" } else { all }),
            "simulated time (s)",
            self.duration,
            self.warmup,
            &by_area(live, YAxis::Linear),
            "",
            None,
            YAxis::Linear,
        )?;
        let mut entries = vec![LegendEntry::heading("strategy")];
        entries.extend(legend_for(&self.strategies, |_| None));
        entries.push(LegendEntry::heading(""));
        if tw_same || live_same || busiest_same {
            entries.push(LegendEntry::line("every strategy (identical curves)", INK, Stroke::Solid));
        }
        if self.limit.is_some() || self.busiest.is_some() {
            entries.push(LegendEntry::line("usable ports n", INK, Stroke::Dotted));
        }
        if self.busiest.is_some() {
            entries.push(LegendEntry::heading(
                "busiest pool: live + TIME_WAIT in the pool holding most (an address and destination under four-tuple scope, an address under local-port scope)",
            ));
        }
        if self.warmup > 0.0 {
            entries.push(LegendEntry::band("warm-up (not counted)", RGBColor(200, 200, 200)));
        }
        draw_legend(&legend, &entries)
    }
}

// --- reuse interval -----------------------------------------------------------------------

struct ReuseCdf {
    title: String,
    strategies: Vec<Strat>,
    curves: Vec<Vec<(f64, f64)>>,
    counts: Vec<u64>,
    x_min: f64,
    x_max: f64,
    marks: Vec<(f64, String, Stroke)>,
}

impl ReuseCdf {
    fn new(scenario: &Scenario, strategies: &[Strat], outputs: &[RunOutput]) -> ReuseCdf {
        let all: Vec<f64> =
            outputs.iter().flat_map(|o| o.summary.reuse.interval_histogram_s.iter().map(|b| b.0)).collect();
        let lo = all.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(0.0f64, f64::max);
        let threshold = secs(scenario.metrics.reuse_threshold);
        let mut time_waits: Vec<u64> =
            scenario.strategies.iter().map(|s| scenario.effective(s).time_wait).collect();
        time_waits.sort_unstable();
        time_waits.dedup();
        let mut marks = vec![(threshold, format!("reuse threshold ({})", fmt_s(threshold)), Stroke::Dashed)];
        if time_waits.len() == 1 && time_waits[0] > 0 {
            let tw = secs(time_waits[0]);
            if (tw - threshold).abs() > 1e-9 {
                marks.push((tw, format!("TIME_WAIT ({})", fmt_s(tw)), Stroke::Dotted));
            }
        }
        let mark_lo = marks.iter().map(|m| m.0).fold(f64::INFINITY, f64::min);
        let mark_hi = marks.iter().map(|m| m.0).fold(0.0f64, f64::max);
        let (x_min, x_max) = if lo.is_finite() {
            let a = lo.min(mark_lo);
            let b = (hi * 1.1).max(mark_hi);
            (nice_below(a), nice_above(b).max(nice_below(a) * 10.0))
        } else {
            (1.0, 1000f64.max(mark_hi * 2.0))
        };
        let x_min = x_min.max(1e-6);
        let curves = outputs
            .iter()
            .map(|o| {
                let h: Vec<(f64, u64)> =
                    o.summary.reuse.interval_histogram_s.iter().map(|&(x, c)| (x.max(x_min), c)).collect();
                cdf_steps(&h, x_max)
            })
            .collect();
        ReuseCdf {
            title: "Reuse interval: time from a 4-tuple's close to its next use (CDF)".into(),
            strategies: strategies.to_vec(),
            curves,
            counts: outputs.iter().map(|o| o.summary.reuse.count).collect(),
            x_min,
            x_max,
            marks,
        }
    }
}

/// The largest 1, 2 or 5 times a power of ten at or below `v`.
fn nice_below(v: f64) -> f64 {
    let e = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0].into_iter().map(|m| m * e).find(|x| *x <= v * (1.0 + 1e-9)).unwrap_or(e)
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`.
fn nice_above(v: f64) -> f64 {
    let e = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * e).find(|x| *x >= v * (1.0 - 1e-9)).unwrap_or(10.0 * e)
}

fn fmt_s(s: f64) -> String {
    format!("{} s", tick(s))
}

impl Figure for ReuseCdf {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d((self.x_min..self.x_max).log_scale(), 0f64..1.02)?;
        let f = |v: &f64| log_tick(*v);
        let g = |v: &f64| if *v > 1.0 + 1e-9 { String::new() } else { tick(*v) };
        let mut m = chart.configure_mesh();
        plot::mesh_style(
            &mut m,
            "seconds between the previous close and the reuse (log scale)",
            "fraction of reuses within x",
        );
        m.x_labels(60).x_label_formatter(&f).y_label_formatter(&g).draw()?;
        for (x, _, stroke) in &self.marks {
            draw_line(&mut chart, vec![(*x, 0.0), (*x, 1.02)], INK, *stroke, 2)?;
        }
        let n = self.curves.len();
        for (i, c) in self.curves.iter().enumerate() {
            draw_curve(&mut chart, c.clone(), self.strategies[i].look, line_width(i, n), i)?;
        }
        if self.counts.iter().all(|c| *c == 0) {
            note(&chart, "no 4-tuple was used twice after the warm-up")?;
        }
        let mut entries = vec![LegendEntry::heading("strategy (reuses)")];
        entries.extend(legend_for(&self.strategies, |i| {
            Some(if self.counts[i] == 0 {
                "(none)".into()
            } else {
                format!("({})", tick(self.counts[i] as f64))
            })
        }));
        push_coinciding(&mut entries, coinciding(&self.curves, &self.strategies));
        entries.push(LegendEntry::heading(""));
        for (_, label, stroke) in &self.marks {
            entries.push(LegendEntry::line(label.clone(), INK, *stroke));
        }
        draw_legend(&legend, &entries)
    }
}

// --- per-port usage -----------------------------------------------------------------------

struct PortPanel {
    label: String,
    colour: RGBColor,
    /// The strategy's effective range, `[lo, hi + 1)` on the x axis.
    x: (f64, f64),
    /// (bin start port, bin end port, min, mean, max) relative to an even spread.
    bins: Vec<(f64, f64, f64, f64, f64)>,
    /// Per bin: where its least and most used port fall 99 % of the time if every connection
    /// had picked one of the usable ports uniformly at random; `None` for a bin of reserved
    /// ports only.
    band: Vec<Option<(f64, f64)>>,
    /// Reserved ports inside the range, as `[first, last + 1)` spans.
    reserved: Vec<(f64, f64)>,
    y_max: f64,
    max_over_mean: f64,
    used: u32,
}

struct PortUsage {
    title: String,
    panels: Vec<PortPanel>,
}

const PORT_BINS: u32 = 160;

/// The 99 % band of a bin's least and most used port under uniform random choice: with `total`
/// connections over `usable` ports, a port's count is Binomial(total, 1/usable); of `m` such
/// ports, the most used stays at or below `hi` with probability F(hi)^m >= 0.995 and the
/// least at or above `lo` with probability (1 - F(lo - 1))^m >= 0.995 (the ports' counts
/// taken as independent, which they nearly are when `usable` is large). Quantiles from
/// statrs' binomial CDF.
fn uniform_band(total: u64, usable: u32, m: u64) -> Option<(u64, u64)> {
    use statrs::distribution::{Binomial, DiscreteCDF};
    if total == 0 || usable == 0 || m == 0 {
        return None;
    }
    let d = Binomial::new(1.0 / f64::from(usable), total).ok()?;
    let each = 0.995f64.powf(1.0 / m as f64);
    let hi = d.inverse_cdf(each);
    let lo = d.inverse_cdf(1.0 - each);
    Some((lo, hi))
}

/// `[first, last + 1)` spans of the reserved ports in `r`.
fn reserved_spans(reserved: &crate::stack::ReservedPorts, r: PortRange) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in r.iter().filter(|&p| reserved.contains(p)) {
        let p = f64::from(p);
        match out.last_mut() {
            Some(last) if last.1 == p => last.1 = p + 1.0,
            _ => out.push((p, p + 1.0)),
        }
    }
    out
}

impl PortUsage {
    fn new(scenario: &Scenario, strategies: &[Strat], outputs: &[RunOutput]) -> PortUsage {
        let mut panels = Vec::new();
        for (o, s) in outputs.iter().zip(strategies) {
            let r = scenario
                .strategies
                .iter()
                .find(|spec| spec.label == o.summary.name)
                .map(|spec| scenario.effective(spec).range)
                .unwrap_or(crate::scenario::DEFAULT_RANGE);
            let usable = r.len() - scenario.ports.reserved.count_in(r);
            let total: u64 =
                o.summary.port_usage.per_port.iter().filter(|p| r.contains(p.0)).map(|p| p.1).sum();
            let even = total as f64 / f64::from(usable.max(1));
            let mut counts = vec![0u64; r.len() as usize];
            for &(p, c) in &o.summary.port_usage.per_port {
                if r.contains(p) {
                    counts[usize::from(p - r.lo())] += c;
                }
            }
            let nbins = PORT_BINS.min(r.len());
            let mut bins = Vec::with_capacity(nbins as usize);
            let mut band = Vec::with_capacity(nbins as usize);
            let mut bands_by_m: Vec<(u64, Option<(u64, u64)>)> = Vec::new();
            let mut y_max = 1.5f64;
            for b in 0..nbins {
                let a = (u64::from(b) * u64::from(r.len()) / u64::from(nbins)) as usize;
                let z = (u64::from(b + 1) * u64::from(r.len()) / u64::from(nbins)) as usize;
                let mut sum = 0u64;
                let mut max = 0u64;
                let mut min = u64::MAX;
                let mut n = 0u64;
                for (k, &c) in counts[a..z].iter().enumerate() {
                    let port = r.lo() + (a + k) as u16;
                    if scenario.ports.reserved.contains(port) {
                        continue;
                    }
                    sum += c;
                    max = max.max(c);
                    min = min.min(c);
                    n += 1;
                }
                let (mn, mean, mx) = if n == 0 || even == 0.0 {
                    (0.0, 0.0, 0.0)
                } else {
                    (min as f64 / even, sum as f64 / n as f64 / even, max as f64 / even)
                };
                bins.push((f64::from(r.lo()) + a as f64, f64::from(r.lo()) + z as f64, mn, mean, mx));
                // Bins mostly hold the same number of ports: one quantile search per size.
                let q = match bands_by_m.iter().find(|(m, _)| *m == n) {
                    Some(&(_, q)) => q,
                    None => {
                        let q = uniform_band(total, usable, n);
                        bands_by_m.push((n, q));
                        q
                    }
                };
                let q = q.map(|(lo, hi)| (lo as f64 / even, hi as f64 / even));
                band.push(q);
                y_max = y_max.max(mx).max(q.map(|q| q.1).unwrap_or(0.0));
            }
            panels.push(PortPanel {
                label: s.label.clone(),
                colour: s.colour,
                x: (f64::from(r.lo()), f64::from(r.hi()) + 1.0),
                bins,
                band,
                reserved: reserved_spans(&scenario.ports.reserved, r),
                y_max: nice_max(y_max),
                max_over_mean: o.summary.port_usage.max_over_mean,
                used: o.summary.port_usage.distinct,
            });
        }
        PortUsage { title: "Per-port usage across each strategy's range (1 = an even spread)".into(), panels }
    }

    fn grid(&self) -> (usize, usize) {
        let n = self.panels.len().max(1);
        let cols = if n <= 2 {
            n
        } else if n <= 4 {
            2
        } else {
            3
        };
        (n.div_ceil(cols), cols)
    }
}

/// Reserved ports' shade on the port-usage panels.
const RESERVED: RGBColor = RGBColor(205, 205, 205);

impl Figure for PortUsage {
    fn size(&self) -> (u32, u32) {
        let (rows, _) = self.grid();
        (plot::WIDTH, 130 + 250 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, (FONT, plot::TITLE_PX).into_font().color(&INK))?;
        let (_, h) = body.dim_in_pixel();
        let (grid_area, foot) = body.split_vertically(h - 54);
        let (rows, cols) = self.grid();
        let cells = grid_area.split_evenly((rows, cols));
        let f = |v: &f64| tick(*v);
        for (p, cell) in self.panels.iter().zip(&cells) {
            let caption = format!(
                "{}: {}-{}, max/mean {:.2}, {} ports used",
                plot::clip(&p.label, 22),
                p.x.0,
                p.x.1 - 1.0,
                p.max_over_mean,
                tick(f64::from(p.used))
            );
            // Each panel on its own axes: its own range across, its own peak up, so a small
            // range or an even spread is not squeezed by another strategy's.
            let mut chart = ChartBuilder::on(cell)
                .margin(10)
                .caption(caption, (FONT, 14).into_font().color(&p.colour.mix(1.0)))
                .x_label_area_size(30)
                .y_label_area_size(48)
                .build_cartesian_2d(p.x.0..p.x.1, 0f64..p.y_max)?;
            chart
                .configure_mesh()
                .label_style((FONT, 12).into_font().color(&INK))
                .bold_line_style(GRID.stroke_width(1))
                .light_line_style(WHITE.mix(0.0))
                .axis_style(RGBColor(120, 120, 120))
                .x_labels(4)
                .y_labels(5)
                .x_label_formatter(&|v: &f64| format!("{}", v.round() as i64))
                .y_label_formatter(&f)
                .draw()?;
            chart.draw_series(
                p.reserved.iter().map(|&(a, z)| Rectangle::new([(a, 0.0), (z, p.y_max)], RESERVED.filled())),
            )?;
            chart.draw_series(
                p.bins.iter().map(|&(a, z, mn, _, mx)| {
                    Rectangle::new([(a, mn), (z, mx)], p.colour.mix(0.30).filled())
                }),
            )?;
            // The uniform band as two dashed steps, broken at bins of reserved ports only.
            for side in [0, 1] {
                let mut run: Vec<(f64, f64)> = Vec::new();
                for (&(a, z, ..), q) in p.bins.iter().zip(&p.band) {
                    match q {
                        Some(q) => {
                            let v = if side == 0 { q.0 } else { q.1 };
                            run.push((a, v));
                            run.push((z, v));
                        }
                        None => draw_line(&mut chart, std::mem::take(&mut run), INK, Stroke::Dashed, 1)?,
                    }
                }
                draw_line(&mut chart, run, INK, Stroke::Dashed, 1)?;
            }
            // The mean, broken like the band where a bin holds reserved ports only.
            let mut line = Vec::with_capacity(p.bins.len() * 2);
            for (&(a, z, _, mean, _), q) in p.bins.iter().zip(&p.band) {
                if q.is_none() {
                    draw_line(&mut chart, std::mem::take(&mut line), p.colour, Stroke::Solid, 2)?;
                    continue;
                }
                line.push((a, mean));
                line.push((z, mean));
            }
            draw_line(&mut chart, line, p.colour, Stroke::Solid, 2)?;
            draw_line(&mut chart, vec![(p.x.0, 1.0), (p.x.1, 1.0)], INK, Stroke::Dotted, 1)?;
        }
        let (fw, _) = foot.dim_in_pixel();
        let style = (FONT, NOTE_PX).into_font().color(&INK).pos(Pos::new(HPos::Center, VPos::Top));
        foot.draw(&Text::new(
            format!(
                "x: local port (each panel its strategy's range); y: connections on a port over the mean per usable port. Line: the mean of each of {PORT_BINS} bins;"
            ),
            (fw as i32 / 2, 6),
            style.clone(),
        ))?;
        let reserved = self.panels.iter().any(|p| !p.reserved.is_empty());
        foot.draw(&Text::new(
            format!(
                "band: its least to its most used port; dashed: where those fall 99 % of the time if ports were picked uniformly at random{}.",
                if reserved { "; grey: reserved ports" } else { "" }
            ),
            (fw as i32 / 2, 26),
            style,
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(y: f64) -> Vec<(f64, f64)> {
        (0..=10).map(|x| (f64::from(x), y)).collect()
    }

    /// Larger areas first; equal areas in the strategies' order.
    #[test]
    fn curves_are_drawn_largest_area_first() {
        let burst: Vec<(f64, f64)> =
            (0..=10).map(|x| (f64::from(x), if x == 5 { 9.0 } else { 0.0 })).collect();
        let curves = vec![burst, flat(3.0), flat(1.0), flat(3.0)];
        // Areas: 9 (a spike one step wide each side), 30, 10, 30.
        assert_eq!(order_by_area(&curves, |x| x, |y| y, 0.0), vec![1, 3, 2, 0]);
        // On a log axis, from a floor one decade below 1: 1 and 3 map to 1 and 1.48.
        let log = |y: f64| if y > 0.0 { y.log10().max(-1.0) } else { -1.0 };
        assert_eq!(order_by_area(&curves[1..3], |x| x, log, -1.0), vec![0, 1]);
    }

    /// More than four curves on top of each other over a fifth of the axis are crowded; four
    /// are not, and five well apart are not.
    #[test]
    fn crowding_counts_curves_within_two_percent_of_the_height() {
        let id = |v: f64| v;
        let five_apart: Vec<_> = (0..5).map(|i| flat(f64::from(i) * 10.0)).collect();
        assert!(!crowded(&five_apart, id, id));
        let mut five_close: Vec<_> = (0..5).map(|i| flat(100.0 + f64::from(i) * 0.3)).collect();
        five_close.push(flat(0.0));
        assert!(crowded(&five_close, id, id), "five within 1.2 of 100 on a 0..101 axis");
        assert!(!crowded(&five_close[1..], id, id), "four, and nothing else");
        // Five that meet only over the last tenth of the axis are not crowded.
        let meet: Vec<Vec<(f64, f64)>> = (0..5)
            .map(|i| {
                (0..=100).map(|x| (f64::from(x), if x >= 90 { 50.0 } else { f64::from(i * 20) })).collect()
            })
            .collect();
        assert!(!crowded(&meet, id, id));
    }

    /// Binomial(1000, 1/100) quantiles, computed independently from the exact CDF (the sum of
    /// C(1000, i) p^i (1-p)^(1000-i)): for one port F(3) >= 0.005 and F(19) >= 0.995 first;
    /// for ten, at 1 - 0.995^(1/10) and 0.995^(1/10): 2 and 22.
    #[test]
    fn the_uniform_band_is_the_binomial_quantiles_of_the_extremes() {
        assert_eq!(uniform_band(1000, 100, 1), Some((3, 19)));
        assert_eq!(uniform_band(1000, 100, 10), Some((2, 22)));
        assert_eq!(uniform_band(0, 100, 10), None);
        assert_eq!(uniform_band(1000, 100, 0), None);
    }
}
