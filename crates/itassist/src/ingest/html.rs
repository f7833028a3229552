use std::path::Path;
use super::LoadedDocument;
use crate::error::{Error, Result};
pub(crate) fn load(path: &Path, _bytes: &[u8]) -> Result<LoadedDocument> {
    Err(Error::UnsupportedFormat { path: path.to_path_buf(), detail: "todo".into() })
}
