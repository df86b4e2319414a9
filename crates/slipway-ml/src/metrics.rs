//! Evaluation metrics, written to agree with scikit-learn (checked against values it computed:
//! `tests/fixtures/make_metrics_fixtures.py`).

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (scikit-learn's `roc_auc_score`). `None` when one class is
/// absent.
pub fn auc(labels: &[f64], scores: &[f64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of the (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] > 0.5 {
                rank_sum += average_rank;
            }
        }
        i = j + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Share of rows where `score >= threshold` agrees with the label.
pub fn accuracy(labels: &[f64], scores: &[f64], threshold: f64) -> f64 {
    let right = labels
        .iter()
        .zip(scores)
        .filter(|&(&y, &p)| (p >= threshold) == (y > 0.5))
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Mean negative log-likelihood of the labels, probabilities clipped to `[eps, 1 − eps]` with
/// `eps` = machine epsilon (scikit-learn's `log_loss` with `eps="auto"` on float64).
pub fn log_loss(labels: &[f64], probabilities: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y > 0.5 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// Expected calibration error over `bins` equal-width bins of the probability (the bins of
/// scikit-learn's `calibration_curve(strategy="uniform")`: a probability on an edge belongs to
/// the bin below it): `Σ_b (n_b / n) · |mean label_b − mean probability_b|`.
pub fn calibration_ece(labels: &[f64], probabilities: &[f64], bins: usize) -> f64 {
    let step = 1.0 / bins as f64;
    let edges: Vec<f64> = (1..bins).map(|k| k as f64 * step).collect();
    let mut count = vec![0u64; bins];
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    for (&y, &p) in labels.iter().zip(probabilities) {
        let b = edges.partition_point(|&e| e < p);
        count[b] += 1;
        sum_p[b] += p;
        sum_y[b] += y;
    }
    let n = labels.len().max(1) as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let c = count[b] as f64;
            c / n * (sum_y[b] / c - sum_p[b] / c).abs()
        })
        .sum()
}

/// True positive rate (recall) at `threshold`; `None` without positives.
pub fn tpr(labels: &[f64], scores: &[f64], threshold: f64) -> Option<f64> {
    let positives: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|&(&y, _)| y > 0.5)
        .map(|(_, &p)| p)
        .collect();
    if positives.is_empty() {
        return None;
    }
    Some(positives.iter().filter(|&&p| p >= threshold).count() as f64 / positives.len() as f64)
}

/// Share predicted positive at `threshold`.
pub fn positive_rate(scores: &[f64], threshold: f64) -> f64 {
    scores.iter().filter(|&&p| p >= threshold).count() as f64 / scores.len().max(1) as f64
}

/// Root mean squared error.
pub fn rmse(targets: &[f64], predictions: &[f64]) -> f64 {
    let sse: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(y, p)| (y - p) * (y - p))
        .sum();
    (sse / targets.len().max(1) as f64).sqrt()
}

/// Mean absolute error.
pub fn mae(targets: &[f64], predictions: &[f64]) -> f64 {
    let s: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(y, p)| (y - p).abs())
        .sum();
    s / targets.len().max(1) as f64
}

/// Coefficient of determination (1 − SSE/SST); scikit-learn's `r2_score`.
pub fn r2(targets: &[f64], predictions: &[f64]) -> f64 {
    let n = targets.len().max(1) as f64;
    let mean = targets.iter().sum::<f64>() / n;
    let sst: f64 = targets.iter().map(|y| (y - mean) * (y - mean)).sum();
    let sse: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(y, p)| (y - p) * (y - p))
        .sum();
    if sst == 0.0 {
        if sse == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - sse / sst
    }
}

/// The `q`-quantile (0..1) of `values` by nearest rank (`values` need not be sorted).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        assert_eq!(
            auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]),
            Some(0.75)
        );
        assert_eq!(auc(&[0.0, 1.0], &[0.5, 0.5]), Some(0.5));
        assert_eq!(auc(&[1.0, 1.0], &[0.5, 0.2]), None);
        assert_eq!(accuracy(&[0.0, 1.0, 1.0], &[0.2, 0.5, 0.4], 0.5), 2.0 / 3.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 0.99), 4.0);
        assert!((calibration_ece(&[1.0, 0.0], &[0.9, 0.1], 10) - 0.1).abs() < 1e-12);
        assert_eq!(tpr(&[1.0, 1.0, 0.0], &[0.6, 0.4, 0.9], 0.5), Some(0.5));
        assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
    }
}
