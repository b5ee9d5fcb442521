//! From a table's statistics to what may leave the service: margins
//! checked, primary rules, secondary suppression proven by the attacker's
//! linear programs, then cell-key perturbation and rounding of what is
//! released. A table that fails any step is not released.

use super::audit::{audit, cube_equations, suppress_secondary, CellFacts, Equation, Protection};
use super::ckm::{MagnitudeNoise, PTable};
use super::primary::{judge_counts, judge_magnitudes, GroupRule, Judgement, Sign};
use super::{check_margins, CellStatus, DisclosureError, DisclosurePolicy};
use crate::tabulate::TableStats;

/// Most unsafe cells a table may have before secondary suppression: the
/// attacker audit solves two linear programs per unsafe cell.
pub const MAX_UNSAFE_CELLS: usize = 500;

/// What a table releases in each cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Distinct persons.
    Count,
    /// Sum of a numeric variable.
    Sum,
    /// Mean of a numeric variable (perturbed sum over perturbed count).
    Mean,
}

/// Facts about the table that the rules depend on.
#[derive(Clone, Copy, Debug)]
pub struct TableContext {
    /// What is released.
    pub kind: TableKind,
    /// Organisations whose data the table combines.
    pub holders: usize,
    /// Whether the summed variable has negative values.
    pub negative_values: bool,
    /// Decorrelates a variable's magnitude noise from its count noise.
    pub salt: u32,
}

/// One cell as released: a value only when the status is `Released`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishedCell {
    /// Released, or why withheld.
    pub status: CellStatus,
    /// The (perturbed, rounded) count, for a count table.
    pub count: Option<u64>,
    /// The (perturbed) sum or mean, in stored units, for a magnitude table.
    pub value: Option<f64>,
}

/// The protected table, with the summary of what was withheld.
#[derive(Clone, Debug)]
pub struct Protected {
    /// Every cell, in the cube's order.
    pub cells: Vec<PublishedCell>,
}

/// Applies the whole policy to a table. `ptable` is the perturbation table
/// built from the policy (`None` when perturbation is off).
pub fn protect_table(
    stats: &TableStats,
    policy: &DisclosurePolicy,
    ctx: &TableContext,
    ptable: Option<&PTable>,
) -> Result<Protected, DisclosureError> {
    check_margins(&stats.cube)?;
    let group_rule = if policy.group_rule_applies(ctx.holders) {
        GroupRule::On
    } else {
        GroupRule::Off
    };
    let (judgements, values) = match (&stats.magnitude, ctx.kind) {
        (Some(m), TableKind::Sum | TableKind::Mean) => {
            check_sum_margins(stats)?;
            let sign = if ctx.negative_values {
                Sign::Any
            } else {
                Sign::NonNegative
            };
            let values: Vec<f64> = m.sums.iter().map(|&s| s as f64).collect();
            (judge_magnitudes(m, policy, sign, group_rule), values)
        }
        _ => {
            let values: Vec<f64> = (0..stats.cube.len())
                .map(|i| stats.cube.count(i) as f64)
                .collect();
            (judge_counts(&stats.cube, policy, group_rule), values)
        }
    };
    let statuses = suppress(stats, &judgements, &values)?;
    Ok(Protected {
        cells: publish(stats, &statuses, policy, ctx, ptable),
    })
}

/// Adds secondary suppressions until the attacker audit passes, and checks
/// it once more as the release gate.
fn suppress(
    stats: &TableStats,
    judgements: &[Judgement],
    values: &[f64],
) -> Result<Vec<CellStatus>, DisclosureError> {
    let mut statuses: Vec<CellStatus> = judgements.iter().map(|j| j.status).collect();
    let mut withheld: Vec<bool> = statuses
        .iter()
        .map(|s| *s != CellStatus::Released)
        .collect();
    let unsafe_cells = withheld.iter().filter(|&&w| w).count();
    if unsafe_cells == 0 {
        return Ok(statuses);
    }
    if unsafe_cells > MAX_UNSAFE_CELLS {
        return Err(DisclosureError::TooManyUnsafeCells {
            cells: unsafe_cells,
            limit: MAX_UNSAFE_CELLS,
        });
    }
    let equations = cube_equations(stats.cube.sizes());
    let facts: Vec<CellFacts> = judgements
        .iter()
        .zip(values)
        .map(|(j, &value)| CellFacts {
            value,
            lower: j.lower,
            upper: j.upper,
        })
        .collect();
    let protections: Vec<Protection> = judgements
        .iter()
        .enumerate()
        .filter_map(|(cell, j)| {
            j.protection
                .map(|(lower, upper)| Protection { cell, lower, upper })
        })
        .collect();
    // Prefer withholding small cells; a released zero (zeros not disclosive)
    // is a poor choice, since its status would tell it apart.
    let cost: Vec<f64> = values
        .iter()
        .map(|v| if *v == 0.0 { 1e12 } else { v.abs() + 1.0 })
        .collect();
    for cell in suppress_secondary(&equations, &facts, &mut withheld, &protections, &cost)? {
        statuses[cell] = CellStatus::WithheldSecondary;
    }
    // The release gate: the whole attacker audit once more, on the final
    // pattern, independent of how the pattern was found.
    if let Some(cell) = first_failure(&equations, &facts, &withheld, &protections)? {
        return Err(DisclosureError::Unprotected { cell });
    }
    Ok(statuses)
}

/// The first protection the final pattern fails, auditing on every core.
fn first_failure(
    equations: &[Equation],
    facts: &[CellFacts],
    withheld: &[bool],
    protections: &[Protection],
) -> Result<Option<usize>, DisclosureError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = protections.len().div_ceil(threads).max(1);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = protections
            .chunks(chunk)
            .map(|part| scope.spawn(move || audit(equations, facts, withheld, part)))
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut first = None;
    for result in results {
        // A panicking audit thread is a bug; refuse the release.
        let failures = result.map_err(|_| DisclosureError::AuditPanicked)??;
        if let Some((p, _)) = failures.first() {
            first = Some(first.map_or(p.cell, |c: usize| c.min(p.cell)));
        }
    }
    Ok(first)
}

fn check_sum_margins(stats: &TableStats) -> Result<(), DisclosureError> {
    let Some(m) = &stats.magnitude else {
        return Ok(());
    };
    let cube = &stats.cube;
    let mut sums = vec![0i128; cube.len()];
    for i in (0..cube.len()).filter(|&i| cube.is_interior(i)) {
        for c in cube.covering(i) {
            sums[c] += m.sums[i];
        }
    }
    match (0..cube.len()).find(|&i| sums[i] != m.sums[i]) {
        Some(index) => Err(DisclosureError::SumMismatch { index }),
        None => Ok(()),
    }
}

/// The released value of each cell: perturbed by the cell key, rounded.
fn publish(
    stats: &TableStats,
    statuses: &[CellStatus],
    policy: &DisclosurePolicy,
    ctx: &TableContext,
    ptable: Option<&PTable>,
) -> Vec<PublishedCell> {
    let magnitude_noise = policy
        .perturbation
        .and_then(|p| MagnitudeNoise::new(p.magnitude_multiplier).ok());
    (0..stats.cube.len())
        .map(|i| {
            let status = statuses[i];
            if status != CellStatus::Released {
                return PublishedCell {
                    status,
                    count: None,
                    value: None,
                };
            }
            let key = stats.keys[i];
            let true_count = stats.cube.count(i);
            let count = ptable.map_or(true_count, |t| t.perturb(true_count, key));
            let count = round_to(count, policy.table_rounding);
            let value = stats.magnitude.as_ref().map(|m| {
                let largest = m.top[i][0] as f64;
                let noise = magnitude_noise.map_or(0.0, |n| n.noise(key, ctx.salt, largest));
                m.sums[i] as f64 + noise
            });
            match ctx.kind {
                TableKind::Count => PublishedCell {
                    status,
                    count: Some(count),
                    value: None,
                },
                TableKind::Sum => PublishedCell {
                    status,
                    count: None,
                    value,
                },
                TableKind::Mean => PublishedCell {
                    status,
                    count: None,
                    value: value.map(|v| v / count.max(1) as f64),
                },
            }
        })
        .collect()
}

fn round_to(count: u64, base: u64) -> u64 {
    if base <= 1 {
        count
    } else {
        (count + base / 2) / base * base
    }
}

#[cfg(test)]
mod tests {
    use super::super::audit::{attacker_interval, cube_equations, CellFacts};

    #[test]
    fn a_lone_withheld_cell_in_a_one_way_table_is_pinned() {
        // a = 9 withheld, b = 30, c = 40, total 79 released.
        let equations = cube_equations(&[3]);
        let facts = [9.0, 30.0, 40.0, 79.0].map(|value| CellFacts {
            value,
            lower: 0.0,
            upper: f64::INFINITY,
        });
        let withheld = [true, false, false, false];
        let i = attacker_interval(&equations, &facts, &withheld, 0).unwrap();
        assert_eq!((i.lo, i.hi), (9.0, 9.0), "{equations:?}");
    }
}
