//! Experiment-tracking vocabulary shared by every layer: run status, run origin, metric points.

use std::fmt;
use std::str::FromStr;

/// Lifecycle of a run, with MLflow's names so the MLflow API maps one to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started and not finished.
    Running,
    /// Created but not started (MLflow's `SCHEDULED`).
    Scheduled,
    /// Finished successfully.
    Finished,
    /// Finished with an error.
    Failed,
    /// Stopped before finishing.
    Killed,
}

impl RunStatus {
    /// The MLflow name (`RUNNING`, `FINISHED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

/// An unknown name where a run status, origin or similar enumeration was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of {expected}")]
pub struct UnknownName {
    /// What was being parsed.
    pub what: &'static str,
    /// The text received.
    pub value: String,
    /// The valid values.
    pub expected: &'static str,
}

impl FromStr for RunStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<RunStatus, UnknownName> {
        Ok(match text {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => {
                return Err(UnknownName {
                    what: "run status",
                    value: text.to_string(),
                    expected: "RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
                });
            }
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run came from: the promotion boundary keys on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunOrigin {
    /// A stage executed by `slipway run`.
    Pipeline,
    /// Logged ad hoc (a notebook, a script, the MLflow client).
    Adhoc,
}

impl RunOrigin {
    /// Lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOrigin::Pipeline => "pipeline",
            RunOrigin::Adhoc => "adhoc",
        }
    }
}

impl FromStr for RunOrigin {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<RunOrigin, UnknownName> {
        match text {
            "pipeline" => Ok(RunOrigin::Pipeline),
            "adhoc" => Ok(RunOrigin::Adhoc),
            _ => Err(UnknownName {
                what: "run origin",
                value: text.to_string(),
                expected: "pipeline, adhoc",
            }),
        }
    }
}

impl fmt::Display for RunOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an artifact was read or written by a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoRole {
    /// Consumed by the run.
    Input,
    /// Produced by the run.
    Output,
}

impl IoRole {
    /// Lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            IoRole::Input => "input",
            IoRole::Output => "output",
        }
    }
}

impl FromStr for IoRole {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<IoRole, UnknownName> {
        match text {
            "input" => Ok(IoRole::Input),
            "output" => Ok(IoRole::Output),
            _ => Err(UnknownName {
                what: "run io role",
                value: text.to_string(),
                expected: "input, output",
            }),
        }
    }
}

/// One point of a metric series.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    /// Metric name.
    pub key: String,
    /// The value (may be NaN or infinite, as MLflow allows).
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Step (epoch, iteration); 0 when not given.
    pub step: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            RunStatus::Running,
            RunStatus::Scheduled,
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Killed,
        ] {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
        }
        assert!(
            "DONE"
                .parse::<RunStatus>()
                .unwrap_err()
                .to_string()
                .contains("FINISHED")
        );
        assert_eq!(
            "pipeline".parse::<RunOrigin>().unwrap(),
            RunOrigin::Pipeline
        );
        assert_eq!("output".parse::<IoRole>().unwrap(), IoRole::Output);
    }
}
