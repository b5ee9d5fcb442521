//! The value axis: a range that includes zero, rounded to "nice" ticks, and their labels.

/// The value axis: ticks from `low` to `high` (both ticks) every `step`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ValueAxis {
    /// The bottom of the axis (a tick, ≤ 0).
    pub low: f64,
    /// The top of the axis (a tick, ≥ 0).
    pub high: f64,
    /// The ticks from `low` to `high`.
    pub ticks: Vec<f64>,
    /// The number of decimals every tick label shows.
    decimals: usize,
}

/// About how many intervals the axis is divided into.
const TARGET_INTERVALS: f64 = 5.0;
/// The most decimals a tick label shows.
const MAX_DECIMALS: usize = 10;

impl ValueAxis {
    /// An axis covering zero and every value in `values` (all zero or none: 0 to 1).
    pub(super) fn new(values: impl Iterator<Item = f64>) -> Self {
        let (min, max) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        // All zero (or nothing released): show 0 to 1 rather than a flat axis.
        let max = if max > min { max } else { min + 1.0 };
        let (step, decimals) = nice_step((max - min) / TARGET_INTERVALS);
        let low = (min / step).floor() * step;
        let mut high = (max / step).ceil() * step;
        if high <= low {
            high = low + step;
        }
        // Count intervals by rounding, so float error cannot add or drop a tick.
        let intervals = ((high - low) / step).round() as usize;
        let ticks = (0..=intervals).map(|i| low + i as f64 * step).collect();
        ValueAxis {
            low,
            high,
            ticks,
            decimals,
        }
    }

    /// The label of a tick (or any value) with the axis's number of decimals.
    pub(super) fn label(&self, value: f64) -> String {
        let text = format!("{value:.*}", self.decimals);
        // "-0" and "-0.0" read as zero.
        if text
            .trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            text.trim_start_matches('-').to_string()
        } else {
            text
        }
    }

    /// The value clamped into the axis's range.
    pub(super) fn clamp(&self, value: f64) -> f64 {
        value.clamp(self.low, self.high)
    }

    /// Where `value` lies on the axis: 0 at `low`, 1 at `high`.
    pub(super) fn fraction(&self, value: f64) -> f64 {
        (self.clamp(value) - self.low) / (self.high - self.low)
    }
}

/// A step of 1, 2, 2.5 or 5 times a power of ten, at least `rough`, and the decimals its
/// multiples need.
fn nice_step(rough: f64) -> (f64, usize) {
    let exponent = rough.log10().floor();
    let magnitude = 10f64.powf(exponent);
    let (mantissa, extra) = [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0), (10.0, 0)]
        .into_iter()
        .find(|(m, _)| m * magnitude >= rough * (1.0 - 1e-9))
        .unwrap_or((10.0, 0));
    let decimals = (-exponent).max(0.0) as usize + extra;
    // 2.5 × 10^k for k ≥ 1 is a whole number: no extra decimal then. Absurdly small
    // ranges get no more than MAX_DECIMALS.
    let decimals = if exponent >= 1.0 {
        0
    } else {
        decimals.min(MAX_DECIMALS)
    };
    (mantissa * magnitude, decimals)
}

#[cfg(test)]
mod tests {
    use super::ValueAxis;

    #[test]
    fn counts_get_round_ticks_from_zero() {
        let axis = ValueAxis::new([12.0, 480.0, 1130.0].into_iter());
        assert_eq!((axis.low, axis.high), (0.0, 1250.0));
        let labels: Vec<String> = axis.ticks.iter().map(|t| axis.label(*t)).collect();
        assert_eq!(labels, ["0", "250", "500", "750", "1000", "1250"]);
    }

    #[test]
    fn small_and_negative_values_get_decimals_and_cover_zero() {
        let axis = ValueAxis::new([-0.13, 0.42].into_iter());
        let labels: Vec<String> = axis.ticks.iter().map(|t| axis.label(*t)).collect();
        assert_eq!(labels, ["-0.2", "0.0", "0.2", "0.4", "0.6"]);
        assert_eq!(axis.fraction(axis.low), 0.0);
        assert_eq!(axis.fraction(99.0), 1.0);
    }

    #[test]
    fn no_values_give_a_unit_axis() {
        let axis = ValueAxis::new(std::iter::empty());
        assert_eq!((axis.low, axis.high), (0.0, 1.0));
        assert_eq!(axis.label(-0.0001), "0.0");
    }
}
