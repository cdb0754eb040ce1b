//! Spec-conformant nulls for failed fields, and a code on every error.
//!
//! async-graphql 7.2 drops a field that returns an error from its parent object (and turns
//! `data` into `null` when every root field failed), where the GraphQL spec and our contract
//! want the key present with `null` and the error at its path. A frontend reading
//! `data.me` must get `null`, not a crash on `data` being `null`. This extension catches the
//! error of every field, records it, and resolves the field to `null`:
//! - a *nullable* field stays `null` (partial results);
//! - a *non-null* field cannot be `null`, so, as the spec says, the `null` moves to the
//!   nearest nullable position above it: a list item whose type is nullable, or a nullable
//!   field. Field resolutions nest (a parent's resolution contains its children's), so each
//!   field, once its own value is built, absorbs the failures beneath it that no nearer
//!   nullable position took. One that reaches the root nulls `data`.
//!
//! The recorded errors are appended to the response at the end.

use std::{
    any::TypeId,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use async_graphql::{
    PathSegment, QueryPathNode, Request, Response, ServerError, ServerResult, Value,
    parser::types::{ExecutableDocument, OperationType},
};

use crate::{
    error::ErrorCode,
    graphql::{
        documents::DocumentCache,
        limits::{Carrier, DocumentLimits, InBatch, OverSocket},
        order,
    },
    meter,
};

/// One per request: the errors of the fields it turned into nulls, and the failures of
/// non-null fields still looking for a nullable position.
#[derive(Default)]
pub(crate) struct Collector {
    errors: Mutex<Vec<ServerError>>,
    pending: Mutex<Vec<Vec<PathSegment>>>,
    /// `pending.len()`, readable without the lock (it is almost always zero).
    pending_count: AtomicUsize,
}

/// The item type of a list type (`[Friend!]!` → `Friend!`), if it is one.
fn item_type(ty: &str) -> Option<&str> {
    ty.strip_suffix('!')
        .unwrap_or(ty)
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// Where the `null` of a failure `rest` below a field of type `ty` goes: `Some(n)` nulls the
/// value reached through the first `n` list indexes of `rest` (0: the field itself); `None`
/// when no position from the field down is nullable.
fn nearest_nullable(ty: &str, rest: &[PathSegment]) -> Option<usize> {
    let mut nearest = (!ty.ends_with('!')).then_some(0);
    let mut ty = ty;
    for (depth, segment) in rest.iter().enumerate() {
        let PathSegment::Index(_) = segment else {
            break;
        };
        let Some(item) = item_type(ty) else { break };
        if !item.ends_with('!') {
            nearest = Some(depth + 1);
        }
        ty = item;
    }
    nearest
}

/// Replaces the value reached through the first `depth` list indexes of `rest` with `null`.
fn null_at(value: &mut Value, rest: &[PathSegment], depth: usize) {
    let mut target = value;
    for segment in &rest[..depth] {
        let (PathSegment::Index(i), Value::List(items)) = (segment, target) else {
            return;
        };
        let Some(item) = items.get_mut(*i) else {
            return;
        };
        target = item;
    }
    *target = Value::Null;
}

impl Collector {
    /// Lets the field at `path` (of type `ty`, value `value`) take the `null` of failures
    /// beneath it, where it or one of its list items is the nearest nullable position.
    fn absorb(&self, path: &[PathSegment], ty: &str, value: &mut Value) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|failure| {
            let Some(rest) = failure.strip_prefix(path).filter(|r| !r.is_empty()) else {
                return true;
            };
            match nearest_nullable(ty, rest) {
                Some(depth) => {
                    null_at(value, rest, depth);
                    false
                }
                None => true,
            }
        });
        self.pending_count.store(pending.len(), Ordering::Release);
    }
}

/// The response path of a field, from its path node (built only when an error needs it).
fn path_of(path_node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut segments = Vec::new();
    let mut node = Some(path_node);
    while let Some(n) = node {
        segments.push(match n.segment {
            async_graphql::QueryPathSegment::Index(i) => PathSegment::Index(i),
            async_graphql::QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
        });
        node = n.parent;
    }
    segments.reverse();
    segments
}

impl Collector {
    /// The end of execution: a non-null failure no nullable position took nulls `data`; the
    /// recorded errors join the response.
    pub(crate) fn finish(&self, mut response: Response) -> Response {
        if self.pending_count.load(Ordering::Acquire) > 0 {
            response.data = Value::Null;
        }
        let collected = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()));
        response.errors.extend(collected);
        response
    }

    /// A field's outcome: a failure becomes `null` (recorded, and pending when the field is
    /// non-null); a value absorbs the pending failures beneath it.
    pub(crate) fn settle(
        &self,
        result: ServerResult<Option<Value>>,
        return_type: &str,
        path_node: &QueryPathNode<'_>,
    ) -> ServerResult<Option<Value>> {
        match result {
            Err(mut err) => {
                let path = path_of(path_node);
                if err.path.is_empty() {
                    err.path.clone_from(&path);
                }
                if return_type.ends_with('!') {
                    let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                    pending.push(path);
                    self.pending_count.store(pending.len(), Ordering::Release);
                }
                self.errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(err);
                Ok(Some(Value::Null))
            }
            Ok(Some(mut value)) if self.pending_count.load(Ordering::Acquire) > 0 => {
                self.absorb(&path_of(path_node), return_type, &mut value);
                Ok(Some(value))
            }
            result => result,
        }
    }
}

/// Per request, around everything: checks the document's limits before anything else
/// ([`crate::graphql::limits`]), puts the response's keys in selection order
/// ([`crate::graphql::order`]), gives every error a contract code, and meters the request
/// (count and latency by operation type).
///
/// The codes: errors async-graphql raises itself (syntax, validation, unknown fields, wrong
/// argument types) carry none, and are all the client's input to fix, so they become
/// `BAD_USER_INPUT`.
pub(crate) struct Envelope {
    operation: OnceLock<&'static str>,
    selection: OnceLock<(Arc<ExecutableDocument>, Option<String>)>,
    limits: DocumentLimits,
    documents: DocumentCache,
}

impl Envelope {
    /// An envelope for one request under `limits`, parsing through `documents`.
    pub(crate) fn new(limits: DocumentLimits, documents: DocumentCache) -> Self {
        Self {
            operation: OnceLock::new(),
            selection: OnceLock::new(),
            limits,
            documents,
        }
    }

    /// Before async-graphql's own parse-time walk, validation and execution: parses the
    /// document (or copies the kept parse of the same text) for async-graphql to reuse, and
    /// checks its limits. An error here never reaches execution, so the transport answers it
    /// as a request that failed before it.
    pub(crate) fn prepare(&self, request: &mut Request) -> ServerResult<()> {
        let carrier = if request.data.contains_key(&TypeId::of::<InBatch>()) {
            Carrier::Batch
        } else if request.data.contains_key(&TypeId::of::<OverSocket>()) {
            Carrier::Socket
        } else {
            Carrier::Request
        };
        let document = match self.documents.get(&request.query) {
            Some(kept) => {
                self.limits.check(&kept, carrier)?;
                request.set_parsed_query(ExecutableDocument::clone(&kept));
                kept
            }
            None => {
                let parsed = Arc::new(request.parsed_query()?.clone());
                self.limits.check(&parsed, carrier)?;
                self.documents.keep(&request.query, parsed.clone());
                parsed
            }
        };
        self.selection
            .set((document, request.operation_name.clone()))
            .ok();
        Ok(())
    }

    /// Notes the operation type, for the metrics.
    pub(crate) fn parsed(&self, document: &ExecutableDocument) {
        let kind = match document.operations.iter().next() {
            Some((_, op)) => match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            },
            None => "unknown",
        };
        self.operation.set(kind).ok();
    }

    /// The response as the client gets it, and the request's metrics.
    pub(crate) fn finish(&self, mut response: Response, started: Instant) -> Response {
        if let Some((document, operation_name)) = self.selection.get() {
            order::reorder(&mut response.data, document, operation_name.as_deref());
        }
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::BadUserInput.as_str());
            }
        }
        let operation = self.operation.get().copied().unwrap_or("unknown");
        meter::request(operation, started.elapsed().as_secs_f64());
        response
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Result, Schema};
    use serde_json::json;

    use super::*;

    /// The GraphQL spec's example (section "Errors and Non-Null Fields"): one friend's name
    /// cannot be fetched.
    struct Query;

    #[Object]
    impl Query {
        async fn hero(&self) -> Option<Hero> {
            Some(Hero)
        }
    }

    struct Hero;

    #[Object]
    impl Hero {
        async fn name(&self) -> &str {
            "R2-D2"
        }

        /// Nullable items: a failed item becomes `null`.
        async fn friends(&self) -> Vec<Option<Friend>> {
            (1000..1003).map(|id| Some(Friend(id))).collect()
        }

        /// Non-null items: a failed item nulls the whole (nullable) list.
        async fn strict_friends(&self) -> Option<Vec<Friend>> {
            Some((1000..1003).map(Friend).collect())
        }
    }

    struct Friend(i32);

    #[Object]
    impl Friend {
        async fn id(&self) -> i32 {
            self.0
        }

        async fn name(&self) -> Result<String> {
            if self.0 == 1001 {
                Err(format!(
                    "Name for character with ID {} could not be fetched.",
                    self.0
                )
                .into())
            } else {
                Ok(format!("Friend {}", self.0))
            }
        }
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(crate::graphql::pipeline::Pipeline::new(DocumentLimits {
                limits: crate::config::LimitsConfig::default(),
                introspection: false,
            }))
            .finish();
        serde_json::to_value(schema.execute(query).await).expect("json")
    }

    #[tokio::test]
    async fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        let body = run("{ hero { name heroFriends: friends { id name } } }").await;
        assert_eq!(
            body["data"],
            json!({ "hero": { "name": "R2-D2", "heroFriends": [
                { "id": 1000, "name": "Friend 1000" },
                null,
                { "id": 1002, "name": "Friend 1002" },
            ] } })
        );
        assert_eq!(
            body["errors"][0]["path"],
            json!(["hero", "heroFriends", 1, "name"])
        );
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");

        // With non-null items the error bubbles up to the list itself.
        let body = run("{ hero { name strictFriends { id name } } }").await;
        assert_eq!(
            body["data"],
            json!({ "hero": { "name": "R2-D2", "strictFriends": null } })
        );
        assert_eq!(
            body["errors"][0]["path"],
            json!(["hero", "strictFriends", 1, "name"])
        );
    }

    #[tokio::test]
    async fn response_keys_follow_the_selection_order_with_aliases_and_fragments() {
        let body = run("{ z: hero { ...F name } a: hero { name } __typename } \
             fragment F on Hero { friends { name id } }")
        .await;
        let text = body.to_string();
        let order: Vec<usize> = ["\"z\"", "\"a\"", "\"__typename\""]
            .iter()
            .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let friend = &body["data"]["z"]["friends"][0];
        let keys: Vec<&String> = friend.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["name", "id"], "{text}");
        let hero: Vec<&String> = body["data"]["z"]
            .as_object()
            .expect("object")
            .keys()
            .collect();
        assert_eq!(
            hero,
            ["friends", "name"],
            "fragment fields first, as selected: {text}"
        );
    }
}
