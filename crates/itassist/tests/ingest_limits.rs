//! Loader hardening (issue 12): hostile files generated here, as the attack made them, fail
//! alone with their own error code, or load within bounds; the rest of the folder is read.
//! Also the charset fallback for Latin-1 / Windows-1252 text (issue 10) and format sniffing
//! of damaged ZIP containers.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use itassist::ingest::{self, Format, LoadOptions, NoteKind};
use itassist::FileStatus;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// A man page of about 300 bytes whose string doubles on each of 30 `.as` lines (or, with
/// `define`, is redefined as itself twice on each of 30 `.ds` lines).
fn roff_bomb(define: bool) -> String {
    let mut page = String::from(".TH BOMB 1\n.ds a xxxxxxxx\n");
    for _ in 0..30 {
        page.push_str(if define {
            ".ds a \\*a\\*a\n"
        } else {
            ".as a \\*a\n"
        });
    }
    page.push_str(".SH NAME\nbomb \\- \\*a\n");
    page
}

/// An HTML page of `levels` nested `div`s (100,000 levels: 1.1 MB).
fn deep_html(levels: usize) -> String {
    let mut html = String::from("<html><body>");
    for _ in 0..levels {
        html.push_str("<div>");
    }
    html.push_str("deep text");
    for _ in 0..levels {
        html.push_str("</div>");
    }
    html.push_str("</body></html>");
    html
}

/// Writes the content of one ZIP entry.
type Fill<'a> = &'a dyn Fn(&mut dyn Write);

/// A ZIP archive with the given entries, deflated.
fn zip(entries: &[(&str, Fill<'_>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6));
    for (name, fill) in entries {
        writer.start_file(*name, options).expect("zip entry");
        fill(&mut writer);
    }
    writer.finish().expect("zip").into_inner()
}

/// A DOCX of under 1 MB whose `word/document.xml` holds `paragraphs` paragraphs of 1,000
/// bytes of text (200,000: 200 MB of text).
fn docx_bomb(paragraphs: usize) -> Vec<u8> {
    let sentence = "Restart the service with systemctl restart nginx and check the log. ";
    let mut text = sentence.repeat(1000 / sentence.len() + 1);
    text.truncate(1000);
    let paragraph = format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>");
    let document = move |w: &mut dyn Write| {
        w.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
              <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>",
        )
        .unwrap();
        for _ in 0..paragraphs {
            w.write_all(paragraph.as_bytes()).unwrap();
        }
        w.write_all(b"</w:body></w:document>").unwrap();
    };
    let types = |w: &mut dyn Write| {
        w.write_all(b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>")
            .unwrap()
    };
    zip(&[
        ("[Content_Types].xml", &types),
        ("word/document.xml", &document),
    ])
}

/// A single line of `bytes` bytes of words, no punctuation, no line break.
fn one_line(bytes: usize) -> String {
    let words = [
        "restart", "nginx", "service", "daemon", "reload", "config", "socket",
    ];
    let mut line = String::with_capacity(bytes + 16);
    let mut i = 0;
    while line.len() < bytes {
        line.push_str(words[i % words.len()]);
        line.push(' ');
        i += 1;
    }
    line.truncate(bytes);
    line
}

const SSH_TEXT: &str = "# Copying keys\n\nTo copy your public key to a remote server, run \
ssh-copy-id user@host. It appends the key to ~/.ssh/authorized_keys on the server.\n";

/// The attack's folder: a roff string bomb (both ways), 100,000 nested divs, a DOCX that
/// expands to 200 MB of text and a 50 MB single-line text file, beside a real document.
/// Every hostile file fails with its own code, or loads bounded, and the real document after
/// them is ingested.
#[test]
fn hostile_folder_fails_file_by_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).expect("docs dir");
    let bomb_as = write(&docs, "a-bomb.1", roff_bomb(false).as_bytes());
    let bomb_ds = write(&docs, "b-bomb.1", roff_bomb(true).as_bytes());
    assert!(std::fs::metadata(&bomb_as).unwrap().len() < 400);
    let deep = write(&docs, "c-deep.html", deep_html(100_000).as_bytes());
    let docx = write(&docs, "d-bomb.docx", &docx_bomb(200_000));
    assert!(std::fs::metadata(&docx).unwrap().len() < 1_000_000);
    let line = write(&docs, "e-one-line.txt", one_line(50 << 20).as_bytes());
    let good = write(&docs, "z-ssh.md", SSH_TEXT.as_bytes());

    let mut config = common::config(&tmp.path().join("index"));
    // The 50 MB text is under the default 64 MiB; a smaller limit shows it fails alone.
    config.loading.max_text_bytes = 16 << 20;
    let assistant =
        itassist::Assistant::with_embedder(config, common::embedder()).expect("open the assistant");
    let report = assistant.ingest(&[&docs]).expect("ingest the folder");

    let status = |path: &Path| {
        &report
            .files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no report for {}: {:?}", path.display(), report.files))
            .status
    };
    for (path, code) in [
        (&bomb_as, "corrupt_document"),
        (&bomb_ds, "corrupt_document"),
        (&docx, "document_too_large"),
        (&line, "document_too_large"),
    ] {
        let error = status(path)
            .error()
            .unwrap_or_else(|| panic!("{} must fail: {:?}", path.display(), status(path)));
        assert_eq!(error.code(), code, "{error}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        if code == "document_too_large" {
            assert!(message.contains("loading.max_text_bytes"), "{message}");
        }
    }
    for path in [&deep, &good] {
        assert!(
            matches!(status(path), FileStatus::Added { .. }),
            "{}: {:?}",
            path.display(),
            status(path)
        );
    }
    assert_eq!(report.totals.added, 2);
    assert_eq!(report.totals.failed, 4);
    let hits = assistant
        .search("copy public key remote server", 3)
        .expect("search");
    assert!(
        hits.iter().any(|h| h.text.contains("ssh-copy-id")),
        "{hits:?}"
    );
}

/// Both ways of reading man pages: groff (the default when installed; the bomb reaches
/// groff's memory limit) and the builtin parser (its bounds on string sizes).
#[test]
fn roff_string_bombs_are_corrupt_and_real_pages_still_load() {
    for renderer in [ingest::ManRenderer::Auto, ingest::ManRenderer::Builtin] {
        let options = LoadOptions {
            man_renderer: renderer,
            ..LoadOptions::default()
        };
        for define in [false, true] {
            let page = roff_bomb(define);
            let err = ingest::load_bytes(Path::new("bomb.1"), page.as_bytes(), &options)
                .expect_err("a string bomb must fail");
            assert_eq!(err.code(), "corrupt_document", "{err}");
            assert!(err.to_string().contains("roff string"), "{err}");
        }
        // Strings used as real pages use them still work.
        let page = ".TH T 1\n.ds Pr \\fBprog\\fR\n.as Pr \" (1)\n.SH NAME\n\\*(Pr \\- a tool\n";
        let doc = ingest::load_bytes(Path::new("t.1"), page.as_bytes(), &options).expect("load");
        let name = doc
            .sections
            .iter()
            .find(|s| s.heading.as_deref() == Some("NAME"))
            .expect("a NAME section");
        assert_eq!(name.text, "NAME\n\nprog (1) - a tool", "{renderer:?}");
    }
}

#[test]
fn deep_html_is_flattened_with_its_text_kept() {
    let html = deep_html(100_000);
    assert!(html.len() > 1_000_000);
    let doc = ingest::load_bytes(
        Path::new("deep.html"),
        html.as_bytes(),
        &LoadOptions::default(),
    )
    .expect("load");
    assert_eq!(doc.text(), "deep text");
    let note = doc
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Flattened)
        .expect("a note that the page was flattened");
    assert!(note.message.contains("512"), "{}", note.message);
}

#[test]
fn docx_expanding_past_the_text_limit_stops_early() {
    let options = LoadOptions {
        max_text_bytes: 1 << 20,
        ..LoadOptions::default()
    };
    // 20 MB of text in the archive; reading stops after 1 MiB of it.
    let bytes = docx_bomb(20_000);
    let err =
        ingest::load_bytes(Path::new("big.docx"), &bytes, &options).expect_err("over the limit");
    assert_eq!(err.code(), "document_too_large", "{err}");
    assert!(err.to_string().contains("1048576 bytes"), "{err}");
    // The same document under the limit loads.
    let small = docx_bomb(100);
    let doc = ingest::load_bytes(Path::new("small.docx"), &small, &options).expect("load");
    assert_eq!(doc.format, Format::Docx);
    assert_eq!(doc.sections[0].text.matches("systemctl").count(), 100 * 15);
}

#[test]
fn spreadsheet_repeats_count_against_the_text_limit() {
    // 1,000 rows, each repeated 100 times with 100 repeated cells: a 10 MB sheet from a few KB.
    let row = "<table:table-row table:number-rows-repeated=\"100\">\
               <table:table-cell table:number-columns-repeated=\"100\"><text:p>value</text:p></table:table-cell>\
               </table:table-row>";
    let content = format!(
        "<?xml version=\"1.0\"?><office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\">\
         <office:body><office:spreadsheet><table:table table:name=\"S\">{}</table:table>\
         </office:spreadsheet></office:body></office:document-content>",
        row.repeat(1000)
    );
    let mimetype = |w: &mut dyn Write| {
        w.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap()
    };
    let body = |w: &mut dyn Write| w.write_all(content.as_bytes()).unwrap();
    let ods = zip(&[("mimetype", &mimetype), ("content.xml", &body)]);
    let options = LoadOptions {
        max_text_bytes: 1 << 20,
        ..LoadOptions::default()
    };
    let err =
        ingest::load_bytes(Path::new("repeat.ods"), &ods, &options).expect_err("over the limit");
    assert_eq!(err.code(), "document_too_large", "{err}");
}

#[test]
fn json_key_paths_count_against_the_text_limit() {
    // Every number repeats a 200-byte key path: 64 KB of JSON, 6 MB of text.
    let key = "k".repeat(190);
    let numbers = vec!["1"; 30_000].join(",");
    let json = format!("{{\"{key}\": [{numbers}]}}");
    let options = LoadOptions {
        max_text_bytes: 1 << 20,
        ..LoadOptions::default()
    };
    let err = ingest::load_bytes(Path::new("paths.json"), json.as_bytes(), &options)
        .expect_err("over the limit");
    assert_eq!(err.code(), "document_too_large", "{err}");
}

/// A single line of half a megabyte loads as lines of at most 4 KiB, which the chunker cuts
/// in time linear in the length (on one line its work grew with the square of it).
#[test]
fn single_line_text_is_wrapped_and_chunked() {
    let line = one_line(512 << 10);
    let doc = ingest::load_bytes(
        Path::new("one-line.txt"),
        line.as_bytes(),
        &LoadOptions::default(),
    )
    .expect("load");
    let text = doc.text();
    assert!(text.lines().count() >= 128, "{}", text.lines().count());
    assert!(text.lines().all(|l| l.len() <= 4096));
    assert_eq!(
        text.split_whitespace().count(),
        line.split_whitespace().count()
    );
    let embedder = common::embedder();
    let chunker = itassist::Chunker::new(
        embedder.tokenizer().clone(),
        &itassist::config::ChunkingConfig::default(),
        embedder.max_tokens(),
    )
    .expect("chunker");
    let chunks = chunker.chunk(&doc).expect("chunk");
    assert!(chunks.len() > 100, "{}", chunks.len());
    assert!(chunks
        .iter()
        .all(|c| c.tokens as usize <= chunker.max_tokens()));
}

/// With a deadline that has passed before the loaders start, every loader stops in its loop
/// with `document_timeout` (a real deadline is minutes; this one must trigger).
#[test]
fn every_loader_checks_the_deadline() {
    let options = LoadOptions {
        max_document_seconds: 1e-9,
        ..LoadOptions::default()
    };
    let mut man = String::from(".TH LONG 1\n.SH DESCRIPTION\n");
    for i in 0..2000 {
        man.push_str(&format!(".TP\n.B \\-\\-option{i}\nDoes thing {i}.\n"));
    }
    let markdown: String = (0..2000)
        .map(|i| format!("## Part {i}\n\ntext {i}\n\n"))
        .collect();
    let csv: String = (0..2000).map(|i| format!("{i},name {i}\n")).collect();
    let json = format!("[{}]", vec!["{\"a\": 1}"; 2000].join(","));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("long.1", man.into_bytes()),
        ("deep.html", deep_html(5000).into_bytes()),
        ("notes.md", markdown.into_bytes()),
        ("notes.txt", "line\n".repeat(5000).into_bytes()),
        ("rows.csv", csv.into_bytes()),
        ("items.json", json.into_bytes()),
        ("big.docx", docx_bomb(2000)),
        (
            "fhs.pdf",
            std::fs::read(common::corpus_file("debdocs/pdf/fhs-3.0.pdf")).expect("corpus pdf"),
        ),
    ];
    for (name, bytes) in cases {
        let err = ingest::load_bytes(Path::new(name), &bytes, &options)
            .expect_err("the deadline has passed");
        assert_eq!(err.code(), "document_timeout", "{name}: {err}");
        let message = err.to_string();
        assert!(message.contains(name), "{message}");
        assert!(
            message.contains("loading.max_document_seconds"),
            "{message}"
        );
    }
}

#[test]
fn zero_turns_the_limits_off() {
    let options = LoadOptions {
        max_text_bytes: 0,
        max_document_seconds: 0.0,
        ..LoadOptions::default()
    };
    let doc = ingest::load_bytes(Path::new("big.docx"), &docx_bomb(2000), &options).expect("load");
    assert!(doc.text().len() > 1_900_000);
}

// ---- Charsets (issue 10) ---------------------------------------------------------------

#[test]
fn latin1_and_cp1252_text_is_decoded_not_rejected() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // ISO-8859-1 Spanish, as an old text editor saves it.
    let latin1 = b"Configuraci\xF3n del servidor\r\n\r\nLa contrase\xF1a se cambia con passwd. \
                   Ver la secci\xF3n 3.\r\n";
    // Windows-1252 Markdown with curly quotes, an en dash and the euro sign.
    let cp1252 = b"# Gu\xEDa r\xE1pida\n\nEl plan \x93b\xE1sico\x94 cuesta 5 \x80 \x96 sin IVA.\n";
    let txt = write(tmp.path(), "servidor.txt", latin1);
    let md = write(tmp.path(), "guia.md", cp1252);
    let readme = write(tmp.path(), "LEAME", latin1);

    let doc = ingest::load_file(&txt, &LoadOptions::default()).expect("latin-1 text");
    assert_eq!(doc.format, Format::Text);
    assert!(
        doc.text().contains("Configuración del servidor"),
        "{}",
        doc.text()
    );
    assert!(doc.text().contains("La contraseña se cambia"));
    let note = doc
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Charset)
        .expect("a charset note");
    assert!(note.message.contains("windows-1252"), "{}", note.message);

    let doc = ingest::load_file(&md, &LoadOptions::default()).expect("cp1252 markdown");
    assert_eq!(doc.format, Format::Markdown);
    assert_eq!(doc.title.as_deref(), Some("Guía rápida"));
    assert!(
        doc.text()
            .contains("El plan \u{201C}básico\u{201D} cuesta 5 € \u{2013} sin IVA."),
        "{}",
        doc.text()
    );

    // No extension: still text.
    let doc = ingest::load_file(&readme, &LoadOptions::default()).expect("no extension");
    assert_eq!(doc.format, Format::Text);

    // UTF-16 with a byte-order mark.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "Contraseña olvidada".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let doc = ingest::load_bytes(Path::new("utf16.txt"), &utf16, &LoadOptions::default())
        .expect("utf-16");
    assert_eq!(doc.text(), "Contraseña olvidada");

    // UTF-8 stays UTF-8, without a note.
    let doc = ingest::load_bytes(
        Path::new("utf8.txt"),
        "Configuración".as_bytes(),
        &LoadOptions::default(),
    )
    .expect("utf-8");
    assert!(doc.notes.is_empty());
}

#[test]
fn binary_files_are_still_rejected() {
    let mut seed: u32 = 0x9E37_79B9;
    let random: Vec<u8> = (0..8192)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        })
        .collect();
    for name in ["blob.txt", "blob"] {
        match ingest::load_bytes(Path::new(name), &random, &LoadOptions::default()) {
            Err(e) => assert_eq!(e.code(), "unsupported_format", "{name}: {e}"),
            Ok(doc) => panic!("{name}: random bytes loaded as {:?}", doc.format),
        }
    }
    // A real executable of this machine.
    let exe = std::fs::read("/bin/ls").expect("/bin/ls");
    let err = ingest::load_bytes(Path::new("ls.txt"), &exe, &LoadOptions::default())
        .expect_err("an executable is not text");
    assert_eq!(err.code(), "unsupported_format");
}

#[test]
fn html_declared_charset_is_used() {
    let page = b"<html><head><meta charset=\"iso-8859-15\"><title>Precios</title></head>\
                 <body><p>Cuesta 5 \xA4 al mes.</p></body></html>";
    let doc =
        ingest::load_bytes(Path::new("precios.html"), page, &LoadOptions::default()).expect("load");
    // In ISO-8859-15, 0xA4 is the euro sign (in Latin-1 it is the currency sign).
    assert!(doc.text().contains("Cuesta 5 € al mes."), "{}", doc.text());
}

// ---- Format sniffing with the zip crate ---------------------------------------------

#[test]
fn truncated_containers_are_told_by_their_local_headers() {
    // The mimetype entry first (ODF, EPUB): enough to tell the format from a few KiB.
    let epub = std::fs::read(common::corpus_file("debdocs/epub/policy.epub")).expect("epub");
    assert_eq!(
        ingest::detect_format(Path::new("book"), &epub[..4096]).ok(),
        Some(Format::Epub)
    );
    let ods = std::fs::read(common::corpus_file("debdocs/ods/countrystatistics.ods")).expect("ods");
    assert_eq!(
        ingest::detect_format(Path::new("sheet.bin"), &ods[..ods.len() / 2]).ok(),
        Some(Format::Ods)
    );
    // A DOCX cut before its central directory: its entry names in the local headers.
    let docx = docx_bomb(1000);
    let cut = docx.len() - 200;
    assert_eq!(
        ingest::detect_format(Path::new("report"), &docx[..cut]).ok(),
        Some(Format::Docx)
    );
}
