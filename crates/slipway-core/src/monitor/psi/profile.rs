//! A baseline profile of a whole table (every feature's frozen bins and baseline counts), and the
//! drift summary of a window scored against it.

use super::{CategoricalBaseline, NumericBaseline, Reading, Thresholds};
use crate::Digest;
use crate::pipeline::canonical_json;

/// The format tag of a [`BaselineProfile`].
pub const PROFILE_FORMAT: &str = "slipway-baseline-profile/1";

/// One feature's baseline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FeatureBaseline {
    /// Frozen numeric bin edges and baseline counts.
    Numeric(NumericBaseline),
    /// Baseline categories (plus `other`) and counts.
    Categorical(CategoricalBaseline),
}

/// A named feature's baseline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureProfile {
    /// Column name.
    pub name: String,
    /// Its baseline.
    pub baseline: FeatureBaseline,
}

/// The baseline profile of a table, stored as an artifact at registration: what a window is
/// compared with. Serialisable; its canonical JSON's digest identifies it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaselineProfile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// The features, in column order.
    pub features: Vec<FeatureProfile>,
}

/// A profile that names a feature twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "feature `{0}` appears more than once in the baseline profile; feature names must be unique"
)]
pub struct DuplicateFeature(pub String);

impl BaselineProfile {
    /// A profile of the given features.
    pub fn new(features: Vec<FeatureProfile>) -> Result<BaselineProfile, DuplicateFeature> {
        let mut seen = std::collections::BTreeSet::new();
        for f in &features {
            if !seen.insert(f.name.as_str()) {
                return Err(DuplicateFeature(f.name.clone()));
            }
        }
        Ok(BaselineProfile {
            format: PROFILE_FORMAT.to_string(),
            features,
        })
    }

    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureBaseline> {
        self.features
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.baseline)
    }

    /// The digest of the canonical JSON encoding.
    pub fn digest(&self) -> Digest {
        let value = serde_json::to_value(self).expect("a profile is plain data");
        Digest::of(canonical_json(&value).as_bytes())
    }
}

/// One feature's drift.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FeatureDrift {
    /// Column name.
    pub name: String,
    /// Its PSI.
    pub psi: f64,
    /// How it reads.
    pub status: Reading,
}

/// The drift of a window, feature by feature.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DriftSummary {
    /// Every feature, in the order given.
    pub features: Vec<FeatureDrift>,
    /// How many features read significant.
    pub drifted: usize,
    /// How many read moderate.
    pub moderate: usize,
}

impl DriftSummary {
    /// Reads each `(name, psi)` with `thresholds`.
    pub fn read(
        scores: impl IntoIterator<Item = (String, f64)>,
        thresholds: &Thresholds,
    ) -> DriftSummary {
        let features: Vec<FeatureDrift> = scores
            .into_iter()
            .map(|(name, psi)| FeatureDrift {
                name,
                psi,
                status: thresholds.read(psi),
            })
            .collect();
        let count = |r: Reading| features.iter().filter(|f| f.status == r).count();
        DriftSummary {
            drifted: count(Reading::Significant),
            moderate: count(Reading::Moderate),
            features,
        }
    }

    /// Whether any feature reads significant (the CLI exits 1 then).
    pub fn any_significant(&self) -> bool {
        self.drifted > 0
    }
}

#[cfg(test)]
mod tests {
    use super::super::CategoryCounter;
    use super::*;

    fn profile() -> BaselineProfile {
        let mut counter = CategoryCounter::new();
        ["eu", "us", "us"].iter().for_each(|c| counter.push(c));
        BaselineProfile::new(vec![
            FeatureProfile {
                name: "income".into(),
                baseline: FeatureBaseline::Numeric(
                    NumericBaseline::fit(&[1.0, 2.0, 3.0, 4.0, 5.0], 4).unwrap(),
                ),
            },
            FeatureProfile {
                name: "region".into(),
                baseline: FeatureBaseline::Categorical(counter.finish(50)),
            },
        ])
        .unwrap()
    }

    #[test]
    fn profile_round_trips_through_json() {
        let p = profile();
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""kind":"numeric""#), "{json}");
        let back: BaselineProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.digest(), p.digest());
        assert!(matches!(
            p.feature("region"),
            Some(FeatureBaseline::Categorical(_))
        ));
        assert!(p.feature("age").is_none());
    }

    #[test]
    fn duplicate_features_are_refused() {
        let mut features = profile().features;
        features.push(features[0].clone());
        let err = BaselineProfile::new(features).unwrap_err();
        assert_eq!(err, DuplicateFeature("income".into()));
    }

    #[test]
    fn summary_counts_readings() {
        let s = DriftSummary::read(
            [
                ("a".to_string(), 0.01),
                ("b".to_string(), 0.3),
                ("c".to_string(), 0.12),
            ],
            &Thresholds::default(),
        );
        assert_eq!(s.drifted, 1);
        assert_eq!(s.moderate, 1);
        assert!(s.any_significant());
        assert_eq!(s.features[1].status, Reading::Significant);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["features"][0]["status"], "stable");
        assert_eq!(json["drifted"], 1);
    }
}
