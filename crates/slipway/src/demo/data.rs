//! The bundled example's data: a deterministic synthetic credit-risk table, so the demo needs no
//! download. The same seed always gives the same bytes.

use std::fmt::Write;

/// The columns written, in order; `default` is the label.
pub const COLUMNS: [&str; 10] = [
    "applicant_id",
    "age",
    "income",
    "debt_ratio",
    "credit_lines",
    "delinquencies",
    "employment_years",
    "loan_amount",
    "region",
    "default",
];

const REGIONS: [&str; 4] = ["north", "south", "east", "west"];

/// A small, fast, deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Generates `rows` applications as CSV. `shift` moves the population (0.0 = training
/// population; 1.0 = a visibly drifted one: younger, poorer, more indebted).
pub fn credit_risk_csv(rows: usize, seed: u64, shift: f64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(rows * 80);
    out.push_str(&COLUMNS.join(","));
    out.push('\n');
    for i in 0..rows {
        let age = (41.0 - 8.0 * shift + 11.0 * rng.normal())
            .clamp(18.0, 90.0)
            .round();
        let income = (52_000.0 * (1.0 - 0.25 * shift) * (0.45 * rng.normal()).exp()).round();
        let debt_ratio = (0.32 + 0.12 * shift + 0.13 * rng.normal()).clamp(0.0, 1.5);
        let credit_lines = (4.0 + 2.5 * rng.normal()).clamp(0.0, 25.0).round();
        let delinquencies = if rng.uniform() < 0.12 + 0.08 * shift {
            (1.0 + 2.0 * rng.uniform()).floor()
        } else {
            0.0
        };
        let employment_years = ((age - 18.0) * rng.uniform()).round();
        let loan_amount = (15_000.0 * (0.6 * rng.normal()).exp()).round();
        let region = REGIONS[(rng.next_u64() % 4) as usize];
        let logit = -2.2 + 3.1 * (debt_ratio - 0.32) - 0.000_018 * (income - 52_000.0)
            + 0.55 * delinquencies
            - 0.025 * (age - 41.0)
            + 0.000_02 * (loan_amount - 15_000.0)
            - 0.04 * employment_years
            + if region == "south" { 0.25 } else { 0.0 };
        let p = 1.0 / (1.0 + (-logit).exp());
        let default = u8::from(rng.uniform() < p);
        let _ = writeln!(
            out,
            "{},{age},{income},{debt_ratio:.4},{credit_lines},{delinquencies},{employment_years},{loan_amount},{region},{default}",
            100_000 + i
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let a = credit_risk_csv(500, 7, 0.0);
        assert_eq!(a, credit_risk_csv(500, 7, 0.0));
        assert_ne!(a, credit_risk_csv(500, 8, 0.0));
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 501);
        assert!(lines.iter().all(|l| l.split(',').count() == COLUMNS.len()));
        let defaults = lines[1..].iter().filter(|l| l.ends_with(",1")).count();
        assert!(
            (25..250).contains(&defaults),
            "a plausible default rate, got {defaults}/500"
        );
    }
}
