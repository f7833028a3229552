//! The embedding models itassist knows by name: fastembed's catalogue, with the settings each
//! model was trained with (pooling, query and passage prefixes, input length, languages).
//!
//! fastembed knows each model's dimension and pooling; it applies no prefixes of its own, so
//! the prefixes come from the model cards and are added here, once, before the text reaches
//! fastembed.

use fastembed::{EmbeddingModel, TextEmbedding};
use serde::{Deserialize, Serialize};

/// How a model's token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    /// The average of the token vectors (sentence-transformers, E5).
    Mean,
    /// The vector of the first token (`[CLS]`; BGE, GTE, Snowflake Arctic).
    Cls,
}

impl PoolingKind {
    /// `"mean"` or `"cls"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolingKind::Mean => "mean",
            PoolingKind::Cls => "cls",
        }
    }

    pub(crate) fn to_fastembed(self) -> fastembed::Pooling {
        match self {
            PoolingKind::Mean => fastembed::Pooling::Mean,
            PoolingKind::Cls => fastembed::Pooling::Cls,
        }
    }
}

/// The numeric format of a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// 32-bit floats: the reference.
    #[default]
    Fp32,
    /// 8-bit integer weights, activations quantized on the fly (about twice as fast on CPUs
    /// with VNNI; vectors within about 0.99 cosine of fp32's).
    Int8,
    /// 4-bit weights.
    Q4,
}

impl Quantization {
    /// `"fp32"`, `"int8"` or `"q4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::Fp32 => "fp32",
            Quantization::Int8 => "int8",
            Quantization::Q4 => "q4",
        }
    }
}

/// Everything needed to use an embedding model the way it was trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The model's full name, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub name: String,
    /// The short name it is chosen by, e.g. `all-MiniLM-L6-v2-int8`.
    pub short_name: String,
    /// Pooling of the token vectors.
    pub pooling: PoolingKind,
    /// Whether vectors are L2-normalised (itassist ranks by cosine: always true).
    pub normalize: bool,
    /// Put in front of every search query (e.g. `"query: "` for E5).
    pub query_prefix: String,
    /// Put in front of every passage that is indexed (e.g. `"passage: "` for E5).
    pub passage_prefix: String,
    /// The longest input the model was trained on, in tokens, special tokens included.
    pub max_length: usize,
    /// Length of the vectors (0 when unknown until the model runs).
    pub dimension: usize,
    /// Weight format.
    pub quantization: Quantization,
    /// True for models trained on English only; ingesting other languages with them warns.
    pub english_only: bool,
}

/// The model used when none is chosen (the same as [`crate::DEFAULT_EMBEDDING_MODEL`]).
pub const DEFAULT_SHORT_NAME: &str = "all-MiniLM-L6-v2-int8";
/// The model a local directory without `itassist-model.json` holds: all-MiniLM-L6-v2 at
/// fp32, as every model directory did before the file existed.
pub const UNDESCRIBED_DIRECTORY_MODEL: &str = "all-MiniLM-L6-v2";
/// The multilingual model recommended for Spanish and other non-English documents.
pub const MULTILINGUAL_RECOMMENDATION: &str = "multilingual-e5-small";

impl ModelSpec {
    /// The settings of a model known only by name: mean pooling, no prefixes, fp32, the
    /// sentence-transformers defaults of all-MiniLM-L6-v2.
    pub fn plain(name: &str) -> ModelSpec {
        ModelSpec {
            name: name.to_string(),
            short_name: short_of(name).to_string(),
            pooling: PoolingKind::Mean,
            normalize: true,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            max_length: 256,
            dimension: 0,
            quantization: Quantization::Fp32,
            english_only: false,
        }
    }

    /// The identity recorded in the index: the model's name, followed by whatever differs
    /// from the way the catalogue runs that model at full precision (`+int8`, `+cls`,
    /// `+prefixes(...)`). Vectors of two specs are comparable only when their identities
    /// are equal.
    ///
    /// ```
    /// use itassist::embed::catalogue::find_model;
    /// let fp32 = find_model("all-MiniLM-L6-v2").unwrap();
    /// assert_eq!(fp32.identity(), "sentence-transformers/all-MiniLM-L6-v2");
    /// let int8 = find_model("all-MiniLM-L6-v2-int8").unwrap();
    /// assert_eq!(int8.identity(), "sentence-transformers/all-MiniLM-L6-v2+int8");
    /// ```
    pub fn identity(&self) -> String {
        let reference = reference_spec(&self.name).unwrap_or_else(|| ModelSpec::plain(&self.name));
        let mut id = self.name.clone();
        if self.quantization != Quantization::Fp32 {
            id.push('+');
            id.push_str(self.quantization.as_str());
        }
        if self.pooling != reference.pooling {
            id.push('+');
            id.push_str(self.pooling.as_str());
        }
        if self.query_prefix != reference.query_prefix
            || self.passage_prefix != reference.passage_prefix
        {
            id.push_str(&format!(
                "+prefixes(query={:?},passage={:?})",
                self.query_prefix, self.passage_prefix
            ));
        }
        id
    }

    /// The text the model sees for a search query.
    ///
    /// ```
    /// use itassist::embed::catalogue::find_model;
    /// let e5 = find_model("multilingual-e5-small").unwrap();
    /// assert_eq!(e5.query_text("¿cómo cambio el puerto de ssh?"), "query: ¿cómo cambio el puerto de ssh?");
    /// ```
    pub fn query_text<'a>(&self, query: &'a str) -> std::borrow::Cow<'a, str> {
        with_prefix(&self.query_prefix, query)
    }

    /// The text the model sees for a passage that is indexed.
    pub fn passage_text<'a>(&self, passage: &'a str) -> std::borrow::Cow<'a, str> {
        with_prefix(&self.passage_prefix, passage)
    }
}

fn with_prefix<'a>(prefix: &str, text: &'a str) -> std::borrow::Cow<'a, str> {
    if prefix.is_empty() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{prefix}{text}"))
    }
}

/// `owner/name` -> `name`.
fn short_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A model of fastembed's catalogue with itassist's settings for it.
#[derive(Debug, Clone)]
pub struct CatalogueEntry {
    /// The settings.
    pub spec: ModelSpec,
    /// fastembed's identifier, used to download the model (feature `online`).
    pub fastembed: EmbeddingModel,
}

/// Settings fastembed does not carry: full name, prefixes, trained input length, languages.
struct Card {
    name: &'static str,
    query_prefix: &'static str,
    passage_prefix: &'static str,
    max_length: usize,
    english_only: bool,
}

const BGE_EN_QUERY: &str = "Represent this sentence for searching relevant passages: ";
const BGE_ZH_QUERY: &str = "为这个句子生成表示以用于检索相关文章：";
const NOMIC_QUERY: &str = "search_query: ";
const NOMIC_PASSAGE: &str = "search_document: ";

fn card(
    name: &'static str,
    query_prefix: &'static str,
    passage_prefix: &'static str,
    max_length: usize,
    english_only: bool,
) -> Card {
    Card {
        name,
        query_prefix,
        passage_prefix,
        max_length,
        english_only,
    }
}

/// The model card settings of each fastembed text model (from the models' own cards), and
/// whether fastembed's variant is quantized. `None` for models added to fastembed later: they
/// are still usable by fastembed's name, with its pooling and no prefixes.
fn card_of(model: &EmbeddingModel) -> Option<(Card, Quantization)> {
    use EmbeddingModel as M;
    use Quantization::{Fp32, Int8, Q4};
    let en = true;
    let multi = false;
    let found = match model {
        M::AllMiniLML6V2 => (
            card("sentence-transformers/all-MiniLM-L6-v2", "", "", 256, en),
            Fp32,
        ),
        M::AllMiniLML6V2Q => (
            card("sentence-transformers/all-MiniLM-L6-v2", "", "", 256, en),
            Int8,
        ),
        M::AllMiniLML12V2 => (
            card("sentence-transformers/all-MiniLM-L12-v2", "", "", 256, en),
            Fp32,
        ),
        M::AllMiniLML12V2Q => (
            card("sentence-transformers/all-MiniLM-L12-v2", "", "", 256, en),
            Int8,
        ),
        M::AllMpnetBaseV2 => (
            card("sentence-transformers/all-mpnet-base-v2", "", "", 384, en),
            Fp32,
        ),
        M::BGEBaseENV15 => (
            card("BAAI/bge-base-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Fp32,
        ),
        M::BGEBaseENV15Q => (
            card("BAAI/bge-base-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Int8,
        ),
        M::BGELargeENV15 => (
            card("BAAI/bge-large-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Fp32,
        ),
        M::BGELargeENV15Q => (
            card("BAAI/bge-large-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Int8,
        ),
        M::BGESmallENV15 => (
            card("BAAI/bge-small-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Fp32,
        ),
        M::BGESmallENV15Q => (
            card("BAAI/bge-small-en-v1.5", BGE_EN_QUERY, "", 512, en),
            Int8,
        ),
        M::NomicEmbedTextV1 => (
            card(
                "nomic-ai/nomic-embed-text-v1",
                NOMIC_QUERY,
                NOMIC_PASSAGE,
                8192,
                en,
            ),
            Fp32,
        ),
        M::NomicEmbedTextV15 => (
            card(
                "nomic-ai/nomic-embed-text-v1.5",
                NOMIC_QUERY,
                NOMIC_PASSAGE,
                8192,
                en,
            ),
            Fp32,
        ),
        M::NomicEmbedTextV15Q => (
            card(
                "nomic-ai/nomic-embed-text-v1.5",
                NOMIC_QUERY,
                NOMIC_PASSAGE,
                8192,
                en,
            ),
            Int8,
        ),
        M::ParaphraseMLMiniLML12V2 => (
            card(
                "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
                "",
                "",
                128,
                multi,
            ),
            Fp32,
        ),
        M::ParaphraseMLMiniLML12V2Q => (
            card(
                "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
                "",
                "",
                128,
                multi,
            ),
            Int8,
        ),
        M::ParaphraseMLMpnetBaseV2 => (
            card(
                "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
                "",
                "",
                128,
                multi,
            ),
            Fp32,
        ),
        M::BGESmallZHV15 => (
            card("BAAI/bge-small-zh-v1.5", BGE_ZH_QUERY, "", 512, multi),
            Fp32,
        ),
        M::BGELargeZHV15 => (
            card("BAAI/bge-large-zh-v1.5", BGE_ZH_QUERY, "", 512, multi),
            Fp32,
        ),
        M::BGEM3 => (card("BAAI/bge-m3", "", "", 8192, multi), Fp32),
        M::ModernBertEmbedLarge => (
            card(
                "lightonai/modernbert-embed-large",
                NOMIC_QUERY,
                NOMIC_PASSAGE,
                8192,
                en,
            ),
            Fp32,
        ),
        M::MultilingualE5Small => (
            card(
                "intfloat/multilingual-e5-small",
                "query: ",
                "passage: ",
                512,
                multi,
            ),
            Fp32,
        ),
        M::MultilingualE5Base => (
            card(
                "intfloat/multilingual-e5-base",
                "query: ",
                "passage: ",
                512,
                multi,
            ),
            Fp32,
        ),
        M::MultilingualE5Large => (
            card(
                "intfloat/multilingual-e5-large",
                "query: ",
                "passage: ",
                512,
                multi,
            ),
            Fp32,
        ),
        M::MxbaiEmbedLargeV1 => (
            card(
                "mixedbread-ai/mxbai-embed-large-v1",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Fp32,
        ),
        M::MxbaiEmbedLargeV1Q => (
            card(
                "mixedbread-ai/mxbai-embed-large-v1",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Int8,
        ),
        M::GTEBaseENV15 => (card("Alibaba-NLP/gte-base-en-v1.5", "", "", 8192, en), Fp32),
        M::GTEBaseENV15Q => (card("Alibaba-NLP/gte-base-en-v1.5", "", "", 8192, en), Int8),
        M::GTELargeENV15 => (
            card("Alibaba-NLP/gte-large-en-v1.5", "", "", 8192, en),
            Fp32,
        ),
        M::GTELargeENV15Q => (
            card("Alibaba-NLP/gte-large-en-v1.5", "", "", 8192, en),
            Int8,
        ),
        M::ClipVitB32 => (card("Qdrant/clip-ViT-B-32-text", "", "", 77, en), Fp32),
        M::JinaEmbeddingsV2BaseCode => (
            card("jinaai/jina-embeddings-v2-base-code", "", "", 8192, en),
            Fp32,
        ),
        M::JinaEmbeddingsV2BaseEN => (
            card("jinaai/jina-embeddings-v2-base-en", "", "", 8192, en),
            Fp32,
        ),
        M::EmbeddingGemma300M => (
            card(
                "google/embeddinggemma-300m",
                "task: search result | query: ",
                "title: none | text: ",
                2048,
                multi,
            ),
            Fp32,
        ),
        M::EmbeddingGemma300MQ4 => (
            card(
                "google/embeddinggemma-300m",
                "task: search result | query: ",
                "title: none | text: ",
                2048,
                multi,
            ),
            Q4,
        ),
        M::EmbeddingGemma300MQ => (
            card(
                "google/embeddinggemma-300m",
                "task: search result | query: ",
                "title: none | text: ",
                2048,
                multi,
            ),
            Int8,
        ),
        M::SnowflakeArcticEmbedXS => (
            card(
                "Snowflake/snowflake-arctic-embed-xs",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Fp32,
        ),
        M::SnowflakeArcticEmbedXSQ => (
            card(
                "Snowflake/snowflake-arctic-embed-xs",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Int8,
        ),
        M::SnowflakeArcticEmbedS => (
            card(
                "Snowflake/snowflake-arctic-embed-s",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Fp32,
        ),
        M::SnowflakeArcticEmbedSQ => (
            card(
                "Snowflake/snowflake-arctic-embed-s",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Int8,
        ),
        M::SnowflakeArcticEmbedM => (
            card(
                "Snowflake/snowflake-arctic-embed-m",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Fp32,
        ),
        M::SnowflakeArcticEmbedMQ => (
            card(
                "Snowflake/snowflake-arctic-embed-m",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Int8,
        ),
        M::SnowflakeArcticEmbedMLong => (
            card(
                "Snowflake/snowflake-arctic-embed-m-long",
                BGE_EN_QUERY,
                "",
                2048,
                en,
            ),
            Fp32,
        ),
        M::SnowflakeArcticEmbedMLongQ => (
            card(
                "Snowflake/snowflake-arctic-embed-m-long",
                BGE_EN_QUERY,
                "",
                2048,
                en,
            ),
            Int8,
        ),
        M::SnowflakeArcticEmbedL => (
            card(
                "Snowflake/snowflake-arctic-embed-l",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Fp32,
        ),
        M::SnowflakeArcticEmbedLQ => (
            card(
                "Snowflake/snowflake-arctic-embed-l",
                BGE_EN_QUERY,
                "",
                512,
                en,
            ),
            Int8,
        ),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(found)
}

/// Every text model of fastembed's catalogue, with itassist's settings, sorted by short name.
///
/// ```
/// let names: Vec<String> = itassist::embed::catalogue::catalogue()
///     .into_iter()
///     .map(|e| e.spec.short_name)
///     .collect();
/// assert!(names.contains(&"multilingual-e5-small".to_string()));
/// assert!(names.contains(&"all-MiniLM-L6-v2-int8".to_string()));
/// ```
pub fn catalogue() -> Vec<CatalogueEntry> {
    let mut entries: Vec<CatalogueEntry> = TextEmbedding::list_supported_models()
        .into_iter()
        .map(|info| {
            let pooling = match TextEmbedding::get_default_pooling_method(&info.model) {
                Some(fastembed::Pooling::Cls) => PoolingKind::Cls,
                _ => PoolingKind::Mean,
            };
            let spec = match card_of(&info.model) {
                Some((card, quantization)) => {
                    let base = short_of(card.name);
                    let short_name = match quantization {
                        Quantization::Fp32 => base.to_string(),
                        q => format!("{base}-{}", q.as_str()),
                    };
                    ModelSpec {
                        name: card.name.to_string(),
                        short_name,
                        pooling,
                        normalize: true,
                        query_prefix: card.query_prefix.to_string(),
                        passage_prefix: card.passage_prefix.to_string(),
                        max_length: card.max_length,
                        dimension: info.dim,
                        quantization,
                        english_only: card.english_only,
                    }
                }
                None => ModelSpec {
                    pooling,
                    dimension: info.dim,
                    ..ModelSpec::plain(&format!("{:?}", info.model))
                },
            };
            CatalogueEntry {
                spec,
                fastembed: info.model,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.spec.short_name.cmp(&b.spec.short_name));
    entries
}

/// The catalogue entry chosen by `name`: its short name (`multilingual-e5-small`,
/// `all-MiniLM-L6-v2-int8`), its full name (`intfloat/multilingual-e5-small`, the fp32
/// variant), its identity as recorded in an index (`sentence-transformers/all-MiniLM-L6-v2+int8`),
/// or fastembed's identifier (`MultilingualE5Small`, `AllMiniLML6V2Q`); any case.
pub fn find_entry(name: &str) -> Option<CatalogueEntry> {
    let name = name.trim();
    let (base, variant) = match name.split_once('+') {
        Some((base, variant)) => (base, Some(variant)),
        None => (name, None),
    };
    let entries = catalogue();
    let by = |f: &dyn Fn(&CatalogueEntry) -> bool| entries.iter().find(|e| f(e)).cloned();
    if let Some(variant) = variant {
        return by(&|e| {
            e.spec.name.eq_ignore_ascii_case(base)
                && e.spec.quantization.as_str().eq_ignore_ascii_case(variant)
        });
    }
    by(&|e| e.spec.short_name.eq_ignore_ascii_case(name))
        .or_else(|| {
            by(&|e| {
                e.spec.name.eq_ignore_ascii_case(name) && e.spec.quantization == Quantization::Fp32
            })
        })
        .or_else(|| by(&|e| format!("{:?}", e.fastembed).eq_ignore_ascii_case(name)))
}

/// The settings of the catalogue model chosen by `name` (see [`find_entry`]).
pub fn find_model(name: &str) -> Option<ModelSpec> {
    find_entry(name).map(|e| e.spec)
}

/// The catalogue's fp32 settings for a model's full name: what its identity is relative to.
fn reference_spec(name: &str) -> Option<ModelSpec> {
    catalogue()
        .into_iter()
        .map(|e| e.spec)
        .find(|s| s.name == name && s.quantization == Quantization::Fp32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fastembed_text_model_has_a_card() {
        for entry in catalogue() {
            assert!(
                card_of(&entry.fastembed).is_some(),
                "{:?} has no card",
                entry.fastembed
            );
        }
    }

    #[test]
    fn short_names_are_unique() {
        let mut names: Vec<String> = catalogue().into_iter().map(|e| e.spec.short_name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn names_resolve_in_every_spelling() {
        for name in [
            "multilingual-e5-small",
            "intfloat/multilingual-e5-small",
            "MultilingualE5Small",
            "MULTILINGUAL-E5-SMALL",
        ] {
            let spec = find_model(name).expect(name);
            assert_eq!(spec.name, "intfloat/multilingual-e5-small");
            assert_eq!(spec.query_prefix, "query: ");
            assert_eq!(spec.passage_prefix, "passage: ");
            assert_eq!(spec.pooling, PoolingKind::Mean);
            assert_eq!(spec.dimension, 384);
            assert!(!spec.english_only);
        }
        let bge = find_model("bge-small-en-v1.5").expect("bge");
        assert_eq!(bge.pooling, PoolingKind::Cls);
        assert_eq!(bge.passage_prefix, "");
        assert!(bge.english_only);
        let paraphrase = find_model("paraphrase-multilingual-MiniLM-L12-v2").expect("paraphrase");
        assert_eq!(paraphrase.max_length, 128);
        assert_eq!(find_model("bge-m3").map(|s| s.dimension), Some(1024));
        assert_eq!(
            find_model("AllMiniLML6V2Q").map(|s| s.short_name),
            Some("all-MiniLM-L6-v2-int8".to_string())
        );
        assert!(find_model("no-such-model").is_none());
        // An identity recorded in an index names its variant.
        let int8 = find_model("sentence-transformers/all-MiniLM-L6-v2+int8").expect("identity");
        assert_eq!(int8.short_name, "all-MiniLM-L6-v2-int8");
        assert!(find_model("sentence-transformers/all-MiniLM-L6-v2+cls").is_none());
    }

    #[test]
    fn the_identity_names_every_difference_from_the_reference() {
        let e5 = find_model("multilingual-e5-small").expect("e5");
        assert_eq!(e5.identity(), "intfloat/multilingual-e5-small");
        let bare = ModelSpec {
            query_prefix: String::new(),
            passage_prefix: String::new(),
            ..e5.clone()
        };
        assert_eq!(
            bare.identity(),
            "intfloat/multilingual-e5-small+prefixes(query=\"\",passage=\"\")"
        );
        let cls = ModelSpec {
            pooling: PoolingKind::Cls,
            ..e5
        };
        assert_eq!(cls.identity(), "intfloat/multilingual-e5-small+cls");
        let custom = ModelSpec::plain("my-model");
        assert_eq!(custom.identity(), "my-model");
    }

    #[test]
    fn prefixes_are_added_once_and_only_where_declared() {
        let e5 = find_model("multilingual-e5-small").expect("e5");
        assert_eq!(e5.query_text("ssh port"), "query: ssh port");
        assert_eq!(e5.passage_text("Port 22"), "passage: Port 22");
        let minilm = find_model("all-MiniLM-L6-v2").expect("minilm");
        assert_eq!(minilm.query_text("ssh port"), "ssh port");
        assert_eq!(minilm.passage_text("Port 22"), "Port 22");
        let bge = find_model("bge-small-en-v1.5").expect("bge");
        assert_eq!(
            bge.query_text("ssh port"),
            format!("{BGE_EN_QUERY}ssh port")
        );
        assert_eq!(bge.passage_text("Port 22"), "Port 22");
    }
}
