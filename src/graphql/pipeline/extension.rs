//! The one schema extension Warden installs, per request.
//!
//! Every extension is a link in the chain each field's resolution walks through (an async
//! call and a boxed future per link per field), so the request's [envelope] (limits, key
//! order, codes, metrics), the execution marker ([phase]), the directive guards
//! ([`crate::graphql::guards`]) and the null-on-error collector ([nulls]) share a single link
//! rather than four. Inside a field the guards run first and the collector sees their refusal,
//! as it sees the resolver's errors.
//!
//! [envelope]: crate::graphql::pipeline::envelope
//! [phase]: crate::graphql::pipeline::phase
//! [nulls]: crate::graphql::pipeline::nulls

use std::{sync::Arc, time::Instant};

use async_graphql::{
    Request, Response, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest, NextResolve, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};

use super::{
    documents::DocumentCache, envelope::Envelope, limits::DocumentLimits, nulls::Collector,
    phase::Ticket,
};
use crate::graphql::guards::DirectiveGuards;

/// The factory installed on the schema.
pub(crate) struct Pipeline {
    limits: DocumentLimits,
    guards: DirectiveGuards,
    documents: DocumentCache,
}

impl Pipeline {
    /// The pipeline checking documents against `limits`.
    pub(crate) fn new(limits: DocumentLimits) -> Self {
        Self {
            limits,
            guards: DirectiveGuards::default(),
            documents: DocumentCache::default(),
        }
    }
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Run {
            envelope: Envelope::new(self.limits, self.documents.clone()),
            collector: Collector::default(),
            guards: self.guards.clone(),
        })
    }
}

/// One request's pipeline.
struct Run {
    envelope: Envelope,
    collector: Collector,
    guards: DirectiveGuards,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Run {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        self.envelope.finish(response, started)
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.envelope.prepare(&mut request)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.envelope.parsed(&document);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        Ticket::punch(ctx);
        let response = next.run(ctx, operation_name).await;
        self.collector.finish(response)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let return_type = info.return_type;
        let path_node = info.path_node;
        let result = match self.guards.check(ctx, &info) {
            Ok(()) => next.run(ctx, info).await,
            Err(refused) => Err(refused),
        };
        self.collector.settle(result, return_type, path_node)
    }
}

/// The pipeline end to end, on a schema of its own: the nulls and the key order as the engine
/// produces them (fields resolved concurrently), not as a unit would.
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
            .extension(Pipeline::new(DocumentLimits {
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
