//! The disclosure policy: every rule's parameters, with ACRO's published
//! defaults (threshold 10, (2, 90%)-dominance, p% = 10) so that results can
//! be compared with the SACRO project's output checker.

use serde::Serialize;

/// When the group-disclosure rule (zeros and 100% cells) applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupDisclosure {
    /// For tables that combine more than one organisation's data: staff of
    /// each holder know one side of every link.
    MultipleHolders,
    /// For every count table.
    Always,
    /// Never.
    Never,
}

/// Whose random key draws the noise of a sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MagnitudeNoiseKind {
    /// Each unit's value is multiplied by 1 ± f, f in
    /// `[magnitude_min, magnitude_max]`, drawn once per unit and variable
    /// from the unit's own key: the same in every cell, so no number of
    /// tables averages it away, and additive, so margins are the sums of
    /// their cells.
    PerUnit,
    /// The cell's sum gets ± f times its largest contribution, f drawn from
    /// the cell key: fresh for every distinct set of persons, so averaging
    /// many unions recovers the sum. Kept to show what `PerUnit` defends
    /// against; not for production.
    PerCell,
}

/// The cell-key perturbation applied to released values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Perturbation {
    /// Largest noise added to a count (D).
    pub max_noise: u32,
    /// Variance of the count noise (V).
    pub variance: f64,
    /// No perturbed count lies in 1..=js.
    pub js: u32,
    /// How sums are perturbed.
    pub magnitude_kind: MagnitudeNoiseKind,
    /// Smallest relative magnitude noise (at least p%).
    pub magnitude_min: f64,
    /// Largest relative magnitude noise.
    pub magnitude_max: f64,
}

impl Default for Perturbation {
    fn default() -> Self {
        // Destatis' example count parameters. Magnitudes: every unit's value
        // is off by 15 to 25%, which exceeds the default p% = 10 by five
        // points, the room an attacker who estimates the rest of a cell
        // within 5% of its largest contribution would need.
        Perturbation {
            max_noise: 2,
            variance: 1.05,
            js: 1,
            magnitude_kind: MagnitudeNoiseKind::PerUnit,
            magnitude_min: 0.15,
            magnitude_max: 0.25,
        }
    }
}

/// The rules applied to every released figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DisclosurePolicy {
    /// Cells with fewer distinct units than this are withheld.
    pub threshold: u64,
    /// Whether a zero count is withheld (ACRO: yes).
    pub zeros_disclosive: bool,
    /// When zeros and cells holding 100% of a row or column are withheld.
    pub group_disclosure: GroupDisclosure,
    /// n of the (n,k)-dominance rule (1 to 4).
    pub dominance_n: usize,
    /// k of the (n,k)-dominance rule, in percent.
    pub dominance_k: f64,
    /// p of the p% rule, in percent.
    pub p_percent: f64,
    /// A numeric variable with at most this many distinct values is also
    /// checked as counts of each value (a mean of a 0/1 variable is a count).
    pub few_values: usize,
    /// Required protection, in persons, of a cell withheld for a count rule:
    /// the attacker's interval must reach this far on each side (within
    /// what the cell's status already reveals).
    pub count_protection: u64,
    /// Cell-key perturbation of released values; `None` turns it off.
    pub perturbation: Option<Perturbation>,
    /// Released table counts are rounded to a multiple of this (1: off).
    pub table_rounding: u64,
    /// Linkage figures are rounded to a multiple of this.
    pub rounding_base: u64,
    /// Refuse a table whose population differs from an earlier release's
    /// over the same datasets by 1 to threshold − 1 persons.
    pub release_ledger: bool,
}

impl Default for DisclosurePolicy {
    fn default() -> Self {
        DisclosurePolicy {
            threshold: 10,
            zeros_disclosive: true,
            group_disclosure: GroupDisclosure::MultipleHolders,
            dominance_n: 2,
            dominance_k: 90.0,
            p_percent: 10.0,
            few_values: 10,
            count_protection: 3,
            perturbation: Some(Perturbation::default()),
            table_rounding: 1,
            rounding_base: 5,
            release_ledger: true,
        }
    }
}

/// Largest threshold: the release ledger's screen counts persons modulo 256
/// and reads differences below 128 exactly.
pub const MAX_THRESHOLD: u64 = 100;

/// A policy parameter out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("disclosure policy: {0}")]
pub struct PolicyError(pub String);

impl DisclosurePolicy {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |m: &str| Err(PolicyError(m.to_owned()));
        if self.threshold < 1 {
            return fail("threshold must be at least 1");
        }
        if !(1..=crate::tabulate::TOP_CONTRIBUTIONS).contains(&self.dominance_n) {
            return fail("dominance n must be 1 to 4");
        }
        if !(self.dominance_k > 0.0 && self.dominance_k <= 100.0) {
            return fail("dominance k must be in (0, 100]");
        }
        if !(self.p_percent >= 0.0 && self.p_percent <= 100.0) {
            return fail("p must be in [0, 100]");
        }
        if self.table_rounding < 1 || self.rounding_base < 1 {
            return fail("rounding bases must be at least 1");
        }
        if self.threshold > MAX_THRESHOLD {
            return fail("threshold must be at most 100");
        }
        if let Some(p) = &self.perturbation {
            if !(p.magnitude_min >= 0.0
                && p.magnitude_min <= p.magnitude_max
                && p.magnitude_max < 1.0)
            {
                return fail("magnitude noise must satisfy 0 <= min <= max < 1");
            }
        }
        Ok(())
    }

    /// Whether the group rule applies to a table over `holders` organisations.
    pub fn group_rule_applies(&self, holders: usize) -> bool {
        match self.group_disclosure {
            GroupDisclosure::Always => true,
            GroupDisclosure::MultipleHolders => holders > 1,
            GroupDisclosure::Never => false,
        }
    }
}
