//! Document loaders on the real corpus in `shared/corpus` (beside the repository).
//!
//! Uses only the public `itassist::ingest` API. The PDF checks compare with poppler's
//! `pdftotext` and the OCR checks need Tesseract: when a tool is missing the check fails,
//! naming the packages to install (`bash scripts/setup.sh test` installs them).

#[path = "support/word_f1.rs"]
mod word_f1;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use word_f1::f1;

use itassist::ingest::{self, Format, LoadOptions, LoadedDocument};
use itassist::Error;

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
}

fn load_with(rel: &str, options: &LoadOptions) -> LoadedDocument {
    let path = corpus().join(rel);
    ingest::load_file(&path, options).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(rel: &str) -> LoadedDocument {
    load_with(rel, &LoadOptions::default())
}

fn no_ocr() -> LoadOptions {
    LoadOptions {
        ocr: false,
        ..LoadOptions::default()
    }
}

fn tool_available(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
}

/// A fresh path in the temp dir (tests run in parallel: unique per process and call).
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "itassist-ingest-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

fn read_corpus(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Properties every loaded document has.
fn check_invariants(name: &str, doc: &LoadedDocument) {
    assert!(!doc.sections.is_empty(), "{name}: no sections");
    for s in &doc.sections {
        assert!(
            !s.text.trim().is_empty(),
            "{name}: empty section {:?}",
            s.heading
        );
        assert!(
            !s.text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{name}: control character in section {:?}",
            s.heading
        );
        assert!(
            !s.text.contains("\n\n\n"),
            "{name}: blank lines not collapsed"
        );
        assert!(
            !s.text.contains('\u{FB01}'),
            "{name}: ligature not normalised"
        );
    }
}

// ---- PDF ------------------------------------------------------------------------------

#[test]
fn pdf_sections_are_pages() {
    let doc = load("debdocs/pdf/fhs-3.0.pdf");
    check_invariants("fhs-3.0.pdf", &doc);
    assert_eq!(doc.format, Format::Pdf);
    assert_eq!(doc.page_count, Some(50));
    assert!(doc.ocr_pages.is_empty());
    assert!(doc
        .sections
        .iter()
        .all(|s| s.page.is_some_and(|p| (1..=50).contains(&p))));
    let page = |n: u32| {
        doc.sections
            .iter()
            .find(|s| s.page == Some(n))
            .unwrap_or_else(|| panic!("no page {n}"))
    };
    assert!(page(1).text.contains("Filesystem Hierarchy Standard"));
    assert!(page(12)
        .text
        .contains("/bin contains commands that may be used by both the system administrator"));
    assert!(!page(11)
        .text
        .contains("/bin contains commands that may be used by both"));
    assert!(page(30).text.contains("a single /usr/share directory"));
    // Lines are kept.
    assert!(page(12).text.lines().count() > 10);
}

#[test]
fn pdf_text_matches_pdftotext() {
    assert!(
        tool_available("pdftotext"),
        "pdftotext is not installed: `apt-get install poppler-utils` (or `bash scripts/setup.sh test`)"
    );
    let mut pdfs = Vec::new();
    for dir in ["debdocs/pdf", "owasp-asvs/pdf"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
            .expect("corpus dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        entries.sort();
        pdfs.extend(entries);
    }
    assert!(pdfs.len() >= 12, "corpus PDFs missing: {pdfs:?}");
    let mut failures = Vec::new();
    for pdf in &pdfs {
        let started = std::time::Instant::now();
        let doc =
            ingest::load_file(pdf, &no_ocr()).unwrap_or_else(|e| panic!("{}: {e}", pdf.display()));
        let elapsed = started.elapsed();
        check_invariants(&pdf.display().to_string(), &doc);
        let output = Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(pdf)
            .arg("-")
            .output()
            .expect("run pdftotext");
        let reference = String::from_utf8_lossy(&output.stdout);
        let score = f1(&doc.text(), &reference);
        let name = pdf.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{name}: F1 {score:.4} ({} pages, {elapsed:.2?})",
            doc.page_count.unwrap_or(0)
        );
        if score < 0.97 {
            failures.push(format!("{name}: F1 {score:.4}"));
        }
    }
    assert!(
        failures.is_empty(),
        "below F1 0.97 against pdftotext: {failures:?}"
    );
}

#[test]
fn pdf_without_text_layer_and_ocr_disabled_is_empty() {
    let path = corpus().join("ocr-samples/linn.pdf");
    match ingest::load_file(&path, &no_ocr()) {
        Err(Error::EmptyDocument { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("OCR"), "{reason}");
        }
        other => panic!("expected EmptyDocument, got {other:?}"),
    }
}

// ---- OCR ------------------------------------------------------------------------------

#[test]
fn ocr_image_and_scanned_pdf() {
    assert!(
        tool_available("tesseract") && tool_available("pdftoppm"),
        "tesseract or pdftoppm is not installed: `apt-get install {}` (or `bash scripts/setup.sh test`)",
        itassist::error::OCR_PACKAGES
    );
    let truth = String::from_utf8_lossy(&read_corpus("ocr-samples/linn.txt")).into_owned();

    let png = load("ocr-samples/linn.png");
    check_invariants("linn.png", &png);
    assert_eq!(png.format, Format::Image);
    assert_eq!(png.ocr_pages, vec![1]);
    let score = f1(&png.text(), &truth);
    println!("linn.png: OCR F1 {score:.4}");
    assert!(score >= 0.9, "linn.png OCR F1 {score:.4} < 0.9");

    let pdf = load("ocr-samples/linn.pdf");
    check_invariants("linn.pdf", &pdf);
    assert_eq!(pdf.format, Format::Pdf);
    assert_eq!(pdf.page_count, Some(1));
    assert_eq!(pdf.ocr_pages, vec![1]);
    assert_eq!(pdf.sections[0].page, Some(1));
    let score = f1(&pdf.text(), &truth);
    println!("linn.pdf: OCR F1 {score:.4}");
    assert!(score >= 0.9, "linn.pdf OCR F1 {score:.4} < 0.9");
}

#[test]
fn ocr_unavailable_names_the_missing_program() {
    let missing = PathBuf::from("/nonexistent/itassist-test/tesseract");
    let options = LoadOptions {
        tesseract: missing.clone(),
        ..LoadOptions::default()
    };
    let path = corpus().join("ocr-samples/linn.png");
    match ingest::load_file(&path, &options) {
        Err(e @ Error::OcrUnavailable { .. }) => {
            assert_eq!(e.code(), "ocr_unavailable");
            let message = e.to_string();
            assert!(message.contains("linn.png"), "{message}");
            assert!(
                message.contains(&missing.display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected OcrUnavailable, got {other:?}"),
    }

    let options = LoadOptions {
        pdftoppm: PathBuf::from("/nonexistent/itassist-test/pdftoppm"),
        ..LoadOptions::default()
    };
    let path = corpus().join("ocr-samples/linn.pdf");
    match ingest::load_file(&path, &options) {
        Err(Error::OcrUnavailable { path: p, tool }) => {
            assert_eq!(p, path);
            assert!(tool.ends_with("pdftoppm"), "{tool}");
        }
        other => panic!("expected OcrUnavailable, got {other:?}"),
    }
}

// ---- HTML, EPUB -----------------------------------------------------------------------

#[test]
fn html_docbook_page_without_navigation() {
    let doc = load("debdocs/html/apt-guide/ch2.html");
    check_invariants("ch2.html", &doc);
    assert_eq!(doc.format, Format::Html);
    assert_eq!(doc.title.as_deref(), Some("Chapter 2. apt-get"));
    assert_eq!(
        doc.sections[0].heading.as_deref(),
        Some("Chapter 2. apt-get")
    );
    let text = doc.text();
    assert!(
        text.contains("apt-get provides a simple way to install packages from the command line.")
    );
    // Preformatted blocks keep their lines.
    assert!(text.contains("# apt-get update\nGet http://ftp.de.debian.org/debian-non-US/"));
    // The DocBook navigation header and footer are gone.
    for chrome in ["Prev", "Next", "Home", "Chapter 3. DSelect"] {
        assert!(
            !text.lines().any(|l| l.trim() == chrome),
            "navigation left: {chrome}"
        );
    }
}

#[test]
fn html_sections_per_heading() {
    let doc = load("debdocs/html/debian-handbook/sect.apt-get.html");
    check_invariants("sect.apt-get.html", &doc);
    let headings: Vec<&str> = doc
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    assert!(
        headings.contains(&"6.2. aptitude, apt-get, and apt Commands"),
        "{headings:?}"
    );
    assert!(headings.contains(&"6.2.1. Initialization"), "{headings:?}");
    let init = doc
        .sections
        .iter()
        .find(|s| s.heading.as_deref() == Some("6.2.1. Initialization"))
        .expect("section");
    assert!(init
        .text
        .contains("the list of available packages needs to be updated"));
    assert!(!doc.text().contains("Download the ebook"), "banner left");

    let sphinx = load("debdocs/html/developers-reference/beyond-pkging.html");
    check_invariants("beyond-pkging.html", &sphinx);
    let text = sphinx.text();
    assert!(!text.contains('¶'), "permalink anchors left");
    assert!(text.contains("Debian is about a lot more than just packaging software"));
    assert!(sphinx
        .sections
        .iter()
        .any(|s| s.heading.as_deref() == Some("7.1. Bug reporting")));
}

#[test]
fn epub_in_spine_order() {
    let doc = load("debdocs/epub/policy.epub");
    check_invariants("policy.epub", &doc);
    assert_eq!(doc.format, Format::Epub);
    assert_eq!(doc.title.as_deref(), Some("Debian Policy Manual"));
    let headings: Vec<&str> = doc
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    let about = headings
        .iter()
        .position(|h| *h == "1. About this manual")
        .expect("chapter 1");
    let archive = headings
        .iter()
        .position(|h| h.starts_with("2. The Debian Archive"))
        .expect("chapter 2");
    assert!(about < archive, "spine order");
    assert!(doc
        .text()
        .contains("This manual describes the policy requirements for the Debian distribution."));
}

// ---- Markdown, reStructuredText, text ------------------------------------------------

#[test]
fn markdown_kept_as_written_in_sections() {
    let doc = load("debdocs/markdown/nodejs-api/assert.md");
    check_invariants("assert.md", &doc);
    assert_eq!(doc.format, Format::Markdown);
    assert_eq!(doc.title.as_deref(), Some("Assert"));
    let strict = doc
        .sections
        .iter()
        .find(|s| s.heading.as_deref() == Some("Strict assertion mode"))
        .expect("section");
    assert!(strict.text.starts_with("## Strict assertion mode"));
    // Markup (code fences) is kept for the Markdown-aware chunker.
    assert!(doc.text().contains("```"));
}

#[test]
fn rst_sections_at_underlined_titles() {
    let doc = load("debdocs/rst/debian-policy/ch-source.rst");
    check_invariants("ch-source.rst", &doc);
    assert_eq!(doc.format, Format::Rst);
    assert_eq!(doc.title.as_deref(), Some("Source packages"));
    assert!(doc
        .sections
        .iter()
        .any(|s| s.heading.as_deref() == Some("Standards conformance")));
}

#[test]
fn plain_text() {
    let doc = load("debdocs/text/autopkgtest.txt");
    check_invariants("autopkgtest.txt", &doc);
    assert_eq!(doc.format, Format::Text);
    assert!(doc
        .text()
        .contains("Autopkgtest - Defining tests for Debian packages"));
    let doc = load("debdocs/text/guide.text");
    assert_eq!(doc.format, Format::Text);
    assert!(!doc.text().is_empty());
}

// ---- Man pages ------------------------------------------------------------------------

/// The ways man pages are read: groff when installed (the default) and the builtin parser.
fn man_renderers() -> [LoadOptions; 2] {
    [
        LoadOptions::default(),
        LoadOptions {
            man_renderer: ingest::ManRenderer::Builtin,
            ..LoadOptions::default()
        },
    ]
}

/// Blanks and line breaks as single spaces (groff puts a short option tag and its text on
/// one line, the builtin parser on two).
fn one_spaced(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn man_page_mdoc() {
    for options in man_renderers() {
        let doc = load_with("debdocs/man/openssh/ssh-add.1", &options);
        check_invariants("ssh-add.1", &doc);
        assert_eq!(doc.format, Format::Man);
        // groff shows the name of `.Dt` (upper case), the builtin parser that of `.Nm`.
        let title = doc.title.as_deref().unwrap_or_default();
        assert!(title.eq_ignore_ascii_case("ssh-add(1)"), "{title}");
        let section = |h: &str| {
            doc.sections
                .iter()
                .find(|s| s.heading.as_deref() == Some(h))
                .unwrap_or_else(|| panic!("no section {h}"))
        };
        assert!(section("NAME")
            .text
            .contains("adds private key identities to the OpenSSH authentication agent"));
        assert!(section("SYNOPSIS")
            .text
            .contains("ssh-add [-cDdKkLlqvXx] [-E fingerprint_hash]"));
        assert!(one_spaced(&section("DESCRIPTION").text)
            .contains("-D Deletes all identities from the agent."));
        assert!(section("DESCRIPTION").text.contains("ssh-agent(1)"));
    }
}

#[test]
fn man_page_man_macros() {
    for options in man_renderers() {
        let doc = load_with("debdocs/man/ripgrep/rg.1", &options);
        check_invariants("rg.1", &doc);
        assert_eq!(doc.title.as_deref(), Some("RG(1)"));
        let text = doc.text();
        assert!(text.contains(
            "rg - recursively search the current directory for lines matching a pattern"
        ));
        assert!(text.contains("-A, --after-context NUM\nShow NUM lines after each match."));
        assert!(text.contains("ripgrep's default regex engine"));
        for roff in ["\\f", "\\-", "\\(", ".TP", ".PP", ".RS"] {
            assert!(!text.contains(roff), "roff left: {roff}");
        }
        let hosts = load_with("debdocs/man/linux-manpages/man5/hosts.5", &options);
        check_invariants("hosts.5", &hosts);
        assert!(hosts
            .sections
            .iter()
            .any(|s| s.heading.as_deref() == Some("DESCRIPTION")));
    }
}

#[test]
fn every_corpus_man_page_loads() {
    for options in man_renderers() {
        let mut count = 0;
        for dir in [
            "debdocs/man/linux-manpages/man5",
            "debdocs/man/linux-manpages/man7",
            "debdocs/man/openssh",
        ] {
            for entry in std::fs::read_dir(corpus().join(dir))
                .expect("dir")
                .flatten()
            {
                let path = entry.path();
                let doc = ingest::load_file(&path, &options)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                check_invariants(&path.display().to_string(), &doc);
                assert_eq!(doc.format, Format::Man, "{}", path.display());
                count += 1;
            }
        }
        assert!(count > 150);
    }
}

// ---- Office formats -------------------------------------------------------------------

#[test]
fn docx_paragraphs_headings_tables() {
    let doc =
        load("owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_4.0.3-en.docx");
    check_invariants("4.0.3.docx", &doc);
    assert_eq!(doc.format, Format::Docx);
    assert_eq!(
        doc.title.as_deref(),
        Some("OWASP Application Security Verification Standard 4.0.3")
    );
    let headings: Vec<&str> = doc
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    assert!(headings.contains(&"Frontispiece"), "{headings:?}");
    assert!(headings.contains(&"Using the ASVS"), "{headings:?}");
    let text = doc.text();
    // Table rows as cells joined with " | ".
    assert!(text.contains("Andrew van der Stock | Daniel Cuthbert | Jim Manico"));
    assert!(text.contains("Verify the use of a secure software development lifecycle"));
    // The table of contents (TOC styles) is left out: the heading text appears once as
    // a heading line, not again with a page number.
    assert!(!text.contains("Frontispiece\t"));
}

#[test]
fn odt_and_ods() {
    let doc = load("debdocs/odt/api-for-odfpy.odt");
    check_invariants("api-for-odfpy.odt", &doc);
    assert_eq!(doc.format, Format::Odt);
    assert!(doc
        .sections
        .iter()
        .any(|s| s.heading.as_deref() == Some("Introduction")));
    assert!(doc
        .sections
        .iter()
        .any(|s| s.heading.as_deref() == Some("Creating a document")));

    // Headings given by paragraph styles ("OWASP Heading 1") rather than text:h.
    let fr = load("owasp-asvs/odt/asvs-webapp-release-2009-fr.odt");
    check_invariants("asvs-2009-fr.odt", &fr);
    assert!(fr
        .sections
        .iter()
        .any(|s| s.heading.as_deref() == Some("Préambule")));
    assert!(fr
        .text()
        .contains("Ce document définit quatre niveaux de vérification"));

    let ods = load("debdocs/ods/countrystatistics.ods");
    check_invariants("countrystatistics.ods", &ods);
    assert_eq!(ods.format, Format::Ods);
    let sheets: Vec<&str> = ods
        .sections
        .iter()
        .filter_map(|s| s.heading.as_deref())
        .collect();
    assert_eq!(sheets, vec!["Population", "HDI"]);
    assert!(ods.sections[0].text.contains("Austria | 8.3 | 83,858 | 99"));
}

// ---- CSV, JSON ------------------------------------------------------------------------

#[test]
fn csv_rows_name_their_columns() {
    let doc = load("owasp-asvs/csv/OWASP_Application_Security_Verification_Standard_4.0.3-en.csv");
    check_invariants("4.0.3.csv", &doc);
    assert_eq!(doc.format, Format::Csv);
    let text = doc.text();
    let row = text
        .lines()
        .find(|l| l.contains("req_id: V1.1.1;"))
        .expect("row V1.1.1");
    assert!(
        row.starts_with("chapter_id: V1; chapter_name: Architecture, Design and Threat Modeling;")
    );
    assert!(
        row.contains("req_description: Verify the use of a secure software development lifecycle")
    );
}

#[test]
fn json_paths_and_values() {
    let doc =
        load("owasp-asvs/json/OWASP_Application_Security_Verification_Standard_4.0.3-en.json");
    check_invariants("4.0.3.json", &doc);
    assert_eq!(doc.format, Format::Json);
    assert_eq!(
        doc.title.as_deref(),
        Some("Application Security Verification Standard Project")
    );
    let text = doc.text();
    assert!(text.lines().any(|l| l == "ShortName: ASVS"));
    assert!(text
        .lines()
        .any(|l| l == "Requirements[0].Items[0].Items[0].Shortcode: V1.1.1"));
}

// ---- Detection ------------------------------------------------------------------------

#[test]
fn format_detection_trusts_content() {
    let pdf = read_corpus("debdocs/pdf/refcard-en-a4.pdf");
    assert_eq!(
        ingest::detect_format(Path::new("x.txt"), &pdf).ok(),
        Some(Format::Pdf)
    );
    let docx = read_corpus(
        "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_5.0.0_en.docx",
    );
    assert_eq!(
        ingest::detect_format(Path::new("x.zip"), &docx).ok(),
        Some(Format::Docx)
    );
    let odt = read_corpus("debdocs/odt/api-for-odfpy.odt");
    assert_eq!(
        ingest::detect_format(Path::new("x.bin"), &odt).ok(),
        Some(Format::Odt)
    );
    let ods = read_corpus("debdocs/ods/countrystatistics.ods");
    assert_eq!(
        ingest::detect_format(Path::new("x.odt"), &ods).ok(),
        Some(Format::Ods)
    );
    let epub = read_corpus("debdocs/epub/developers-reference.epub");
    assert_eq!(
        ingest::detect_format(Path::new("book"), &epub).ok(),
        Some(Format::Epub)
    );
    let png = read_corpus("ocr-samples/linn.png");
    assert_eq!(
        ingest::detect_format(Path::new("scan"), &png).ok(),
        Some(Format::Image)
    );
    let man = read_corpus("debdocs/man/openssh/ssh.1");
    assert_eq!(
        ingest::detect_format(Path::new("ssh"), &man).ok(),
        Some(Format::Man)
    );
    assert_eq!(
        ingest::detect_format(Path::new("x.3ssl"), b".TH X 3").ok(),
        Some(Format::Man)
    );
    assert_eq!(
        ingest::detect_format(Path::new("README"), b"hello\n").ok(),
        Some(Format::Text)
    );
    assert_eq!(
        ingest::detect_format(Path::new("app.log"), b"x\n").ok(),
        Some(Format::Text)
    );
    assert_eq!(
        ingest::detect_format(Path::new("page"), b"<!DOCTYPE html><p>x").ok(),
        Some(Format::Html)
    );
    for (name, bytes, expected) in [
        ("tool.exe", &b"MZ\x90\x00\x03\x00\x00\x00"[..], ".exe"),
        ("data", &b"\x00\x01\x02\x03binary"[..], "binary"),
        ("script.py", &b"print(1)\n"[..], ".py"),
    ] {
        match ingest::detect_format(Path::new(name), bytes) {
            Err(Error::UnsupportedFormat { detail, .. }) => {
                assert!(detail.contains(expected), "{name}: {detail}")
            }
            other => panic!("{name}: expected UnsupportedFormat, got {other:?}"),
        }
    }
}

#[test]
fn load_bytes_uses_the_name_for_detection() {
    let bytes = read_corpus("debdocs/man/openssh/ssh-keysign.8");
    let doc = ingest::load_bytes(
        Path::new("upload/ssh-keysign.8"),
        &bytes,
        &LoadOptions::default(),
    )
    .expect("load");
    assert_eq!(doc.format, Format::Man);
    assert!(doc.text().contains("ssh-keysign"));
}

// ---- Errors ---------------------------------------------------------------------------

#[test]
fn empty_files_are_empty_documents() {
    for name in ["empty.pdf", "empty.txt", "empty.docx", "empty"] {
        let path = temp_file(name, b"");
        match ingest::load_file(&path, &LoadOptions::default()) {
            Err(e @ Error::EmptyDocument { .. }) => {
                assert!(e.to_string().contains(name), "{e}");
                assert_eq!(e.code(), "empty_document");
            }
            other => panic!("{name}: expected EmptyDocument, got {other:?}"),
        }
    }
    let path = temp_file("blank.md", b"\n  \n\t\n");
    assert!(matches!(
        ingest::load_file(&path, &LoadOptions::default()),
        Err(Error::EmptyDocument { .. })
    ));
}

#[test]
fn damaged_files_are_corrupt_documents() {
    let pdf = read_corpus("debdocs/pdf/fhs-3.0.pdf");
    let docx = read_corpus(
        "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_4.0.3-en.docx",
    );
    let odt = read_corpus("debdocs/odt/api-for-odfpy.odt");
    let epub = read_corpus("debdocs/epub/policy.epub");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.pdf", pdf[..1000].to_vec()),
        (
            "garbage.pdf",
            b"%PDF-1.4\nthis is not really a PDF\n".to_vec(),
        ),
        ("truncated.docx", docx[..docx.len() / 2].to_vec()),
        ("truncated.odt", odt[..odt.len() / 3].to_vec()),
        ("truncated.epub", epub[..4000].to_vec()),
        ("text.docx", b"just some text, not a zip".to_vec()),
        ("bad.json", b"{\"a\": [1, 2,".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = temp_file(name, &bytes);
        match ingest::load_file(&path, &no_ocr()) {
            Err(e @ Error::CorruptDocument { .. }) => {
                assert!(e.to_string().contains(name), "{e}");
                assert_eq!(e.code(), "corrupt_document");
            }
            other => panic!("{name}: expected CorruptDocument, got {other:?}"),
        }
    }
}

#[test]
fn unsupported_and_missing_files() {
    let path = temp_file(
        "program.exe",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
    );
    match ingest::load_file(&path, &LoadOptions::default()) {
        Err(e @ Error::UnsupportedFormat { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("program.exe") && message.contains(".exe"),
                "{message}"
            );
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    let path = temp_file("blob.dat", &[0u8, 159, 146, 150, 0, 1, 2, 3, 255, 0]);
    match ingest::load_file(&path, &LoadOptions::default()) {
        Err(Error::UnsupportedFormat { detail, .. }) => {
            assert!(detail.contains("binary"), "{detail}")
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    let missing = corpus().join("does/not/exist.pdf");
    match ingest::load_file(&missing, &LoadOptions::default()) {
        Err(Error::PathNotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected PathNotFound, got {other:?}"),
    }
}

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

fn stream(dict: &str, content: &str) -> String {
    format!(
        "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
}

/// Self-referencing form XObjects and page-tree cycles must not recurse forever.
#[test]
fn pdf_with_reference_cycles() {
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string();
    let pdf = build_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Contents 4 0 R >>".into(),
        stream("", "BT /F1 12 Tf 72 712 Td (Hello cycle) Tj ET /X1 Do"),
        font.clone(),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X1 6 0 R >> >>", "/X1 Do"),
    ]);
    let doc = ingest::load_bytes(Path::new("cycle.pdf"), &pdf, &no_ocr()).expect("load");
    assert_eq!(doc.sections[0].text, "Hello cycle");

    let pdf = build_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 2 0 R >>".into(),
        "<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>".into(),
        stream("", "BT /F1 12 Tf 72 712 Td (Lost) Tj ET"),
    ]);
    // No font, no resources: not readable, but an error rather than a crash.
    let _ = ingest::load_bytes(Path::new("parent-cycle.pdf"), &pdf, &no_ocr());
}

/// Damaged and random inputs under every supported name: an error or a document, never a
/// panic.
#[test]
fn no_panics_on_damaged_input() {
    let samples = [
        "debdocs/pdf/refcard-en-a4.pdf",
        "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_5.0.0_en.docx",
        "debdocs/odt/api-for-odfpy.odt",
        "debdocs/ods/countrystatistics.ods",
        "debdocs/epub/developers-reference.epub",
        "debdocs/html/apt-guide/ch1.html",
        "debdocs/man/openssh/ssh-add.1",
        "owasp-asvs/csv/OWASP_Application_Security_Verification_Standard_5.0.0_en.csv",
        "owasp-asvs/json/OWASP_Application_Security_Verification_Standard_4.0.3-en.json",
    ];
    let options = no_ocr();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for rel in samples {
        let bytes = read_corpus(rel);
        let name = Path::new(rel);
        for cut in [1, 7, 64, 513, bytes.len() / 3, bytes.len() - 1] {
            let cut = cut.min(bytes.len());
            let _ = ingest::load_bytes(name, &bytes[..cut], &options);
        }
        // Flip bytes in a copy.
        let mut damaged = bytes.clone();
        for _ in 0..32 {
            let i = (next() as usize) % damaged.len();
            damaged[i] = next() as u8;
        }
        let _ = ingest::load_bytes(name, &damaged, &options);
    }
    const ALPHABET: &[u8] = b"\\.\"<>&{}[],:;#'\n\t abcT%";
    for ext in ingest::SUPPORTED_EXTENSIONS {
        let random: Vec<u8> = (0..2048).map(|_| next() as u8).collect();
        let _ = ingest::load_bytes(Path::new(&format!("random.{ext}")), &random, &options);
        let text: Vec<u8> = (0..2048)
            .map(|_| ALPHABET[(next() as usize) % ALPHABET.len()])
            .collect();
        let _ = ingest::load_bytes(Path::new(&format!("noise.{ext}")), &text, &options);
    }
}
