//! Keyword search: languages, the analyzers and BM25 scoring behind the keyword index.
//!
//! The postings live in the same LMDB environment as the chunks (see [`crate::index`]) and
//! are written in the same transaction as their document, so the keyword index can never
//! disagree with the stored chunks, even after a crash. This module holds the parts that do
//! not touch storage: detecting a text's [`Language`], turning text into terms with that
//! language's [`Analyzer`], analysing a query ([`analyze_query`]) and the BM25 formula; the
//! postings and their on-disk encoding belong to the index.
//!
//! Two analyzers exist, told apart by the version recorded in the index
//! ([`ANALYZER_VERSION`]):
//! - version 1 ([`LEGACY_ANALYZER_VERSION`]), indexes written before languages were
//!   recognised: every text is English (Lucene's 33 English stopwords, the English Snowball
//!   stemmer, accents kept). Such an index keeps being read this way, unchanged.
//! - version 2: each chunk's language is detected (whatlang), falling back to its document's
//!   language where the chunk is too short to tell; the words are lowercased, accents are
//!   folded (`configuración` and `configuracion` give the same term), that language's
//!   stopwords (NLTK's lists, from the `stop-words` crate) are dropped and its Snowball
//!   stemmer is applied.
//! - version 3 ([`ANALYZER_VERSION`]): as version 2, but the content words NLTK's Spanish
//!   list holds as forms of `estar` and `sentir` (`estado`, `sentido`, ...) are kept
//!   ([`KEPT_STOPWORDS`]): "the state of aptitude" must find `estado`. An index written
//!   with version 2 keeps its analysis until it is rebuilt.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// The analyzer of indexes written before languages were recognised: English for every text.
pub const LEGACY_ANALYZER_VERSION: u32 = 1;
/// The first per-language analyzer (NLTK's stopword lists whole).
pub const FIRST_PER_LANGUAGE_ANALYZER_VERSION: u32 = 2;
/// The analyzer new indexes are written with: per-language stemming and stopwords, accents
/// folded, content words kept out of the stopword lists.
pub const ANALYZER_VERSION: u32 = 3;

/// Words of NLTK's stopword lists that name things in technical text and are kept as terms
/// from analyzer version 3: Spanish `estado` is both "been" and "state" (`el estado de
/// aptitude`), `sentido` both "felt" and "direction, meaning".
pub const KEPT_STOPWORDS: &[(Language, &[&str])] = &[(
    Language::Spanish,
    &[
        "estado", "estados", "estada", "estadas", "sentido", "sentidos", "sentida", "sentidas",
    ],
)];

/// English words too common to help a keyword search (Lucene's English stop set), used by
/// the legacy analyzer only.
const LEGACY_STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Longest term kept, in bytes (longer runs are hashes, base64 and the like).
const MAX_TERM_BYTES: usize = 40;

/// Detection confidence above which a chunk or a document is taken to be in the detected
/// language. whatlang's own "reliable" (0.9) rejects many clear paragraphs of 30 words; at
/// 0.5, 3 of 14,799 windows of 600 characters of SciFact's English abstracts are taken for
/// another language, and 32 of 35 of a Spanish chapter are Spanish (the other 3 are its
/// untranslated English sections).
const TEXT_CONFIDENCE: f64 = 0.5;

/// Most bytes of a document's text sampled to detect its language.
const DOCUMENT_SAMPLE_BYTES: usize = 16 * 1024;

/// A language the keyword index analyses: every language with a Snowball stemmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Arabic (`ar`).
    Arabic,
    /// Danish (`da`).
    Danish,
    /// Dutch (`nl`).
    Dutch,
    /// English (`en`).
    English,
    /// Finnish (`fi`).
    Finnish,
    /// French (`fr`).
    French,
    /// German (`de`).
    German,
    /// Greek (`el`).
    Greek,
    /// Hungarian (`hu`).
    Hungarian,
    /// Italian (`it`).
    Italian,
    /// Norwegian (`no`).
    Norwegian,
    /// Portuguese (`pt`).
    Portuguese,
    /// Romanian (`ro`).
    Romanian,
    /// Russian (`ru`).
    Russian,
    /// Spanish (`es`).
    Spanish,
    /// Swedish (`sv`).
    Swedish,
    /// Tamil (`ta`).
    Tamil,
    /// Turkish (`tr`).
    Turkish,
}

/// Each language with its ISO 639-1 code, stemmer and whatlang code.
const LANGUAGES: [(Language, &str, Algorithm, whatlang::Lang); 18] = [
    (
        Language::Arabic,
        "ar",
        Algorithm::Arabic,
        whatlang::Lang::Ara,
    ),
    (
        Language::Danish,
        "da",
        Algorithm::Danish,
        whatlang::Lang::Dan,
    ),
    (Language::Dutch, "nl", Algorithm::Dutch, whatlang::Lang::Nld),
    (
        Language::English,
        "en",
        Algorithm::English,
        whatlang::Lang::Eng,
    ),
    (
        Language::Finnish,
        "fi",
        Algorithm::Finnish,
        whatlang::Lang::Fin,
    ),
    (
        Language::French,
        "fr",
        Algorithm::French,
        whatlang::Lang::Fra,
    ),
    (
        Language::German,
        "de",
        Algorithm::German,
        whatlang::Lang::Deu,
    ),
    (Language::Greek, "el", Algorithm::Greek, whatlang::Lang::Ell),
    (
        Language::Hungarian,
        "hu",
        Algorithm::Hungarian,
        whatlang::Lang::Hun,
    ),
    (
        Language::Italian,
        "it",
        Algorithm::Italian,
        whatlang::Lang::Ita,
    ),
    (
        Language::Norwegian,
        "no",
        Algorithm::Norwegian,
        whatlang::Lang::Nob,
    ),
    (
        Language::Portuguese,
        "pt",
        Algorithm::Portuguese,
        whatlang::Lang::Por,
    ),
    (
        Language::Romanian,
        "ro",
        Algorithm::Romanian,
        whatlang::Lang::Ron,
    ),
    (
        Language::Russian,
        "ru",
        Algorithm::Russian,
        whatlang::Lang::Rus,
    ),
    (
        Language::Spanish,
        "es",
        Algorithm::Spanish,
        whatlang::Lang::Spa,
    ),
    (
        Language::Swedish,
        "sv",
        Algorithm::Swedish,
        whatlang::Lang::Swe,
    ),
    (Language::Tamil, "ta", Algorithm::Tamil, whatlang::Lang::Tam),
    (
        Language::Turkish,
        "tr",
        Algorithm::Turkish,
        whatlang::Lang::Tur,
    ),
];

impl Language {
    /// Every language, in code order of [`Language`]'s variants.
    pub fn all() -> impl Iterator<Item = Language> {
        LANGUAGES.iter().map(|entry| entry.0)
    }

    fn entry(self) -> &'static (Language, &'static str, Algorithm, whatlang::Lang) {
        // The table lists the variants in declaration order.
        &LANGUAGES[self as usize]
    }

    /// The ISO 639-1 code (`en`, `es`, ...), as recorded in the index metadata.
    pub fn code(self) -> &'static str {
        self.entry().1
    }

    /// The language with this ISO 639-1 code.
    ///
    /// ```
    /// use itassist::keyword::Language;
    /// assert_eq!(Language::from_code("es"), Some(Language::Spanish));
    /// assert_eq!(Language::from_code("xx"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<Language> {
        LANGUAGES
            .iter()
            .find(|entry| entry.1.eq_ignore_ascii_case(code.trim()))
            .map(|entry| entry.0)
    }

    fn from_whatlang(lang: whatlang::Lang) -> Option<Language> {
        LANGUAGES
            .iter()
            .find(|entry| entry.3 == lang)
            .map(|entry| entry.0)
    }

    /// Whether its words lose their accents before stemming. Tamil's vowel signs are
    /// combining marks that carry meaning, so its words are kept whole.
    fn folds_accents(self) -> bool {
        self != Language::Tamil
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The outcome of detecting a text's language.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The most likely language.
    pub language: Language,
    /// whatlang's confidence, from 0 to 1.
    pub confidence: f64,
    /// Whether the detection can be trusted (whatlang's `is_reliable`: confidence above
    /// 0.9). Texts of a few words rarely are.
    pub reliable: bool,
}

/// Detects the language of `text` among `candidates` (every [`Language`] when empty).
/// `None` when the text has no letters to judge by.
///
/// ```
/// use itassist::keyword::{detect, Language};
/// let found = detect("¿Cómo se genera una contraseña cifrada para un usuario?", &[]).unwrap();
/// assert_eq!(found.language, Language::Spanish);
/// ```
pub fn detect(text: &str, candidates: &[Language]) -> Option<Detection> {
    let allow: Vec<whatlang::Lang> = if candidates.is_empty() {
        LANGUAGES.iter().map(|entry| entry.3).collect()
    } else {
        candidates.iter().map(|l| l.entry().3).collect()
    };
    let info = whatlang::Detector::with_allowlist(allow).detect(text)?;
    Some(Detection {
        language: Language::from_whatlang(info.lang())?,
        confidence: info.confidence(),
        reliable: info.is_reliable(),
    })
}

/// The language of a whole document, from its chunks' texts (a sample of at most 16 KiB
/// spread over the document): the detected language when confident, else English.
pub fn document_language<'a>(chunks: impl IntoIterator<Item = &'a str>) -> Language {
    let chunks: Vec<&str> = chunks.into_iter().collect();
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let step = (total / DOCUMENT_SAMPLE_BYTES).max(1);
    let mut sample = String::new();
    for chunk in chunks.iter().step_by(step) {
        if sample.len() >= DOCUMENT_SAMPLE_BYTES {
            break;
        }
        sample.push_str(chunk);
        sample.push('\n');
    }
    detect(&sample, &[])
        .filter(|d| d.confidence > TEXT_CONFIDENCE)
        .map_or(Language::English, |d| d.language)
}

/// The language a chunk is analysed in: its own when detected with confidence (a document
/// may mix languages), else its document's (short chunks, tables and code say too little).
pub fn chunk_language(text: &str, document: Language) -> Language {
    detect(text, &[])
        .filter(|d| d.confidence > TEXT_CONFIDENCE)
        .map_or(document, |d| d.language)
}

/// Removes accents and other combining marks: Unicode canonical decomposition (NFD), marks
/// dropped. `configuración` becomes `configuracion`, `ñ` becomes `n`.
///
/// ```
/// assert_eq!(itassist::keyword::fold_accents("Configuración año"), "Configuracion ano");
/// ```
pub fn fold_accents(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

/// Spanish nouns in `-ción`, `-sión` and `-logía` always carry the accent, and the Spanish
/// stemmer only recognises these endings with it; put it back on a folded word so that
/// `configuracion` stems like `configuración` (and like `configurar`).
fn restore_spanish_accent(word: &str) -> Cow<'_, str> {
    for (plain, accented) in [
        ("cion", "ción"),
        ("sion", "sión"),
        ("logia", "logía"),
        ("logias", "logías"),
    ] {
        if let Some(stem) = word.strip_suffix(plain) {
            if !stem.is_empty() {
                return Cow::Owned(format!("{stem}{accented}"));
            }
        }
    }
    Cow::Borrowed(word)
}

/// BM25 parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25 {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation.
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 0.9, b: 0.4 }
    }
}

impl Bm25 {
    /// Inverse document frequency of a term found in `df` of `n` chunks.
    pub fn idf(&self, n: u64, df: u64) -> f32 {
        let n = n as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The BM25 weight of a term occurring `tf` times in a chunk of `len` terms.
    pub fn weight(&self, idf: f32, tf: u32, len: u32, avg_len: f32) -> f32 {
        let tf = tf as f32;
        let norm = 1.0 - self.b + self.b * (len as f32 / avg_len.max(1.0));
        idf * tf * (self.k1 + 1.0) / (tf + self.k1 * norm)
    }
}

/// The words of `text`: lowercased runs of letters and digits. Words joined by `_`, `-` or
/// `.` inside (like `ssh-keygen`, `sshd_config`, `apt.conf`) are given whole, then by part.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.')) {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() {
            continue;
        }
        let lower = word.to_lowercase();
        let parts: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > 1 {
            out.push(lower.clone());
        }
        out.extend(parts.into_iter().map(str::to_string));
    }
    out
}

/// The words of `text` after composing it (NFC), so that a letter and its accent written
/// as two code points stay one word.
fn composed_words(text: &str) -> Vec<String> {
    if unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
    {
        words(text)
    } else {
        words(&text.nfc().collect::<String>())
    }
}

/// Turns text into search terms for one language (or the legacy English-only way).
///
/// ```
/// use itassist::keyword::{Analyzer, Language};
/// let english = Analyzer::default();
/// assert_eq!(english.terms("Restarting the SSH daemons"), ["restart", "ssh", "daemon"]);
/// let spanish = Analyzer::new(Language::Spanish);
/// assert_eq!(spanish.terms("la configuración"), spanish.terms("la configuracion"));
/// ```
pub struct Analyzer {
    /// `None`: the legacy English-only analyzer.
    language: Option<Language>,
    /// The analyzer version it implements.
    version: u32,
    stemmer: Stemmer,
    /// Folded stopwords (the legacy analyzer uses [`LEGACY_STOPWORDS`]).
    stopwords: HashSet<String>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.language {
            Some(language) => write!(f, "Analyzer({language}, version {})", self.version),
            None => f.write_str("Analyzer(legacy english)"),
        }
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(Language::English)
    }
}

impl Analyzer {
    /// The analyzer of `language` ([`ANALYZER_VERSION`]): its stopwords (NLTK's list) and
    /// Snowball stemmer, accents folded.
    pub fn new(language: Language) -> Analyzer {
        Analyzer::with_version(language, ANALYZER_VERSION)
    }

    /// The analyzer of `language` as per-language analyzer `version` (2 or later) defines it.
    pub fn with_version(language: Language, version: u32) -> Analyzer {
        let words = stop_words::lookup(language.code()).unwrap_or(&[]);
        let kept: &[&str] = if version > FIRST_PER_LANGUAGE_ANALYZER_VERSION {
            KEPT_STOPWORDS
                .iter()
                .find(|(l, _)| *l == language)
                .map_or(&[], |(_, words)| *words)
        } else {
            &[]
        };
        let stopwords = words
            .iter()
            .filter(|w| !kept.contains(w))
            .map(|w| {
                let lower = w.to_lowercase();
                if language.folds_accents() {
                    fold_accents(&lower)
                } else {
                    lower
                }
            })
            .collect();
        Analyzer {
            language: Some(language),
            version,
            stemmer: Stemmer::create(language.entry().2),
            stopwords,
        }
    }

    /// The analyzer of indexes written before languages were recognised
    /// ([`LEGACY_ANALYZER_VERSION`]): English stemming and stopwords for every text, accents
    /// kept.
    pub fn legacy() -> Analyzer {
        Analyzer {
            language: None,
            version: LEGACY_ANALYZER_VERSION,
            stemmer: Stemmer::create(Algorithm::English),
            stopwords: LEGACY_STOPWORDS.iter().map(|w| w.to_string()).collect(),
        }
    }

    /// The shared analyzer of `language` ([`ANALYZER_VERSION`]).
    pub fn shared(language: Language) -> &'static Analyzer {
        Analyzer::shared_version(language, ANALYZER_VERSION)
    }

    /// The shared analyzer that reads `language` in an index written with analyzer
    /// `version`: the legacy English one for version 1, version 2's for version 2, the
    /// current one otherwise.
    pub fn shared_version(language: Language, version: u32) -> &'static Analyzer {
        static FIRST: OnceLock<Vec<Analyzer>> = OnceLock::new();
        static CURRENT: OnceLock<Vec<Analyzer>> = OnceLock::new();
        let (cell, version) = match version {
            LEGACY_ANALYZER_VERSION => return Analyzer::shared_legacy(),
            FIRST_PER_LANGUAGE_ANALYZER_VERSION => (&FIRST, version),
            _ => (&CURRENT, ANALYZER_VERSION),
        };
        let all = cell.get_or_init(|| {
            Language::all()
                .map(|l| Analyzer::with_version(l, version))
                .collect()
        });
        &all[language as usize]
    }

    /// The shared legacy analyzer.
    pub fn shared_legacy() -> &'static Analyzer {
        static LEGACY: OnceLock<Analyzer> = OnceLock::new();
        LEGACY.get_or_init(Analyzer::legacy)
    }

    /// The language it analyses (`None` for the legacy analyzer).
    pub fn language(&self) -> Option<Language> {
        self.language
    }

    /// The analyzer version it implements.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The words of `text` as this analyzer splits them.
    fn words(&self, text: &str) -> Vec<String> {
        match self.language {
            Some(_) => composed_words(text),
            None => words(text),
        }
    }

    /// Whether a lowercased word is one of this analyzer's stopwords.
    fn is_stopword(&self, word: &str) -> bool {
        match self.language {
            Some(language) if language.folds_accents() => {
                self.stopwords.contains(&fold_accents(word))
            }
            _ => self.stopwords.contains(word),
        }
    }

    /// The term of one lowercased word, or `None` for a stopword or an over-long run.
    fn term(&self, word: &str) -> Option<String> {
        if word.len() > MAX_TERM_BYTES {
            return None;
        }
        let Some(language) = self.language else {
            if self.stopwords.contains(word) {
                return None;
            }
            return Some(self.stemmer.stem(word).into_owned());
        };
        if !language.folds_accents() {
            return (!self.stopwords.contains(word)).then(|| self.stemmer.stem(word).into_owned());
        }
        // Fold first, so a word typed without its accents gives the same term; the stem is
        // folded again because the Spanish accent restoration puts some back.
        let folded = fold_accents(word);
        if self.stopwords.contains(&folded) {
            return None;
        }
        let prepared = match language {
            Language::Spanish => restore_spanish_accent(&folded),
            _ => Cow::Borrowed(folded.as_str()),
        };
        let stem = fold_accents(&self.stemmer.stem(&prepared));
        // A word of combining marks only (Thai vowel signs, Arabic harakat) folds to nothing:
        // there is no term, and LMDB refuses an empty key.
        (!stem.is_empty()).then_some(stem)
    }

    /// The terms of `text`, in order, with repeats.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.words(text)
            .iter()
            .filter_map(|w| self.term(w))
            .collect()
    }

    /// Term frequencies of `text`, and its length in terms.
    pub fn frequencies(&self, text: &str) -> (HashMap<String, u32>, u32) {
        let terms = self.terms(text);
        let len = terms.len() as u32;
        let mut tf: HashMap<String, u32> = HashMap::new();
        for term in terms {
            *tf.entry(term).or_default() += 1;
        }
        (tf, len)
    }
}

/// A query as the keyword index reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryAnalysis {
    /// The languages it was analysed for (empty for the legacy analyzer).
    pub languages: Vec<Language>,
    /// One group per distinct query word: the word's terms in each of those languages,
    /// without repeats. A chunk scores the best of a group's terms, never their sum, so a
    /// word analysed for two languages is not counted twice.
    pub groups: Vec<Vec<String>>,
}

/// Analyses `query` for an index written by analyzer `version` holding chunks of the
/// `present` languages.
///
/// With one language present, the query is analysed for it. With several, the query's own
/// language is detected among them; when the detection is not reliable (most queries of a
/// few words), the query is analysed for each of them, and a word that is a stopword in any
/// of them is dropped.
///
/// ```
/// use itassist::keyword::{analyze_query, Language, ANALYZER_VERSION};
/// let both = [Language::English, Language::Spanish];
/// let query = analyze_query("¿Cómo se genera una contraseña cifrada para un usuario?", ANALYZER_VERSION, &both);
/// assert_eq!(query.languages, [Language::Spanish]);
/// let query = analyze_query("configuracion red", ANALYZER_VERSION, &both);
/// assert_eq!(query.languages, both);
/// ```
pub fn analyze_query(query: &str, version: u32, present: &[Language]) -> QueryAnalysis {
    if version < FIRST_PER_LANGUAGE_ANALYZER_VERSION {
        let analyzer = Analyzer::shared_legacy();
        let distinct: BTreeSet<String> = analyzer.terms(query).into_iter().collect();
        return QueryAnalysis {
            languages: Vec::new(),
            groups: distinct.into_iter().map(|t| vec![t]).collect(),
        };
    }
    let languages = match present {
        [] => vec![Language::English],
        [one] => vec![*one],
        several => match detect(query, several) {
            Some(found) if found.reliable => vec![found.language],
            _ => several.to_vec(),
        },
    };
    let analyzers: Vec<&Analyzer> = languages
        .iter()
        .map(|l| Analyzer::shared_version(*l, version))
        .collect();
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for word in composed_words(query) {
        // A stopword in any of the languages says nothing (Spanish `de` or `la` kept as an
        // English term would match passages misdetected as another language).
        if analyzers.iter().any(|a| a.is_stopword(&word)) {
            continue;
        }
        let variants: BTreeSet<String> = analyzers.iter().filter_map(|a| a.term(&word)).collect();
        let group: Vec<String> = variants.into_iter().collect();
        if !group.is_empty() && seen.insert(group.clone()) {
            groups.push(group);
        }
    }
    QueryAnalysis { languages, groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_stemmed_and_split() {
        for a in [Analyzer::default(), Analyzer::legacy()] {
            let terms = a.terms("The ssh-keygen program Generates keys for sshd_config.");
            assert!(terms.contains(&"ssh-keygen".to_string()));
            assert!(terms.contains(&"ssh".to_string()));
            assert!(terms.contains(&"keygen".to_string()));
            assert!(terms.contains(&"generat".to_string()));
            assert!(terms.contains(&"key".to_string()));
            assert!(!terms.contains(&"the".to_string()));
            assert!(terms.contains(&"sshd_config".to_string()));
        }
    }

    #[test]
    fn the_legacy_analyzer_keeps_its_english_terms_and_accents() {
        let legacy = Analyzer::legacy();
        // Exactly the terms indexes written before version 2 hold.
        assert_eq!(
            legacy.terms("Restarting the SSH daemons, all of them"),
            ["restart", "ssh", "daemon", "all", "them"]
        );
        assert_eq!(legacy.terms("configuración"), ["configuración"]);
        assert_ne!(legacy.terms("configuracion"), legacy.terms("configuración"));
    }

    #[test]
    fn spanish_words_match_with_and_without_accents() {
        let es = Analyzer::new(Language::Spanish);
        let one = |w: &str| es.terms(w).remove(0);
        // Stemming then folding would give `configur` and `configuracion`; folding first
        // with the accent of -ción restored gives one term for all of them.
        for word in [
            "configuracion",
            "configuraciones",
            "configurar",
            "CONFIGURACIÓN",
        ] {
            assert_eq!(one(word), one("configuración"), "{word}");
        }
        assert_eq!(one("contrasena"), one("contraseña"));
        assert_eq!(one("contraseñas"), one("contraseña"));
        assert_eq!(one("sesion"), one("sesión"));
        assert_eq!(one("instalacion"), one("instalar"));
        assert_eq!(one("tecnologias"), one("tecnología"));
        assert_eq!(one("modulo"), one("módulos"));
        // Spanish stopwords, with or without their accents.
        assert!(es.terms("cómo como qué que para los está esta").is_empty());
    }

    #[test]
    fn decomposed_accents_stay_in_one_word() {
        let es = Analyzer::new(Language::Spanish);
        // "configuración" written with a combining acute accent, as some PDFs do.
        let decomposed = "configuracio\u{301}n de red";
        assert_eq!(es.terms(decomposed), es.terms("configuración de red"));
    }

    #[test]
    fn every_stemmer_language_has_an_analyzer_with_stopwords() {
        assert_eq!(Language::all().count(), 18);
        for language in Language::all() {
            assert_eq!(Language::from_code(language.code()), Some(language));
            let analyzer = Analyzer::shared(language);
            assert_eq!(analyzer.language(), Some(language));
            assert!(!analyzer.stopwords.is_empty(), "{language}");
        }
        let de = Analyzer::new(Language::German);
        assert_eq!(de.terms("die Häuser"), de.terms("Haus"));
        let fr = Analyzer::new(Language::French);
        assert_eq!(fr.terms("les serveurs"), fr.terms("serveur"));
        let ta = Analyzer::new(Language::Tamil);
        // Tamil vowel signs are combining marks: they must not be stripped.
        assert_eq!(ta.terms("கணினி").len(), 1);
        assert_ne!(ta.terms("கணினி")[0], "கணன");
    }

    #[test]
    fn languages_are_detected_on_chunks_and_fall_back_to_the_document() {
        let es = "Para cambiar la configuración de las interfaces de red, edite el archivo \
                  /etc/network/interfaces y reinicie el servicio. La puerta de enlace se \
                  define allí.";
        let en = "To change the port the SSH server listens on, edit the configuration file, \
                  set the Port directive and restart the service. Existing sessions stay \
                  open while the daemon reloads its settings.";
        assert_eq!(document_language([es, es]), Language::Spanish);
        assert_eq!(document_language([en]), Language::English);
        assert_eq!(chunk_language(es, Language::English), Language::Spanish);
        assert_eq!(chunk_language(en, Language::Spanish), Language::English);
        // Too short to tell: the document's language.
        assert_eq!(
            chunk_language("ls -l", Language::Spanish),
            Language::Spanish
        );
        assert_eq!(chunk_language("", Language::Spanish), Language::Spanish);
        // Nothing reliable at all: English.
        assert_eq!(document_language(["42"]), Language::English);
        assert_eq!(document_language([]), Language::English);
    }

    #[test]
    fn uncertain_queries_are_analysed_for_every_present_language_once() {
        let both = [Language::English, Language::Spanish];
        let q = analyze_query("configuracion de red", ANALYZER_VERSION, &both);
        assert_eq!(q.languages, both);
        let es = Analyzer::shared(Language::Spanish);
        // "de" is a Spanish stopword: dropped, though English would keep it.
        assert!(q.groups.iter().all(|g| !g.contains(&"de".to_string())));
        assert!(q
            .groups
            .iter()
            .any(|g| g.contains(&es.terms("configuración")[0])));
        // "red" is the same term in both languages: one group of one term.
        assert!(q.groups.contains(&vec!["red".to_string()]));
        // A repeated word is one group.
        let q = analyze_query("ssh ssh port", ANALYZER_VERSION, &both);
        assert_eq!(q.groups.len(), 2);
        // One language present: no detection, that language.
        let q = analyze_query(
            "how do I restart sshd",
            ANALYZER_VERSION,
            &[Language::English],
        );
        assert_eq!(q.languages, [Language::English]);
        // A long, clear query: its own language only.
        let q = analyze_query(
            "Which file holds the settings of the SSH server and how do I restart it?",
            ANALYZER_VERSION,
            &both,
        );
        assert_eq!(q.languages, [Language::English]);
    }

    #[test]
    fn legacy_queries_keep_the_english_analysis() {
        let q = analyze_query(
            "Restarting the SSH daemons",
            LEGACY_ANALYZER_VERSION,
            &[Language::Spanish],
        );
        assert!(q.languages.is_empty());
        assert_eq!(
            q.groups,
            [
                vec!["daemon".to_string()],
                vec!["restart".into()],
                vec!["ssh".into()]
            ]
        );
    }

    #[test]
    fn rarer_terms_weigh_more() {
        let bm25 = Bm25::default();
        assert!(bm25.idf(1000, 2) > bm25.idf(1000, 500));
        let idf = bm25.idf(1000, 10);
        assert!(bm25.weight(idf, 3, 100, 100.0) > bm25.weight(idf, 1, 100, 100.0));
        assert!(bm25.weight(idf, 1, 50, 100.0) > bm25.weight(idf, 1, 200, 100.0));
    }
}
