//! Charts as inline SVG, rendered on the server (no JavaScript).

use maud::{Markup, html};
use yagura_model::Severity;

/// Fill colour of a severity.
pub fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Informational => "#8fa3b8",
        Severity::Low => "#4f9d69",
        Severity::Medium => "#d9a21b",
        Severity::High => "#e0662f",
        Severity::Critical => "#b3261e",
    }
}

/// Vertical bars, one per column, stacked by severity (`counts[i]` is `Severity::ALL[i]`).
pub fn stacked_columns(id: &str, columns: &[(String, [u64; 5])]) -> Markup {
    let max = columns
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (h, bar_w, gap, top, bottom) = (160.0_f64, 36.0_f64, 14.0_f64, 16.0_f64, 22.0_f64);
    let width = (columns.len() as f64 * (bar_w + gap) + gap).max(200.0);
    let plot = h - top - bottom;
    // Each column: x, label, total, top of the stack, and its segments (y, height, severity, n).
    type Segment = (f64, f64, Severity, u64);
    let cols: Vec<(f64, &String, u64, f64, Vec<Segment>)> = columns
        .iter()
        .enumerate()
        .map(|(i, (label, counts))| {
            let x = gap + i as f64 * (bar_w + gap);
            let mut y = h - bottom;
            let mut segs = Vec::new();
            for (s, n) in Severity::ALL.iter().zip(counts.iter()) {
                if *n > 0 {
                    let bh = plot * *n as f64 / max as f64;
                    y -= bh;
                    segs.push((y, bh, *s, *n));
                }
            }
            (x, label, counts.iter().sum(), y, segs)
        })
        .collect();
    html! {
        svg #(id) class="chart" role="img" viewBox={"0 0 " (width) " " (h)} width=(width) height=(h) {
            @for (x, label, total, top, segs) in &cols {
                @for (y, bh, s, n) in segs {
                    rect x=(x) y=(y) width=(bar_w) height=(bh) fill=(severity_color(*s)) {
                        title { (label) " " (s.as_str()) ": " (n) }
                    }
                }
                text x=(x + bar_w / 2.0) y=(top - 3.0) text-anchor="middle" class="val" { (total) }
                text x=(x + bar_w / 2.0) y=(h - 6.0) text-anchor="middle" class="lbl" { (label) }
            }
        }
    }
}

/// Horizontal bars with a label and a link each.
pub fn bars(id: &str, rows: &[(String, u64, String, &str)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let (row_h, label_w, bar_max) = (22.0_f64, 150.0_f64, 220.0_f64);
    let h = rows.len() as f64 * row_h + 4.0;
    let w = label_w + bar_max + 60.0;
    html! {
        svg #(id) class="chart" role="img" viewBox={"0 0 " (w) " " (h)} width=(w) height=(h) {
            @for (i, (label, n, href, color)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 2.0;
                @let bw = (bar_max * *n as f64 / max as f64).max(1.0);
                a href=(href) {
                    text x=(label_w - 6.0) y=(y + 15.0) text-anchor="end" class="lbl" { (label) }
                    rect x=(label_w) y=(y + 3.0) width=(bw) height=(row_h - 6.0) fill=(color) {
                        title { (label) ": " (n) }
                    }
                    text x=(label_w + bw + 5.0) y=(y + 15.0) class="val" { (n) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_scale_to_the_largest_and_escape_labels() {
        let svg = stacked_columns(
            "c",
            &[
                ("01-05".into(), [0, 1, 0, 2, 0]),
                ("<b>".into(), [0, 0, 0, 0, 6]),
            ],
        )
        .into_string();
        assert!(svg.starts_with("<svg id=\"c\""));
        assert!(svg.contains("&lt;b&gt;"), "labels are escaped: {svg}");
        // The tallest column fills the plot (160 - 16 - 22 = 122 px).
        assert!(svg.contains("height=\"122\""), "{svg}");
        assert!(svg.contains(">3</text>") && svg.contains(">6</text>"));
    }

    #[test]
    fn bars_link_and_count() {
        let svg = bars(
            "b",
            &[("moh".into(), 10, "/console/alerts?org=moh".into(), "#333")],
        )
        .into_string();
        assert!(svg.contains("href=\"/console/alerts?org=moh\""));
        assert!(svg.contains(">10</text>"));
    }
}
