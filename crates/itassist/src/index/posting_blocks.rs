//! The compact encoding of a term's postings (postings format 1): a term's postings are cut
//! into blocks of consecutive chunk ids, one LMDB record per block. The record's key is the
//! term, a 0 byte and the block's first chunk id (big-endian, as a single posting's key was in
//! format 0); its value lists the block's postings in chunk order, each as three LEB128
//! varints: the chunk id's distance from the previous posting's (0 for the first), the term's
//! frequency in the chunk and the chunk's length in terms. A posting takes 3 or 4 bytes
//! instead of an LMDB record of its own (about 35 bytes with the page's share), which is most
//! of what made the keyword index large.
//!
//! Blocks stay under [`BLOCK_BYTES`], so a record always fits in a page and rewriting the
//! block a new posting goes to stays cheap.

use integer_encoding::VarInt;

/// Postings format of indexes written before blocks: one record per (term, chunk), valued by
/// the frequency and the chunk's length as two big-endian `u32`s.
#[cfg(test)]
pub(super) const SINGLE_POSTINGS: u32 = 0;
/// The current postings format: blocks (this module). [`IndexMeta::postings_format`] records
/// the format of an index; indexes of an older one are rewritten by
/// [`Index::rebuild_keyword_index`].
///
/// [`IndexMeta::postings_format`]: super::IndexMeta::postings_format
/// [`Index::rebuild_keyword_index`]: super::Index::rebuild_keyword_index
pub const POSTINGS_FORMAT: u32 = 1;

/// The largest encoded block, in bytes: about 120 to 160 postings. Small enough that several
/// blocks share an LMDB page (4 KiB) and that appending a posting rewrites little; large enough
/// that the keys and record headers are a small share of the postings.
pub(super) const BLOCK_BYTES: usize = 480;

/// One posting: `term` appears `tf` times in chunk `chunk`, whose length is `len` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Posting {
    /// The chunk id.
    pub chunk: u32,
    /// The term's frequency in the chunk.
    pub tf: u32,
    /// The chunk's length in terms.
    pub len: u32,
}

/// Encodes `postings` (sorted by chunk id, no duplicates) into `out`, replacing its contents.
pub(super) fn encode_block(postings: &[Posting], out: &mut Vec<u8>) {
    out.clear();
    let mut buf = [0u8; 10];
    let mut previous = postings.first().map_or(0, |p| p.chunk);
    for posting in postings {
        for value in [posting.chunk - previous, posting.tf, posting.len] {
            let n = value.encode_var(&mut buf);
            out.extend_from_slice(&buf[..n]);
        }
        previous = posting.chunk;
    }
}

/// The postings of a block whose first chunk id is `first` (from its key), in order. A
/// damaged block ends the iteration where the damage starts, rather than failing the search.
pub(super) struct BlockReader<'a> {
    bytes: &'a [u8],
    chunk: u32,
}

impl<'a> BlockReader<'a> {
    /// Reads the block `bytes` whose key holds the first chunk id `first`.
    pub(super) fn new(first: u32, bytes: &'a [u8]) -> Self {
        BlockReader {
            bytes,
            chunk: first,
        }
    }

    fn next_varint(&mut self) -> Option<u32> {
        let (value, n) = u32::decode_var(self.bytes)?;
        self.bytes = self.bytes.get(n..)?;
        Some(value)
    }
}

impl Iterator for BlockReader<'_> {
    type Item = Posting;

    fn next(&mut self) -> Option<Posting> {
        if self.bytes.is_empty() {
            return None;
        }
        let decoded = (|| {
            let delta = self.next_varint()?;
            let tf = self.next_varint()?;
            let len = self.next_varint()?;
            Some((self.chunk.checked_add(delta)?, tf, len))
        })();
        match decoded {
            Some((chunk, tf, len)) => {
                self.chunk = chunk;
                Some(Posting { chunk, tf, len })
            }
            None => {
                self.bytes = &[];
                None
            }
        }
    }
}

/// Where a posting goes in a block, and what to write back.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Insert {
    /// The block, with the posting in it, fits: write it back under its key.
    Rewrite(Vec<u8>),
    /// The posting comes after the block's last one and the block is full: start a new
    /// block, keyed by the posting's chunk, holding only it. The old block stays as it is.
    NewBlock(Vec<u8>),
    /// The posting falls inside a full block: the block is cut in two, written under the
    /// first chunk ids of each half.
    Split {
        /// The first half (keeps the block's key).
        left: Vec<u8>,
        /// The first chunk id of the second half, its key.
        right_first: u32,
        /// The second half.
        right: Vec<u8>,
    },
}

/// Puts `posting` into the block `(first, bytes)`, replacing a posting of the same chunk.
/// Returns what to write and whether the chunk is new to the block.
pub(super) fn insert(first: u32, bytes: &[u8], posting: Posting) -> (Insert, bool) {
    let mut postings: Vec<Posting> = BlockReader::new(first, bytes).collect();
    let appended = postings
        .last()
        .is_none_or(|last| last.chunk < posting.chunk);
    let added = match postings.binary_search_by_key(&posting.chunk, |p| p.chunk) {
        Ok(i) => {
            postings[i] = posting;
            false
        }
        Err(i) => {
            postings.insert(i, posting);
            true
        }
    };
    let mut encoded = Vec::with_capacity(bytes.len() + 8);
    encode_block(&postings, &mut encoded);
    if encoded.len() <= BLOCK_BYTES || postings.len() < 2 {
        return (Insert::Rewrite(encoded), added);
    }
    if appended {
        encode_block(&[posting], &mut encoded);
        return (Insert::NewBlock(encoded), added);
    }
    let (left_postings, right_postings) = postings.split_at(postings.len() / 2);
    let mut left = Vec::new();
    let mut right = Vec::new();
    encode_block(left_postings, &mut left);
    encode_block(right_postings, &mut right);
    let right_first = right_postings[0].chunk;
    (
        Insert::Split {
            left,
            right_first,
            right,
        },
        added,
    )
}

/// What removing a posting from a block leaves.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Removal {
    /// The chunk has no posting in the block.
    Absent,
    /// The block is now empty: delete it.
    Empty,
    /// The block's first posting was removed: delete the old key and write the block under
    /// its new first chunk id.
    Rekey {
        /// The new first chunk id.
        first: u32,
        /// The block.
        bytes: Vec<u8>,
    },
    /// Write the block back under its key.
    Rewrite(Vec<u8>),
}

/// Removes chunk `chunk`'s posting from the block `(first, bytes)`.
pub(super) fn remove(first: u32, bytes: &[u8], chunk: u32) -> Removal {
    let mut postings: Vec<Posting> = BlockReader::new(first, bytes).collect();
    let Ok(i) = postings.binary_search_by_key(&chunk, |p| p.chunk) else {
        return Removal::Absent;
    };
    postings.remove(i);
    let Some(head) = postings.first() else {
        return Removal::Empty;
    };
    let mut encoded = Vec::with_capacity(bytes.len());
    encode_block(&postings, &mut encoded);
    if i == 0 {
        Removal::Rekey {
            first: head.chunk,
            bytes: encoded,
        }
    } else {
        Removal::Rewrite(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(chunk: u32) -> Posting {
        Posting {
            chunk,
            tf: chunk % 7 + 1,
            len: 60 + chunk % 200,
        }
    }

    fn block(chunks: &[u32]) -> Vec<u8> {
        let postings: Vec<Posting> = chunks.iter().map(|&c| posting(c)).collect();
        let mut bytes = Vec::new();
        encode_block(&postings, &mut bytes);
        bytes
    }

    #[test]
    fn blocks_round_trip_in_a_few_bytes_per_posting() {
        let chunks: Vec<u32> = (0..100).map(|i| 1_000 + i * 3).collect();
        let bytes = block(&chunks);
        let read: Vec<Posting> = BlockReader::new(1_000, &bytes).collect();
        assert_eq!(read, chunks.iter().map(|&c| posting(c)).collect::<Vec<_>>());
        assert!(bytes.len() <= 4 * chunks.len(), "{} bytes", bytes.len());
    }

    #[test]
    fn a_damaged_block_stops_where_the_damage_starts() {
        let mut bytes = block(&[5, 9]);
        bytes.push(0x80); // a varint that never ends
        let read: Vec<u32> = BlockReader::new(5, &bytes).map(|p| p.chunk).collect();
        assert_eq!(read, vec![5, 9]);
    }

    #[test]
    fn inserting_keeps_order_replaces_and_splits_full_blocks() {
        let (Insert::Rewrite(bytes), true) = insert(10, &block(&[10, 30]), posting(20)) else {
            panic!("expected a rewrite of a new chunk");
        };
        let chunks: Vec<u32> = BlockReader::new(10, &bytes).map(|p| p.chunk).collect();
        assert_eq!(chunks, vec![10, 20, 30]);
        let (Insert::Rewrite(_), false) = insert(10, &bytes, posting(20)) else {
            panic!("a chunk already in the block is replaced");
        };

        // A full block: appending starts a new block, inserting inside splits it.
        let mut full: Vec<u32> = Vec::new();
        while block(&full).len() <= BLOCK_BYTES {
            full.push(full.len() as u32 * 2);
        }
        full.pop();
        let full_bytes = block(&full);
        let last = *full.last().unwrap();
        assert!(matches!(
            insert(0, &full_bytes, posting(last + 1)),
            (Insert::NewBlock(_), true)
        ));
        let (
            Insert::Split {
                left,
                right_first,
                right,
            },
            true,
        ) = insert(0, &full_bytes, posting(3))
        else {
            panic!("expected a split");
        };
        let mut all: Vec<u32> = BlockReader::new(0, &left).map(|p| p.chunk).collect();
        assert!(all.iter().all(|&c| c < right_first));
        all.extend(BlockReader::new(right_first, &right).map(|p| p.chunk));
        let mut expected = full.clone();
        expected.push(3);
        expected.sort();
        assert_eq!(all, expected);
    }

    #[test]
    fn removing_rekeys_a_block_that_loses_its_first_posting() {
        let bytes = block(&[4, 8, 15]);
        assert_eq!(remove(4, &bytes, 16), Removal::Absent);
        let Removal::Rekey {
            first: 8,
            bytes: rest,
        } = remove(4, &bytes, 4)
        else {
            panic!("expected a new key");
        };
        let chunks: Vec<u32> = BlockReader::new(8, &rest).map(|p| p.chunk).collect();
        assert_eq!(chunks, vec![8, 15]);
        assert!(matches!(remove(4, &bytes, 8), Removal::Rewrite(_)));
        assert_eq!(remove(4, &block(&[4]), 4), Removal::Empty);
    }
}
