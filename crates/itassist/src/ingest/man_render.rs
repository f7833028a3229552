//! Man pages rendered by groff, the program `man` itself uses on Debian (package
//! `groff-base`), so that the text is what `man` shows: pages that define their own macros
//! (`.de`, `.als`, `.am`), test groff registers or load macro packages (Asciidoctor's
//! util-linux pages, systemd, git) come out whole.
//!
//! The page is untrusted (it may be a server upload), so groff runs:
//! - in its safe mode (the default: `-U` is never passed), which already refuses `.pso`,
//!   `.sy`, `.pi`, `.open` and `.opena`;
//! - after a prologue that removes every request that reads or writes a file, or runs a
//!   program, before the page's first line ([`DISABLED_REQUESTS`]): `.so /etc/passwd`,
//!   `.mso ~/.ssh/id_rsa`, `.cf`, `.nx`, mdoc's `.Bd -file` and the rest are then unknown
//!   names that print nothing. A removed request cannot be brought back under another name.
//!   The macro packages themselves (`an-old`, or `doc` for mdoc pages) are loaded from the
//!   command line before the prologue; a page's own `.mso www.tmac` is ignored, so its
//!   fallback definitions are used;
//! - with an empty environment (no `\V` variable leaks, no macro path in `$HOME`), `/` as
//!   its directory, its input on stdin and its output read from a pipe;
//! - in its own process group, killed as a whole when the document's deadline passes
//!   ([`LoadOptions::max_document_seconds`]) or its output passes the size of one part
//!   (a few times [`LoadOptions::max_text_bytes`]);
//! - with a memory limit ([`MEMORY_LIMIT`], `RLIMIT_AS`), a CPU-time limit just over the
//!   deadline, no files written (`RLIMIT_FSIZE` 0) and no core dumps.
//!
//! The output is made plain (no overstrikes, no escape sequences) and split into sections
//! at the section and subsection headings; the header and footer lines (title, manual,
//! source, date) are kept in a first section without heading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::{Budget, Format, LoadOptions, LoadedDocument, SectionBuilder};
use crate::error::Result;

/// Which program turns man pages (roff source) into text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ManRenderer {
    /// groff when it is installed (on `PATH`, or [`LoadOptions::groff`]), else the builtin
    /// parser, with a note on each page read by it.
    #[default]
    Auto,
    /// groff; a page fails with `invalid_input` when groff is not installed.
    Groff,
    /// The builtin parser: no external program, but pages that define their own macros
    /// lose the text those macros would print.
    Builtin,
}

/// Requests removed before the page is read: they read files (`so`, `mso`, `cf`, `trf`,
/// `nx`, `rd`, `hpf`, `hpfa`, `psbb`, `soquiet`, `msoquiet`), write files (`open`, `opena`,
/// `write`, `writec`, `writem`, `close`) or run programs (`sy`, `pi`, `pso`).
pub(crate) const DISABLED_REQUESTS: &[&str] = &[
    "so", "soquiet", "mso", "msoquiet", "pso", "sy", "pi", "open", "opena", "close", "write",
    "writec", "writem", "cf", "trf", "nx", "rd", "hpf", "hpfa", "psbb",
];

/// Largest address space of each groff process (`RLIMIT_AS`): real pages need a few MiB
/// (bash(1), 380 KB of roff, renders in 16 MiB); a page whose strings double themselves
/// reaches it in about 3 seconds and fails.
pub(crate) const MEMORY_LIMIT: u64 = 128 << 20;

/// Output line length given to groff, in ens: wide, so that paragraphs come out as one line
/// each, without hyphenation.
const LINE_LENGTH: &str = "-rLL=1000n";

/// The installed groff for `program` (a name looked up on `PATH`, or a path), found once
/// per program and remembered.
pub(crate) fn find_groff(program: &Path) -> Option<PathBuf> {
    static FOUND: OnceLock<Mutex<HashMap<PathBuf, Option<PathBuf>>>> = OnceLock::new();
    let cache = FOUND.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = match cache.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    cache
        .entry(program.to_path_buf())
        .or_insert_with(|| locate(program))
        .clone()
}

/// Looks `program` up: a path is taken as it is, a bare name is searched on `PATH`.
fn locate(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return is_executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    // The child-process limits below are written for Unix: elsewhere the builtin parser.
    false
}

/// Is this an mdoc page (`.Dd` before any `.TH`)?
fn is_mdoc(source: &str) -> bool {
    for line in source.lines().take(200) {
        match macro_name(line) {
            Some("TH") => return false,
            Some("Dd") | Some("Dt") => return true,
            _ => {}
        }
    }
    false
}

/// The name of the request or macro called on a control line.
fn macro_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('.').or_else(|| line.strip_prefix('\''))?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let end = rest.find([' ', '\t']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Does the page set a title (`.TH`, `.Dd`/`.Dt`), so that groff prints a header and a
/// footer line?
fn has_title(source: &str) -> bool {
    source
        .lines()
        .any(|line| matches!(macro_name(line), Some("TH" | "Dd" | "Dt")))
}

/// The page as groff input: the prologue that removes [`DISABLED_REQUESTS`], then the
/// page with every non-ASCII character written as a `\[uXXXX]` escape (groff 1.22 reads
/// bytes as Latin-1; this is what its `preconv` does).
fn groff_input(source: &str) -> Vec<u8> {
    let mut input = String::with_capacity(source.len() + 256);
    input.push_str(".do rm");
    for request in DISABLED_REQUESTS {
        input.push(' ');
        input.push_str(request);
    }
    input.push_str("\n.lf 1\n");
    for c in source.chars() {
        match c {
            '\r' => {}
            c if c.is_ascii() => input.push(c),
            c => input.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    input.push('\n');
    input.into_bytes()
}

/// Renders a man page with groff (found at `groff`) and splits its text into sections.
pub(crate) fn render(
    groff: &Path,
    source: &str,
    options: &LoadOptions,
    budget: &Budget,
) -> Result<LoadedDocument> {
    budget.check_time()?;
    let package = if is_mdoc(source) { "doc" } else { "an-old" };
    let args = [
        "-Tutf8",
        "-m",
        package,
        "-t",
        "-P-cbou",
        LINE_LENGTH,
        "-rHY=0",
        "-Wall",
    ];
    let output = child::run(groff, &args, groff_input(source), options, budget)?;
    let text = plain(&String::from_utf8_lossy(&output));
    sections(&text, has_title(source), budget)
}

/// groff's terminal output as plain text: overstrikes (`c\bc`, `_\bc`) and escape
/// sequences removed, box-drawing table rules dropped, hyphen and minus signs as `-`,
/// typographic quotes as ASCII quotes.
fn plain(output: &str) -> String {
    let mut out = String::with_capacity(output.len());
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{8}' => {
                out.pop();
            }
            '\u{1b}' => {
                // CSI: ESC [ parameters final-byte.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                }
            }
            '\u{2010}' | '\u{2011}' | '\u{2212}' => out.push('-'),
            // Typographic quotes as typed in the source (`'`, `` ` ``, `\(lq`), so that
            // "ripgrep's" is found as typed.
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{201C}' | '\u{201D}' => out.push('"'),
            '│' | '┃' | '║' => out.push('|'),
            c => out.push(c),
        }
    }
    out
}

/// Is the line a table rule (box-drawing characters, `-`, `+`, `=`, `|` and blanks only)?
fn is_rule(line: &str) -> bool {
    let mut any_box = false;
    for c in line.chars() {
        match c {
            '\u{2500}'..='\u{257F}' => any_box = true,
            ' ' | '-' | '+' | '=' | '|' => {}
            _ => return false,
        }
    }
    any_box
}

/// Number of leading blanks.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blanks collapsed: the header and footer lines are spread over the whole line length.
fn collapse(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Deepest indentation of a heading: `.SH` is at column 0, `.SS` at 3; body text at 5
/// (mdoc) or 7 (man).
const MAX_HEADING_INDENT: usize = 4;
/// Longest heading line, in bytes.
const MAX_HEADING_BYTES: usize = 200;

/// Splits rendered text into sections: a line at column 0 is a section heading (`.SH`,
/// `.Sh`), one indented by 1 to 4 blanks a subsection heading (`.SS`, `.Ss`); body text is
/// indented more and is kept without its indentation. With `titled` (the page calls `.TH`
/// or `.Dd`), the first and last lines are groff's header and footer, kept in a first
/// section without heading; without it, there are no headings.
fn sections(text: &str, titled: bool, budget: &Budget) -> Result<LoadedDocument> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    let (mut body, mut header, mut footer) = (&lines[..0], None, None);
    if let (Some(first), Some(last)) = (first, last) {
        body = &lines[first..=last];
        if titled && last > first {
            header = Some(lines[first]);
            footer = Some(lines[last]);
            body = &lines[first + 1..last];
        }
    }
    let mut out = SectionBuilder::new();
    let title = header.and_then(|h| h.split("  ").next()).map(str::trim);
    let title = title.filter(|t| !t.is_empty()).map(str::to_string);
    for line in [header, footer].into_iter().flatten() {
        out.push_str(&collapse(line));
        out.push_str("\n");
    }
    for line in body {
        budget.check(out.pushed_bytes())?;
        if line.is_empty() {
            out.push_str("\n");
            continue;
        }
        if is_rule(line) {
            continue;
        }
        // Without `.TH`/`.Dd` the page's text is not indented: no headings then.
        if titled && indent(line) <= MAX_HEADING_INDENT && line.len() <= MAX_HEADING_BYTES {
            let heading = line.trim();
            out.start_section(Some(heading.to_string()), None);
            out.push_str(heading);
            out.push_str("\n\n");
        } else {
            out.push_str(line.trim_start());
            out.push_str("\n");
        }
    }
    budget.check(out.pushed_bytes())?;
    Ok(LoadedDocument::new(Format::Man, title, out.finish()))
}

/// Running groff as a bounded child process.
#[cfg(unix)]
mod child {
    use std::io::{Read, Write};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::path::Path;
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    use nix::sys::resource::{setrlimit, Resource};
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;

    use super::{Budget, LoadOptions, MEMORY_LIMIT};
    use crate::error::{Error, Result};

    /// How often the deadline is checked while groff runs.
    const POLL: Duration = Duration::from_millis(10);
    /// How often groff's exit is checked once its output is closed (it exits at once).
    const EXIT_POLL: Duration = Duration::from_millis(1);
    /// groff's messages kept for an error (the rest is read and dropped).
    const MAX_STDERR_BYTES: usize = 4096;

    /// The CPU seconds allowed to each groff process: just over the document's time limit
    /// (a backstop should this process die and leave groff running); none without a limit.
    fn cpu_seconds(options: &LoadOptions) -> Option<u64> {
        let seconds = options.max_document_seconds;
        (seconds > 0.0 && seconds.is_finite()).then(|| seconds.ceil() as u64 + 1)
    }

    /// Sets the limits of the child; runs between `fork` and `exec`, so it only makes
    /// `setrlimit` system calls (async-signal-safe, no allocation, no lock).
    fn limit_child(cpu: Option<u64>) -> std::io::Result<()> {
        setrlimit(Resource::RLIMIT_AS, MEMORY_LIMIT, MEMORY_LIMIT)?;
        setrlimit(Resource::RLIMIT_FSIZE, 0, 0)?;
        setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
        if let Some(cpu) = cpu {
            setrlimit(Resource::RLIMIT_CPU, cpu, cpu + 1)?;
        }
        Ok(())
    }

    /// The `PATH` groff gets: its own directory (it runs `troff`, `grotty` and `tbl` from
    /// there), then the system's.
    fn search_path(groff: &Path) -> std::ffi::OsString {
        let mut path = std::ffi::OsString::new();
        if let Some(dir) = groff.parent().filter(|d| !d.as_os_str().is_empty()) {
            path.push(dir.as_os_str());
            path.push(":");
        }
        path.push("/usr/bin:/bin");
        path
    }

    /// Reads `reader` to its end, keeping at most `keep` bytes; says whether it had more.
    /// With `drain` it reads on to the end (so that the writer never blocks), else it stops
    /// as soon as there is more than `keep`.
    fn read_capped(mut reader: impl Read, keep: u64, drain: bool) -> (Vec<u8>, bool) {
        let mut kept = Vec::new();
        let mut over = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let room = keep.saturating_sub(kept.len() as u64) as usize;
            kept.extend_from_slice(&buf[..n.min(room)]);
            if n > room {
                over = true;
                if !drain {
                    break;
                }
            }
        }
        (kept, over)
    }

    /// Why groff stopped, from its exit status and its first messages.
    fn describe(status: ExitStatus, stderr: &str) -> String {
        let messages: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("groff exited with status {code}"),
            (None, Some(signal)) => format!("groff was killed by signal {signal}"),
            _ => "groff failed".to_string(),
        };
        let mut reason = how;
        if stderr.contains("out of memory") || status.signal().is_some() {
            reason.push_str(&format!(
                " (rendering the page needs more than {} MiB or its CPU time limit: a roff string or macro that expands itself without bound)",
                MEMORY_LIMIT >> 20
            ));
        }
        if !messages.is_empty() {
            reason.push_str(": ");
            reason.push_str(&messages.join("; "));
        }
        reason
    }

    /// The threads that feed groff its input and read its messages.
    struct Pipes {
        writer: JoinHandle<()>,
        messages: JoinHandle<Vec<u8>>,
        output: mpsc::Receiver<(Vec<u8>, bool)>,
        reader: JoinHandle<()>,
    }

    /// What stopped the wait for groff's output.
    enum Outcome {
        /// All output read (or the reader stopped at the cap: `true`).
        Output(Vec<u8>, bool),
        /// The document's deadline passed.
        Late(Error),
    }

    /// Runs groff with `args`, `input` on its stdin; returns its output.
    pub(super) fn run(
        groff: &Path,
        args: &[&str],
        input: Vec<u8>,
        options: &LoadOptions,
        budget: &Budget,
    ) -> Result<Vec<u8>> {
        let cpu = cpu_seconds(options);
        let mut command = Command::new(groff);
        command
            .args(args)
            .env_clear()
            .env("PATH", search_path(groff))
            .env("LC_ALL", "C")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the closure runs in the forked child before `exec`; it only calls
        // `setrlimit` (see `limit_child`), which is async-signal-safe and touches no state
        // shared with the parent.
        unsafe {
            command.pre_exec(move || limit_child(cpu));
        }
        let mut child = command.spawn().map_err(|e| Error::Io {
            path: Some(groff.to_path_buf()),
            source: e,
        })?;
        let pipes = start_pipes(&mut child, input, budget.max_part_bytes());
        let outcome = wait_output(&pipes.output, budget);
        let late = match &outcome {
            Outcome::Output(_, over) => *over,
            Outcome::Late(_) => true,
        };
        let status = if late {
            kill(&child);
            child.wait().map(Ok)
        } else {
            wait_exit(&mut child, budget)
        };
        let messages = finish_pipes(pipes);
        let (output, over) = match outcome {
            Outcome::Late(err) => return Err(err),
            Outcome::Output(output, over) => (output, over),
        };
        if over {
            return Err(budget.too_large(
                "the man page as rendered by groff".into(),
                budget.max_part_bytes(),
            ));
        }
        let status = status.map_err(|e| Error::Io {
            path: Some(groff.to_path_buf()),
            source: e,
        })??;
        let stderr = String::from_utf8_lossy(&messages);
        if !status.success() {
            let text_output = output.iter().any(|b| !b.is_ascii_whitespace());
            if !text_output || stderr.contains("out of memory") || status.signal().is_some() {
                return Err(Error::CorruptDocument {
                    path: budget.path().to_path_buf(),
                    format: "man".into(),
                    reason: describe(status, &stderr),
                    source: None,
                });
            }
            tracing::warn!(
                path = %budget.path().display(),
                "groff reported an error; its output is used: {}",
                describe(status, &stderr)
            );
        }
        Ok(output)
    }

    /// Starts the threads that write `input` to groff and read its output (up to `cap`
    /// bytes) and its messages.
    fn start_pipes(child: &mut Child, input: Vec<u8>, cap: u64) -> Pipes {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let writer = thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // A groff that stops reading (killed, or done) is not an error here.
                let _ = stdin.write_all(&input);
            }
        });
        let messages = thread::spawn(move || match stderr {
            Some(stderr) => read_capped(stderr, MAX_STDERR_BYTES as u64, true).0,
            None => Vec::new(),
        });
        let (sender, output) = mpsc::channel();
        let reader = thread::spawn(move || {
            let result = match stdout {
                Some(stdout) => read_capped(stdout, cap, false),
                None => (Vec::new(), false),
            };
            let _ = sender.send(result);
        });
        Pipes {
            writer,
            messages,
            output,
            reader,
        }
    }

    /// Waits for the output, checking the deadline.
    fn wait_output(output: &mpsc::Receiver<(Vec<u8>, bool)>, budget: &Budget) -> Outcome {
        loop {
            match output.recv_timeout(POLL) {
                Ok((bytes, over)) => return Outcome::Output(bytes, over),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(err) = budget.check_time() {
                        return Outcome::Late(err);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Outcome::Output(Vec::new(), false),
            }
        }
    }

    /// Waits for groff to exit once its output is closed, checking the deadline.
    fn wait_exit(child: &mut Child, budget: &Budget) -> std::io::Result<Result<ExitStatus>> {
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Ok(status));
            }
            if let Err(err) = budget.check_time() {
                kill(child);
                child.wait()?;
                return Ok(Err(err));
            }
            thread::sleep(EXIT_POLL);
        }
    }

    /// Kills groff and the programs it started (its process group). The group is killed
    /// before groff is reaped, so its id cannot have been reused.
    fn kill(child: &Child) {
        if let Ok(pid) = i32::try_from(child.id()) {
            // Already gone: nothing to do.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }

    /// Joins the threads (their pipes are closed once groff is gone); returns the messages.
    fn finish_pipes(pipes: Pipes) -> Vec<u8> {
        let _ = pipes.writer.join();
        let _ = pipes.reader.join();
        pipes.messages.join().unwrap_or_default()
    }
}

/// Without Unix process limits groff is not run (see [`is_executable`]).
#[cfg(not(unix))]
mod child {
    use std::path::Path;

    use super::{Budget, LoadOptions};
    use crate::error::{Error, Result};

    pub(super) fn run(
        groff: &Path,
        _args: &[&str],
        _input: Vec<u8>,
        _options: &LoadOptions,
        _budget: &Budget,
    ) -> Result<Vec<u8>> {
        Err(Error::InvalidInput(format!(
            "{} cannot be run with limits on this system: set loading.man_renderer to \"builtin\"",
            groff.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_escapes_non_ascii_and_removes_file_requests() {
        let input = String::from_utf8(groff_input(".SH DESCRIPCIÓN\r\nañadir €\n")).unwrap();
        assert!(input.starts_with(".do rm so soquiet mso"), "{input}");
        assert!(input.contains(".SH DESCRIPCI\\[u00D3]N\na\\[u00F1]adir \\[u20AC]\n"));
    }

    #[test]
    fn mdoc_pages_are_told_apart() {
        assert!(is_mdoc(".\\\" c\n.Dd $Mdocdate$\n.Dt SSH 1\n"));
        assert!(!is_mdoc(".TH LS 1\n.SH NAME\n"));
        assert!(!is_mdoc("text only\n"));
        assert!(has_title(".  TH X 1\n"));
        assert!(!has_title("plain\n"));
    }

    #[test]
    fn plain_text_and_sections() {
        let raw = "LS(1)        User Commands        LS(1)\n\nN\u{8}NA\u{8}AM\u{8}ME\u{8}E\n       ls \u{2010} list\n   Sub\u{8}b\n       ───── ───\n       a │ b\n\nGNU         2022          LS(1)\n";
        let text = plain(raw);
        let path = Path::new("ls.1");
        let doc = sections(&text, true, &Budget::unlimited(path)).unwrap();
        assert_eq!(doc.title.as_deref(), Some("LS(1)"));
        let got: Vec<(Option<&str>, &str)> = doc
            .sections
            .iter()
            .map(|s| (s.heading.as_deref(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "LS(1) User Commands LS(1)\nGNU 2022 LS(1)"),
                (Some("NAME"), "NAME\n\nls - list"),
                (Some("Sub"), "Sub\n\na | b"),
            ]
        );
        // Raw roff without `.TH`: text at column 0, no header, no headings.
        let doc = sections("plain text\nmore text\n", false, &Budget::unlimited(path)).unwrap();
        assert_eq!(doc.title, None);
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].heading, None);
        assert_eq!(doc.sections[0].text, "plain text\nmore text");
    }
}
