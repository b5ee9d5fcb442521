//! Maximum-entropy noise distributions: the probabilities on a row's allowed noise values with
//! mean 0 and a given variance, as `p(v) ∝ exp(λ1·v + λ2·v²)`.
//!
//! Not here: which values are allowed, rows whose variance lies outside what the values permit
//! (the caller handles both), and turning probabilities into thresholds.

/// Root finding stops when the moment error (in units of `D` or `D²`) is below this.
const ROOT_TOL: f64 = 1e-14;
/// Largest moment error (in units of `D` or `D²`) accepted when rounding stops root finding.
const ACCEPT_TOL: f64 = 1e-11;
/// Steps per one-dimensional root search; bisection alone gets from 1e4 to 1e-12 in ~55.
const ROOT_MAX_ITER: usize = 200;

/// Probabilities `∝ exp(λ1·t + λ2·t²)` (t = v / D) with mean 0 and variance `V`.
///
/// The two multipliers are found by nested one-dimensional damped Newton: for fixed `λ2` the
/// mean increases strictly with `λ1` (slope Var t), and along the mean-zero curve the variance
/// increases strictly with `λ2` (slope Var t² − Cov(t, t²)²/Var t), so each root is unique and
/// a bracket keeps every step from overshooting. (A plain damped 2-D Newton on the dual jumped
/// into degenerate point masses and stalled on lopsided rows: small counts with a large `js`,
/// with one allowed value below 0 and many far above it.)
pub(super) fn max_entropy(support: &[i32], scale: f64, variance: f64) -> Option<Vec<f64>> {
    let t: Vec<f64> = support.iter().map(|&v| f64::from(v) / scale).collect();
    let target = variance / (scale * scale);
    let mut lambda1 = 0.0;
    let mean_zero_lambda1 = |lambda2: f64, start: f64| {
        increasing_root(|l1| Moments::at(&t, [l1, lambda2]).mean_and_slope(), start)
    };
    let lambda2 = increasing_root(
        |l2| {
            lambda1 = mean_zero_lambda1(l2, lambda1);
            Moments::at(&t, [lambda1, l2]).variance_and_slope(target)
        },
        0.0,
    );
    let m = Moments::at(&t, [mean_zero_lambda1(lambda2, lambda1), lambda2]);
    let error = m.mean.abs().max((m.second - target).abs());
    (error < ACCEPT_TOL).then_some(m.probs)
}

/// The root of an increasing function given as `x ↦ (value, slope)`: Newton steps (at most
/// `1 + |x|` long) while they stay inside the bracket and halve the value, else bisection, or
/// doubling outwards while one side of the bracket is still open.
fn increasing_root(mut f: impl FnMut(f64) -> (f64, f64), start: f64) -> f64 {
    let (mut lo, mut hi, mut x) = (f64::NEG_INFINITY, f64::INFINITY, start);
    let mut last = f64::INFINITY;
    for _ in 0..ROOT_MAX_ITER {
        let (value, slope) = f(x);
        if value.abs() < ROOT_TOL {
            break;
        }
        if value < 0.0 {
            lo = x
        } else {
            hi = x
        }
        // No longer than a doubling step: a vanishing slope must not throw x to 1e69.
        let reach = 1.0 + x.abs();
        let newton = x - (value / slope).clamp(-reach, reach); // NaN if the slope is 0: rejected.
        let next = if newton > lo && newton < hi && value.abs() < 0.5 * last {
            newton
        } else if hi == f64::INFINITY {
            lo + 1.0 + lo.abs()
        } else if lo == f64::NEG_INFINITY {
            hi - 1.0 - hi.abs()
        } else {
            0.5 * (lo + hi)
        };
        if next <= lo || next >= hi {
            break; // The bracket has shrunk to neighbouring floats.
        }
        (x, last) = (next, value.abs());
    }
    x
}

/// The exponential-family distribution at `λ` and the moments the root searches need.
struct Moments {
    probs: Vec<f64>,
    mean: f64,
    second: f64,
    /// Covariances of `(t, t²)`: `[Var t, Cov(t, t²), Var t²]`.
    cov: [f64; 3],
}

impl Moments {
    fn at(t: &[f64], lambda: [f64; 2]) -> Self {
        let exponents: Vec<f64> = t
            .iter()
            .map(|&x| lambda[0] * x + lambda[1] * x * x)
            .collect();
        // Subtracting the largest exponent keeps every weight in (0, 1]: no overflow.
        let top = exponents.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = exponents.iter().map(|e| (e - top).exp()).collect();
        let total: f64 = weights.iter().sum();
        let probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let expect = |f: &dyn Fn(f64) -> f64| t.iter().zip(&probs).map(|(&x, p)| p * f(x)).sum();
        let mean: f64 = expect(&|x| x);
        let second: f64 = expect(&|x| x * x);
        let cov = [
            expect(&|x| (x - mean).powi(2)),
            expect(&|x| (x - mean) * (x * x - second)),
            expect(&|x| (x * x - second).powi(2)),
        ];
        Self {
            probs,
            mean,
            second,
            cov,
        }
    }

    /// The mean and its derivative in `λ1`.
    fn mean_and_slope(&self) -> (f64, f64) {
        (self.mean, self.cov[0])
    }

    /// The variance error and its derivative in `λ2` along the mean-zero curve.
    fn variance_and_slope(&self, target: f64) -> (f64, f64) {
        let [a, b, c] = self.cov;
        (self.second - target, c - b * b / a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_entropy_on_minus_one_zero_one_puts_half_the_variance_on_each_side() {
        let probs = max_entropy(&[-1, 0, 1], 1.0, 0.5).unwrap();
        for (p, q) in probs.iter().zip([0.25, 0.5, 0.25]) {
            assert!((p - q).abs() < 1e-12, "{probs:?}");
        }
    }

    #[test]
    fn max_entropy_reaches_lopsided_rows() {
        // Count 2 with D = 100, js = 50: one value below 0, fifty-one far above it.
        let support: Vec<i32> = std::iter::once(-2).chain(49..=100).collect();
        let probs = max_entropy(&support, 100.0, 150.0).unwrap();
        let mean: f64 = support
            .iter()
            .zip(&probs)
            .map(|(&v, p)| f64::from(v) * p)
            .sum();
        let var: f64 = support
            .iter()
            .zip(&probs)
            .map(|(&v, p)| f64::from(v).powi(2) * p)
            .sum();
        assert!(
            mean.abs() < 1e-8 && (var - 150.0).abs() < 1e-6,
            "{mean} {var}"
        );
    }

    #[test]
    fn increasing_root_survives_vanishing_slopes() {
        let root = increasing_root(
            |x| ((x - 300.0).tanh(), 1.0 - (x - 300.0).tanh().powi(2)),
            0.0,
        );
        assert!((root - 300.0).abs() < 1e-9, "{root}");
        let cube = increasing_root(|x| (x.powi(3) - 8.0, 3.0 * x * x), 0.0);
        assert!((cube - 2.0).abs() < 1e-12, "{cube}");
    }
}
