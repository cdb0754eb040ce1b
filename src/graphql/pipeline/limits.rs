//! Per-document limits (docs/reference.md, "Limits"), checked on the parsed document before async-graphql
//! validates or executes it: depth, complexity and aliases, the auth mutations once per
//! document and never in a JSON batch, and the mutations that are HTTP only never over the
//! WebSocket.
//!
//! Why our own count rather than `SchemaBuilder::limit_depth` / `limit_complexity`:
//! - async-graphql's validation visitor never enters `__typename` (validation/visitor.rs
//!   skips it), so its depth and complexity leave it out, and 3,000 aliased `__typename`s
//!   counted as 0; the contract counts every field.
//! - Its limits are compared only after the whole validation pass, and before validation, parsing
//!   walks every fragment spread once per use (`check_recursive_depth`), which is exponential in
//!   nested spreads: 22 fragments each spreading the next twice (about 700 bytes) took 19 s with
//!   `limit_complexity(500)` in a debug build, four times longer per two more. This check runs
//!   first, in the `prepare_request` hook, and stops at the first limit exceeded, so its own work
//!   is bounded by the limits: every fragment expansion ends in fields, each counted.
//!
//! Fragments are counted where they are spread (as executed), all operations of the document
//! together (all are validated). Depth counts nested fields: `{ me { id } }` has depth 2.
//! GraphiQL's introspection query (tests/fixtures/introspection.graphql) is 15 deep, the default
//! limit: with introspection on, the fields under `__schema` and `__type` keep at least that
//! allowance even when `WARDEN_MAX_DEPTH` is set lower, so the playground keeps working.
//!
//! One walk, one file: past 450 lines only by its table tests (the code ends near line 260).

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use crate::config::LimitsConfig;

/// How a document arrived, for the rules that depend on it: the auth mutations are refused in a
/// batch, the mutations of [`HTTP_ONLY`] over a socket. Told by the operation's ticket
/// ([`super::phase::Ticket`]), which the handover stamps from the transport and the request's
/// shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Carrier {
    /// One operation in an HTTP request.
    Request,
    /// One operation of a JSON batch.
    Batch,
    /// One operation started on a WebSocket.
    Socket,
}

/// The mutations that check a password or mint a session: once per document, never batched,
/// so that neither aliases nor batches multiply password guesses or token minting.
const ONCE_PER_DOCUMENT: [&str; 5] = ["login", "refresh", "reauth", "register", "changePassword"];

/// The mutations that take a password, a code or a one-time token, or mint tokens: over a
/// socket they would escape what HTTP gives them (cookies set on the response, the per-request
/// timeout, one guess per request), so they are refused there.
const HTTP_ONLY: [&str; 10] = [
    "login",
    "refresh",
    "reauth",
    "register",
    "changePassword",
    "requestPasswordReset",
    "resetPassword",
    "verifyEmail",
    "confirmTotp",
    "verifyMfa",
];

/// Depth GraphiQL's introspection query needs (see the module comment).
const INTROSPECTION_DEPTH: usize = 15;

/// Nesting of selection sets (fields, fragment spreads, inline fragments) the walk follows:
/// async-graphql's own recursion limit, so that a spread cycle ends here too.
const MAX_NESTING: usize = 32;

/// The document's limits, and whether introspection is on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentLimits {
    /// The configured limits.
    pub(crate) limits: LimitsConfig,
    /// Introspection on: its fields get the depth GraphiQL needs.
    pub(crate) introspection: bool,
}

impl DocumentLimits {
    /// Checks `document`, which arrived as `carrier` says.
    ///
    /// # Errors
    /// The first limit exceeded, as a client error (`BAD_USER_INPUT` in the envelope).
    pub(super) fn check(
        &self,
        document: &ExecutableDocument,
        carrier: Carrier,
    ) -> Result<(), ServerError> {
        let mut walk = Walk {
            document,
            limits: self,
            fields: 0,
            aliases: 0,
            once: None,
            over_socket: carrier == Carrier::Socket,
        };
        for (_, operation) in document.operations.iter() {
            let root = if operation.node.ty == OperationType::Mutation {
                Root::Mutation
            } else {
                Root::Other
            };
            walk.selection_set(
                &operation.node.selection_set.node,
                0,
                0,
                root,
                self.limits.max_depth,
            )?;
        }
        match walk.once {
            Some(name) if carrier == Carrier::Batch => Err(ServerError::new(
                format!("`{name}` cannot be sent in a batch: send it as a request of its own"),
                None,
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    /// The root selection of a mutation: the auth mutations are counted.
    Mutation,
    /// Anywhere else.
    Other,
}

/// Adds one to `counter`; over `limit`, the error `message` describes.
fn count(
    counter: &mut usize,
    limit: usize,
    pos: Option<async_graphql::Pos>,
    message: impl FnOnce(usize) -> String,
) -> Result<(), ServerError> {
    *counter += 1;
    if *counter > limit {
        return Err(ServerError::new(message(limit), pos));
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    limits: &'a DocumentLimits,
    fields: usize,
    aliases: usize,
    /// The auth mutation seen, if any.
    once: Option<&'a str>,
    /// The document came over a socket: the [`HTTP_ONLY`] mutations are refused.
    over_socket: bool,
}

impl<'a> Walk<'a> {
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
        nesting: usize,
        root: Root,
        max_depth: usize,
    ) -> Result<(), ServerError> {
        if nesting > MAX_NESTING {
            return Err(ServerError::new(
                "The query nests fields or fragments too deep",
                None,
            ));
        }
        let limits = &self.limits.limits;
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let depth = depth + 1;
                    let max_depth = if depth == 1
                        && self.limits.introspection
                        && matches!(name, "__schema" | "__type")
                    {
                        max_depth.max(INTROSPECTION_DEPTH)
                    } else {
                        max_depth
                    };
                    let pos = Some(selection.pos);
                    if depth > max_depth {
                        return Err(ServerError::new(
                            format!(
                                "The query is nested too deep: the limit is {max_depth} levels of fields"
                            ),
                            pos,
                        ));
                    }
                    count(&mut self.fields, limits.max_complexity, pos, |limit| {
                        format!(
                            "The query is too complex: the limit is {limit} fields, __typename included"
                        )
                    })?;
                    if field.alias.is_some() {
                        count(&mut self.aliases, limits.max_aliases, pos, |limit| {
                            format!("The query has too many aliases: the limit is {limit}")
                        })?;
                    }
                    if root == Root::Mutation && self.over_socket && HTTP_ONLY.contains(&name) {
                        return Err(ServerError::new(
                            format!("{name} is only available over HTTP"),
                            pos,
                        ));
                    }
                    if root == Root::Mutation
                        && let Some(once) = ONCE_PER_DOCUMENT.iter().find(|n| **n == name)
                    {
                        if self.once.is_some() {
                            return Err(ServerError::new(
                                format!("`{once}` may be sent only once per document"),
                                pos,
                            ));
                        }
                        self.once = Some(once);
                    }
                    self.selection_set(
                        &field.selection_set.node,
                        depth,
                        nesting + 1,
                        Root::Other,
                        max_depth,
                    )?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let Some(fragment) = self.document.fragments.get(name) else {
                        // Validation would refuse it too; refusing here keeps every expansion
                        // ending in counted fields.
                        return Err(ServerError::new(
                            format!("Unknown fragment \"{name}\""),
                            Some(selection.pos),
                        ));
                    };
                    self.selection_set(
                        &fragment.node.selection_set.node,
                        depth,
                        nesting + 1,
                        root,
                        max_depth,
                    )?;
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(
                        &inline.node.selection_set.node,
                        depth,
                        nesting + 1,
                        root,
                        max_depth,
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, limits: LimitsConfig, in_batch: bool) -> Result<(), String> {
        let carrier = if in_batch {
            Carrier::Batch
        } else {
            Carrier::Request
        };
        check_as(query, limits, carrier)
    }

    fn check_as(query: &str, limits: LimitsConfig, carrier: Carrier) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        DocumentLimits {
            limits,
            introspection: true,
        }
        .check(&document, carrier)
        .map_err(|e| e.message)
    }

    fn ok(query: &str) {
        check(query, LimitsConfig::default(), false).expect(query);
    }

    fn refused(query: &str, limits: LimitsConfig, in_batch: bool, why: &str) {
        let message = check(query, limits, in_batch).expect_err(query);
        assert!(message.contains(why), "{query}: {message}");
    }

    fn aliased_typenames(n: usize) -> String {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
        format!("{{ {} }}", fields.join(" "))
    }

    fn nested(depth: usize, leaf: &str) -> String {
        let mut query = leaf.to_owned();
        for _ in 1..depth {
            query = format!("me {{ {query} }}");
        }
        format!("{{ {query} }}")
    }

    #[test]
    fn depth_counts_nested_fields_typename_included() {
        let limits = LimitsConfig {
            max_depth: 2,
            ..LimitsConfig::default()
        };
        check("{ me { id } }", limits, false).expect("depth 2");
        refused("{ me { me { id } } }", limits, false, "nested too deep");
        refused(
            "{ me { me { __typename } } }",
            limits,
            false,
            "nested too deep",
        );
        refused(
            "{ ...F } fragment F on Query { me { ... on User { me { id } } } }",
            limits,
            false,
            "nested too deep",
        );
        ok(&nested(15, "id"));
        refused(
            &nested(16, "id"),
            LimitsConfig::default(),
            false,
            "too deep",
        );
    }

    #[test]
    fn every_field_counts_toward_complexity_typename_included() {
        let limits = LimitsConfig {
            max_aliases: 10_000,
            ..LimitsConfig::default()
        };
        check(&aliased_typenames(500), limits, false).expect("500 fields");
        refused(&aliased_typenames(501), limits, false, "too complex");
        refused(&aliased_typenames(3_000), limits, false, "too complex");
    }

    #[test]
    fn fragments_count_each_time_they_are_spread() {
        // 2^20 fields once expanded: refused after 501 of them, without expanding the rest.
        let mut query = String::from("{ ...F0 }");
        for i in 0..20 {
            query.push_str(&format!(
                " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        query.push_str(" fragment F20 on Query { __typename }");
        let started = std::time::Instant::now();
        refused(&query, LimitsConfig::default(), false, "too complex");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_fragment_cycle_or_unknown_fragment_is_refused_not_followed() {
        refused(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            LimitsConfig::default(),
            false,
            "too deep",
        );
        refused(
            "{ ...Nowhere }",
            LimitsConfig::default(),
            false,
            "Unknown fragment",
        );
    }

    #[test]
    fn aliases_are_limited() {
        ok(&aliased_typenames(50));
        refused(
            &aliased_typenames(51),
            LimitsConfig::default(),
            false,
            "too many aliases",
        );
    }

    #[test]
    fn an_auth_mutation_is_once_per_document_and_never_batched() {
        let login = r#"login(email: "a@b.c", password: "p") { tokenType }"#;
        ok(&format!("mutation {{ {login} }}"));
        for query in [
            format!("mutation {{ a: {login} b: {login} }}"),
            format!("mutation {{ {login} refresh {{ tokenType }} }}"),
            format!("mutation {{ ...F ...F }} fragment F on Mutation {{ {login} }}"),
            format!("mutation {{ ... on Mutation {{ {login} }} {login} }}"),
            format!("mutation A {{ {login} }} mutation B {{ {login} }}"),
        ] {
            refused(&query, LimitsConfig::default(), false, "only once");
        }
        refused(
            &format!("mutation {{ {login} }}"),
            LimitsConfig::default(),
            true,
            "batch",
        );
        // Other mutations may be batched and repeated; a query field of the same name would
        // not be an auth mutation.
        check(
            "mutation { a: logout b: logout }",
            LimitsConfig::default(),
            true,
        )
        .expect("logout twice, batched");
    }

    #[test]
    fn graphiql_introspection_fits_the_defaults_and_keeps_its_depth() {
        let query = include_str!("../../../tests/fixtures/introspection.graphql");
        ok(query);
        let shallow = LimitsConfig {
            max_depth: 5,
            ..LimitsConfig::default()
        };
        check(query, shallow, false).expect("introspection keeps depth 15");
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let off = DocumentLimits {
            limits: shallow,
            introspection: false,
        };
        assert!(off.check(&document, Carrier::Request).is_err());
    }

    #[test]
    fn the_http_only_mutations_are_refused_over_a_socket_and_only_there() {
        for name in HTTP_ONLY {
            let query = format!("mutation {{ {name} }}");
            let message = check_as(&query, LimitsConfig::default(), Carrier::Socket)
                .expect_err("refused over a socket");
            assert_eq!(message, format!("{name} is only available over HTTP"));
            let spread = format!("mutation {{ ...F }} fragment F on Mutation {{ x: {name} }}");
            check_as(&spread, LimitsConfig::default(), Carrier::Socket)
                .expect_err("refused through a fragment too");
            check_as(&query, LimitsConfig::default(), Carrier::Request).expect("fine over HTTP");
        }
        for allowed in [
            "mutation { logout }",
            "mutation { setUserRoles(userId: 1, roles: []) { id } }",
            "{ me { id } }",
            "subscription { sessionEvents { kind } }",
        ] {
            check_as(allowed, LimitsConfig::default(), Carrier::Socket).expect(allowed);
        }
    }
}
