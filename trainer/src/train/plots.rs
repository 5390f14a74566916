//! PNG plots of the training curves (the study's Figure 4: loss and top-1
//! error per epoch, training and validation).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

/// One curve: a name and (epoch, value) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers a system font for plot text, once. Plotting needs one.
fn font_ready() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let bytes = FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
                format!("no font for plots (looked for {}); install fonts-dejavu-core", FONT_PATHS.join(", "))
            })?;
            plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
                .map_err(|_| "the plot font could not be parsed".to_string())
        })
        .clone()
}

/// Draws side-by-side panels (one per (title, series list)) into a PNG.
pub fn plot_panels(path: &Path, panels: &[(&str, Vec<Series>)]) -> Result<(), String> {
    font_ready()?;
    let root = BitMapBackend::new(path, (560 * panels.len() as u32, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, panels.len()));
    let palette = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
    for (area, (title, series)) in areas.iter().zip(panels) {
        let x_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0f64, f64::max);
        // An early spike (BatchNorm statistics settling) must not flatten the
        // rest: the axis stops at 3× the median value, or the maximum if lower.
        let mut ys: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| y.is_finite()).collect();
        ys.sort_by(f64::total_cmp);
        let y_max = match ys.as_slice() {
            [] => 1.0,
            all => all[all.len() - 1].min(3.0 * all[all.len() / 2]).max(1e-3),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max * 1.1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("epoch").label_style(("sans-serif", 13)).draw().map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let colour = palette[i % palette.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}
