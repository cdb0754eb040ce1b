//! Spec-conformant nulls for failed fields.
//!
//! async-graphql 7.2 drops a field that returns an error from its parent object (and turns
//! `data` into `null` when every root field failed), where the GraphQL spec and our contract
//! want the key present with `null` and the error at its path. A frontend reading
//! `data.me` must get `null`, not a crash on `data` being `null`. The collector catches the
//! error of every field, records it, and resolves the field to `null`:
//! - a *nullable* field stays `null` (partial results);
//! - a *non-null* field cannot be `null`, so, as the spec says, the `null` moves to the
//!   nearest nullable position above it: a list item whose type is nullable, or a nullable
//!   field. Field resolutions nest (a parent's resolution contains its children's), so each
//!   field, once its own value is built, absorbs the failures beneath it that no nearer
//!   nullable position took. One that reaches the root nulls `data`.
//!
//! The recorded errors are appended to the response at the end.

use std::sync::{
    Mutex,
    atomic::{AtomicUsize, Ordering},
};

use async_graphql::{PathSegment, QueryPathNode, Response, ServerError, ServerResult, Value};

/// One per request: the errors of the fields it turned into nulls, and the failures of
/// non-null fields still looking for a nullable position.
#[derive(Default)]
pub(super) struct Collector {
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
    pub(super) fn finish(&self, mut response: Response) -> Response {
        if self.pending_count.load(Ordering::Acquire) > 0 {
            response.data = Value::Null;
        }
        let collected = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()));
        response.errors.extend(collected);
        response
    }

    /// A field's outcome: a failure becomes `null` (recorded, and pending when the field is
    /// non-null); a value absorbs the pending failures beneath it.
    pub(super) fn settle(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_takes_the_nearest_nullable_position_from_the_field_down() {
        let index = |i| PathSegment::Index(i);
        let field = |name: &str| PathSegment::Field(name.to_owned());
        // (field type, the failure's path below the field, where the null goes)
        let cases = [
            ("Friend", vec![field("name")], Some(0)),
            ("Friend!", vec![field("name")], None),
            ("[Friend]!", vec![index(1), field("name")], Some(1)),
            ("[Friend!]", vec![index(1), field("name")], Some(0)),
            ("[Friend!]!", vec![index(1), field("name")], None),
            (
                "[[Friend]!]!",
                vec![index(0), index(2), field("name")],
                Some(2),
            ),
            (
                "[[Friend!]]!",
                vec![index(0), index(2), field("name")],
                Some(1),
            ),
        ];
        for (ty, rest, expected) in cases {
            assert_eq!(nearest_nullable(ty, &rest), expected, "{ty} {rest:?}");
        }
    }

    #[test]
    fn the_null_replaces_the_value_reached_through_the_list_indexes() {
        let mut value = Value::from_json(serde_json::json!([[1, 2], [3, 4]])).expect("value");
        null_at(
            &mut value,
            &[PathSegment::Index(1), PathSegment::Index(0)],
            2,
        );
        assert_eq!(
            value.into_json().expect("json"),
            serde_json::json!([[1, 2], [null, 4]])
        );
        let mut value = Value::from_json(serde_json::json!([1])).expect("value");
        null_at(&mut value, &[PathSegment::Index(5)], 1);
        assert_eq!(
            value.into_json().expect("json"),
            serde_json::json!([1]),
            "out of range: kept"
        );
    }
}
