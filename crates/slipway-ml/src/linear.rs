//! Linear models: logistic regression fitted by Newton's method (with step halving) and
//! linear regression by the normal equations, both with an L2 penalty, on standardised
//! features; the weights are mapped back to the raw features, so the saved model needs no
//! scaler. Sums run in a fixed order, so a fit is bit-for-bit repeatable.

use slipway_core::model::{Link, ModelBody, sigmoid};

/// What a fit gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// The model.
    pub body: ModelBody,
    /// Training loss after each step (iteration, or tree), the first entry before any step.
    pub loss: Vec<f64>,
    /// Whether the stopping rule was met before the step limit.
    pub converged: bool,
}

/// Options of the linear fits.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearOptions {
    /// L2 penalty on the standardised weights.
    pub l2: f64,
    /// Newton steps at most.
    pub max_iter: usize,
    /// Stop when the loss improves by less than `tol · max(1, loss)`.
    pub tol: f64,
}

impl Default for LinearOptions {
    fn default() -> LinearOptions {
        LinearOptions {
            l2: 1e-4,
            max_iter: 50,
            tol: 1e-9,
        }
    }
}

struct Standardised {
    z: Vec<f64>,
    mean: Vec<f64>,
    scale: Vec<f64>,
}

fn standardise(x: &[f64], d: usize) -> Standardised {
    let n = x.len() / d;
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for j in 0..d {
            let e = row[j] - mean[j];
            var[j] += e * e;
        }
    }
    let scale: Vec<f64> = var
        .iter()
        .map(|v| {
            let s = (v / n as f64).sqrt();
            if s > 0.0 { s } else { 1.0 }
        })
        .collect();
    let z = x
        .chunks_exact(d)
        .flat_map(|row| {
            (0..d)
                .map(|j| (row[j] - mean[j]) / scale[j])
                .collect::<Vec<_>>()
        })
        .collect();
    Standardised { z, mean, scale }
}

fn unstandardise(w: &[f64], b: f64, s: &Standardised) -> (Vec<f64>, f64) {
    let raw: Vec<f64> = w.iter().zip(&s.scale).map(|(w, sc)| w / sc).collect();
    let intercept = b - raw.iter().zip(&s.mean).map(|(w, m)| w * m).sum::<f64>();
    (raw, intercept)
}

/// Solves `a · x = b` for a symmetric positive-definite `a` (`k × k`, row-major) by Cholesky.
fn cholesky_solve(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        let mut s = b[i];
        for p in 0..i {
            s -= l[i * k + p] * y[p];
        }
        y[i] = s / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let mut s = y[i];
        for p in i + 1..k {
            s -= l[p * k + i] * x[p];
        }
        x[i] = s / l[i * k + i];
    }
    Some(x)
}

fn logistic_loss(z: &[f64], y: &[f64], w: &[f64], b: f64, l2: f64, d: usize) -> f64 {
    let mut total = 0.0;
    for (row, &t) in z.chunks_exact(d).zip(y) {
        let s = b + row.iter().zip(w).map(|(x, w)| x * w).sum::<f64>();
        // log(1 + e^s) − t·s, computed stably.
        let softplus = if s > 0.0 {
            s + (-s).exp().ln_1p()
        } else {
            s.exp().ln_1p()
        };
        total += softplus - t * s;
    }
    total / y.len() as f64 + 0.5 * l2 * w.iter().map(|w| w * w).sum::<f64>()
}

/// Fits a logistic regression to `x` (`n × d`, row-major) and 0/1 labels `y`.
pub fn fit_logistic(x: &[f64], y: &[f64], d: usize, o: &LinearOptions) -> Fitted {
    let n = y.len();
    let s = standardise(x, d);
    let k = d + 1;
    let mut w = vec![0.0; d];
    let mut b = 0.0;
    let mut loss = vec![logistic_loss(&s.z, y, &w, b, o.l2, d)];
    let mut converged = false;
    for _ in 0..o.max_iter {
        let mut grad = vec![0.0; k];
        let mut hess = vec![0.0; k * k];
        let mut xa = vec![0.0; k];
        for (row, &t) in s.z.chunks_exact(d).zip(y) {
            let z = b + row.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>();
            let p = sigmoid(z);
            let r = p - t;
            let h = p * (1.0 - p);
            xa[..d].copy_from_slice(row);
            xa[d] = 1.0;
            for i in 0..k {
                grad[i] += r * xa[i];
                let hx = h * xa[i];
                for j in 0..=i {
                    hess[i * k + j] += hx * xa[j];
                }
            }
        }
        for i in 0..k {
            grad[i] /= n as f64;
            for j in 0..=i {
                hess[i * k + j] /= n as f64;
                hess[j * k + i] = hess[i * k + j];
            }
        }
        for j in 0..d {
            grad[j] += o.l2 * w[j];
            hess[j * k + j] += o.l2;
        }
        // A tiny ridge keeps separable data solvable.
        for i in 0..k {
            hess[i * k + i] += 1e-12;
        }
        let Some(step) = cholesky_solve(&hess, &grad, k) else {
            break;
        };
        let previous = *loss.last().expect("initial loss");
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let w2: Vec<f64> = w.iter().zip(&step).map(|(w, s)| w - t * s).collect();
            let b2 = b - t * step[d];
            let l = logistic_loss(&s.z, y, &w2, b2, o.l2, d);
            if l <= previous {
                accepted = Some((w2, b2, l));
                break;
            }
            t /= 2.0;
        }
        let Some((w2, b2, l)) = accepted else {
            converged = true;
            break;
        };
        w = w2;
        b = b2;
        loss.push(l);
        if previous - l < o.tol * previous.abs().max(1.0) {
            converged = true;
            break;
        }
    }
    let (weights, intercept) = unstandardise(&w, b, &s);
    Fitted {
        body: ModelBody::Linear {
            link: Link::Logistic,
            intercept,
            weights,
        },
        loss,
        converged,
    }
}

/// Fits a linear regression (ridge on standardised features) by the normal equations.
pub fn fit_linear(x: &[f64], y: &[f64], d: usize, o: &LinearOptions) -> Fitted {
    let n = y.len() as f64;
    let s = standardise(x, d);
    let y_mean = y.iter().sum::<f64>() / n;
    let mut a = vec![0.0; d * d];
    let mut rhs = vec![0.0; d];
    for (row, &t) in s.z.chunks_exact(d).zip(y) {
        for i in 0..d {
            rhs[i] += row[i] * (t - y_mean);
            for j in 0..=i {
                a[i * d + j] += row[i] * row[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..=i {
            a[i * d + j] /= n;
            a[j * d + i] = a[i * d + j];
        }
        rhs[i] /= n;
        a[i * d + i] += o.l2 + 1e-12;
    }
    let w = cholesky_solve(&a, &rhs, d).unwrap_or_else(|| vec![0.0; d]);
    let mse = |w: &[f64]| {
        s.z.chunks_exact(d)
            .zip(y)
            .map(|(row, &t)| {
                let p = y_mean + row.iter().zip(w).map(|(x, w)| x * w).sum::<f64>();
                (t - p) * (t - p)
            })
            .sum::<f64>()
            / n
    };
    let loss = vec![mse(&vec![0.0; d]), mse(&w)];
    let (weights, intercept) = unstandardise(&w, y_mean, &s);
    Fitted {
        body: ModelBody::Linear {
            link: Link::Identity,
            intercept,
            weights,
        },
        loss,
        converged: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_regression_recovers_an_exact_line() {
        let x: Vec<f64> = (0..50).flat_map(|i| [i as f64, (i % 7) as f64]).collect();
        let y: Vec<f64> = x.chunks(2).map(|r| 3.0 + 2.0 * r[0] - 0.5 * r[1]).collect();
        let f = fit_linear(
            &x,
            &y,
            2,
            &LinearOptions {
                l2: 0.0,
                ..Default::default()
            },
        );
        let ModelBody::Linear {
            weights, intercept, ..
        } = f.body
        else {
            panic!()
        };
        assert!((weights[0] - 2.0).abs() < 1e-9 && (weights[1] + 0.5).abs() < 1e-9);
        assert!((intercept - 3.0).abs() < 1e-8);
    }

    #[test]
    fn logistic_regression_loss_decreases_and_converges() {
        let mut rng = crate::rng::SplitMix64::new(1);
        let x: Vec<f64> = (0..400).map(|_| rng.normal()).collect();
        let y: Vec<f64> = x
            .chunks(2)
            .map(|r| f64::from(u8::from(2.0 * r[0] - r[1] + 0.3 * rng.normal() > 0.0)))
            .collect();
        let f = fit_logistic(&x, &y, 2, &LinearOptions::default());
        assert!(f.converged);
        assert!(f.loss.windows(2).all(|w| w[1] <= w[0]), "{:?}", f.loss);
        let ModelBody::Linear { weights, .. } = f.body else {
            panic!()
        };
        assert!(weights[0] > 1.0 && weights[1] < -0.5, "{weights:?}");
    }
}
