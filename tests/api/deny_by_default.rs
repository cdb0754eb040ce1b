//! Deny by default: every field of the schema is guarded by a directive, or named on this
//! public allowlist. A new field that is neither fails this test.

use async_graphql::parser::{
    parse_schema,
    types::{TypeKind, TypeSystemDefinition},
};

const GUARD_DIRECTIVES: [&str; 6] = [
    "authenticated",
    "fresh",
    "refreshToken",
    "hasRole",
    "hasPermission",
    "selfOrPermission",
];

/// Fields anyone may call, and types whose fields are only reachable through a guarded or
/// public-by-design field (`Type.*`).
const PUBLIC: [&str; 14] = [
    "Query.greeting",
    "Mutation.login",
    "Mutation.register",
    "AuthPayload.*",
    "User.id",
    "User.name",
    "User.roles",
    "User.permissions",
    "User.createdAt",
    "Session.*",
    "UserConnection.*",
    "UserEdge.*",
    "PageInfo.*",
    // Reachable only through the guarded `sessionEvents`.
    "SessionEvent.*",
];

#[test]
fn every_field_is_guarded_or_explicitly_public() {
    let document = parse_schema(warden::graphql::sdl()).expect("the SDL parses");
    let mut unguarded = Vec::new();
    let mut seen = Vec::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &ty.node.kind else {
            continue;
        };
        let type_name = ty.node.name.node.as_str();
        for field in &object.fields {
            let name = format!("{type_name}.{}", field.node.name.node);
            let guarded = field
                .node
                .directives
                .iter()
                .any(|d| GUARD_DIRECTIVES.contains(&d.node.name.node.as_str()));
            let public = PUBLIC.contains(&name.as_str())
                || PUBLIC.contains(&format!("{type_name}.*").as_str());
            assert!(
                !(guarded && PUBLIC.contains(&name.as_str())),
                "{name} is guarded and on the allowlist"
            );
            if !guarded && !public {
                unguarded.push(name.clone());
            }
            seen.push(name);
        }
    }
    assert!(
        unguarded.is_empty(),
        "fields neither guarded nor allowlisted: {unguarded:?}"
    );
    for entry in PUBLIC {
        let prefix = entry.trim_end_matches('*');
        assert!(
            seen.iter()
                .any(|f| f == entry || (entry.ends_with('*') && f.starts_with(prefix))),
            "stale allowlist entry {entry}"
        );
    }
}

#[test]
fn the_contracts_guarded_fields_show_their_requirement() {
    let sdl = warden::graphql::sdl();
    for line in [
        "me: User @authenticated",
        "adminPanel: String @hasRole(anyOf: [\"admin\"])",
        "report: String @hasRole(anyOf: [\"admin\", \"editor\"])",
        "sensitiveData: [String!] @hasPermission(allOf: [\"read:sensitive\"])",
        "users(first: Int = 50, after: String): UserConnection @hasPermission(allOf: [\"users:read\"])",
        "sessions: [Session!] @authenticated",
        "refresh: AuthPayload! @refreshToken",
        "updateSettings(name: String!): User! @fresh",
        "setUserRoles(userId: ID!, roles: [String!]!): User! @hasRole(anyOf: [\"admin\"]) @fresh",
        "email: String @selfOrPermission(allOf: [\"users:read\"])",
        "sessionEvents: SessionEvent! @authenticated",
        "setUserDisabled(userId: ID!, disabled: Boolean!): User! @hasRole(anyOf: [\"admin\"]) @fresh",
        "revokeUserSessions(userId: ID!): Int! @hasRole(anyOf: [\"admin\"]) @fresh",
        "deleteUser(userId: ID!): Boolean! @hasRole(anyOf: [\"admin\"]) @fresh",
        "disabled: Boolean @hasPermission(allOf: [\"users:read\"])",
    ] {
        assert!(sdl.contains(line), "schema shows `{line}`");
    }
}

/// The list argument of a guard directive (`anyOf` / `allOf`), as strings.
fn list_argument(directive: &async_graphql::parser::types::ConstDirective) -> Vec<String> {
    directive
        .arguments
        .iter()
        .flat_map(|(_, value)| match &value.node {
            async_graphql::Value::List(items) => items
                .iter()
                .filter_map(|v| match v {
                    async_graphql::Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn every_guarded_fields_description_ends_with_its_requirement() {
    let document = parse_schema(warden::graphql::sdl()).expect("the SDL parses");
    let mut checked = 0;
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &ty.node.kind else {
            continue;
        };
        for field in &object.fields {
            let directives = field
                .node
                .directives
                .iter()
                .map(|d| (d.node.name.node.as_str(), list_argument(&d.node)));
            let Some(expected) = warden::graphql::guards::requirement_text(directives) else {
                continue;
            };
            let name = format!("{}.{}", ty.node.name.node, field.node.name.node);
            let description = field
                .node
                .description
                .as_ref()
                .map(|d| d.node.as_str())
                .unwrap_or_default();
            let last = description.lines().last().unwrap_or_default().trim();
            assert_eq!(
                last, expected,
                "{name}'s description must end with its requirement"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} guarded fields found");
}

#[test]
fn requirements_read_as_the_directives_say() {
    use warden::graphql::guards::requirement_text;
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        requirement_text([("hasRole", list(&["admin"])), ("fresh", vec![])]).as_deref(),
        Some("Requires: role admin; fresh token")
    );
    assert_eq!(
        requirement_text([("hasRole", list(&["admin", "editor"]))]).as_deref(),
        Some("Requires: role admin or editor")
    );
    assert_eq!(
        requirement_text([("hasPermission", list(&["a", "b"]))]).as_deref(),
        Some("Requires: permissions a and b")
    );
    assert_eq!(requirement_text([("deprecated", vec![])]), None);
}
