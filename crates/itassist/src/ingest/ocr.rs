//! OCR with Tesseract: raster images directly, scanned PDF pages rendered by `pdftoppm`.
//!
//! Both programs are run as child processes. When one cannot be started because it is not
//! installed, the file gets [`Error::OcrUnavailable`] naming the program, so a caller can
//! skip this file and go on with the others.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;

use super::{Budget, Format, LoadOptions, LoadedDocument, Section};
use crate::error::{Error, Result};

/// A new private directory under the system temp dir (a random name, mode 0700), removed
/// with its content when dropped.
fn temp_dir(path_for_errors: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("itassist-ocr-")
        .tempdir()
        .map_err(|e| Error::Io {
            path: Some(path_for_errors.to_path_buf()),
            source: e,
        })
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
            reason: format!("cannot run {}", program.display()),
            source: Some(e.into()),
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
        source: None,
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
    budget: &Budget,
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
    let dir = temp_dir(path)?;
    let image = dir.path().join(format!("image.{ext}"));
    std::fs::write(&image, bytes).map_err(|e| Error::Io {
        path: Some(path.to_path_buf()),
        source: e,
    })?;
    let text = budget.paused(|| tesseract(path, &image, options))?;
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
    let mut doc = LoadedDocument::new(Format::Image, None, sections);
    doc.page_count = Some(page_count);
    doc.ocr_pages = ocr_pages;
    Ok(doc)
}

/// Renders the given PDF pages with `pdftoppm` and reads them with Tesseract, several
/// pages at a time (one per core).
///
/// Returns the result of each page, in the order asked: a page that fails does not stop the
/// others. A missing program ([`Error::OcrUnavailable`]) stops everything and is returned.
pub(crate) fn ocr_pdf_pages(
    path: &Path,
    pdf: &[u8],
    pages: &[u32],
    options: &LoadOptions,
) -> Result<Vec<(u32, Result<String>)>> {
    let dir = temp_dir(path)?;
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
                if matches!(result, Err(Error::OcrUnavailable { .. })) {
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
    let mut out = Vec::with_capacity(results.len());
    for (i, result) in results {
        if let Err(e @ Error::OcrUnavailable { .. }) = result {
            return Err(e);
        }
        out.push((pages[i], result));
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
            source: None,
        });
    }
    let text = tesseract(path, &image, options);
    let _ = std::fs::remove_file(&image);
    text
}
