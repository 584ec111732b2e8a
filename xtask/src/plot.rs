//! The plotting steps the bench commands' SVG charts share (plotters, SVG backend).

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

/// A plotters error as an `anyhow` error that says what failed.
pub(crate) fn draw_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a plot: {error}")
}

/// One labelled series: a line through the points and a dot on each.
pub(crate) fn line_with_dots<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[(f64, f64)],
    colour: RGBColor,
    label: &str,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(series.to_vec(), colour.stroke_width(2)))
        .map_err(draw_error)?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    chart
        .draw_series(
            series
                .iter()
                .map(|point| Circle::new(*point, 4, colour.filled())),
        )
        .map_err(draw_error)?;
    Ok(())
}

/// Draws the legend box at `position` and writes the file.
pub(crate) fn finish<'a, DB, X, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(draw_error)?;
    root.present().map_err(draw_error)?;
    Ok(())
}
