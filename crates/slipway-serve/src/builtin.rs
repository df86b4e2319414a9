//! The built-in JSON format's runtime: `slipway_core::model` inference behind [`Model`].

use crate::{LoadError, Model, ModelFormat, PredictError, check_shape};
use slipway_core::model::{ModelFile, Signature};
use std::path::Path;

/// A model in Slipway's JSON format.
#[derive(Clone, Debug)]
pub struct BuiltinModel {
    file: ModelFile,
}

impl BuiltinModel {
    /// Reads and checks a model document.
    pub fn load(path: &Path) -> Result<BuiltinModel, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = ModelFile::parse(&text).map_err(|source| LoadError::Builtin {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(BuiltinModel { file })
    }

    /// Wraps a parsed document.
    pub fn new(file: ModelFile) -> BuiltinModel {
        BuiltinModel { file }
    }

    /// The document.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }
}

impl Model for BuiltinModel {
    fn signature(&self) -> &Signature {
        &self.file.signature
    }

    fn format(&self) -> ModelFormat {
        ModelFormat::Builtin
    }

    fn predict_matrix(&self, x: &[f64]) -> Result<Vec<f64>, PredictError> {
        check_shape(x, self.file.signature.inputs.len())?;
        Ok(self.file.predict_matrix(x))
    }
}
