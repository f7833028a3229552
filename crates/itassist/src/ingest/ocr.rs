//! OCR with Tesseract: raster images directly, scanned PDF pages rendered by `pdftoppm`.
//!
//! Both programs are run as child processes. When one cannot be started because it is not
//! installed, the file gets [`Error::OcrUnavailable`] naming the program, so a caller can
//! skip this file and go on with the others.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Format, LoadOptions, LoadedDocument, Section};
use crate::error::{Error, Result};

/// A directory under the system temp dir, removed with its content on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(path_for_errors: &Path) -> Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "itassist-ocr-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: Some(path_for_errors.to_path_buf()),
            source: e,
        })?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a program; a program that cannot be found becomes [`Error::OcrUnavailable`].
fn run(path: &Path, program: &Path, command: &mut Command) -> Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match command.output() {
        Ok(output) => Ok(output),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Err(Error::OcrUnavailable {
                path: path.to_path_buf(),
                tool: program.display().to_string(),
            })
        }
        Err(e) => Err(Error::OcrFailed {
            path: path.to_path_buf(),
            reason: format!("cannot run {}: {e}", program.display()),
        }),
    }
}

fn failure(path: &Path, program: &Path, output: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .collect();
    Error::OcrFailed {
        path: path.to_path_buf(),
        reason: format!(
            "{} exited with {}: {}",
            program.display(),
            output.status,
            message.join("; ")
        ),
    }
}

fn languages(options: &LoadOptions) -> String {
    let langs: Vec<&str> = options
        .ocr_languages
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if langs.is_empty() {
        "eng".to_string()
    } else {
        langs.join("+")
    }
}

/// Runs Tesseract on an image file and returns the recognised text.
fn tesseract(path: &Path, image: &Path, options: &LoadOptions) -> Result<String> {
    let mut command = Command::new(&options.tesseract);
    command
        .arg(image)
        .arg("stdout")
        .arg("-l")
        .arg(languages(options))
        // One thread per call: the machine's cores are better used by parallel callers.
        .env("OMP_THREAD_LIMIT", "1");
    let output = run(path, &options.tesseract, &mut command)?;
    if !output.status.success() {
        return Err(failure(path, &options.tesseract, &output));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Loads a PNG, JPEG or TIFF image by OCR (one section, page 1).
pub(crate) fn load_image(
    path: &Path,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<LoadedDocument> {
    let ext = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpg"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "tif"
    } else {
        return Err(Error::CorruptDocument {
            path: path.to_path_buf(),
            format: "image".into(),
            reason: "not a PNG, JPEG or TIFF image".into(),
            source: None,
        });
    };
    if !options.ocr {
        return Err(Error::EmptyDocument {
            path: path.to_path_buf(),
            reason: "images are read by OCR, which is disabled".into(),
        });
    }
    let dir = TempDir::new(path)?;
    let image = dir.path().join(format!("image.{ext}"));
    std::fs::write(&image, bytes).map_err(|e| Error::Io {
        path: Some(path.to_path_buf()),
        source: e,
    })?;
    let text = tesseract(path, &image, options)?;
    // A multi-page TIFF comes back with form feeds between pages.
    let mut sections = Vec::new();
    for (i, page) in text.split('\x0c').enumerate() {
        let page_text = super::clean_text(page);
        if !page_text.is_empty() {
            sections.push(Section {
                page: Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                heading: None,
                text: page_text,
            });
        }
    }
    let page_count = sections.iter().filter_map(|s| s.page).max().unwrap_or(1);
    let ocr_pages = sections.iter().filter_map(|s| s.page).collect();
    if sections.is_empty() {
        return Err(Error::EmptyDocument {
            path: path.to_path_buf(),
            reason: "OCR found no text in the image".into(),
        });
    }
    Ok(LoadedDocument {
        format: Format::Image,
        title: None,
        page_count: Some(page_count),
        sections,
        ocr_pages,
    })
}

/// Renders the given PDF pages with `pdftoppm` and reads them with Tesseract, several
/// pages at a time (one per core).
///
/// Returns the text of each page, in the order asked.
pub(crate) fn ocr_pdf_pages(
    path: &Path,
    pdf: &[u8],
    pages: &[u32],
    options: &LoadOptions,
) -> Result<Vec<(u32, String)>> {
    let dir = TempDir::new(path)?;
    let input = dir.path().join("input.pdf");
    std::fs::write(&input, pdf).map_err(|e| Error::Io {
        path: Some(path.to_path_buf()),
        source: e,
    })?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(pages.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: std::sync::Mutex<Vec<(usize, Result<String>)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pages.len() || failed.load(Ordering::Relaxed) {
                    break;
                }
                let result = ocr_pdf_page(path, dir.path(), &input, pages[i], options);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                if let Ok(mut r) = results.lock() {
                    r.push((i, result));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(i, _)| *i);
    // The first error in page order, if any.
    let mut out = Vec::with_capacity(results.len());
    for (i, result) in results {
        out.push((pages[i], result?));
    }
    Ok(out)
}

/// Renders one page and reads it.
fn ocr_pdf_page(
    path: &Path,
    dir: &Path,
    input: &Path,
    page: u32,
    options: &LoadOptions,
) -> Result<String> {
    let dpi = options.ocr_dpi.clamp(50, 1200).to_string();
    let prefix = dir.join(format!("page-{page}"));
    let n = page.to_string();
    let mut command = Command::new(&options.pdftoppm);
    command
        .args(["-r", &dpi, "-f", &n, "-l", &n, "-png", "-singlefile"])
        .arg(input)
        .arg(&prefix);
    let output = run(path, &options.pdftoppm, &mut command)?;
    if !output.status.success() {
        return Err(failure(path, &options.pdftoppm, &output));
    }
    let image = prefix.with_extension("png");
    if !image.exists() {
        return Err(Error::OcrFailed {
            path: path.to_path_buf(),
            reason: format!(
                "{} wrote no image for page {page}",
                options.pdftoppm.display()
            ),
        });
    }
    let text = tesseract(path, &image, options);
    let _ = std::fs::remove_file(&image);
    text
}
