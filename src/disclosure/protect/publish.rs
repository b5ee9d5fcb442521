//! Publishing a protected table: what each cell shows once its pattern is
//! final. Counts are perturbed by the cell key and rounded; sums get the
//! policy's magnitude noise (per unit, or per cell); a mean is the
//! perturbed sum over the released count. Structural zeros show zero.

use super::{PublishedCell, TableContext, TableKind};
use crate::disclosure::ckm::{MagnitudeNoise, PTable};
use crate::disclosure::{CellStatus, DisclosurePolicy, MagnitudeNoiseKind};
use crate::tabulate::{MagnitudeStats, TableStats};

/// The released value of each cell: counts perturbed by the cell key and
/// rounded where `counts` releases them; sums and means perturbed where
/// `values` releases them (for a count table the two are the same).
pub(super) fn publish(
    stats: &TableStats,
    counts: &[CellStatus],
    values: &[CellStatus],
    policy: &DisclosurePolicy,
    ctx: &TableContext,
    ptable: Option<&PTable>,
) -> Vec<PublishedCell> {
    (0..stats.cube.len())
        .map(|i| {
            let status = values[i];
            if status == CellStatus::StructuralZero {
                // Known to be empty by definition: no noise, nothing to hide.
                return PublishedCell {
                    status,
                    count: Some(0),
                    value: (ctx.kind == TableKind::Sum).then_some(0.0),
                };
            }
            let count = (!counts[i].is_withheld()).then(|| {
                let true_count = stats.cube.count(i);
                let count = ptable.map_or(true_count, |t| t.perturb(true_count, stats.keys[i]));
                round_to(count, policy.table_rounding)
            });
            let value = match (&stats.magnitude, status.is_withheld()) {
                (Some(m), false) if ctx.kind != TableKind::Count => {
                    let sum = m.sums[i] as f64 + magnitude_noise(m, i, stats.keys[i], policy, ctx);
                    match ctx.kind {
                        TableKind::Mean => Some(sum / count.unwrap_or(1).max(1) as f64),
                        _ => Some(sum),
                    }
                }
                _ => None,
            };
            PublishedCell {
                status,
                count,
                value,
            }
        })
        .collect()
}

/// The noise of cell `i`'s sum under the policy's perturbation.
fn magnitude_noise(
    m: &MagnitudeStats,
    i: usize,
    key: u32,
    policy: &DisclosurePolicy,
    ctx: &TableContext,
) -> f64 {
    let Some(p) = policy.perturbation else {
        return 0.0;
    };
    let (lo, spread) = (p.magnitude_min, p.magnitude_max - p.magnitude_min);
    match p.magnitude_kind {
        MagnitudeNoiseKind::PerUnit => lo * m.signed[i] as f64 + spread * m.fractional(i),
        MagnitudeNoiseKind::PerCell => MagnitudeNoise::with_range(lo, p.magnitude_max)
            .map_or(0.0, |n| n.noise(key, ctx.salt, m.top[i][0] as f64)),
    }
}

fn round_to(count: u64, base: u64) -> u64 {
    if base <= 1 {
        count
    } else {
        (count + base / 2) / base * base
    }
}
