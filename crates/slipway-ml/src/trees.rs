//! Gradient-boosted regression trees (binary log loss or squared error) on quantile-binned
//! features: each tree is grown breadth first to a maximum depth from histograms of gradients,
//! on a row sample drawn from the seeded generator. Same data, options and seed ⇒ the same
//! trees, bit for bit.

use crate::linear::Fitted;
use crate::rng::SplitMix64;
use slipway_core::model::{Link, ModelBody, Node, Tree, sigmoid};

/// Options of the tree ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeOptions {
    /// Trees.
    pub n_trees: usize,
    /// Depth of each tree.
    pub max_depth: usize,
    /// Shrinkage of each tree's leaves.
    pub learning_rate: f64,
    /// Share of rows each tree sees.
    pub subsample: f64,
    /// Bins per feature (at most 255).
    pub bins: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Fewest rows in a leaf.
    pub min_leaf: usize,
    /// Seed of the row sampling.
    pub seed: u64,
}

impl Default for TreeOptions {
    fn default() -> TreeOptions {
        TreeOptions {
            n_trees: 50,
            max_depth: 3,
            learning_rate: 0.1,
            subsample: 0.8,
            bins: 64,
            l2: 1.0,
            min_leaf: 5,
            seed: 0,
        }
    }
}

/// Thresholds of one feature: a value `x` is in bin `k` when it is above the first `k`
/// thresholds; a split after bin `k` sends `x <= thresholds[k]` left.
fn thresholds(values: &mut [f64], bins: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let mut distinct: Vec<f64> = Vec::new();
    for &v in values.iter() {
        if distinct.last() != Some(&v) {
            distinct.push(v);
        }
    }
    if distinct.len() <= bins {
        return distinct
            .windows(2)
            .map(|w| w[0] + (w[1] - w[0]) / 2.0)
            .collect();
    }
    let n = values.len();
    let mut out: Vec<f64> = Vec::new();
    for k in 1..bins {
        let v = values[k * n / bins];
        if out.last().is_none_or(|&l| v > l) && v < distinct[distinct.len() - 1] {
            out.push(v);
        }
    }
    out
}

struct Binned {
    /// Column-major bin indices.
    bins: Vec<Vec<u8>>,
    thresholds: Vec<Vec<f64>>,
}

fn bin(x: &[f64], d: usize, max_bins: usize) -> Binned {
    let n = x.len() / d;
    let mut bins = Vec::with_capacity(d);
    let mut ths = Vec::with_capacity(d);
    for j in 0..d {
        let mut col: Vec<f64> = (0..n).map(|i| x[i * d + j]).collect();
        let t = thresholds(&mut col, max_bins.clamp(2, 255));
        let b: Vec<u8> = (0..n)
            .map(|i| t.partition_point(|&e| e < x[i * d + j]) as u8)
            .collect();
        bins.push(b);
        ths.push(t);
    }
    Binned {
        bins,
        thresholds: ths,
    }
}

/// Fits boosted trees; `classification` uses log loss on 0/1 labels, else squared error.
pub fn fit_trees(x: &[f64], y: &[f64], d: usize, classification: bool, o: &TreeOptions) -> Fitted {
    let n = y.len();
    let binned = bin(x, d, o.bins);
    let mean = y.iter().sum::<f64>() / n as f64;
    let base = if classification {
        let p = mean.clamp(1e-6, 1.0 - 1e-6);
        (p / (1.0 - p)).ln()
    } else {
        mean
    };
    let mut score = vec![base; n];
    let loss_of = |score: &[f64]| -> f64 {
        let total: f64 = score
            .iter()
            .zip(y)
            .map(|(&s, &t)| {
                if classification {
                    let softplus = if s > 0.0 {
                        s + (-s).exp().ln_1p()
                    } else {
                        s.exp().ln_1p()
                    };
                    softplus - t * s
                } else {
                    (t - s) * (t - s)
                }
            })
            .sum();
        total / n as f64
    };
    let mut loss = vec![loss_of(&score)];
    let mut rng = SplitMix64::new(o.seed);
    let mut trees = Vec::with_capacity(o.n_trees);
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n];
    for _ in 0..o.n_trees {
        for i in 0..n {
            if classification {
                let p = sigmoid(score[i]);
                g[i] = p - y[i];
                h[i] = (p * (1.0 - p)).max(1e-12);
            } else {
                g[i] = score[i] - y[i];
                h[i] = 1.0;
            }
        }
        let rows: Vec<u32> = (0..n as u32)
            .filter(|_| rng.uniform() < o.subsample)
            .collect();
        let (tree, splits) = grow(&binned, &g, &h, rows, o);
        for (i, s) in score.iter_mut().enumerate() {
            *s += eval_binned(&tree, &splits, &binned, i);
        }
        loss.push(loss_of(&score));
        trees.push(tree);
    }
    Fitted {
        body: ModelBody::TreeEnsemble {
            link: if classification {
                Link::Logistic
            } else {
                Link::Identity
            },
            base_score: base,
            trees,
        },
        loss,
        converged: true,
    }
}

/// For each split node, its (feature, bin): `bin <= k` goes left.
type Splits = Vec<Option<(usize, u8)>>;

fn eval_binned(tree: &Tree, splits: &Splits, binned: &Binned, row: usize) -> f64 {
    let mut i = 0;
    loop {
        match &tree.nodes[i] {
            Node::Leaf { value } => return *value,
            Node::Split { left, right, .. } => {
                let (f, k) = splits[i].expect("split nodes have a split");
                i = if binned.bins[f][row] <= k {
                    *left
                } else {
                    *right
                };
            }
        }
    }
}

fn grow(binned: &Binned, g: &[f64], h: &[f64], rows: Vec<u32>, o: &TreeOptions) -> (Tree, Splits) {
    let d = binned.bins.len();
    let mut nodes: Vec<Node> = vec![Node::Leaf { value: 0.0 }];
    let mut splits: Splits = vec![None];
    // (node index, depth, rows)
    let mut queue = std::collections::VecDeque::from([(0usize, 0usize, rows)]);
    let leaf = |gs: f64, hs: f64| -> f64 { -gs / (hs + o.l2) * o.learning_rate };
    while let Some((at, depth, rows)) = queue.pop_front() {
        let (gs, hs) = rows.iter().fold((0.0, 0.0), |(a, b), &r| {
            (a + g[r as usize], b + h[r as usize])
        });
        let mut best: Option<(f64, usize, u8)> = None;
        if depth < o.max_depth && rows.len() >= 2 * o.min_leaf {
            let parent = gs * gs / (hs + o.l2);
            for f in 0..d {
                let nb = binned.thresholds[f].len() + 1;
                if nb < 2 {
                    continue;
                }
                let mut hg = vec![0.0; nb];
                let mut hh = vec![0.0; nb];
                let mut hc = vec![0usize; nb];
                let col = &binned.bins[f];
                for &r in &rows {
                    let b = col[r as usize] as usize;
                    hg[b] += g[r as usize];
                    hh[b] += h[r as usize];
                    hc[b] += 1;
                }
                let (mut gl, mut hl, mut cl) = (0.0, 0.0, 0usize);
                for k in 0..nb - 1 {
                    gl += hg[k];
                    hl += hh[k];
                    cl += hc[k];
                    let cr = rows.len() - cl;
                    if cl < o.min_leaf || cr < o.min_leaf {
                        continue;
                    }
                    let (gr, hr) = (gs - gl, hs - hl);
                    let gain = gl * gl / (hl + o.l2) + gr * gr / (hr + o.l2) - parent;
                    if gain > 1e-12 && best.is_none_or(|(b, _, _)| gain > b) {
                        best = Some((gain, f, k as u8));
                    }
                }
            }
        }
        match best {
            Some((_, f, k)) => {
                let (left_rows, right_rows): (Vec<u32>, Vec<u32>) =
                    rows.iter().partition(|&&r| binned.bins[f][r as usize] <= k);
                let left = nodes.len();
                nodes.push(Node::Leaf { value: 0.0 });
                nodes.push(Node::Leaf { value: 0.0 });
                splits.push(None);
                splits.push(None);
                nodes[at] = Node::Split {
                    feature: f,
                    threshold: binned.thresholds[f][k as usize],
                    left,
                    right: left + 1,
                };
                splits[at] = Some((f, k));
                queue.push_back((left, depth + 1, left_rows));
                queue.push_back((left + 1, depth + 1, right_rows));
            }
            None => {
                nodes[at] = Node::Leaf {
                    value: leaf(gs, hs),
                }
            }
        }
    }
    (Tree { nodes }, splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boosting_lowers_the_loss_and_predicts_like_the_model_file() {
        let mut rng = SplitMix64::new(3);
        let x: Vec<f64> = (0..1200).map(|_| rng.normal()).collect();
        let y: Vec<f64> = x
            .chunks(3)
            .map(|r| f64::from(u8::from(r[0] * r[1] > 0.0)))
            .collect();
        let o = TreeOptions {
            n_trees: 20,
            ..TreeOptions::default()
        };
        let f = fit_trees(&x, &y, 3, true, &o);
        assert!(f.loss.last().unwrap() < &(f.loss[0] * 0.8), "{:?}", f.loss);
        assert_eq!(f.loss.len(), 21);
        // The saved thresholds route raw values exactly as the bins did during training: the
        // loss recomputed from the model file's predictions equals the last recorded loss.
        let ModelBody::TreeEnsemble {
            trees, base_score, ..
        } = &f.body
        else {
            panic!()
        };
        assert_eq!(trees.len(), 20);
        let loss: f64 = (0..400)
            .map(|i| {
                let s = base_score
                    + trees
                        .iter()
                        .map(|t| t.eval(&x[i * 3..i * 3 + 3]))
                        .sum::<f64>();
                let softplus = if s > 0.0 {
                    s + (-s).exp().ln_1p()
                } else {
                    s.exp().ln_1p()
                };
                softplus - y[i] * s
            })
            .sum::<f64>()
            / 400.0;
        assert!(
            (loss - f.loss[20]).abs() < 1e-12,
            "{loss} vs {}",
            f.loss[20]
        );
        // Same seed, same trees; another seed, other trees.
        assert_eq!(fit_trees(&x, &y, 3, true, &o), f);
        let other = fit_trees(
            &x,
            &y,
            3,
            true,
            &TreeOptions {
                seed: 9,
                ..o.clone()
            },
        );
        assert_ne!(other.body, f.body);
    }
}
