use std::path::Path;
use super::LoadedDocument;
use crate::error::{Error, Result};
fn todo(path: &Path) -> Result<LoadedDocument> { Err(Error::UnsupportedFormat { path: path.to_path_buf(), detail: "todo".into() }) }
pub(crate) fn load_docx(path: &Path, _b: &[u8]) -> Result<LoadedDocument> { todo(path) }
pub(crate) fn load_odt(path: &Path, _b: &[u8]) -> Result<LoadedDocument> { todo(path) }
pub(crate) fn load_ods(path: &Path, _b: &[u8]) -> Result<LoadedDocument> { todo(path) }
pub(crate) fn load_epub(path: &Path, _b: &[u8]) -> Result<LoadedDocument> { todo(path) }
