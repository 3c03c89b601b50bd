//! The "How fast is it?" page's charts, drawn with plotters as SVG text to embed in the
//! page: ours beside CPython and the limit per primitive, on a log scale, and how a cost
//! grows with the work (a bench's [`Series`]).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::results::{number, time_text, Line, Role, Series};

/// Width of every chart, in SVG pixels (the page scales it to its column).
const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";

/// One primitive of the overview: seconds per operation of ours, CPython's and the
/// limit's (with its name).
pub struct Bar {
    pub label: String,
    pub ours: f64,
    pub cpython: Option<f64>,
    pub limit: Option<(String, f64)>,
}

/// Which figure of a [`Bar`] a set of bars draws.
type Pick = fn(&Bar) -> Option<f64>;

/// The colour of the `index`-th line of `role` in a chart.
fn colour(role: Role, index: usize) -> RGBColor {
    let palette: &[RGBColor] = match role {
        Role::Ours => &[
            RGBColor(31, 119, 180),
            RGBColor(8, 69, 148),
            RGBColor(107, 174, 214),
        ],
        Role::CPython => &[
            RGBColor(230, 110, 10),
            RGBColor(166, 54, 3),
            RGBColor(253, 174, 107),
        ],
        Role::Limit => &[RGBColor(90, 90, 90), RGBColor(160, 160, 160)],
        Role::Peer => &[
            RGBColor(44, 160, 44),
            RGBColor(148, 103, 189),
            RGBColor(140, 86, 75),
        ],
    };
    palette[index % palette.len()]
}

/// A value of a series' `unit` as an axis label.
fn value_label(value: f64, unit: &str) -> String {
    match seconds_per(unit) {
        Some(scale) => time_text(value * scale),
        // A rate's axis says what it counts: "1.5 M/s" under "msg/s".
        None if value >= 1e6 => format!("{} M{}", number(value / 1e6, 2), per(unit)),
        None if value >= 1e3 => format!("{} k{}", number(value / 1e3, 2), per(unit)),
        None => format!("{} {unit}", number(value, 2)),
    }
}

/// The unit after a "k" or "M": "/s" for a rate, else the unit.
fn per(unit: &str) -> &str {
    if unit.ends_with("/s") {
        "/s"
    } else {
        unit
    }
}

/// An x value (a count of children, processes, workers): whole numbers as such.
fn x_label(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        number(x, 2)
    }
}

/// Seconds in one `unit`, if it is a time.
pub fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1e-9),
        "us" | "µs" => Some(1e-6),
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        _ => None,
    }
}

/// A log range around `values` with some room on both sides.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// The SVG text, without blank lines (a blank line would end the page's HTML block).
fn finish(svg: String) -> String {
    svg.lines()
        .filter(|line| !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Horizontal bars, one group per primitive: ours, CPython, the limit; the time axis is
/// logarithmic, so a bar twice as long is many times slower.
pub fn overview(bars: &[Bar]) -> Result<String, String> {
    let n = bars.len().max(1);
    let height = 90 + 36 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (lo, hi) = log_bounds(bars.iter().flat_map(|b| {
            [Some(b.ours), b.cpython, b.limit.as_ref().map(|l| l.1)]
                .into_iter()
                .flatten()
        }));
        // Two decades of room on the right, for the legend.
        let hi = hi * 100.0;
        // Four segments a primitive: a gap, the limit, CPython, ours (from the bottom).
        let segments = 4 * n;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(250)
            .build_cartesian_2d((lo..hi).log_scale(), (0..segments).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(segments)
            .y_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(k) if k % 4 == 2 => bars
                    .get(n - 1 - k / 4)
                    .map_or(String::new(), |b| b.label.clone()),
                _ => String::new(),
            })
            .x_label_formatter(&|seconds| time_text(*seconds))
            .x_desc("time per operation (log scale; shorter is faster)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(|e| e.to_string())?;
        let columns: [(&str, Role, Pick); 3] = [
            ("ours", Role::Ours, |b| Some(b.ours)),
            ("CPython", Role::CPython, |b| b.cpython),
            ("the limit", Role::Limit, |b| b.limit.as_ref().map(|l| l.1)),
        ];
        for (offset, (name, role, value)) in columns.into_iter().enumerate() {
            let fill = colour(role, 0).filled();
            // The first primitive at the top (segment 0 is at the bottom); within a
            // group, ours on top.
            let rectangles = bars.iter().enumerate().filter_map(|(i, bar)| {
                let value = value(bar)?;
                let base = 4 * (n - 1 - i) + 3 - offset;
                let top = SegmentValue::Exact(base);
                let bottom = SegmentValue::Exact(base + 1);
                Some(Rectangle::new([(lo, top), (value, bottom)], fill))
            });
            chart
                .draw_series(rectangles)
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], fill));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(finish(svg))
}

/// One series as lines over its `x`, both axes logarithmic when they span a decade or
/// more; each line coloured by its role.
pub fn series(series: &Series) -> Result<String, String> {
    let height = 380;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let x_lo = series.x.iter().copied().fold(f64::INFINITY, f64::min);
        let x_hi = series.x.iter().copied().fold(0.0, f64::max);
        let (y_lo, y_hi) = log_bounds(
            series
                .lines
                .iter()
                .flat_map(|line| line.values.iter().flatten().copied()),
        );
        let unit = series.unit.clone();
        let y_format = move |v: &f64| value_label(*v, &unit);
        let lines = &series.lines;
        if x_hi / x_lo >= 8.0 {
            let mut chart = builder(&root)
                .build_cartesian_2d(
                    (x_lo * 0.8..x_hi * 1.25).log_scale().base(2.0),
                    (y_lo..y_hi).log_scale(),
                )
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(series.x_label.as_str())
                .x_label_formatter(&|x| x_label(*x))
                .y_label_formatter(&y_format)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(&mut chart, &series.x, lines)?;
        } else {
            let pad = (x_hi - x_lo).max(1.0) * 0.05;
            let mut chart = builder(&root)
                .build_cartesian_2d(x_lo - pad..x_hi + pad, (y_lo..y_hi).log_scale())
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(series.x_label.as_str())
                .x_labels(series.x.len())
                .x_label_formatter(&|x| x_label(*x))
                .y_label_formatter(&y_format)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(&mut chart, &series.x, lines)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(finish(svg))
}

/// The chart builder of a series' chart.
/// (The page's heading names the chart: no caption inside it.)
fn builder<'a, 'b, 'c>(
    root: &'a DrawingArea<SVGBackend<'c>, plotters::coord::Shift>,
) -> ChartBuilder<'a, 'b, SVGBackend<'c>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80);
    builder
}

/// Draws each line (broken where a value is missing) with its points, and the legend.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    x: &[f64],
    lines: &[Line],
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut seen = Vec::new();
    for line in lines {
        let index = seen.iter().filter(|role| **role == line.role).count();
        seen.push(line.role);
        let colour = colour(line.role, index);
        let style = ShapeStyle::from(colour).stroke_width(2);
        let points: Vec<(f64, f64)> = x
            .iter()
            .zip(&line.values)
            .filter_map(|(&x, v)| v.map(|v| (x, v)))
            .collect();
        // Consecutive measured points are joined; a gap breaks the line.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (&x, v) in x.iter().zip(&line.values) {
            match v {
                Some(v) => segments.last_mut().expect("never empty").push((x, *v)),
                None => segments.push(Vec::new()),
            }
        }
        for segment in segments.into_iter().filter(|s| s.len() > 1) {
            chart
                .draw_series(LineSeries::new(segment, style))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 4, colour.filled())),
            )
            .map_err(|e| e.to_string())?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_blank_lines() {
        let bars = [Bar {
            label: "ch05: counter".into(),
            ours: 4e-3,
            cpython: Some(0.58),
            limit: Some(("fetch_add".into(), 1.5e-3)),
        }];
        let svg = overview(&bars).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("ch05: counter"));
        assert!(!svg.contains("\n\n"));
        let series = Series {
            key: "k".into(),
            title: "n processes".into(),
            x_label: "processes".into(),
            unit: "ms".into(),
            x: vec![1.0, 2.0, 4.0, 8.0],
            lines: vec![Line {
                name: "chapter 5 Lock".into(),
                role: Role::Ours,
                values: vec![Some(1.0), None, Some(3.0), Some(5.0)],
            }],
        };
        let svg = self::series(&series).unwrap();
        // The page heads the chart with its title; the axis says what x counts.
        assert!(svg.contains("chapter 5 Lock") && svg.contains("processes"));
        assert!(!svg.contains("n processes"));
    }

    #[test]
    fn axis_labels_carry_their_unit() {
        assert_eq!(time_text(4.4e-9), "4.4 ns");
        assert_eq!(value_label(2.0, "ms"), "2.0 ms");
        assert_eq!(value_label(1.5e6, "msg/s"), "1.5 M/s");
    }
}
