//! An attacker check written independently of the engine, for cross-checking.
//!
//! Every cell is a variable of one interior-point problem (clarabel): each
//! equation is an equality row, each released cell is fixed by an equality
//! row at its value, and each withheld cell gets its finite a-priori bounds as
//! inequality rows. Nothing is reduced to components and no value is moved
//! to a right-hand side by hand, unlike the engine's simplex formulation;
//! only equations among released cells are left out, as the fixing rows
//! already imply them.
//! Interior-point answers are accurate to about 1e-6 relative: compare them
//! with a tolerance such as 1e-5 relative.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

/// The attacker's `(min, max)` for `cell`; `equations` are `(total, parts)`.
///
/// Unbounded directions are returned as infinities. Panics when the problem is
/// infeasible or the solver does not converge: in a test, both are failures.
pub fn attacker_interval_independent(
    equations: &[(usize, Vec<usize>)],
    values: &[f64],
    lower: &[f64],
    upper: &[f64],
    withheld: &[bool],
    cell: usize,
) -> (f64, f64) {
    let system = System::new(equations, values, lower, upper, withheld);
    let lo = system.minimise(cell, 1.0);
    let hi = -system.minimise(cell, -1.0);
    (lo, hi)
}

/// `A x + s = b` with `s` in (zero cone)^equalities × (nonnegative cone)^inequalities.
struct System {
    cells: usize,
    rows: Vec<Vec<(usize, f64)>>,
    b: Vec<f64>,
    equalities: usize,
}

impl System {
    fn new(
        equations: &[(usize, Vec<usize>)],
        values: &[f64],
        lower: &[f64],
        upper: &[f64],
        withheld: &[bool],
    ) -> Self {
        let n = values.len();
        assert!(lower.len() == n && upper.len() == n && withheld.len() == n);
        let mut rows = Vec::new();
        let mut b = Vec::new();
        for (total, parts) in equations {
            // Rows among fixed cells only are implied by the fixing rows; the
            // redundancy would only slow the interior-point method down.
            if !withheld[*total] && parts.iter().all(|&p| !withheld[p]) {
                continue;
            }
            let mut row = vec![(*total, 1.0)];
            row.extend(parts.iter().map(|&p| (p, -1.0)));
            rows.push(row);
            b.push(0.0);
        }
        for i in (0..n).filter(|&i| !withheld[i]) {
            rows.push(vec![(i, 1.0)]);
            b.push(values[i]);
        }
        let equalities = rows.len();
        for i in (0..n).filter(|&i| withheld[i]) {
            if lower[i].is_finite() {
                rows.push(vec![(i, -1.0)]);
                b.push(-lower[i]);
            }
            if upper[i].is_finite() {
                rows.push(vec![(i, 1.0)]);
                b.push(upper[i]);
            }
        }
        System {
            cells: n,
            rows,
            b,
            equalities,
        }
    }

    /// `min sign * x[cell]`, or -inf when unbounded below.
    fn minimise(&self, cell: usize, sign: f64) -> f64 {
        let (mut is, mut js, mut vs) = (Vec::new(), Vec::new(), Vec::new());
        for (r, row) in self.rows.iter().enumerate() {
            for &(j, v) in row {
                is.push(r);
                js.push(j);
                vs.push(v);
            }
        }
        let a = CscMatrix::new_from_triplets(self.rows.len(), self.cells, is, js, vs);
        let p = CscMatrix::<f64>::zeros((self.cells, self.cells));
        let mut q = vec![0.0; self.cells];
        q[cell] = sign;
        let inequalities = self.rows.len() - self.equalities;
        let cones: Vec<SupportedConeT<f64>> = [
            (self.equalities > 0).then_some(SupportedConeT::ZeroConeT(self.equalities)),
            (inequalities > 0).then_some(SupportedConeT::NonnegativeConeT(inequalities)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let settings = DefaultSettingsBuilder::default()
            .verbose(false)
            .build()
            .expect("default clarabel settings are valid");
        let mut solver = DefaultSolver::new(&p, &q, &a, &self.b, &cones, settings)
            .expect("problem dimensions are consistent");
        solver.solve();
        match solver.solution.status {
            SolverStatus::Solved | SolverStatus::AlmostSolved => sign * solver.solution.x[cell],
            SolverStatus::DualInfeasible | SolverStatus::AlmostDualInfeasible => f64::NEG_INFINITY,
            status => panic!("independent attacker problem for cell {cell}: {status:?}"),
        }
    }
}
