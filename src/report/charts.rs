//! The charts every run draws (`charts/*.svg` and `charts/*.png`): candidates per allocation,
//! failures and collisions over time, occupancy over time, the reuse-interval CDF and per-port
//! usage. Each strategy keeps one look (colour, stroke, marker: `plot::look`, by its name) on
//! every chart of every run, and curves that coincide are named in the legend.

use super::plot::{
    self, DrawResult, FONT, Figure, GRID, INK, LegendEntry, Look, NOTE_PX, SHADE, Stroke, TICK_PX,
    draw_curve, draw_legend, draw_line, layout, line_width, log_tick, looks, nice_max, note, tick,
};
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

/// Draws every chart of a run.
pub fn run_charts(scenario: &Scenario, outputs: &[RunOutput]) -> Result<Vec<Chart>> {
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
    )?);

    let fail = FailuresOverTime::new(&strategies, outputs, warmup, duration);
    out.push(finish(
        "failures_over_time",
        fail.title.clone(),
        "Top: connection attempts per second that found no usable port (EADDRNOTAVAIL). Bottom: candidate ports rejected by check_suitable_port per second (local collisions, solid) and new connections whose 4-tuple the server still held in TIME_WAIT (remote collisions, dashed).",
        &fail,
    )?);

    let occ = OccupancyOverTime::new(scenario, &strategies, outputs, warmup, duration);
    out.push(finish(
        "occupancy_over_time",
        occ.title.clone(),
        "4-tuples this host holds in TIME_WAIT (top) and live connections (bottom) over time; when one destination uses the range, live plus TIME_WAIT cannot pass n, the usable ports, and failures start as it gets close.",
        &occ,
    )?);

    let reuse = ReuseCdf::new(scenario, &strategies, outputs);
    out.push(finish(
        "reuse_interval_cdf",
        reuse.title.clone(),
        "For connections that reused a 4-tuple used before: the fraction whose gap since the previous connection on it closed was at most x seconds (log scale). Curves further left reuse sooner, which is what risks remote collisions and confusion with old segments.",
        &reuse,
    )?);

    let usage = PortUsage::new(scenario, &strategies, outputs);
    out.push(finish(
        "port_usage",
        usage.title.clone(),
        "Connections per port across the range, relative to a perfectly even spread (1.0): the line is the mean of each bin of ports, the band runs from its least to its most used port. Reserved ports are left out; a tall band means some ports carry much more than their share.",
        &usage,
    )?);
    Ok(out)
}

fn finish(name: &'static str, title: String, about: &'static str, fig: &impl Figure) -> Result<Chart> {
    let r = plot::render(fig).map_err(|e| e.context(format!("chart {name}")))?;
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

// --- candidates per allocation ------------------------------------------------------------

struct CandidatesCdf {
    title: String,
    strategies: Vec<Strat>,
    curves: Vec<Vec<(f64, f64)>>,
    means: Vec<Option<f64>>,
    x_max: f64,
    y_min: f64,
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
        CandidatesCdf {
            title: "Candidate ports examined per connection attempt (CDF)".into(),
            strategies: strategies.to_vec(),
            curves,
            means,
            x_max,
            y_min,
        }
    }
}

impl Figure for CandidatesCdf {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let y_top = 1.0 + (1.0 - self.y_min) * 0.02;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..self.x_max).log_scale(), self.y_min..y_top)?;
        let f = |v: &f64| log_tick(*v);
        let g = |v: &f64| if *v > 1.0 + 1e-9 { String::new() } else { tick(*v) };
        let mut m = chart.configure_mesh();
        plot::mesh_style(
            &mut m,
            "candidates examined per attempt (log scale)",
            "fraction of attempts with at most x",
        );
        m.x_labels(60).x_label_formatter(&f).y_label_formatter(&g).draw()?;
        let n = self.curves.len();
        for (i, c) in self.curves.iter().enumerate() {
            let pts: Vec<(f64, f64)> = c.iter().map(|&(x, y)| (x, y.max(self.y_min))).collect();
            draw_curve(&mut chart, pts, self.strategies[i].look, line_width(i, n), i)?;
        }
        if self.y_min > 0.0 {
            plot::note_at(&chart, &format!("y axis starts at {}", tick(self.y_min)), true)?;
        }
        let mut entries = vec![LegendEntry::heading("strategy (mean candidates)")];
        entries.extend(legend_for(&self.strategies, |i| {
            Some(match self.means[i] {
                Some(m) => format!("({m:.2})"),
                None => "(no attempts)".into(),
            })
        }));
        push_coinciding(&mut entries, coinciding(&self.curves, &self.strategies));
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
        })
        .collect();
    (lines, false)
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
            let lo = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|q| q.1))
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            // Zeros get their own row one decade below the smallest value, labelled 0.
            let bottom = lo.log10().floor() - 1.0;
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
    let y_desc = if axis == YAxis::Log { format!("{y_desc} (log scale)") } else { y_desc.to_string() };
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
        let style = (FONT, TICK_PX).into_font().color(&INK).pos(Pos::new(HPos::Right, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((duration, y)) + Text::new(label.clone(), (-8, 5), style),
        ))?;
    }
    for l in lines {
        let pts: Vec<(f64, f64)> = l.points.iter().map(|&(x, y)| (x, map(y))).collect();
        match l.look {
            Some((look, slot)) => draw_curve(&mut chart, pts, look, l.width, slot)?,
            None => draw_line(&mut chart, pts, l.colour, l.stroke, l.width)?,
        }
    }
    if data_max == 0.0 && !empty_note.is_empty() {
        note(&chart, empty_note)?;
    }
    Ok(())
}

fn axis_for(lines: &[Line]) -> YAxis {
    if spans_decades(lines) { YAxis::Log } else { YAxis::Linear }
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
}

impl FailuresOverTime {
    fn new(strategies: &[Strat], outputs: &[RunOutput], warmup: f64, duration: f64) -> FailuresOverTime {
        FailuresOverTime {
            title: "Failures and collisions over time".into(),
            strategies: strategies.to_vec(),
            failed: outputs.iter().map(|o| rate_series(&o.samples, |s| s.failed)).collect(),
            local: outputs.iter().map(|o| per_attempt_series(&o.samples, |s| s.collisions_local)).collect(),
            remote: outputs.iter().map(|o| rate_series(&o.samples, |s| s.collisions_remote)).collect(),
            totals: outputs.iter().map(|o| o.summary.connections.failed).collect(),
            warmup,
            duration,
        }
    }
}

impl Figure for FailuresOverTime {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let (_, h) = area.dim_in_pixel();
        let any_remote = self.remote.iter().any(|p| p.iter().any(|q| q.1 > 0.0));
        // Failures, then local collisions per attempt, then (when there are any) remote
        // collisions per second on their own axis: a failure scan's millions of rejected
        // candidates per second no longer flatten everything else.
        let (top, rest) = area.split_vertically(h * if any_remote { 36 } else { 48 } / 100);
        let (middle, bottom) = if any_remote {
            let (_, rh) = rest.dim_in_pixel();
            let (m, b) = rest.split_vertically(rh * 47 / 100);
            (m, Some(b))
        } else {
            (rest.clone(), None)
        };
        let (fails, fails_same) = strategy_lines(&self.failed, &self.strategies);
        time_panel(
            &top,
            "failed attempts / s",
            "",
            self.duration,
            self.warmup,
            &fails,
            "no connection attempt failed",
            None,
            axis_for(&fails),
        )?;
        let (coll, coll_same) = strategy_lines(&self.local, &self.strategies);
        time_panel(
            &middle,
            "local collisions / attempt",
            if bottom.is_some() { "" } else { "simulated time (s)" },
            self.duration,
            self.warmup,
            &coll,
            "no collision: every first candidate was free",
            None,
            axis_for(&coll),
        )?;
        let mut remote_same = false;
        if let Some(bottom) = &bottom {
            let (remote, same) = strategy_lines(&self.remote, &self.strategies);
            remote_same = same;
            time_panel(
                bottom,
                "remote collisions / s",
                "simulated time (s)",
                self.duration,
                self.warmup,
                &remote,
                "",
                None,
                axis_for(&remote),
            )?;
        }
        let mut entries = vec![LegendEntry::heading(if self.warmup > 0.0 {
            "strategy (failed after warm-up)"
        } else {
            "strategy (failed)"
        })];
        entries.extend(legend_for(&self.strategies, |i| Some(format!("({})", tick(self.totals[i] as f64)))));
        entries.push(LegendEntry::heading(""));
        if fails_same || coll_same || remote_same {
            entries.push(LegendEntry::line("every strategy (identical curves)", INK, Stroke::Solid));
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

struct OccupancyOverTime {
    title: String,
    strategies: Vec<Strat>,
    time_wait: Vec<Vec<(f64, f64)>>,
    live: Vec<Vec<(f64, f64)>>,
    limit: Option<u64>,
    warmup: f64,
    duration: f64,
}

impl OccupancyOverTime {
    fn new(
        scenario: &Scenario,
        strategies: &[Strat],
        outputs: &[RunOutput],
        warmup: f64,
        duration: f64,
    ) -> OccupancyOverTime {
        // With one key (one destination and one address, or one address in local-port scope),
        // live + TIME_WAIT is bounded by the usable ports: draw that bound.
        let mut limits: Vec<u64> = scenario
            .strategies
            .iter()
            .filter(|spec| {
                let eff = scenario.effective(spec);
                scenario.addrs.len() == 1
                    && (eff.scope == Scope::LocalPort || scenario.destination_count() == 1)
            })
            .map(|spec| {
                let eff = scenario.effective(spec);
                u64::from(eff.range.len() - scenario.ports.reserved.count_in(eff.range))
            })
            .collect();
        limits.sort_unstable();
        limits.dedup();
        let limit = if limits.len() == 1 && limits.len() <= scenario.strategies.len() {
            limits.first().copied()
        } else {
            None
        };
        OccupancyOverTime {
            title: "Occupancy over time: 4-tuples in TIME_WAIT and live".into(),
            strategies: strategies.to_vec(),
            time_wait: outputs.iter().map(|o| level_series(&o.samples, |s| s.time_wait)).collect(),
            live: outputs.iter().map(|o| level_series(&o.samples, |s| s.live)).collect(),
            limit,
            warmup,
            duration,
        }
    }
}

impl Figure for OccupancyOverTime {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let (_, h) = area.dim_in_pixel();
        let (top, bottom) = area.split_vertically(h * 50 / 100);
        let (tw, tw_same) = strategy_lines(&self.time_wait, &self.strategies);
        let reference = self.limit.map(|n| (n as f64, format!("n = {} usable ports", tick(n as f64))));
        time_panel(
            &top,
            "in TIME_WAIT",
            "",
            self.duration,
            self.warmup,
            &tw,
            "nothing in TIME_WAIT (the server closes first)",
            reference,
            YAxis::Linear,
        )?;
        let (live, live_same) = strategy_lines(&self.live, &self.strategies);
        time_panel(
            &bottom,
            "live connections",
            "simulated time (s)",
            self.duration,
            self.warmup,
            &live,
            "",
            None,
            YAxis::Linear,
        )?;
        let mut entries = vec![LegendEntry::heading("strategy")];
        entries.extend(legend_for(&self.strategies, |_| None));
        entries.push(LegendEntry::heading(""));
        if tw_same || live_same {
            entries.push(LegendEntry::line("every strategy (identical curves)", INK, Stroke::Solid));
        }
        if self.limit.is_some() {
            entries.push(LegendEntry::line("usable ports n", INK, Stroke::Dotted));
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
    /// (bin start port, bin end port, min, mean, max) relative to an even spread.
    bins: Vec<(f64, f64, f64, f64, f64)>,
    max_over_mean: f64,
    used: u32,
}

struct PortUsage {
    title: String,
    panels: Vec<PortPanel>,
    x: (f64, f64),
    y_max: f64,
}

const PORT_BINS: u32 = 160;

impl PortUsage {
    fn new(scenario: &Scenario, strategies: &[Strat], outputs: &[RunOutput]) -> PortUsage {
        let ranges: Vec<PortRange> = outputs
            .iter()
            .map(|o| {
                scenario
                    .strategies
                    .iter()
                    .find(|s| s.label == o.summary.name)
                    .map(|s| scenario.effective(s).range)
                    .unwrap_or(crate::scenario::DEFAULT_RANGE)
            })
            .collect();
        let lo = ranges.iter().map(|r| r.lo()).min().unwrap_or(1);
        let hi = ranges.iter().map(|r| r.hi()).max().unwrap_or(65535);
        let mut panels = Vec::new();
        let mut y_max = 1.5f64;
        for ((o, s), r) in outputs.iter().zip(strategies).zip(&ranges) {
            let usable = r.len() - scenario.ports.reserved.count_in(*r);
            let total: u64 = o.summary.port_usage.per_port.iter().map(|p| p.1).sum();
            let even = total as f64 / f64::from(usable.max(1));
            let mut counts = vec![0u64; r.len() as usize];
            for &(p, c) in &o.summary.port_usage.per_port {
                if r.contains(p) {
                    counts[usize::from(p - r.lo())] += c;
                }
            }
            let nbins = PORT_BINS.min(r.len());
            let mut bins = Vec::with_capacity(nbins as usize);
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
                y_max = y_max.max(mx);
            }
            panels.push(PortPanel {
                label: s.label.clone(),
                colour: s.colour,
                bins,
                max_over_mean: o.summary.port_usage.max_over_mean,
                used: o.summary.port_usage.distinct,
            });
        }
        PortUsage {
            title: "Per-port usage across the range (1 = an even spread)".into(),
            panels,
            x: (f64::from(lo), f64::from(hi) + 1.0),
            y_max: nice_max(y_max),
        }
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

impl Figure for PortUsage {
    fn size(&self) -> (u32, u32) {
        let (rows, _) = self.grid();
        (plot::WIDTH, 110 + 250 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, (FONT, plot::TITLE_PX).into_font().color(&INK))?;
        let (_, h) = body.dim_in_pixel();
        let (grid_area, foot) = body.split_vertically(h - 34);
        let (rows, cols) = self.grid();
        let cells = grid_area.split_evenly((rows, cols));
        let f = |v: &f64| tick(*v);
        for (p, cell) in self.panels.iter().zip(&cells) {
            let caption = format!(
                "{}: max/mean {:.2}, {} ports used",
                plot::clip(&p.label, 22),
                p.max_over_mean,
                tick(f64::from(p.used))
            );
            let mut chart = ChartBuilder::on(cell)
                .margin(10)
                .caption(caption, (FONT, 15).into_font().color(&p.colour.mix(1.0)))
                .x_label_area_size(30)
                .y_label_area_size(48)
                .build_cartesian_2d(self.x.0..self.x.1, 0f64..self.y_max)?;
            chart
                .configure_mesh()
                .label_style((FONT, 12).into_font().color(&INK))
                .bold_line_style(GRID.stroke_width(1))
                .light_line_style(WHITE.mix(0.0))
                .axis_style(RGBColor(120, 120, 120))
                .x_labels(4)
                .y_labels(4)
                .x_label_formatter(&|v: &f64| format!("{}", v.round() as i64))
                .y_label_formatter(&f)
                .draw()?;
            chart.draw_series(
                p.bins.iter().map(|&(a, z, mn, _, mx)| {
                    Rectangle::new([(a, mn), (z, mx)], p.colour.mix(0.30).filled())
                }),
            )?;
            let mut line = Vec::with_capacity(p.bins.len() * 2);
            for &(a, z, _, mean, _) in &p.bins {
                line.push((a, mean));
                line.push((z, mean));
            }
            draw_line(&mut chart, line, p.colour, Stroke::Solid, 2)?;
            draw_line(&mut chart, vec![(self.x.0, 1.0), (self.x.1, 1.0)], INK, Stroke::Dotted, 1)?;
        }
        let (fw, _) = foot.dim_in_pixel();
        foot.draw(&Text::new(
            format!(
                "x: local port; y: connections on a port over the mean per usable port. Line: the mean of each bin of ports; band: from its least to its most used port ({PORT_BINS} bins)."
            ),
            (fw as i32 / 2, 10),
            (FONT, NOTE_PX).into_font().color(&INK).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        Ok(())
    }
}
