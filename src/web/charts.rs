//! Bar charts drawn on the server as SVG (no script, no CDN): each has a title and a
//! description for screen readers, labelled axes, and the page shows its data as a table.

use askama::Template;

#[derive(Template)]
#[template(path = "admin/bar_chart.svg", escape = "html")]
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub x_label: String,
    pub y_label: String,
    pub max_text: String,
    bars: Vec<Bar>,
}

struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// Shown under the bar when there is room; always in the bar's tooltip.
    label: String,
    show_label: bool,
    value_text: String,
}

pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 36.0;
const TOP: f64 = 12.0;

impl BarChart {
    /// A chart of `values` named by `labels`; `format` writes a value for people.
    pub fn new(
        id: &str,
        title: &str,
        (x_label, y_label): (&str, &str),
        labels: &[String],
        values: &[i64],
        format: impl Fn(i64) -> String,
    ) -> Self {
        let max = values.iter().copied().max().unwrap_or(0).max(1);
        let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
        // Label every bar when there is room, else about twelve of them.
        let every = (labels.len() / 12).max(1);
        let bars = labels
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (label, &value))| {
                let height = (HEIGHT - BOTTOM - TOP) * value as f64 / max as f64;
                Bar {
                    x: LEFT + slot * i as f64 + slot * 0.1,
                    y: HEIGHT - BOTTOM - height,
                    width: (slot * 0.8).max(1.0),
                    height,
                    label: label.clone(),
                    show_label: i % every == 0,
                    value_text: format(value),
                }
            })
            .collect();
        let described: Vec<String> = labels
            .iter()
            .zip(values)
            .map(|(l, v)| format!("{l}: {}", format(*v)))
            .collect();
        let description = if described.len() > 12 {
            format!(
                "{} bars; the table below lists every value.",
                described.len()
            )
        } else {
            described.join("; ")
        };
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            description,
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            max_text: format(max),
            bars,
        }
    }

    /// The SVG markup (escaped by the template engine).
    pub fn svg(&self) -> String {
        self.render().unwrap_or_default()
    }
}
