//! The warning given when an English-only embedding model indexes text in another language.

use super::catalogue::{ModelSpec, MULTILINGUAL_RECOMMENDATION};

/// Samples of this many bytes are taken across the document.
const SAMPLE_BYTES: usize = 800;
/// At most this many samples per document.
const MAX_SAMPLES: usize = 9;

/// Up to [`MAX_SAMPLES`] pieces of `text` spread evenly over it, cut at character boundaries.
fn samples(text: &str) -> Vec<&str> {
    let len = text.len();
    if len <= SAMPLE_BYTES {
        return vec![text];
    }
    let count = (len / SAMPLE_BYTES).clamp(1, MAX_SAMPLES);
    let step = (len - SAMPLE_BYTES) / count.max(2).saturating_sub(1).max(1);
    (0..count)
        .filter_map(|i| {
            let mut start = if i + 1 == count {
                len - SAMPLE_BYTES
            } else {
                (i * step).min(len - SAMPLE_BYTES)
            };
            while !text.is_char_boundary(start) {
                start += 1;
            }
            let mut end = (start + SAMPLE_BYTES).min(len);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.get(start..end)
        })
        .collect()
}

/// The main language of `text` by its English name when it is not English, judged on samples
/// spread over the text: `None` when most samples are English or the language cannot be told.
pub fn mostly_not_english(text: &str) -> Option<&'static str> {
    let mut english = 0usize;
    let mut others: Vec<(&'static str, usize)> = Vec::new();
    for sample in samples(text) {
        match crate::prompt::detect_language(sample) {
            Some("English") => english += 1,
            Some(lang) => match others.iter_mut().find(|(l, _)| *l == lang) {
                Some((_, n)) => *n += 1,
                None => others.push((lang, 1)),
            },
            None => {}
        }
    }
    let other_total: usize = others.iter().map(|(_, n)| n).sum();
    if other_total <= english {
        return None;
    }
    others
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(lang, _)| lang)
}

/// A warning when `spec` is an English-only model and `text` is mostly in another language,
/// naming the model to use instead.
///
/// ```
/// use itassist::embed::{catalogue::find_model, language::language_warning};
/// let minilm = find_model("all-MiniLM-L6-v2").unwrap();
/// let spanish = "Para cambiar el puerto del servidor SSH, edite el archivo de configuración \
///                y reinicie el servicio con systemctl. Las claves se guardan en el directorio.";
/// let warning = language_warning(&minilm, spanish).unwrap();
/// assert!(warning.contains("Spanish") && warning.contains("multilingual-e5-small"));
/// assert!(language_warning(&find_model("multilingual-e5-small").unwrap(), spanish).is_none());
/// ```
pub fn language_warning(spec: &ModelSpec, text: &str) -> Option<String> {
    if !spec.english_only {
        return None;
    }
    let language = mostly_not_english(text)?;
    Some(format!(
        "the text is mostly {language}, but the embedding model {} was trained on English only, so meaning-based search will miss much of it: choose a multilingual model (embedding.model = \"{MULTILINGUAL_RECOMMENDATION}\", or --embedding-model {MULTILINGUAL_RECOMMENDATION}) and re-index",
        spec.short_name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::catalogue::find_model;

    const SPANISH: &str =
        "El sistema de paquetes de Debian guarda la lista de los paquetes instalados, \
        sus versiones y sus dependencias. Para instalar un paquete nuevo se usa la orden apt, \
        que descarga el archivo desde los repositorios configurados en el sistema. ";
    const ENGLISH: &str =
        "The Debian package system keeps a list of the installed packages, their \
        versions and their dependencies. To install a new package you use the apt command, which \
        downloads the file from the repositories configured on the system. ";

    #[test]
    fn english_only_models_warn_on_mostly_spanish_text() {
        let minilm = find_model("all-MiniLM-L6-v2").expect("minilm");
        let text = SPANISH.repeat(20);
        let warning = language_warning(&minilm, &text).expect("a warning");
        assert!(warning.contains("Spanish"), "{warning}");
        assert!(warning.contains("all-MiniLM-L6-v2"), "{warning}");
        assert!(warning.contains(MULTILINGUAL_RECOMMENDATION), "{warning}");
    }

    #[test]
    fn english_text_and_multilingual_models_do_not_warn() {
        let minilm = find_model("all-MiniLM-L6-v2").expect("minilm");
        assert!(language_warning(&minilm, &ENGLISH.repeat(20)).is_none());
        let e5 = find_model("multilingual-e5-small").expect("e5");
        assert!(language_warning(&e5, &SPANISH.repeat(20)).is_none());
    }

    #[test]
    fn a_mostly_english_document_with_some_spanish_does_not_warn() {
        let minilm = find_model("all-MiniLM-L6-v2").expect("minilm");
        let text = format!("{}{}", ENGLISH.repeat(30), SPANISH.repeat(5));
        assert!(language_warning(&minilm, &text).is_none());
        let text = format!("{}{}", ENGLISH.repeat(5), SPANISH.repeat(30));
        assert!(language_warning(&minilm, &text).is_some());
    }

    #[test]
    fn samples_cover_the_text_and_respect_char_boundaries() {
        let text = "ñandú ".repeat(2000);
        let parts = samples(&text);
        assert_eq!(parts.len(), MAX_SAMPLES);
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert!(text.ends_with(parts[parts.len() - 1]));
    }
}
