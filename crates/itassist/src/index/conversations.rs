//! Stored conversations, in the `conversations` database of the index's LMDB environment:
//! conversation id -> [`Conversation`] (its turns, each with the passages it was answered
//! from). Key 0 holds the next id, so ids are never reused after a delete.
//!
//! The database is created the first time a conversation is used, so indexes made before it
//! existed open unchanged.

use heed::byteorder::BigEndian;
use heed::types::{Bytes, U64};
use heed::Database;
use serde::{Deserialize, Serialize};

use super::storage::StorageResult;
use super::Index;
use crate::answer::{Answer, Warning};
use crate::error::{Error, Result};
use crate::ollama::ChatMessage;
use crate::retrieve::Passage;

/// The database: id -> JSON ([`Conversation`]); key 0 -> next id (8 bytes, big-endian).
pub(super) type ConversationsDb = Database<'static, U64<BigEndian>, Bytes>;

const COUNTER_KEY: u64 = 0;
/// Longest title kept, in characters (the first question, cut at a word).
const TITLE_CHARS: usize = 80;

/// One question and its answer in a stored conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// The passages the answer was written from, numbered from 1 in this order.
    #[serde(default)]
    pub sources: Vec<Passage>,
    /// 1-based numbers of the sources the answer cites.
    #[serde(default)]
    pub cited: Vec<usize>,
    /// The query searched for this turn.
    #[serde(default)]
    pub searched_query: Option<String>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Warnings of the answer (e.g. `context_truncated`).
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// When the turn was answered, in seconds since the Unix epoch.
    #[serde(default)]
    pub created_at: u64,
}

impl Turn {
    /// The turn of an answer.
    pub fn from_answer(answer: &Answer) -> Self {
        Turn {
            question: answer.question.clone(),
            answer: answer.answer.clone(),
            sources: answer.sources.clone(),
            cited: answer.cited.clone(),
            searched_query: answer.searched_query.clone(),
            model: answer.model.clone(),
            warnings: answer.warnings.clone(),
            created_at: now_secs(),
        }
    }
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Stable id, unique in this index (never reused).
    pub id: u64,
    /// A title: the one given, else the first question (shortened).
    pub title: String,
    /// Creation time, in seconds since the Unix epoch.
    pub created_at: u64,
    /// Time of the last turn, in seconds since the Unix epoch.
    pub updated_at: u64,
    /// The turns, oldest first.
    #[serde(default)]
    pub turns: Vec<Turn>,
}

impl Conversation {
    /// The turns as chat messages (`user`, `assistant`, ...), oldest first, followed by
    /// `question` as the last `user` message: what [`crate::Assistant::chat`] takes to
    /// continue the conversation.
    pub fn messages_with(&self, question: &str) -> Vec<ChatMessage> {
        let mut messages = Vec::with_capacity(self.turns.len() * 2 + 1);
        for t in &self.turns {
            messages.push(ChatMessage::user(t.question.clone()));
            messages.push(ChatMessage::assistant(t.answer.clone()));
        }
        messages.push(ChatMessage::user(question));
        messages
    }

    /// The summary of this conversation.
    pub fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.id,
            title: self.title.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            turns: self.turns.len(),
        }
    }
}

/// A conversation without its turns, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// Id.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Creation time (Unix seconds).
    pub created_at: u64,
    /// Time of the last turn (Unix seconds).
    pub updated_at: u64,
    /// Number of turns.
    pub turns: usize,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `text` on one line, at most [`TITLE_CHARS`] characters, cut at a word.
pub(crate) fn short_title(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= TITLE_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(TITLE_CHARS).collect();
    let cut = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{cut}…")
}

fn decode(id: u64, bytes: &[u8]) -> Result<Conversation> {
    serde_json::from_slice(bytes).map_err(|e| Error::Index {
        reason: format!("stored conversation {id} cannot be read"),
        source: Some(Box::new(e)),
    })
}

fn encode(c: &Conversation) -> Result<Vec<u8>> {
    serde_json::to_vec(c).map_err(|e| Error::Index {
        reason: format!("conversation {} cannot be encoded", c.id),
        source: Some(Box::new(e)),
    })
}

fn not_found(id: u64) -> Error {
    Error::ConversationNotFound { id: id.to_string() }
}

impl Index {
    /// The conversations database, created on first use.
    fn conversations_db(&self) -> Result<ConversationsDb> {
        if let Some(db) = self.shared.conversations.get() {
            return Ok(*db);
        }
        let env = &self.shared.env;
        let create = || -> std::result::Result<_, heed::Error> {
            let wtxn = env.write_txn()?;
            env.create_databases_and_commit(wtxn, |opener, wtxn| {
                let db: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("conversations"))?;
                Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit(db))
            })
        };
        let committed = create().map_err(|e| self.shared.error(e.into()))?;
        let heed::CommitOrAbort::Commit::<ConversationsDb, ()>(db) = committed else {
            return Err(Error::Index {
                reason: "creating the conversations database was aborted".into(),
                source: None,
            });
        };
        Ok(*self.shared.conversations.get_or_init(|| db))
    }

    /// Starts a conversation. `title` defaults to the first question, set when it is asked.
    pub fn create_conversation(&self, title: Option<&str>) -> Result<Conversation> {
        let db = self.conversations_db()?;
        self.shared.write(|wtxn| {
            let id = match db.get(wtxn, &COUNTER_KEY)? {
                Some(b) if b.len() == 8 => {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(b);
                    u64::from_be_bytes(raw)
                }
                _ => 1,
            };
            db.put(wtxn, &COUNTER_KEY, &(id + 1).to_be_bytes())?;
            let now = now_secs();
            let conversation = Conversation {
                id,
                title: title.map(short_title).unwrap_or_default(),
                created_at: now,
                updated_at: now,
                turns: Vec::new(),
            };
            db.put(wtxn, &id, &encode(&conversation)?)?;
            Ok(conversation)
        })
    }

    /// Every conversation, most recently updated first.
    pub fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        let db = self.conversations_db()?;
        let mut list = self.shared.read(|rtxn| {
            let mut list = Vec::new();
            for entry in db.iter(rtxn)? {
                let (id, bytes) = entry?;
                if id != COUNTER_KEY {
                    list.push(decode(id, bytes)?.summary());
                }
            }
            Ok(list)
        })?;
        list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    /// The conversation `id` with its turns; `conversation_not_found` when there is none.
    pub fn conversation(&self, id: u64) -> Result<Conversation> {
        let db = self.conversations_db()?;
        self.shared.read(|rtxn| -> StorageResult<Conversation> {
            match db.get(rtxn, &id)? {
                Some(bytes) if id != COUNTER_KEY => Ok(decode(id, bytes)?),
                _ => Err(not_found(id).into()),
            }
        })
    }

    /// Deletes conversation `id`, returning it; `conversation_not_found` when there is none.
    pub fn delete_conversation(&self, id: u64) -> Result<Conversation> {
        let db = self.conversations_db()?;
        self.shared.write(|wtxn| -> StorageResult<Conversation> {
            let found = match db.get(wtxn, &id)? {
                Some(bytes) if id != COUNTER_KEY => decode(id, bytes)?,
                _ => return Err(not_found(id).into()),
            };
            db.delete(wtxn, &id)?;
            Ok(found)
        })
    }

    /// Appends a turn to conversation `id` (its title becomes the first question when it has
    /// none); returns the updated conversation.
    pub fn append_turn(&self, id: u64, turn: Turn) -> Result<Conversation> {
        let db = self.conversations_db()?;
        self.shared.write(|wtxn| -> StorageResult<Conversation> {
            let mut c = match db.get(wtxn, &id)? {
                Some(bytes) if id != COUNTER_KEY => decode(id, bytes)?,
                _ => return Err(not_found(id).into()),
            };
            if c.title.is_empty() {
                c.title = short_title(&turn.question);
            }
            c.updated_at = now_secs().max(c.updated_at);
            c.turns.push(turn);
            db.put(wtxn, &id, &encode(&c)?)?;
            Ok(c)
        })
    }
}
