//! The soak's plots as plain SVG line charts (no plotting library needed): Identity
//! Center's requests per second by answer, the gateway's answers to the driver per
//! second, and the run's progress, each with moto's outage shaded.

use std::fmt::Write as _;

use super::report::Report;
use super::{Channel, Sample};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;

/// One line: its name, colour and points.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A step of about 5 ticks over `0..max`, of 1, 2 or 5 times a power of ten.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart: `band` shades an x range (moto's outage), `hline` marks a y value.
pub fn line_chart(
    title: &str,
    y_label: &str,
    series: &[Series],
    band: Option<(f64, f64, &str)>,
    hline: Option<(f64, &str)>,
) -> String {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(hline.map(|h| h.0))
        .fold(1.0f64, f64::max)
        * 1.05;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |v: f64| TOP + plot_h - v / y_max * plot_h;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="18" font-size="13" font-weight="bold">{}</text>"#,
        LEFT,
        escape(title)
    );
    if let Some((from, to, label)) = band {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#f4c7c3" opacity="0.6"/><text x="{:.1}" y="{}" fill="#a33">{}</text>"##,
            x(from),
            (x(to) - x(from)).max(1.5),
            x(to) + 3.0,
            TOP + 12.0,
            escape(label)
        );
    }
    let x_step = tick_step(x_max);
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(t),
            TOP + plot_h,
            TOP + plot_h + 15.0,
            t
        );
        t += x_step;
    }
    let y_step = tick_step(y_max);
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(v),
            LEFT + plot_w,
            LEFT - 5.0,
            y(v) + 4.0,
            v
        );
        v += y_step;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds into the run</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    if let Some((value, label)) = hline {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#555" stroke-dasharray="6 4"/><text x="{2:.1}" y="{3:.1}" fill="#555">{4}</text>"##,
            y(value),
            LEFT + plot_w,
            LEFT + 4.0,
            y(value) - 4.0,
            escape(label)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.4" points="{}"/>"#,
            s.colour,
            points.join(" ")
        );
        let ly = TOP + 10.0 + i as f64 * 16.0;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 18.0,
            s.colour,
            lx + 23.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Per-second differences of a counter read once a second.
fn rate(samples: &[Sample], counter: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .map(|w| {
            let dt = (w[1].at - w[0].at).max(0.001);
            (
                w[1].at,
                counter(&w[1]).saturating_sub(counter(&w[0])) as f64 / dt,
            )
        })
        .collect()
}

/// The three plots, as (file name, caption, SVG).
pub fn plots(report: &Report) -> Vec<(&'static str, &'static str, String)> {
    let samples = &report.timeline;
    let band = report
        .restart
        .as_ref()
        .map(|r| (r.down_seen, r.up_seen, "moto down"));
    let answered_ok = |s: &Sample| {
        s.ic_requests
            .saturating_sub(s.ic_throttled + s.ic_failed + s.ic_dropped)
    };
    let ic = line_chart(
        "Identity Center requests per second, by answer",
        "requests per second",
        &[
            Series {
                name: "answered (2xx, 4xx)".into(),
                colour: "#1b7837",
                points: rate(samples, answered_ok),
            },
            Series {
                name: "429 throttled".into(),
                colour: "#e08214",
                points: rate(samples, |s| s.ic_throttled),
            },
            Series {
                name: "500 injected".into(),
                colour: "#c51b7d",
                points: rate(samples, |s| s.ic_failed),
            },
            Series {
                name: "dropped".into(),
                colour: "#4575b4",
                points: rate(samples, |s| s.ic_dropped),
            },
        ],
        band,
        Some((f64::from(report.config.ic_rate_limit), "rate limit")),
    );
    let end = samples.last().map_or(0.0, |s| s.at);
    let per_second = |channel: Channel, ok: bool| {
        let seconds = end.ceil() as usize + 1;
        let mut counts = vec![0.0; seconds];
        for answer in report.answers.iter().filter(|a| a.channel == channel) {
            let success = (200..300).contains(&answer.status);
            if success == ok && (answer.at as usize) < seconds {
                counts[answer.at as usize] += 1.0;
            }
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (i as f64, c))
            .collect::<Vec<_>>()
    };
    let answers = line_chart(
        "The gateway's answers to Okta per second",
        "answers per second",
        &[
            Series {
                name: "hook 2xx".into(),
                colour: "#1b7837",
                points: per_second(Channel::Hook, true),
            },
            Series {
                name: "hook other / none".into(),
                colour: "#c51b7d",
                points: per_second(Channel::Hook, false),
            },
            Series {
                name: "SCIM 2xx".into(),
                colour: "#4575b4",
                points: per_second(Channel::Scim, true),
            },
            Series {
                name: "SCIM other / none".into(),
                colour: "#e08214",
                points: per_second(Channel::Scim, false),
            },
        ],
        band,
        None,
    );
    let progress = line_chart(
        "Progress: inputs accepted and events waiting in the queue",
        "count",
        &[
            Series {
                name: "events accepted".into(),
                colour: "#1b7837",
                points: samples
                    .iter()
                    .map(|s| (s.at, s.events_accepted as f64))
                    .collect(),
            },
            Series {
                name: "SCIM operations done".into(),
                colour: "#4575b4",
                points: samples.iter().map(|s| (s.at, s.scim_done as f64)).collect(),
            },
            Series {
                name: "events queued".into(),
                colour: "#c51b7d",
                points: samples
                    .iter()
                    .filter_map(|s| s.queued.map(|q| (s.at, q as f64)))
                    .collect(),
            },
        ],
        band,
        None,
    );
    vec![
        (
            "soak-identity-center.svg",
            "Identity Center requests per second by answer, moto's outage shaded",
            ic,
        ),
        (
            "soak-answers.svg",
            "The gateway's answers to the driver per second",
            answers,
        ),
        (
            "soak-progress.svg",
            "Events accepted, SCIM operations done and events queued over the run",
            progress,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(tick_step(100.0), 20.0);
        assert_eq!(tick_step(7.0), 2.0);
        assert_eq!(tick_step(2400.0), 500.0);
    }
}
