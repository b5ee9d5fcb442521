//! Helpers shared by the integration tests.
// Each test crate includes this module and uses only some of it.
#![allow(dead_code)]

/// Deterministic pseudo-random 32-bit keys (splitmix64), so tests need no `rand`.
pub fn keys(seed: u64, n: usize) -> impl Iterator<Item = u32> {
    let mut state = seed;
    (0..n).map(move |_| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 32) as u32
    })
}

/// (sum of probabilities, mean, second moment) of a row.
pub fn moments(row: &[(i32, f64)]) -> (f64, f64, f64) {
    let sum = row.iter().map(|(_, p)| p).sum();
    let mean = row.iter().map(|(v, p)| f64::from(*v) * p).sum();
    let second = row.iter().map(|(v, p)| f64::from(*v).powi(2) * p).sum();
    (sum, mean, second)
}
