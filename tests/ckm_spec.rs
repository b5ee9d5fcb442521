//! The cell-key method's behaviour, through the public API.

mod ckm_support;

use ckm_support::{keys, moments};
use ddc::disclosure::ckm::{
    cell_key, MagnitudeNoise, MagnitudeNoiseError, PTable, PTableError, PTableParams, RowFit,
};

fn params(max_noise: u32, variance: f64, js: u32) -> PTableParams {
    PTableParams {
        max_noise,
        variance,
        js,
    }
}

fn default_table() -> PTable {
    PTable::new(PTableParams::default()).expect("the Destatis example builds")
}

#[test]
fn default_params_are_the_destatis_example() {
    assert_eq!(PTableParams::default(), params(2, 1.05, 1));
    assert_eq!(default_table().params(), &params(2, 1.05, 1));
}

#[test]
fn every_default_row_has_mean_zero_variance_v_and_allowed_targets() {
    let table = default_table();
    assert_eq!(table.imax(), 4);
    for i in 1..=table.imax() {
        let row = table.distribution(i);
        let (sum, mean, second) = moments(&row);
        assert!((sum - 1.0).abs() < 1e-9, "row {i} sums to {sum}");
        assert!(mean.abs() < 1e-6, "row {i} mean {mean}");
        assert!((second - 1.05).abs() < 1e-6, "row {i} variance {second}");
        assert_eq!(table.row_fit(i), RowFit::Exact);
        for (v, p) in row {
            let target = i as i64 + i64::from(v);
            assert!(
                v.abs() <= 2 && target >= 0 && target != 1 && p > 0.0,
                "row {i}: {v}"
            );
        }
    }
}

#[test]
fn count_zero_always_stays_zero() {
    let table = default_table();
    assert_eq!(table.distribution(0), vec![(0, 1.0)]);
    assert!(keys(1, 1000).all(|k| table.perturb(0, k) == 0));
}

#[test]
fn count_one_with_js_one_gets_the_only_mean_zero_row_on_minus_one_one_two() {
    let row = default_table().distribution(1);
    let expected = [(-1, 61.0 / 120.0), (1, 57.0 / 120.0), (2, 1.0 / 60.0)];
    assert_eq!(row.len(), 3);
    for ((v, p), (w, q)) in row.iter().zip(expected) {
        assert_eq!(*v, w);
        assert!((p - q).abs() < 1e-9, "p({v}) = {p}, expected {q}");
    }
}

#[test]
fn counts_above_imax_use_the_imax_row() {
    let table = default_table();
    assert_eq!(table.distribution(4), table.distribution(1_000_000));
    assert_eq!(table.distribution(4), table.distribution(u64::MAX));
    assert_eq!(table.noise(5, 12345), table.noise(4, 12345));
    assert!(table.perturb(u64::MAX, u32::MAX) >= u64::MAX - 2);
}

#[test]
fn thresholds_reproduce_probabilities_within_two_to_the_minus_31() {
    for p in [
        params(2, 1.05, 1),
        params(5, 3.0, 2),
        params(3, 0.5, 1),
        params(1, 0.3, 0),
    ] {
        let table = PTable::new(p).unwrap();
        for i in 0..=table.imax() {
            let mut lower = 0;
            for (&(v, upper), (w, prob)) in table.thresholds(i).iter().zip(table.distribution(i)) {
                assert_eq!(v, w);
                let width = (upper - lower) as f64 / 2f64.powi(32);
                assert!(
                    (width - prob).abs() <= 2f64.powi(-31),
                    "{p:?} row {i} v {v}"
                );
                lower = upper;
            }
            assert_eq!(lower, 1 << 32);
        }
    }
}

#[test]
fn the_same_count_and_key_always_give_the_same_noise() {
    let (a, b) = (default_table(), default_table());
    for key in keys(7, 10_000) {
        for count in [1, 2, 3, 20] {
            assert_eq!(a.noise(count, key), b.noise(count, key));
            assert_eq!(a.perturb(count, key), b.perturb(count, key));
        }
    }
}

#[test]
fn the_same_contributors_in_another_order_get_the_same_noise() {
    let table = default_table();
    let people: Vec<u32> = keys(11, 25).collect();
    let reversed: Vec<u32> = people.iter().rev().copied().collect();
    assert_eq!(
        table.noise(25, cell_key(people)),
        table.noise(25, cell_key(reversed))
    );
}

#[test]
fn empirical_noise_for_count_twenty_has_mean_zero_and_variance_v() {
    let table = default_table();
    let n = 200_000;
    let noise: Vec<f64> = keys(42, n).map(|k| table.noise(20, k) as f64).collect();
    let mean = noise.iter().sum::<f64>() / n as f64;
    let var = noise.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Standard errors are about 0.0023 (mean) and 0.003 (variance); allow ~6 of them.
    assert!(mean.abs() < 0.015, "mean {mean}");
    assert!((var - 1.05).abs() < 0.02, "variance {var}");
}

#[test]
fn variance_below_what_a_blocked_count_allows_is_raised_to_the_nearest_pair() {
    // D=3, js=1: count 1 must move to 0 or to 2 or more, so its variance is at least 1.
    let table = PTable::new(params(3, 0.5, 1)).unwrap();
    assert_eq!(table.row_fit(1), RowFit::VarianceRaised);
    assert_eq!(table.distribution(1), vec![(-1, 0.5), (1, 0.5)]);
    assert_eq!(table.row_fit(2), RowFit::Exact);
}

#[test]
fn variance_above_what_a_small_count_allows_is_lowered_to_the_extremes() {
    // D=3, js=0: count 1 cannot go below 0, so its variance is at most 1 * 3.
    let table = PTable::new(params(3, 4.0, 0)).unwrap();
    assert_eq!(table.row_fit(1), RowFit::VarianceLowered);
    assert_eq!(table.distribution(1), vec![(-1, 0.75), (3, 0.25)]);
    let (sum, mean, second) = moments(&table.distribution(1));
    assert!((sum - 1.0).abs() < 1e-12 && mean.abs() < 1e-12 && (second - 3.0).abs() < 1e-12);
    assert_eq!(table.row_fit(2), RowFit::Exact);
}

#[test]
fn wide_tables_with_lopsided_rows_still_meet_the_moments() {
    for p in [
        params(100, 150.0, 50),
        params(100, 9000.0, 1),
        params(60, 0.01, 0),
    ] {
        let table = PTable::new(p).unwrap();
        for i in 1..=table.imax() {
            let (sum, mean, second) = moments(&table.distribution(i));
            assert!(
                (sum - 1.0).abs() < 1e-9 && mean.abs() < 1e-6,
                "{p:?} row {i}"
            );
            if table.row_fit(i) == RowFit::Exact {
                assert!(
                    (second - p.variance).abs() < 1e-6,
                    "{p:?} row {i}: {second}"
                );
            }
        }
    }
}

#[test]
fn unusable_parameters_are_rejected_with_a_clear_error() {
    let err = |p| PTable::new(p).unwrap_err();
    assert_eq!(err(params(0, 1.0, 0)), PTableError::ZeroMaxNoise);
    assert_eq!(err(params(101, 1.0, 0)), PTableError::ParamTooLarge);
    assert_eq!(err(params(2, 1.0, 101)), PTableError::ParamTooLarge);
    assert_eq!(
        err(params(2, 0.0, 1)),
        PTableError::NonPositiveVariance(0.0)
    );
    assert_eq!(
        err(params(2, -1.0, 1)),
        PTableError::NonPositiveVariance(-1.0)
    );
    assert!(matches!(
        err(params(2, f64::NAN, 1)),
        PTableError::NonPositiveVariance(_)
    ));
    assert!(matches!(
        err(params(2, 4.0, 1)),
        PTableError::VarianceTooLarge { .. }
    ));
    assert_eq!(
        err(params(2, 1.0, 2)),
        PTableError::InfeasibleRow { count: 3 }
    );
    assert_eq!(
        err(params(2, 5.0, 1)).to_string(),
        "variance 5 is too large for max_noise 2: it must be below max_noise²"
    );
    assert_eq!(
        err(params(2, 1.0, 2)).to_string(),
        "no mean-zero noise exists for count 3: with js >= 1, max_noise must exceed js"
    );
}

#[test]
fn cell_key_is_the_wrapping_sum() {
    assert_eq!(cell_key([]), 0);
    assert_eq!(cell_key([u32::MAX, 2]), 1);
    assert_eq!(cell_key(vec![5, 7, 11]), 23);
}

#[test]
fn magnitude_noise_is_between_m_and_2m_times_the_largest_contribution() {
    let m = MagnitudeNoise::default();
    assert_eq!(m.multiplier, 0.10);
    for key in keys(3, 50_000).chain([0, u32::MAX]) {
        let size = m.noise(key, 9, -250.0).abs();
        assert!((25.0..50.0).contains(&size), "key {key}: {size}");
    }
}

#[test]
fn magnitude_noise_sign_is_balanced_and_deterministic() {
    let m = MagnitudeNoise::new(0.15).unwrap();
    let n = 100_000;
    let negative = keys(5, n).filter(|&k| m.noise(k, 77, 10.0) < 0.0).count();
    assert!(
        (negative as f64 / n as f64 - 0.5).abs() < 0.01,
        "{negative} of {n}"
    );
    assert!(keys(6, 1000).all(|k| m.noise(k, 77, 10.0) == m.noise(k, 77, 10.0)));
    assert_eq!(m.perturb(100.0, 1, 2, 10.0), 100.0 + m.noise(1, 2, 10.0));
}

#[test]
fn magnitude_noise_differs_between_variables_of_the_same_cell() {
    let m = MagnitudeNoise::default();
    let differing = keys(9, 1000)
        .filter(|&k| m.noise(k, 1, 1.0) != m.noise(k, 2, 1.0))
        .count();
    assert_eq!(differing, 1000);
}

#[test]
fn magnitude_sign_is_uncorrelated_with_count_noise() {
    let (table, m) = (default_table(), MagnitudeNoise::default());
    let n = 200_000;
    let sum: f64 = keys(8, n)
        .map(|k| table.noise(20, k) as f64 * m.noise(k, 1, 1.0).signum())
        .sum();
    // Standard error of the mean product is about sqrt(1.05 / n) = 0.0023.
    assert!(
        (sum / n as f64).abs() < 0.015,
        "E[count noise * sign] = {}",
        sum / n as f64
    );
}

#[test]
fn invalid_multipliers_are_rejected() {
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            MagnitudeNoise::new(bad),
            Err(MagnitudeNoiseError::InvalidMultiplier(_))
        ));
    }
}
