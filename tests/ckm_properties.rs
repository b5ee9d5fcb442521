//! Properties of the cell-key method that must hold for every input.

mod ckm_support;

use ckm_support::moments;
use ddc::disclosure::ckm::{
    cell_key, mix, MagnitudeNoise, PTable, PTableError, PTableParams, RowFit,
};
use proptest::prelude::*;

/// Parameters that can work: `1 <= D <= 8`, `js < D`, `0 < V < D²`.
fn workable_params() -> impl Strategy<Value = PTableParams> {
    (1u32..=8)
        .prop_flat_map(|d| (Just(d), 0..d, 0.001f64..0.999))
        .prop_map(|(max_noise, js, fraction)| PTableParams {
            max_noise,
            variance: fraction * f64::from(max_noise).powi(2),
            js,
        })
}

proptest! {
    #[test]
    fn cell_key_does_not_depend_on_order(
        (keys, shuffled) in prop::collection::vec(any::<u32>(), 0..64)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        prop_assert_eq!(cell_key(keys), cell_key(shuffled));
    }

    #[test]
    fn cell_key_of_a_union_is_the_wrapping_sum_of_the_parts(
        a in prop::collection::vec(any::<u32>(), 0..32),
        b in prop::collection::vec(any::<u32>(), 0..32),
    ) {
        let whole = cell_key(a.iter().chain(&b).copied());
        prop_assert_eq!(whole, cell_key(a).wrapping_add(cell_key(b)));
    }

    #[test]
    fn every_row_has_mean_zero_and_variance_v_or_the_closest_feasible(params in workable_params()) {
        let table = PTable::new(params).unwrap();
        let d = i64::from(params.max_noise);
        prop_assert_eq!(table.distribution(0), vec![(0, 1.0)]);
        prop_assert_eq!(table.row_fit(table.imax()), RowFit::Exact);
        for i in 1..=table.imax() {
            let row = table.distribution(i);
            let (sum, mean, second) = moments(&row);
            prop_assert!((sum - 1.0).abs() < 1e-9, "row {} sums to {}", i, sum);
            prop_assert!(mean.abs() < 1e-6, "row {} mean {}", i, mean);
            match table.row_fit(i) {
                RowFit::Exact => prop_assert!((second - params.variance).abs() < 1e-6),
                RowFit::VarianceRaised => prop_assert!(second > params.variance),
                RowFit::VarianceLowered => prop_assert!(second < params.variance),
            }
            for (v, p) in row {
                let target = i as i64 + i64::from(v);
                prop_assert!(i64::from(v).abs() <= d && target >= 0 && p >= 0.0);
                prop_assert!(!(1..=i64::from(params.js)).contains(&target));
            }
        }
    }

    #[test]
    fn thresholds_reproduce_the_probabilities(params in workable_params()) {
        let table = PTable::new(params).unwrap();
        for i in 0..=table.imax() {
            let mut lower = 0u64;
            for (&(v, upper), (w, p)) in table.thresholds(i).iter().zip(table.distribution(i)) {
                prop_assert_eq!(v, w);
                prop_assert!(upper >= lower);
                let width = (upper - lower) as f64 / 2f64.powi(32);
                prop_assert!((width - p).abs() <= 2f64.powi(-31));
                lower = upper;
            }
            prop_assert_eq!(lower, 1u64 << 32);
        }
    }

    #[test]
    fn perturbed_counts_stay_non_negative_outside_one_to_js_and_within_d(
        params in workable_params(),
        count in 0u64..10_000,
        key in any::<u32>(),
    ) {
        let table = PTable::new(params).unwrap();
        let noise = table.noise(count, key);
        let released = table.perturb(count, key);
        prop_assert_eq!(released as i64, count as i64 + noise);
        prop_assert!(noise.abs() <= i64::from(params.max_noise));
        prop_assert!(!(1..=u64::from(params.js)).contains(&released));
        prop_assert_eq!(noise, table.noise(count, key));
    }

    #[test]
    fn js_not_below_max_noise_is_rejected(d in 1u32..=8, extra in 0u32..4, fraction in 0.01f64..0.99) {
        let params = PTableParams { max_noise: d, variance: fraction * f64::from(d * d), js: d + extra };
        let is_infeasible = matches!(PTable::new(params), Err(PTableError::InfeasibleRow { .. }));
        prop_assert!(is_infeasible);
    }

    #[test]
    fn variance_of_at_least_d_squared_is_rejected(d in 1u32..=8, js in 0u32..8, extra in 0.0f64..10.0) {
        let params = PTableParams { max_noise: d, variance: f64::from(d * d) + extra, js };
        let is_variance_too_large = matches!(
            PTable::new(params),
            Err(PTableError::VarianceTooLarge { .. })
        );
        prop_assert!(is_variance_too_large);
    }

    #[test]
    fn mix_never_maps_two_keys_to_one(a in any::<u32>(), b in any::<u32>(), salt in any::<u32>()) {
        prop_assume!(a != b);
        prop_assert_ne!(mix(a, salt), mix(b, salt));
    }

    #[test]
    fn magnitude_noise_is_at_least_m_and_below_2m_times_the_largest_contribution(
        key in any::<u32>(),
        salt in any::<u32>(),
        largest in prop_oneof![-1e12f64..-1e-3, 1e-3f64..1e12],
        multiplier in 0.01f64..0.5,
    ) {
        let magnitude = MagnitudeNoise::new(multiplier).unwrap();
        let size = magnitude.noise(key, salt, largest).abs();
        let unit = multiplier * largest.abs();
        prop_assert!(size >= unit && size < 2.0 * unit, "{} not in [{}, {})", size, unit, 2.0 * unit);
        prop_assert_eq!(size, magnitude.noise(key, salt, largest).abs());
    }
}
