//! Per-version latency histograms, recorded without locks on the request path (one atomic add
//! per request) and read as p50/p99 for `/metrics` and the gate's `p99_latency_ms` guardrail.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket upper bounds in microseconds: geometric, ×1.25 from 10 µs to about 10 s, so a
/// quantile read from the buckets is within 25 % of the true value.
fn bounds() -> &'static [u64] {
    static BOUNDS: OnceLock<Vec<u64>> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut out = Vec::new();
        let mut b = 10.0f64;
        while b < 10_000_000.0 {
            let v = b.round() as u64;
            if out.last() != Some(&v) {
                out.push(v);
            }
            b *= 1.25;
        }
        out
    })
}

/// A latency histogram (microsecond buckets plus an overflow bucket).
pub struct LatencyHistogram {
    buckets: Vec<AtomicU64>,
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            buckets: (0..=bounds().len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Records one request that took `us` microseconds.
    pub fn record(&self, us: u64) {
        let i = bounds().partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Requests recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in milliseconds: the upper bound of the bucket it falls in;
    /// `None` before the first request.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let us = bounds().get(i).copied().unwrap_or(u64::MAX / 1000);
                return Some(us as f64 / 1000.0);
            }
        }
        None
    }

    /// Appends this histogram in Prometheus text format under `name` with `labels`.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match bounds().get(i) {
                Some(us) => {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                        *us as f64 / 1e6
                    );
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_bucket_the_rank_falls_in() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.99), None);
        for _ in 0..98 {
            h.record(100);
        }
        h.record(5_000);
        h.record(5_000);
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((0.1..=0.125).contains(&p50), "{p50}");
        assert!((5.0..=6.25).contains(&p99), "{p99}");
        assert_eq!(h.count(), 100);
        let mut text = String::new();
        h.render(&mut text, "x", "model=\"m\"");
        assert!(text.contains("x_count{model=\"m\"} 100"));
        assert!(text.contains("le=\"+Inf\"} 100"));
    }
}
