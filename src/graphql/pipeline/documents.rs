//! Parsed documents, kept by their text.
//!
//! Parsing is the largest single cost of a small request (async-graphql's pest parser: more
//! than the token check and the resolvers together, measured under load), and a frontend
//! sends the same few documents over and over. Each request still gets a document of its own
//! to execute (async-graphql takes it by value), but copying a parsed document costs a
//! fraction of parsing its text, and the copy kept here also serves to put the response's
//! keys in selection [order] without a second copy.
//!
//! The cache is bounded by an estimate of its memory (text length times a factor), so a
//! client sending endless distinct documents only evicts entries, never grows the process;
//! documents longer than `MAX_CACHED_TEXT` are parsed every time. Only documents that
//! parsed and passed the limits are kept. Two requests missing the same text at once both
//! parse it, and the second insert replaces the first with an equal document.
//!
//! [order]: crate::graphql::pipeline::order

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

/// Longest document text kept (longer ones are rare and parsed each time).
const MAX_CACHED_TEXT: usize = 4 * 1024;
/// The cache's bound, in estimated bytes.
const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;
/// A parsed document's estimated size per byte of its text (positions, names, maps).
const BYTES_PER_TEXT_BYTE: usize = 24;
/// Most documents kept, whatever their size.
const MAX_ENTRIES: u64 = 1_024;

/// Parsed documents by text, shared by every request of a schema.
#[derive(Clone)]
pub(super) struct DocumentCache {
    documents: moka::sync::Cache<String, Arc<ExecutableDocument>>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        let per_entry_bound = CAPACITY_BYTES / MAX_ENTRIES;
        Self {
            documents: moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(move |text: &String, _| {
                    let estimate = text.len().saturating_mul(BYTES_PER_TEXT_BYTE) as u64;
                    u32::try_from(estimate.max(per_entry_bound)).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl DocumentCache {
    /// The parsed document of `text`, when kept.
    pub(super) fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        if text.len() > MAX_CACHED_TEXT {
            return None;
        }
        self.documents.get(text)
    }

    /// Keeps `document` as the parse of `text` (unless `text` is too long to keep).
    pub(super) fn keep(&self, text: &str, document: Arc<ExecutableDocument>) {
        if text.len() <= MAX_CACHED_TEXT {
            self.documents.insert(text.to_owned(), document);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Arc<ExecutableDocument> {
        Arc::new(async_graphql::parser::parse_query(text).expect("parses"))
    }

    #[test]
    fn a_kept_document_is_found_by_its_exact_text_only() {
        let cache = DocumentCache::default();
        cache.keep("{ me { id } }", parse("{ me { id } }"));
        assert!(cache.get("{ me { id } }").is_some());
        assert!(cache.get("{ me { id }}").is_none());
        assert!(cache.get("{ greeting }").is_none());
    }

    #[test]
    fn long_documents_are_not_kept() {
        let cache = DocumentCache::default();
        let long = format!("{{ greeting {} }}", " ".repeat(MAX_CACHED_TEXT));
        cache.keep(&long, parse(&long));
        assert!(cache.get(&long).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_bound_under_endless_distinct_documents() {
        let cache = DocumentCache::default();
        for i in 0..(MAX_ENTRIES * 3) {
            let text = format!("{{ a{i}: greeting }}");
            cache.keep(&text, parse(&text));
        }
        cache.documents.run_pending_tasks();
        assert!(cache.documents.entry_count() <= MAX_ENTRIES);
        assert!(cache.documents.weighted_size() <= CAPACITY_BYTES);
    }
}
