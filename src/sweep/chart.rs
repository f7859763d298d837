//! The sweep's charts: the failure fraction and the mean candidates against the first swept
//! key, one line per strategy (with 95 % confidence whiskers over seeds), the closed forms
//! dashed beside them (Erlang-B; `1/(1-ρ)` for `random-pick`) and the `n/H` ceiling dotted. With
//! several swept keys, one pair of charts per combination of the other keys.

use super::{SweepResult, VaryValue, model};
use crate::params::Value;
use crate::report::plot::{
    self, ChartStyle, DrawResult, Figure, INK, LegendEntry, Look, Stroke, draw_legend, draw_line, layout,
    line_width, log_tick, nice_max, note, tick,
};
use crate::scenario;
use crate::time::from_secs_f64;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// A sweep chart drawn both ways.
pub(crate) struct SweepChart {
    pub name: String,
    pub svg: String,
    pub png: Vec<u8>,
}

/// Points of the fine grid the closed forms are drawn on.
const GRID: usize = 121;
/// At most this many facets (combinations of the other swept keys) get charts.
const MAX_FACETS: usize = 12;

#[derive(Clone, Debug)]
struct SimSeries {
    label: String,
    colour: RGBColor,
    look: Look,
    /// (x, mean, ci95)
    points: Vec<(f64, f64, Option<f64>)>,
}

#[derive(Clone, Debug)]
struct Curve {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

struct SweepFigure {
    title: String,
    x_desc: String,
    y_desc: String,
    /// Category labels when the x axis is not numeric.
    categories: Option<Vec<String>>,
    x_range: (f64, f64),
    sim: Vec<SimSeries>,
    closed: Vec<Curve>,
    ceilings: Vec<(f64, String)>,
    log_y: bool,
    y_floor: f64,
    empty_note: &'static str,
    closed_note: Option<String>,
    closed_heading: &'static str,
}

/// `sweep` charts for every facet.
pub(crate) fn sweep_charts(r: &SweepResult, text: &str, style: &ChartStyle) -> Result<Vec<SweepChart>> {
    let first = &r.varies[0];
    let numeric = r.points.iter().all(|p| p.values[0].x.is_some());
    // Facets: the values of every key but the first, in grid order.
    let mut facets: Vec<(Vec<VaryValue>, Vec<usize>)> = Vec::new();
    for (i, p) in r.points.iter().enumerate() {
        let rest = p.values[1..].to_vec();
        match facets.iter_mut().find(|(k, _)| *k == rest) {
            Some((_, idx)) => idx.push(i),
            None => facets.push((rest, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (rest, idx) in facets.iter().take(MAX_FACETS) {
        let done: Vec<usize> =
            idx.iter().copied().filter(|p| r.rows.iter().any(|row| row.point == *p)).collect();
        if done.is_empty() {
            continue;
        }
        let suffix = if rest.is_empty() {
            String::new()
        } else {
            let s: Vec<String> = r.varies[1..]
                .iter()
                .zip(rest)
                .map(|(v, x)| format!("{}-{}", short_key(&v.key), x.label))
                .collect();
            format!("-{}", sanitize(&s.join("-")))
        };
        let subtitle = if rest.is_empty() {
            String::new()
        } else {
            let s: Vec<String> =
                r.varies[1..].iter().zip(rest).map(|(v, x)| format!("{} = {}", v.key, x.label)).collect();
            format!(" ({})", s.join(", "))
        };
        let xs: Vec<f64> = idx
            .iter()
            .enumerate()
            .map(|(k, p)| if numeric { r.points[*p].values[0].x.unwrap_or(0.0) } else { k as f64 })
            .collect();
        let x_of = |p: usize| xs[idx.iter().position(|q| *q == p).unwrap_or(0)];
        let categories =
            (!numeric).then(|| idx.iter().map(|p| r.points[*p].values[0].label.clone()).collect::<Vec<_>>());
        let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let x_range = if !numeric {
            (-0.5, xs.len() as f64 - 0.5)
        } else if hi > lo {
            let pad = (hi - lo) * 0.03;
            (lo - pad, hi + pad)
        } else {
            (lo - lo.abs().max(1.0) * 0.1, hi + hi.abs().max(1.0) * 0.1)
        };

        let mut fail = Vec::new();
        let mut cand = Vec::new();
        for (si, label) in r.strategies.iter().enumerate() {
            let rows: Vec<_> =
                r.rows.iter().filter(|row| &row.strategy == label && idx.contains(&row.point)).collect();
            let look = strategy_look(r, si);
            fail.push(SimSeries {
                label: label.clone(),
                colour: look.colour,
                look,
                points: rows
                    .iter()
                    .map(|row| (x_of(row.point), row.failed_fraction.mean, row.failed_fraction.ci95))
                    .collect(),
            });
            cand.push(SimSeries {
                label: label.clone(),
                colour: look.colour,
                look,
                points: rows
                    .iter()
                    .map(|row| (x_of(row.point), row.mean_candidates.mean, row.mean_candidates.ci95))
                    .collect(),
            });
        }

        // Failure fractions that span decades (1e-4 next to 1e-1) go on a log axis, zeros on
        // its bottom edge, so the 1e-4..1e-2 band is not flattened against the largest value;
        // with --log-y, wherever one is positive.
        let positive: Vec<f64> =
            fail.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| *v > 0.0).collect();
        let (fmin, fmax) = positive.iter().fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
        let fail_log = fmin.is_finite() && (fmax / fmin >= 100.0 || style.log_y);
        let fail_floor = if fail_log { 10f64.powf(fmin.log10().floor() - 1.0) } else { 0.0 };
        let closed = closed_curves(r, text, rest, idx, &xs, numeric, x_range);
        let x_desc = format!("{}{}", first.key, unit(first));
        let fig = SweepFigure {
            title: format!("Failed fraction of attempts against {}{subtitle}", short_key(&first.key)),
            x_desc: x_desc.clone(),
            y_desc: "fraction of attempts that failed".into(),
            categories: categories.clone(),
            x_range,
            sim: fail,
            closed: closed.blocking,
            ceilings: closed.ceilings.clone(),
            log_y: fail_log,
            y_floor: fail_floor,
            empty_note: "no attempt failed at any point",
            closed_note: join_notes(r.closed_form_note.clone(), super::transient_note(r)),
            closed_heading: "closed form (dashed)",
        };
        let rendered = plot::render_with(&fig, style)?;
        out.push(SweepChart {
            name: format!("failure_fraction{suffix}"),
            svg: rendered.svg,
            png: rendered.png,
        });

        let max = cand.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0f64, f64::max);
        let fig = SweepFigure {
            title: format!("Mean candidates per attempt against {}{subtitle}", short_key(&first.key)),
            x_desc,
            y_desc: "candidate ports examined per attempt".into(),
            categories,
            x_range,
            sim: cand,
            closed: closed.candidates,
            ceilings: closed.ceilings,
            log_y: max > 20.0 || style.log_y,
            y_floor: 1.0,
            empty_note: "",
            closed_note: super::transient_note(r),
            closed_heading: "closed form (dashed)",
        };
        let rendered = plot::render_with(&fig, style)?;
        out.push(SweepChart {
            name: format!("mean_candidates{suffix}"),
            svg: rendered.svg,
            png: rendered.png,
        });
    }
    Ok(out)
}

fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect()
}

fn unit(v: &super::Vary) -> &'static str {
    if v.durations {
        " (s)"
    } else if v.key.ends_with("rate") || v.key.ends_with("off_rate") {
        " (conn/s)"
    } else {
        ""
    }
}

/// Points along the x axis.
type Xy = Vec<(f64, f64)>;

struct ClosedCurves {
    blocking: Vec<Curve>,
    candidates: Vec<Curve>,
    ceilings: Vec<(f64, String)>,
}

/// The closed forms along the x axis: on a fine grid when x is numeric (each grid value is
/// written into the scenario and validated like a point), else at the points.
fn closed_curves(
    r: &SweepResult,
    text: &str,
    rest: &[VaryValue],
    idx: &[usize],
    xs: &[f64],
    numeric: bool,
    x_range: (f64, f64),
) -> ClosedCurves {
    let first = &r.varies[0];
    let base_dir =
        std::path::Path::new(&r.origin).parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
    let integer = first.values.iter().all(|v| matches!(v.value, Value::Integer(_)));
    // (x, scenario) along the axis.
    let mut grid: Vec<(f64, scenario::Scenario)> = Vec::new();
    if numeric && xs.len() > 1 {
        let (lo, hi) = (
            x_range.0.max(xs.iter().copied().fold(f64::INFINITY, f64::min)),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let mut seen: Vec<f64> = Vec::new();
        for g in 0..GRID {
            let x = lo + (hi - lo) * g as f64 / (GRID - 1) as f64;
            let value = if first.durations {
                Value::String(crate::time::format_duration(from_secs_f64(x)))
            } else if integer {
                Value::Integer(x.round() as i64)
            } else {
                Value::Float(x)
            };
            let xv = if integer { x.round() } else { x };
            if seen.contains(&xv) {
                continue;
            }
            seen.push(xv);
            let mut overrides = vec![(first.key.clone(), value)];
            overrides.extend(r.varies[1..].iter().zip(rest).map(|(v, x)| (v.key.clone(), x.value.clone())));
            if let Ok(s) = scenario::parse_with_overrides(text, &r.origin, &base_dir, &overrides) {
                grid.push((xv, s));
            }
        }
    } else {
        for (k, p) in idx.iter().enumerate() {
            grid.push((xs[k], r.points[*p].scenario.clone()));
        }
    }
    // Per strategy: blocking and load ratio along the grid; random-pick's candidates too.
    let mut blocking: Vec<(String, usize, Xy, Xy)> = Vec::new();
    let mut candidates = Vec::new();
    for (si, label) in r.strategies.iter().enumerate() {
        let mut b = Vec::new();
        let mut ratio = Vec::new();
        let mut c = Vec::new();
        let mut models: BTreeMap<String, (f64, f64, Option<f64>)> = BTreeMap::new();
        for (x, s) in &grid {
            let Some(spec) = s.strategies.iter().find(|sp| &sp.label == label) else { continue };
            let (Ok(rate), Ok(m)) = (model::host_rate(s), model::pool_model(s, spec)) else { continue };
            let is_rp = spec.config.name() == "random-pick";
            let key = format!("{m:?}{rate}{is_rp}");
            let v = *models.entry(key).or_insert_with(|| {
                let (lr, bl) = m.blocking(rate);
                (lr, bl, is_rp.then(|| m.predict(rate).random_pick_candidates))
            });
            ratio.push((*x, v.0));
            b.push((*x, v.1));
            if let Some(rp) = v.2 {
                c.push((*x, rp));
            }
        }
        if !c.is_empty() {
            candidates.push(Curve {
                label: format!("{label}: 1/(1-ρ)"),
                colour: strategy_look(r, si).colour,
                points: c,
            });
        }
        blocking.push((label.clone(), si, b, ratio));
    }
    // Strategies with the same curve share one line.
    let mut groups: Vec<(Vec<String>, usize, Xy, Xy)> = Vec::new();
    for (label, si, b, ratio) in blocking {
        if b.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|g| g.2 == b) {
            Some(g) => g.0.push(label),
            None => groups.push((vec![label], si, b, ratio)),
        }
    }
    let single = groups.len() == 1;
    let mut curves = Vec::new();
    let mut ceilings = Vec::new();
    for (labels, si, b, ratio) in &groups {
        let (name, col) = if single {
            ("Erlang-B B(n, λH)".to_string(), INK)
        } else {
            (format!("Erlang-B: {}", labels.join(", ")), strategy_look(r, *si).colour)
        };
        curves.push(Curve { label: name, colour: col, points: b.clone() });
        if numeric {
            // Where the busiest pool's load reaches its n ports.
            for w in ratio.windows(2) {
                let ((x0, r0), (x1, r1)) = (w[0], w[1]);
                if (r0 - 1.0) * (r1 - 1.0) <= 0.0 && r0 != r1 {
                    let x = x0 + (1.0 - r0) * (x1 - x0) / (r1 - r0);
                    let label = if single {
                        format!("n/H ceiling at {}", tick_precise(x))
                    } else {
                        format!("n/H ceiling at {} ({})", tick_precise(x), labels.join(", "))
                    };
                    if !ceilings.iter().any(|(c, _): &(f64, String)| (c - x).abs() < 1e-9) {
                        ceilings.push((x, label));
                    }
                    break;
                }
            }
        }
    }
    ClosedCurves { blocking: curves, candidates, ceilings }
}

/// A swept strategy's look, by its name (the same as on the run charts).
fn strategy_look(r: &SweepResult, si: usize) -> Look {
    plot::looks(r.strategies.iter().map(String::as_str))[si]
}

fn tick_precise(x: f64) -> String {
    if x.abs() >= 100.0 { format!("{x:.1}") } else { format!("{x:.3}") }
}

impl SweepFigure {
    fn draw_data<DB, CT>(&self, chart: &mut ChartContext<'_, DB, CT>, y_top: f64) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
    {
        let bottom = if self.log_y { self.y_floor } else { 0.0 };
        for (x, _) in &self.ceilings {
            draw_line(chart, vec![(*x, bottom), (*x, y_top)], RGBColor(90, 90, 90), Stroke::Dotted, 2)?;
        }
        for c in &self.closed {
            let pts: Vec<(f64, f64)> = c.points.iter().map(|&(x, y)| (x, y.clamp(bottom, y_top))).collect();
            if self.categories.is_some() {
                // Between categories there is nothing to join: a dashed level across each group.
                for (x, y) in pts {
                    draw_line(chart, vec![(x - 0.35, y), (x + 0.35, y)], c.colour, Stroke::Dashed, 2)?;
                }
            } else {
                draw_line(chart, pts, c.colour, Stroke::Dashed, 2)?;
            }
        }
        let n = self.sim.len();
        for (i, s) in self.sim.iter().enumerate() {
            // Categories are not a scale: their points stand side by side in groups, unjoined.
            let shift = if self.categories.is_some() {
                (i as f64 - (n as f64 - 1.0) / 2.0) * 0.6 / n as f64
            } else {
                0.0
            };
            let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0 + shift, p.1.max(bottom))).collect();
            if self.categories.is_none() {
                draw_line(chart, pts.clone(), s.colour, Stroke::Solid, line_width(i, n))?;
            }
            for &p in &pts {
                plot::draw_marker(chart.plotting_area(), p, s.look.marker, s.colour)?;
            }
            for &(x, m, ci) in &s.points {
                let x = x + shift;
                if let Some(ci) = ci
                    && ci > 0.0
                {
                    let (a, b) = ((m - ci).max(bottom), (m + ci).min(y_top));
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, a), (x, b)],
                        s.colour.stroke_width(2),
                    )))?;
                }
            }
        }
        Ok(())
    }
}

impl Figure for SweepFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let (x0, x1) = self.x_range;
        let sim_max = self
            .sim
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1 + p.2.unwrap_or(0.0)))
            .fold(0.0f64, f64::max);
        let closed_max = self.closed.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
        let data_max = sim_max.max(closed_max.min(if sim_max > 0.0 { sim_max * 3.0 } else { closed_max }));
        let cats = self.categories.clone();
        let xf = move |v: &f64| match &cats {
            Some(c) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                    c[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => tick(*v),
        };
        let x_labels = self.categories.as_ref().map(|c| c.len()).unwrap_or(10);
        if self.log_y {
            let top = 10f64.powf(data_max.max(self.y_floor * 10.0).log10().ceil());
            let mut chart = ChartBuilder::on(&area)
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, (self.y_floor..top).log_scale())?;
            let yf = |v: &f64| log_tick(*v);
            let mut mesh = chart.configure_mesh();
            plot::mesh_style(&mut mesh, &self.x_desc, &format!("{} (log scale)", self.y_desc));
            mesh.x_labels(x_labels).y_labels(40).x_label_formatter(&xf).y_label_formatter(&yf).draw()?;
            self.draw_data(&mut chart, top)?;
        } else {
            let top = nice_max(data_max);
            let bottom = if self.y_floor > 0.0 {
                0.0f64.max(self.y_floor - (top - self.y_floor) * 0.05).min(self.y_floor)
            } else {
                0.0
            };
            let bottom = if self.y_floor > 0.0 { bottom.min(0.9) } else { bottom };
            let mut chart = ChartBuilder::on(&area)
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, bottom..top)?;
            let yf = |v: &f64| tick(*v);
            let mut mesh = chart.configure_mesh();
            plot::mesh_style(&mut mesh, &self.x_desc, &self.y_desc.clone());
            mesh.x_labels(x_labels).y_labels(8).x_label_formatter(&xf).y_label_formatter(&yf).draw()?;
            self.draw_data(&mut chart, top)?;
            if sim_max == 0.0 && closed_max == 0.0 && !self.empty_note.is_empty() {
                note(&chart, self.empty_note)?;
            }
        }
        let mut entries = vec![LegendEntry::heading("simulated (mean, 95% CI)")];
        for s in &self.sim {
            entries.push(LegendEntry::strategy(s.label.clone(), Look { stroke: Stroke::Solid, ..s.look }));
        }
        if !self.closed.is_empty() || !self.ceilings.is_empty() {
            entries.push(LegendEntry::heading(""));
            entries.push(LegendEntry::heading(self.closed_heading));
        }
        for c in &self.closed {
            entries.push(LegendEntry::line(c.label.clone(), c.colour, Stroke::Dashed));
        }
        for (_, label) in &self.ceilings {
            entries.push(LegendEntry::line(label.clone(), RGBColor(90, 90, 90), Stroke::Dotted));
        }
        if let Some(n) = &self.closed_note {
            entries.push(LegendEntry::heading(""));
            entries.push(LegendEntry::heading(n.clone()));
        }
        draw_legend(&legend, &entries)
    }
}

/// Two optional notes as one ("a; b").
fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}
