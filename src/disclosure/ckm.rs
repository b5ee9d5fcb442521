//! The cell-key method: deterministic perturbation of counts and magnitudes in released tables.
//!
//! Every person carries a fixed random 32-bit record key; a cell's key is the wrapping sum of
//! its contributors' keys ([`cell_key`]), so the same set of contributors always gets the same
//! noise, whatever the table or the order of aggregation. That defeats differencing attacks.
//!
//! * Counts: a perturbation table ([`PTable`], as in the R packages `ptable`/`cellKey` and ABS
//!   TableBuilder) gives, for each original count `i`, a distribution of noise `v` in `[-D, D]`
//!   with `i + v >= 0`, `i + v` outside `1..=js`, mean 0 and variance `V`, built by maximum
//!   entropy. The cell key, read as uniform on `[0, 2^32)`, picks the noise through exact
//!   integer thresholds. Zeros stay zeros.
//! * Magnitudes, per cell: [`MagnitudeNoise`] adds `±x1·m·(1+f)`, with `x1` the largest
//!   contribution by unit, so the noise is never smaller than `m·x1` (the p% rule's protection).
//!   Drawn from the cell key, it is fresh for every distinct set of persons, so averaging many
//!   unions that hold the same large unit removes it. The server's default is therefore noise
//!   per unit, drawn in tabulation (`tabulate::MagnitudeStats::signed`); this one is kept as
//!   the policy's `MagnitudeNoiseKind::PerCell`.
//!
//! Not here: drawing or storing record keys, deciding which cells may be released (thresholds,
//! dominance), aggregating contributions by unit, and any I/O. Perturbed tables are not
//! additive: totals are perturbed from their own keys. This is not differential privacy.

mod maxent;

use maxent::max_entropy;

/// Largest supported `max_noise` and `js`: tables stay small (any such table builds in well
/// under a second) and all arithmetic fits in `i32`.
pub const PARAM_LIMIT: u32 = 100;
/// Size of the cell-key space, 2^32.
const KEY_SPACE: u64 = 1 << 32;
/// 2^32 as a float, for turning probabilities into thresholds.
const KEY_SPACE_F64: f64 = 4_294_967_296.0;
/// Relative distance from an end of a row's variance range treated as the end itself.
const BOUNDARY_REL: f64 = 1e-9;

/// Parameters of a perturbation table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PTableParams {
    /// Maximum absolute noise `D` (at least 1).
    pub max_noise: u32,
    /// Noise variance `V` (positive, below `D²`).
    pub variance: f64,
    /// No perturbed count falls in `1..=js` (0 disables this).
    pub js: u32,
}

impl Default for PTableParams {
    /// The Destatis example: `D = 2`, `V = 1.05`, `js = 1`.
    fn default() -> Self {
        Self {
            max_noise: 2,
            variance: 1.05,
            js: 1,
        }
    }
}

/// Why a perturbation table cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PTableError {
    /// `max_noise` is 0: there would be no noise at all.
    #[error("max_noise must be at least 1")]
    ZeroMaxNoise,
    /// `max_noise` or `js` is above [`PARAM_LIMIT`].
    #[error("max_noise and js must be at most {PARAM_LIMIT}")]
    ParamTooLarge,
    /// The variance is zero, negative or not finite.
    #[error("variance must be finite and positive, got {0}")]
    NonPositiveVariance(f64),
    /// No distribution on `[-D, D]` with mean 0 has a larger variance than `D²`.
    #[error(
        "variance {variance} is too large for max_noise {max_noise}: it must be below max_noise²"
    )]
    VarianceTooLarge {
        /// The requested variance.
        variance: f64,
        /// The requested maximum noise.
        max_noise: u32,
    },
    /// All allowed noise values for this count lie on one side of 0, so mean 0 is impossible.
    #[error("no mean-zero noise exists for count {count}: with js >= 1, max_noise must exceed js")]
    InfeasibleRow {
        /// The original count whose row failed.
        count: u64,
    },
    /// The maximum-entropy solver did not reach the moment constraints.
    #[error("the maximum-entropy solver did not converge for count {count}")]
    NoConvergence {
        /// The original count whose row failed.
        count: u64,
    },
}

/// How well a row meets the target variance (its mean is always exactly 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFit {
    /// Mean 0 and variance `V` (count 0: the point mass at 0).
    Exact,
    /// `V` is below what the row allows (count in `1..=js` must move): the two-point
    /// distribution on the nearest allowed values on each side, the smallest variance possible.
    VarianceRaised,
    /// `V` is above what the row allows (small counts cannot drop below 0): the two-point
    /// distribution on the extreme allowed values, the largest variance possible.
    VarianceLowered,
}

/// One row of the table: the noise distribution for one original count.
#[derive(Debug, Clone)]
struct Row {
    probs: Vec<(i32, f64)>,
    bounds: Vec<(i32, u64)>,
    fit: RowFit,
}

/// A perturbation table: noise distributions for counts `0..=imax`, the last serving all
/// larger counts.
#[derive(Debug, Clone)]
pub struct PTable {
    params: PTableParams,
    rows: Vec<Row>,
}

impl PTable {
    /// Validates the parameters and builds every row by maximum entropy.
    pub fn new(params: PTableParams) -> Result<Self, PTableError> {
        validate(&params)?;
        // Both are at most PARAM_LIMIT after validation, so they fit in i32.
        let d = i32::try_from(params.max_noise).map_err(|_| PTableError::ParamTooLarge)?;
        let js = i32::try_from(params.js).map_err(|_| PTableError::ParamTooLarge)?;
        let rows = (0..=last_distinct_count(d, js))
            .map(|i| build_row(i, d, js, params.variance))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { params, rows })
    }

    /// The parameters the table was built from.
    pub fn params(&self) -> &PTableParams {
        &self.params
    }

    /// The largest count with its own row; larger counts use this row.
    pub fn imax(&self) -> u64 {
        // usize -> u64 cannot lose bits on supported targets; the table has < 2 * PARAM_LIMIT rows.
        u64::try_from(self.rows.len() - 1).unwrap_or(u64::MAX)
    }

    /// The noise for an original count and cell key.
    pub fn noise(&self, count: u64, cell_key: u32) -> i64 {
        i64::from(lookup(&self.row(count).bounds, cell_key))
    }

    /// The perturbed count (count + noise), never negative.
    pub fn perturb(&self, count: u64, cell_key: u32) -> u64 {
        count.saturating_add_signed(self.noise(count, cell_key))
    }

    /// Row for count i as (noise, probability) pairs, for documentation and tests.
    pub fn distribution(&self, count: u64) -> Vec<(i32, f64)> {
        self.row(count).probs.clone()
    }

    /// Row for count i as (noise, exclusive upper bound of the cell keys that pick it).
    pub fn thresholds(&self, count: u64) -> &[(i32, u64)] {
        &self.row(count).bounds
    }

    /// Whether the row for count i meets the variance exactly or as closely as it can.
    pub fn row_fit(&self, count: u64) -> RowFit {
        self.row(count).fit
    }

    fn row(&self, count: u64) -> &Row {
        // `new` always builds row 0, so `last` is a valid index and `index <= last`.
        let last = self.rows.len() - 1;
        let index = usize::try_from(count).map_or(last, |c| c.min(last));
        &self.rows[index]
    }
}

fn validate(params: &PTableParams) -> Result<(), PTableError> {
    if params.max_noise == 0 {
        return Err(PTableError::ZeroMaxNoise);
    }
    if params.max_noise > PARAM_LIMIT || params.js > PARAM_LIMIT {
        return Err(PTableError::ParamTooLarge);
    }
    if !(params.variance.is_finite() && params.variance > 0.0) {
        return Err(PTableError::NonPositiveVariance(params.variance));
    }
    if params.variance >= f64::from(params.max_noise).powi(2) {
        // At V = D² the only mean-zero distribution is ±D with probability 1/2: no real table.
        return Err(PTableError::VarianceTooLarge {
            variance: params.variance,
            max_noise: params.max_noise,
        });
    }
    Ok(())
}

/// The first count whose allowed noise is all of `[-D, D]`; every larger count has the same.
fn last_distinct_count(d: i32, js: i32) -> i32 {
    // Full needs i - D >= 0 and no target i - D ..= i + D inside 1..=js.
    if js == 0 {
        d
    } else {
        d + js + 1
    }
}

/// Noise values `v` in `[-D, D]` with `i + v >= 0` and `i + v` outside `1..=js`.
fn allowed_noise(count: i32, d: i32, js: i32) -> Vec<i32> {
    (-d..=d)
        .filter(|v| {
            let target = count + v;
            target >= 0 && !(1..=js).contains(&target)
        })
        .collect()
}

fn build_row(count: i32, d: i32, js: i32, variance: f64) -> Result<Row, PTableError> {
    let count_u64 = u64::try_from(count).unwrap_or(0); // count >= 0: it comes from 0..=imax.
    if count == 0 {
        return Ok(Row::new(vec![(0, 1.0)], RowFit::Exact));
    }
    let support = allowed_noise(count, d, js);
    let bounds =
        VarianceBounds::of(&support).ok_or(PTableError::InfeasibleRow { count: count_u64 })?;
    if let Some(row) = bounds.boundary_row(variance) {
        return Ok(row);
    }
    let probs = max_entropy(&support, f64::from(d), variance)
        .ok_or(PTableError::NoConvergence { count: count_u64 })?;
    Ok(Row::new(
        support.into_iter().zip(probs).collect(),
        RowFit::Exact,
    ))
}

/// The mean-zero pairs at the ends of a row's variance range: the nearest allowed values
/// around 0 (only when 0 itself is blocked; otherwise the range starts at 0) and the extremes.
struct VarianceBounds {
    nearest: Option<(i32, i32)>,
    extremes: (i32, i32),
}

impl VarianceBounds {
    /// `None` when the allowed values do not straddle 0, so mean 0 is impossible.
    fn of(support: &[i32]) -> Option<Self> {
        let negatives = || support.iter().copied().filter(|&v| v < 0);
        let positives = || support.iter().copied().filter(|&v| v > 0);
        let extremes = (negatives().min()?, positives().max()?);
        let nearest = (negatives().max()?, positives().min()?);
        let nearest = (!support.contains(&0)).then_some(nearest);
        Some(Self { nearest, extremes })
    }

    /// The two-point row when `V` is at or beyond an end of the range. Maximum entropy only
    /// reaches the open interior, and within `BOUNDARY_REL` of an end its multipliers diverge.
    fn boundary_row(&self, variance: f64) -> Option<Row> {
        let edge = |(a, b): (i32, i32), clamped: RowFit| {
            let reached = pair_variance(a, b);
            let exact = (reached - variance).abs() <= BOUNDARY_REL * variance;
            Row::new(two_point(a, b), if exact { RowFit::Exact } else { clamped })
        };
        if let Some((a, b)) = self.nearest {
            if variance <= pair_variance(a, b) * (1.0 + BOUNDARY_REL) {
                return Some(edge((a, b), RowFit::VarianceRaised));
            }
        }
        let (a, b) = self.extremes;
        (variance >= pair_variance(a, b) * (1.0 - BOUNDARY_REL))
            .then(|| edge((a, b), RowFit::VarianceLowered))
    }
}

impl Row {
    fn new(probs: Vec<(i32, f64)>, fit: RowFit) -> Self {
        let bounds = thresholds(&probs);
        Self { probs, bounds, fit }
    }
}

/// Variance of the unique mean-zero distribution on `{a, b}` with `a < 0 < b`.
fn pair_variance(a: i32, b: i32) -> f64 {
    -f64::from(a) * f64::from(b)
}

/// The mean-zero distribution on `{a, b}` with `a < 0 < b`.
fn two_point(a: i32, b: i32) -> Vec<(i32, f64)> {
    let (down, up) = (-f64::from(a), f64::from(b));
    vec![(a, up / (down + up)), (b, down / (down + up))]
}

/// Cumulative probabilities as exclusive upper bounds on `[0, 2^32)`; the last is exactly 2^32.
fn thresholds(probs: &[(i32, f64)]) -> Vec<(i32, u64)> {
    let mut cumulative = 0.0;
    let last = probs.len().saturating_sub(1);
    let bound = |c: f64| (c * KEY_SPACE_F64).round().clamp(0.0, KEY_SPACE_F64) as u64;
    probs
        .iter()
        .enumerate()
        .map(|(k, &(v, p))| {
            cumulative += p;
            let upper = if k == last {
                KEY_SPACE
            } else {
                bound(cumulative)
            };
            (v, upper)
        })
        .collect()
}

/// The noise of the first entry whose upper bound exceeds the key.
fn lookup(bounds: &[(i32, u64)], cell_key: u32) -> i32 {
    let key = u64::from(cell_key);
    let index = bounds.partition_point(|&(_, upper)| upper <= key);
    // The last bound is 2^32 > every u32, so `index` is always in range.
    bounds.get(index).map_or(0, |&(v, _)| v)
}

/// Wrapping sum of record keys.
pub fn cell_key(record_keys: impl IntoIterator<Item = u32>) -> u32 {
    record_keys.into_iter().fold(0, u32::wrapping_add)
}

/// A 32-bit mixer (bijective in `key` for every `salt`): murmur3's `fmix32` of the key xored
/// with the mixed salt.
pub fn mix(key: u32, salt: u32) -> u32 {
    fmix32(key ^ fmix32(salt.wrapping_add(0x9E37_79B9)))
}

/// The murmur3 finalizer: xorshifts and odd multiplications, each invertible.
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// Why magnitude noise parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MagnitudeNoiseError {
    /// The multiplier is zero, negative or not finite.
    #[error("magnitude multiplier must be finite and positive, got {0}")]
    InvalidMultiplier(f64),
}

/// Noise for sums of a numeric variable, scaled by the cell's largest contribution.
///
/// `noise = sign · x1 · m · (1 + f)` with `f` in `[0, 1)` and the sign taken from
/// [`mix`]`(cell_key, salt)`: `|noise|` lies in `[m·x1, 2m·x1)`, so the total minus all other
/// contributions misses `x1` by at least `m·x1`. Someone who knows this rule and all other
/// contributions still narrows `x1` to two intervals of relative width about `m`, not to a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MagnitudeNoise {
    /// The multiplier `m`: the p of the p% rule as a fraction (default 0.10).
    pub multiplier: f64,
    /// The largest relative noise (default `2m`).
    pub max: f64,
}

impl Default for MagnitudeNoise {
    /// `m = 0.10`, the p% rule's p = 10 recommended in Europe.
    fn default() -> Self {
        Self {
            multiplier: 0.10,
            max: 0.20,
        }
    }
}

impl MagnitudeNoise {
    /// Noise with multiplier `m`, which must be finite and positive.
    pub fn new(multiplier: f64) -> Result<Self, MagnitudeNoiseError> {
        Self::with_range(multiplier, 2.0 * multiplier)
    }

    /// Noise between `min` and `max` times the largest contribution.
    pub fn with_range(min: f64, max: f64) -> Result<Self, MagnitudeNoiseError> {
        if min.is_finite() && min > 0.0 && max.is_finite() && max >= min {
            Ok(Self {
                multiplier: min,
                max,
            })
        } else {
            Err(MagnitudeNoiseError::InvalidMultiplier(min))
        }
    }

    /// The noise for a cell's sum; `salt` (e.g. the variable's id) decorrelates it from the count.
    pub fn noise(&self, cell_key: u32, salt: u32, largest_contribution: f64) -> f64 {
        let key = mix(cell_key, salt);
        let sign = if key >> 31 == 1 { -1.0 } else { 1.0 };
        let fraction = f64::from(key & 0x7FFF_FFFF) / 2_147_483_648.0;
        sign * largest_contribution.abs()
            * (self.multiplier + (self.max - self.multiplier) * fraction)
    }

    /// The perturbed sum: `total + noise`.
    pub fn perturb(&self, total: f64, cell_key: u32, salt: u32, largest_contribution: f64) -> f64 {
        total + self.noise(cell_key, salt, largest_contribution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_distinct_count_is_the_first_row_with_the_full_noise_range() {
        for d in 1..12 {
            for js in 0..d {
                let full = usize::try_from(2 * d + 1).unwrap();
                let first = (1..).find(|&i| allowed_noise(i, d, js).len() == full);
                assert_eq!(first, Some(last_distinct_count(d, js)), "D={d} js={js}");
            }
        }
    }

    #[test]
    fn allowed_noise_skips_negative_and_blocked_targets() {
        assert_eq!(allowed_noise(1, 2, 1), vec![-1, 1, 2]);
        assert_eq!(allowed_noise(3, 2, 1), vec![-1, 0, 1, 2]);
        assert_eq!(allowed_noise(1, 3, 0), vec![-1, 0, 1, 2, 3]);
    }

    #[test]
    fn lookup_switches_noise_exactly_at_each_bound() {
        let bounds = [(-1, 10), (0, 10), (1, 20), (2, KEY_SPACE)];
        assert_eq!(lookup(&bounds, 0), -1);
        assert_eq!(lookup(&bounds, 9), -1);
        assert_eq!(
            lookup(&bounds, 10),
            1,
            "zero-width entries are never picked"
        );
        assert_eq!(lookup(&bounds, 19), 1);
        assert_eq!(lookup(&bounds, 20), 2);
        assert_eq!(lookup(&bounds, u32::MAX), 2);
    }

    #[test]
    fn thresholds_round_cumulative_probabilities_and_end_at_two_to_the_32() {
        let bounds = thresholds(&[(-1, 0.25), (0, 0.5), (1, 0.25)]);
        assert_eq!(bounds, vec![(-1, 1 << 30), (0, 3 << 30), (1, KEY_SPACE)]);
    }

    #[test]
    fn variance_bounds_are_the_nearest_and_the_extreme_pairs() {
        let bounds = VarianceBounds::of(&[-1, 1, 2]).unwrap();
        assert_eq!((bounds.nearest, bounds.extremes), (Some((-1, 1)), (-1, 2)));
        assert_eq!(VarianceBounds::of(&[-1, 0, 3]).unwrap().nearest, None);
        assert!(VarianceBounds::of(&[0, 1, 2]).is_none());
        assert_eq!(pair_variance(-1, 3), 3.0);
        assert_eq!(two_point(-1, 3), vec![(-1, 0.75), (3, 0.25)]);
    }

    /// Inverse of `x ↦ x·a` modulo 2^32 for odd `a`, by Newton's iteration.
    fn mul_inverse(a: u32) -> u32 {
        (0..5).fold(a, |inv, _| {
            inv.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(inv)))
        })
    }

    fn unfmix32(mut h: u32) -> u32 {
        h ^= h >> 16;
        h = h.wrapping_mul(mul_inverse(0xC2B2_AE35));
        h ^= (h >> 13) ^ (h >> 26);
        h = h.wrapping_mul(mul_inverse(0x85EB_CA6B));
        h ^ (h >> 16)
    }

    #[test]
    fn mix_has_an_inverse_for_every_salt() {
        for salt in [0u32, 1, 0xDEAD_BEEF] {
            let mask = fmix32(salt.wrapping_add(0x9E37_79B9));
            for key in (0..=u32::MAX).step_by(4099).chain([u32::MAX]) {
                assert_eq!(unfmix32(mix(key, salt)) ^ mask, key);
            }
        }
    }
}
