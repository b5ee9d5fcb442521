//! Count tables as the engine's tabulation produces them.

use ddc::tabulate::{CountCube, TableStats};

/// A count table with all margins from its interior counts (row-major,
/// last dimension fastest), with zero cell keys.
pub fn count_stats(sizes: &[usize], interior: &[u64]) -> TableStats {
    let mut cube = CountCube::zeros(sizes.to_vec());
    let mut values = interior.iter();
    for i in 0..cube.len() {
        if cube.is_interior(i) {
            let n = *values.next().expect("one count per interior cell");
            for c in cube.covering(i) {
                cube.add(c, n);
            }
        }
    }
    TableStats::of_counts(cube)
}
