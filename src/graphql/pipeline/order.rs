//! Response keys in selection order, as the GraphQL spec asks.
//!
//! async-graphql 7.2 resolves an object's fields concurrently and inserts each into the
//! object as it completes, so a field that waited on the database comes after one that did
//! not: `{ greeting adminPanel me { id } }` could answer `adminPanel, greeting, me`. After
//! execution, this walks the response along the document's selection sets (fragments and
//! inline fragments expanded in place, aliases as written) and puts every object's keys back
//! in the order they were first selected.

use async_graphql::{
    Name, Value,
    indexmap::IndexMap,
    parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet},
};

/// Reorders `data` to follow the selection of `operation_name` in `document`.
pub(super) fn reorder(
    data: &mut Value,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return,
        },
        (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
            Some(op) => op,
            None => return,
        },
    };
    order(data, &[&operation.node.selection_set.node], document);
}

/// Response keys selected by `sets`, in first-selection order, each with the selection sets
/// that select into it (a key selected twice merges its sub-selections).
fn collect<'a>(
    sets: &[&'a SelectionSet],
    document: &'a ExecutableDocument,
    keys: &mut IndexMap<&'a str, Vec<&'a SelectionSet>>,
) {
    for set in sets {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    keys.entry(field.response_key().node.as_str())
                        .or_default()
                        .push(&field.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        collect(&[&fragment.node.selection_set.node], document, keys);
                    }
                }
                Selection::InlineFragment(inline) => {
                    collect(&[&inline.node.selection_set.node], document, keys);
                }
            }
        }
    }
}

/// True when `map` holds exactly the fields `set` selects, one key each, in its order: the
/// common case (no fragments, no repeated or skipped field, nothing reordered), checked
/// without building the key list.
fn already_in_order(map: &IndexMap<Name, Value>, set: &SelectionSet) -> bool {
    set.items.len() == map.len()
        && set
            .items
            .iter()
            .zip(map.keys())
            .all(|(selection, key)| match &selection.node {
                Selection::Field(field) => field.node.response_key().node.as_str() == key.as_str(),
                _ => false,
            })
}

fn order(value: &mut Value, sets: &[&SelectionSet], document: &ExecutableDocument) {
    match value {
        Value::List(items) => {
            for item in items {
                order(item, sets, document);
            }
        }
        Value::Object(map) => {
            if let [set] = sets
                && already_in_order(map, set)
            {
                for (selection, child) in set.items.iter().zip(map.values_mut()) {
                    if let Selection::Field(field) = &selection.node {
                        order(child, &[&field.node.selection_set.node], document);
                    }
                }
                return;
            }
            let mut keys = IndexMap::new();
            collect(sets, document, &mut keys);
            let mut unordered = std::mem::take(map);
            for (key, sub_sets) in keys {
                if let Some((name, mut child)) = unordered.swap_remove_entry(key) {
                    order(&mut child, &sub_sets, document);
                    map.insert(name, child);
                }
            }
            // Anything the walk did not name (it names everything selected) keeps its place
            // at the end rather than being lost.
            map.extend(unordered.drain(..).collect::<Vec<(Name, Value)>>());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &Value) -> Vec<String> {
        match value {
            Value::Object(map) => map.keys().map(|k| k.as_str().to_owned()).collect(),
            _ => Vec::new(),
        }
    }

    fn reordered(query: &str, data: serde_json::Value) -> Value {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let mut value = Value::from_json(data).expect("value");
        reorder(&mut value, &document, None);
        value
    }

    #[test]
    fn an_object_already_in_order_still_orders_its_children() {
        let value = reordered(
            "{ a b { c d } }",
            serde_json::json!({ "a": 1, "b": { "d": 2, "c": 3 } }),
        );
        assert_eq!(keys(&value), ["a", "b"]);
        let Value::Object(map) = &value else {
            panic!("object")
        };
        assert_eq!(keys(&map["b"]), ["c", "d"]);
    }

    #[test]
    fn keys_follow_the_selection_through_aliases_fragments_and_lists() {
        let value = reordered(
            "{ z: a ...F items { y x } } fragment F on Query { b }",
            serde_json::json!({ "items": [{ "x": 1, "y": 2 }], "b": 3, "z": 4 }),
        );
        assert_eq!(keys(&value), ["z", "b", "items"]);
        let Value::Object(map) = &value else {
            panic!("object")
        };
        let Value::List(items) = &map["items"] else {
            panic!("list")
        };
        assert_eq!(keys(&items[0]), ["y", "x"]);
    }
}
