//! A PDF page whose text cannot be extracted (pdf-extract panics on it): the panic is not
//! printed, the page is read by OCR instead, and the loaded document says why (issue 10).
//! Its own test binary: it installs a panic hook to count what would be printed.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use itassist::ingest::{self, LoadOptions, NoteKind};

/// A minimal PDF from object bodies (numbered from 1), with a correct xref table.
fn build_pdf(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(content: &str) -> String {
    format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
}

/// Two pages in Helvetica. Page 1 also shows one character in a Type0 font without
/// descendant fonts: pdf-extract panics there ("Descendant fonts required"), while poppler
/// draws the page (without that character).
fn pdf_with_a_broken_page() -> Vec<u8> {
    build_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 7 0 R /F2 8 0 R >> >> /Contents 5 0 R >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 7 0 R >> >> /Contents 6 0 R >>".into(),
        stream("BT /F1 36 Tf 72 600 Td (Restart the network) Tj ET BT /F2 12 Tf 72 500 Td <0001> Tj ET"),
        stream("BT /F1 24 Tf 72 700 Td (Second page text) Tj ET"),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
        "<< /Type /Font /Subtype /Type0 /BaseFont /Broken /Encoding /Identity-H >>".into(),
    ])
}

fn tool_available(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
}

#[test]
fn failed_pages_are_read_by_ocr_quietly_and_noted() {
    // Count the panics that reach the hook that prints them.
    let printed = Arc::new(AtomicUsize::new(0));
    let counter = printed.clone();
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));

    let pdf = pdf_with_a_broken_page();
    let no_ocr = LoadOptions {
        ocr: false,
        ..LoadOptions::default()
    };
    let doc = ingest::load_bytes(Path::new("broken.pdf"), &pdf, &no_ocr).expect("load");
    assert_eq!(
        printed.load(Ordering::SeqCst),
        0,
        "the parser's panic was printed"
    );
    // Page 2 is read; page 1 is missing, and the document says why.
    assert_eq!(doc.sections.len(), 1);
    assert_eq!(doc.sections[0].page, Some(2));
    assert_eq!(doc.sections[0].text, "Second page text");
    assert!(doc.ocr_pages.is_empty());
    let skipped = doc
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::PagesSkipped)
        .expect("a note for the skipped page");
    assert_eq!(skipped.pages, vec![1]);
    assert!(
        skipped.message.contains("Descendant fonts required"),
        "{}",
        skipped.message
    );

    // Other panics are still printed.
    let _ = std::panic::catch_unwind(|| panic!("not from the PDF parser"));
    assert_eq!(printed.load(Ordering::SeqCst), 1);

    assert!(
        tool_available("tesseract") && tool_available("pdftoppm"),
        "tesseract or pdftoppm is not installed: `apt-get install {}` (or `bash scripts/setup.sh test`)",
        itassist::error::OCR_PACKAGES
    );
    let doc = ingest::load_bytes(Path::new("broken.pdf"), &pdf, &LoadOptions::default())
        .expect("load with OCR");
    assert_eq!(doc.ocr_pages, vec![1]);
    assert_eq!(doc.sections.len(), 2);
    assert_eq!(doc.sections[0].page, Some(1));
    assert!(
        doc.sections[0].text.contains("Restart the network"),
        "{}",
        doc.sections[0].text
    );
    let note = doc
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::OcrAfterExtractionFailed)
        .expect("a note saying why page 1 was read by OCR");
    assert_eq!(note.pages, vec![1]);
    assert!(
        note.message.starts_with("page 1 was read by OCR"),
        "{}",
        note.message
    );
    assert!(!doc.notes.iter().any(|n| n.kind == NoteKind::OcrNoTextLayer));
}
