//! `predict`'s charts: the probability that the first guess is right against k, one line per
//! strategy (log y, the idle host's closed form dotted beside it), and the share of devices the
//! tracking attack identified against the connections it needed.

use super::PredictReport;
use super::observer::Traffic;
use crate::report::plot::{
    self, DrawResult, Figure, LegendEntry, Rendered, Stroke, colour, draw_legend, draw_line, layout,
    line_width, log_tick, tick,
};
use crate::scenario::Scenario;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

struct Series {
    label: String,
    colour: RGBColor,
    stroke: Stroke,
    points: Vec<(f64, f64)>,
}

struct GuessFigure {
    title: String,
    series: Vec<Series>,
    floor: f64,
    k_max: f64,
}

impl Figure for GuessFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (1.0f64..self.k_max.max(2.0)).log_scale(),
                (self.floor..1.5f64).log_scale(),
            )?;
        let mut mesh = chart.configure_mesh();
        plot::mesh_style(
            &mut mesh,
            "ports the observer has seen (k, log scale)",
            "P(first guess right) (log scale)",
        );
        mesh.x_labels(12)
            .y_labels(40)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| log_tick(*v))
            .draw()?;
        let n = self.series.len();
        let mut entries = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, y.max(self.floor))).collect();
            draw_line(&mut chart, pts, s.colour, s.stroke, line_width(i, n))?;
            entries.push(LegendEntry::line(s.label.clone(), s.colour, s.stroke));
        }
        entries.push(LegendEntry::heading(""));
        entries.push(LegendEntry::heading(
            "solid: measured; dotted: idle-host closed form; a miss in every trial is drawn at the floor",
        ));
        draw_legend(&legend, &entries)
    }
}

struct AttackFigure {
    title: String,
    series: Vec<Series>,
    x_max: f64,
    /// Strategies no device of which was identified (not drawn).
    never: Vec<String>,
}

/// A darker shade of `c` the higher the background rate, so the extra runs read in order.
fn shade(c: RGBColor, _runs: usize, rate: Option<f64>) -> RGBColor {
    let f = match rate {
        Some(r) if r > 0.0 => (1.0 - (r.log10() / 6.0).clamp(0.0, 0.7)) as f32,
        _ => 1.0,
    };
    let s = |v: u8| (f32::from(v) * f) as u8;
    RGBColor(s(c.0), s(c.1), s(c.2))
}

impl Figure for AttackFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0f64..plot::nice_max(self.x_max), 0.0f64..1.05)?;
        let mut mesh = chart.configure_mesh();
        plot::mesh_style(&mut mesh, "connections the page made the device open", "devices identified");
        mesh.x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        let n = self.series.len();
        let mut entries = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            draw_line(&mut chart, s.points.clone(), s.colour, s.stroke, line_width(i, n))?;
            entries.push(LegendEntry::line(s.label.clone(), s.colour, s.stroke));
        }
        entries.push(LegendEntry::heading(""));
        entries.push(LegendEntry::heading(
            "solid: idle device; dashed: the scenario's own traffic; dotted: heavier Poisson background, darker when heavier",
        ));
        if !self.never.is_empty() {
            entries.push(LegendEntry::heading(""));
            entries.push(LegendEntry::heading(format!(
                "never identified (not drawn): {}",
                self.never.join(", ")
            )));
        }
        draw_legend(&legend, &entries)
    }
}

/// Every chart, by file name.
pub(crate) fn draw(s: &Scenario, r: &PredictReport) -> Result<Vec<(&'static str, Rendered)>> {
    let trials = f64::from(s.predict.trials.max(1));
    let lowest = r.guesses.iter().filter_map(|g| g.formula_first).fold(0.5 / trials, f64::min);
    let floor = 10f64.powf((lowest * 0.5).log10().floor());
    let k_max = f64::from(*s.predict.k.iter().max().unwrap_or(&1));
    let mut out = Vec::new();
    for (traffic, name, title) in [
        (Traffic::Idle, "predict-guess", "Next-port guess, idle host: P(first guess right) against k"),
        (
            Traffic::Busy,
            "predict-guess-busy",
            "Next-port guess, host with its own traffic: P(first guess right) against k",
        ),
    ] {
        let mut series = Vec::new();
        for (i, g) in r.guesses.iter().filter(|g| g.traffic == traffic).enumerate() {
            let points: Vec<(f64, f64)> = g.best().map(|p| (f64::from(p.k), p.first)).collect();
            series.push(Series {
                label: format!("{} ({})", g.label, g.best_attack),
                colour: colour(i),
                stroke: Stroke::Solid,
                points: points.clone(),
            });
            if let (Some(f), Traffic::Idle) = (g.formula_first, traffic) {
                series.push(Series {
                    label: format!("{} formula {}", g.label, tick(f)),
                    colour: colour(i),
                    stroke: Stroke::Dotted,
                    points: points.iter().map(|&(x, _)| (x, f)).collect(),
                });
            }
        }
        out.push((name, plot::render(&GuessFigure { title: title.into(), series, floor, k_max })?));
    }
    if !r.attacks.is_empty() {
        let mut series = Vec::new();
        let x_max = r
            .attacks
            .iter()
            .flat_map(|a| a.per_device.iter().map(|d| d.connections as f64))
            .fold(1.0, f64::max);
        let labels: Vec<&str> = {
            let mut l: Vec<&str> = r.attacks.iter().map(|a| a.label.as_str()).collect();
            l.dedup();
            l
        };
        let never: Vec<String> = {
            let mut v: Vec<String> = r
                .attacks
                .iter()
                .filter(|a| !r.attacks.iter().any(|b| b.label == a.label && b.identified > 0))
                .map(|a| a.label.clone())
                .collect();
            v.dedup();
            v
        };
        let extra = r.attacks.iter().filter(|a| a.background.starts_with("poisson")).count();
        for a in r.attacks.iter().filter(|a| !never.contains(&a.label)) {
            let ci = labels.iter().position(|l| *l == a.label).unwrap_or(0);
            let mut xs: Vec<f64> =
                a.per_device.iter().filter(|d| d.identified).map(|d| d.connections as f64).collect();
            xs.sort_by(f64::total_cmp);
            let n = f64::from(a.devices.max(1));
            let mut points = vec![(0.0, 0.0)];
            for (j, x) in xs.iter().enumerate() {
                points.push((*x, j as f64 / n));
                points.push((*x, (j + 1) as f64 / n));
            }
            points.push((plot::nice_max(x_max), xs.len() as f64 / n));
            series.push(Series {
                label: format!("{} ({}): {}/{}", a.label, a.background, a.identified, a.devices),
                colour: if a.background.starts_with("poisson") {
                    shade(colour(ci), extra, a.background_rate)
                } else {
                    colour(ci)
                },
                stroke: match a.background.as_str() {
                    "idle" => Stroke::Solid,
                    "scenario" => Stroke::Dashed,
                    _ => Stroke::Dotted,
                },
                points,
            });
        }
        out.push((
            "predict-attack",
            plot::render(&AttackFigure {
                title: "Tracking attack: devices identified against connections".into(),
                series,
                x_max,
                never,
            })?,
        ));
    }
    Ok(out)
}
