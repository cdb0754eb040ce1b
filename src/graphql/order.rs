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
pub fn reorder(data: &mut Value, document: &ExecutableDocument, operation_name: Option<&str>) {
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

fn order(value: &mut Value, sets: &[&SelectionSet], document: &ExecutableDocument) {
    match value {
        Value::List(items) => {
            for item in items {
                order(item, sets, document);
            }
        }
        Value::Object(map) => {
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
