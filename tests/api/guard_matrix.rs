//! The guard matrix: every guarded field × every kind of token → the contract's code or data.
//! Tokens are forged with the test key (as a Flask-JWT-Extended app sharing it would), so each
//! case has exactly the claims it names.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use warden::testing::TestClaims;

use crate::{
    backend_test,
    support::{PASSWORD, TestApp, code, forge, message, now, spawn_app},
};

const ALL_ROLES: [&str; 2] = ["admin", "editor"];
const ALL_PERMISSIONS: [&str; 2] = ["read:sensitive", "users:read"];

/// What a field declares.
#[derive(Clone, Copy, Debug)]
enum Needs {
    Access,
    Fresh,
    Refresh,
    Roles(&'static [&'static str]),
    FreshRoles(&'static [&'static str]),
    Permissions(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    NoToken,
    Expired,
    BadSignature,
    RefreshToken,
    NonFreshAccess,
    MissingRole,
    MissingPermission,
    Revoked,
    StaleGrants,
    Allowed,
}

const CASES: [Case; 10] = [
    Case::NoToken,
    Case::Expired,
    Case::BadSignature,
    Case::RefreshToken,
    Case::NonFreshAccess,
    Case::MissingRole,
    Case::MissingPermission,
    Case::Revoked,
    Case::StaleGrants,
    Case::Allowed,
];

/// Ids a row's operation may need.
struct Ids {
    target: i64,
    session: String,
}

struct Row {
    field: &'static str,
    mutation: bool,
    needs: Needs,
    operation: fn(&Ids) -> String,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            field: "me",
            mutation: false,
            needs: Needs::Access,
            operation: |_| "{ me { id email } }".into(),
        },
        Row {
            field: "adminPanel",
            mutation: false,
            needs: Needs::Roles(&["admin"]),
            operation: |_| "{ adminPanel }".into(),
        },
        Row {
            field: "report",
            mutation: false,
            needs: Needs::Roles(&["admin", "editor"]),
            operation: |_| "{ report }".into(),
        },
        Row {
            field: "sensitiveData",
            mutation: false,
            needs: Needs::Permissions(&["read:sensitive"]),
            operation: |_| "{ sensitiveData }".into(),
        },
        Row {
            field: "users",
            mutation: false,
            needs: Needs::Permissions(&["users:read"]),
            operation: |_| {
                "{ users(first: 5) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }".into()
            },
        },
        Row {
            field: "sessions",
            mutation: false,
            needs: Needs::Access,
            operation: |_| "{ sessions { id current } }".into(),
        },
        Row {
            field: "refresh",
            mutation: true,
            needs: Needs::Refresh,
            operation: |_| "mutation { refresh { accessToken refreshToken } }".into(),
        },
        Row {
            field: "reauth",
            mutation: true,
            needs: Needs::Access,
            operation: |_| {
                format!("mutation {{ reauth(password: \"{PASSWORD}\") {{ accessToken }} }}")
            },
        },
        Row {
            field: "logout",
            mutation: true,
            needs: Needs::Access,
            operation: |_| "mutation { logout }".into(),
        },
        Row {
            field: "updateSettings",
            mutation: true,
            needs: Needs::Fresh,
            operation: |_| "mutation { updateSettings(name: \"Renamed\") { name } }".into(),
        },
        Row {
            field: "changePassword",
            mutation: true,
            needs: Needs::Fresh,
            operation: |_| {
                format!(
                    "mutation {{ changePassword(currentPassword: \"{PASSWORD}\", newPassword: \"{PASSWORD}\") }}"
                )
            },
        },
        Row {
            field: "createUser",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |_| {
                format!(
                    "mutation {{ createUser(email: \"new-{}@example.com\", password: \"{PASSWORD}\", name: \"New\") {{ id }} }}",
                    uuid::Uuid::new_v4().simple()
                )
            },
        },
        Row {
            field: "setUserRoles",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |ids| {
                format!(
                    "mutation {{ setUserRoles(userId: \"{}\", roles: [\"editor\"]) {{ roles }} }}",
                    ids.target
                )
            },
        },
        Row {
            field: "setUserPermissions",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |ids| {
                format!(
                    "mutation {{ setUserPermissions(userId: \"{}\", permissions: [\"read:sensitive\"]) {{ permissions }} }}",
                    ids.target
                )
            },
        },
        Row {
            field: "revokeSession",
            mutation: true,
            needs: Needs::Access,
            operation: |ids| format!("mutation {{ revokeSession(id: \"{}\") }}", ids.session),
        },
        Row {
            field: "setUserDisabled",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |ids| {
                format!(
                    "mutation {{ setUserDisabled(userId: \"{}\", disabled: false) {{ id }} }}",
                    ids.target
                )
            },
        },
        Row {
            field: "revokeUserSessions",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |ids| {
                format!(
                    "mutation {{ revokeUserSessions(userId: \"{}\") }}",
                    ids.target
                )
            },
        },
        Row {
            field: "deleteUser",
            mutation: true,
            needs: Needs::FreshRoles(&["admin"]),
            operation: |ids| format!("mutation {{ deleteUser(userId: \"{}\") }}", ids.target),
        },
    ]
}

/// What the contract says a case gives on a field: `None` for data.
fn expected(needs: Needs, case: Case) -> Option<&'static str> {
    let wants_refresh = matches!(needs, Needs::Refresh);
    let wants_fresh = matches!(needs, Needs::Fresh | Needs::FreshRoles(_));
    let wants_role = matches!(needs, Needs::Roles(_) | Needs::FreshRoles(_));
    let wants_permission = matches!(needs, Needs::Permissions(_));
    match case {
        Case::NoToken => Some("UNAUTHENTICATED"),
        Case::Expired => Some("TOKEN_EXPIRED"),
        Case::BadSignature => Some("INVALID_TOKEN"),
        Case::Revoked => Some("TOKEN_REVOKED"),
        Case::RefreshToken => (!wants_refresh).then_some("WRONG_TOKEN_TYPE"),
        _ if wants_refresh && case != Case::Allowed => Some("WRONG_TOKEN_TYPE"),
        Case::NonFreshAccess => wants_fresh.then_some("FRESH_TOKEN_REQUIRED"),
        Case::MissingRole => wants_role.then_some("FORBIDDEN"),
        Case::MissingPermission => wants_permission.then_some("FORBIDDEN"),
        Case::StaleGrants => (wants_role || wants_permission).then_some("TOKEN_REVOKED"),
        Case::Allowed => None,
    }
}

/// Claims for `user_id` holding every role and permission: a fresh access token's, or a
/// refresh token's (which carries no grants).
fn holding_all(user_id: i64, needs: Needs) -> TestClaims {
    if matches!(needs, Needs::Refresh) {
        TestClaims::refresh(user_id)
    } else {
        TestClaims::access(user_id)
            .fresh(true)
            .roles(&ALL_ROLES)
            .permissions(&ALL_PERMISSIONS)
    }
}

async fn token_for(
    app: &TestApp,
    needs: Needs,
    case: Case,
    caller: i64,
    stale_caller: i64,
) -> Option<String> {
    let access = || holding_all(caller, Needs::Access);
    Some(match case {
        Case::NoToken => return None,
        Case::Expired => access().expires_at(now() - 120).sign(),
        Case::BadSignature => forge(
            access().json(),
            "some-other-key-some-other-key-0000",
            Algorithm::HS256,
        ),
        Case::RefreshToken => TestClaims::refresh(caller).sign(),
        Case::NonFreshAccess => access().fresh(false).sign(),
        Case::MissingRole => access().roles(&[]).sign(),
        Case::MissingPermission => access().permissions(&[]).sign(),
        Case::Revoked => {
            let claims = holding_all(caller, needs);
            let jti = claims.json()["jti"].as_str().unwrap_or_default();
            app.revoke_elsewhere(jti, now() + 900).await;
            let token = claims.sign();
            app.until_revoked(&token).await;
            token
        }
        Case::StaleGrants => holding_all(stale_caller, Needs::Access).sign(),
        Case::Allowed => holding_all(caller, needs).sign(),
    })
}

backend_test! {
    async fn every_guarded_field_answers_every_kind_of_token_as_the_contract_says(backend) {
        let app = spawn_app(backend).await;
        for row in rows() {
            let caller = app.create_user(&format!("caller-{}@example.com", row.field.to_lowercase()), &ALL_ROLES, &ALL_PERMISSIONS).await;
            let stale_caller = app.create_user(&format!("stale-{}@example.com", row.field.to_lowercase()), &ALL_ROLES, &ALL_PERMISSIONS).await;
            let target = app.create_user(&format!("target-{}@example.com", row.field.to_lowercase()), &[], &[]).await;
            // The stale caller's grants are taken away after its token is made (iat is in the past).
            app.set_grants_elsewhere(stale_caller, Some(&[]), Some(&[])).await;
            let stale = token_for(&app, Needs::Access, Case::StaleGrants, caller, stale_caller).await;
            app.eventually(stale.as_deref(), "{ adminPanel }", |b| b["errors"][0]["extensions"]["code"] == "TOKEN_REVOKED").await;
            let (access, _) = app.login(&format!("caller-{}@example.com", row.field.to_lowercase()), PASSWORD).await;
            let mut ids = Ids {
                target,
                session: crate::support::payload(&access)["sid"].as_str().expect("sid").to_owned(),
            };

            for case in CASES {
                if row.field == "deleteUser" {
                    // Each case that gets through deletes its target: give each its own.
                    ids.target = app.create_user(&format!("target-{case:?}@example.com").to_lowercase(), &[], &[]).await;
                }
                let token = token_for(&app, row.needs, case, caller, stale_caller).await;
                let body = app.graphql(token.as_deref(), &(row.operation)(&ids), json!({})).await;
                let context = format!("{} × {case:?}: {body}", row.field);
                // The stale caller is another user: the guard lets it through, and the
                // caller's session is not theirs to revoke.
                let outcome = if row.field == "revokeSession" && case == Case::StaleGrants {
                    Some("NOT_FOUND")
                } else {
                    expected(row.needs, case)
                };
                match outcome {
                    Some(expected_code) => {
                        assert_eq!(code(&body), expected_code, "{context}");
                        assert_eq!(body["errors"][0]["path"], json!([row.field]), "{context}");
                        if row.mutation {
                            assert_eq!(body["data"], Value::Null, "{context}");
                        } else {
                            assert_eq!(body["data"][row.field], Value::Null, "{context}");
                            assert!(body["data"].as_object().is_some_and(|d| d.contains_key(row.field)), "{context}");
                        }
                        if case == Case::StaleGrants && expected_code == "TOKEN_REVOKED" {
                            assert_eq!(message(&body), "Token has been revoked: grants changed", "{context}");
                        }
                        if expected_code == "FORBIDDEN" {
                            let required = &body["errors"][0]["extensions"]["required"];
                            let expected_required = match row.needs {
                                Needs::Roles(r) | Needs::FreshRoles(r) => json!({ "roles": r }),
                                Needs::Permissions(p) => json!({ "permissions": p }),
                                _ => Value::Null,
                            };
                            assert_eq!(required, &expected_required, "{context}");
                        }
                    }
                    None => {
                        assert!(body["errors"].is_null(), "{context}");
                        assert!(!body["data"][row.field].is_null(), "{context}");
                    }
                }
            }
        }
    }
}

backend_test! {
    async fn an_editor_gets_partial_results(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ed@example.com", &["editor"], &[]).await;
        let body = app.graphql(Some(&access), "{ greeting adminPanel report }", json!({})).await;
        assert_eq!(body["data"]["greeting"], "Hello, ed");
        assert!(body["data"]["report"].as_str().is_some_and(|r| r.starts_with("Report:")), "{body}");
        assert_eq!(body["data"]["adminPanel"], Value::Null);
        assert!(body["data"].as_object().is_some_and(|d| d.contains_key("adminPanel")));
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["path"], json!(["adminPanel"]));
        assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(errors[0]["extensions"]["required"], json!({ "roles": ["admin"] }));
    }
}

backend_test! {
    async fn a_role_removed_by_set_user_roles_stops_working_at_once_and_refresh_mints_the_new_grants(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let (ed_id, ed_access, ed_refresh) = app.user_with_tokens("ed@example.com", &["editor", "admin"], &["read:sensitive"]).await;
        assert!(app.graphql(Some(&ed_access), "{ adminPanel }", json!({})).await["data"]["adminPanel"].is_string());

        let body = app
            .graphql(Some(&admin), "mutation($id: ID!) { setUserRoles(userId: $id, roles: [\"editor\"]) { roles } }", json!({ "id": ed_id.to_string() }))
            .await;
        assert_eq!(body["data"]["setUserRoles"]["roles"], json!(["editor"]), "{body}");

        // The old token: admin is gone at once, editor (still held) keeps working, no restart.
        let body = app.graphql(Some(&ed_access), "{ adminPanel report sensitiveData }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "TOKEN_REVOKED", "{body}");
        assert_eq!(body["errors"][0]["message"], "Token has been revoked: grants changed");
        assert_eq!(body["errors"][0]["path"], json!(["adminPanel"]));
        assert!(body["data"]["report"].is_string());
        assert!(body["data"]["sensitiveData"].is_array());

        // Permissions likewise.
        let body = app
            .graphql(Some(&admin), "mutation($id: ID!) { setUserPermissions(userId: $id, permissions: []) { permissions } }", json!({ "id": ed_id.to_string() }))
            .await;
        assert_eq!(body["data"]["setUserPermissions"]["permissions"], json!([]), "{body}");
        let body = app.graphql(Some(&ed_access), "{ sensitiveData }", json!({})).await;
        assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");

        // Refresh mints tokens with the new grants; what was taken away is now plainly missing.
        let body = app.graphql(Some(&ed_refresh), "mutation { refresh { accessToken } }", json!({})).await;
        let new_access = body["data"]["refresh"]["accessToken"].as_str().expect("refreshed").to_owned();
        assert_eq!(crate::support::payload(&new_access)["roles"], json!(["editor"]));
        let body = app.graphql(Some(&new_access), "{ adminPanel report }", json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        assert!(body["data"]["report"].is_string());
    }
}

backend_test! {
    async fn grants_changed_by_another_instance_bite_too(backend) {
        // Two instances on one database: the change goes through the CLI's path (no cache of
        // the serving instance is told), and the serving instance still sees it at once.
        let app = spawn_app(backend).await;
        let (ed_id, ed_access, _) = app.user_with_tokens("ed@example.com", &["editor"], &[]).await;
        assert!(app.graphql(Some(&ed_access), "{ report }", json!({})).await["data"]["report"].is_string());
        app.set_grants_elsewhere(ed_id, Some(&[]), None).await;
        let body = app.eventually(Some(&ed_access), "{ report }", |b| !b["errors"].is_null()).await;
        assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");
    }
}

backend_test! {
    async fn a_warm_instance_guards_and_answers_me_without_a_database_round_trip(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let (ed_id, ed, _) = app.user_with_tokens("ed@example.com", &["editor"], &["read:sensitive", "users:read"]).await;
        let me = "{ me { id email roles } }";
        app.graphql(Some(&ed), me, json!({})).await;

        // A valid token, state warm: the guard and the profile come from memory.
        let before = app.statements_so_far();
        let body = app.graphql(Some(&ed), me, json!({})).await;
        assert_eq!(body["data"]["me"]["roles"], json!(["editor"]), "{body}");
        assert_eq!(app.statements_so_far() - before, 0, "me on a warm instance");

        // Five guarded fields that all fail at their guard: nothing per guard either.
        let guarded = "{ a: adminPanel b: adminPanel c: adminPanel d: adminPanel e: adminPanel }";
        let before = app.statements_so_far();
        let body = app.graphql(Some(&ed), guarded, json!({})).await;
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(5), "{body}");
        assert_eq!(app.statements_so_far() - before, 0, "guards read memory only");

        // After a grants change the token is stale; the current grants came with the
        // change's event, so judging it needs no statement either.
        let change = "mutation($id: ID!) { setUserRoles(userId: $id, roles: []) { id } }";
        let body = app.graphql(Some(&admin), change, json!({ "id": ed_id.to_string() })).await;
        assert!(body["errors"].is_null(), "{body}");
        let stale = "{ a: report b: report c: report d: report e: report }";
        let before = app.statements_so_far();
        let body = app.graphql(Some(&ed), stale, json!({})).await;
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(5), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "TOKEN_REVOKED", "{body}");
        assert_eq!(app.statements_so_far() - before, 0, "the current grants come from memory");

        // A revoked token costs no statement either.
        assert_eq!(app.graphql(Some(&ed), "mutation { logout }", json!({})).await["data"]["logout"], true);
        let before = app.statements_so_far();
        assert_eq!(code(&app.graphql(Some(&ed), me, json!({})).await), "TOKEN_REVOKED");
        assert_eq!(app.statements_so_far() - before, 0, "a revoked token is refused from memory");
    }
}

backend_test! {
    async fn response_keys_come_in_selection_order(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ed@example.com", &["editor"], &[]).await;
        let bearer = format!("Bearer {access}");
        let text = app
            .post(&json!({ "query": "{ greeting adminPanel me { id name } b: report }" }), &[("authorization", &bearer)])
            .await
            .text()
            .await
            .expect("body");
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} in {text}"));
        assert!(at("greeting") < at("adminPanel") && at("adminPanel") < at("me") && at("me") < at("b"), "{text}");
        assert!(at("id") < at("name"), "{text}");
    }
}

backend_test! {
    async fn session_events_answers_every_kind_of_token_as_the_contract_says(backend) {
        // The subscription's guard (`@authenticated`) runs in `connection_init`: a token it
        // refuses closes the socket with 4401; one it accepts gets the ack and a quiet stream.
        let app = spawn_app(backend).await;
        let caller = app.create_user("caller-live@example.com", &ALL_ROLES, &ALL_PERMISSIONS).await;
        let stale_caller = app.create_user("stale-live@example.com", &ALL_ROLES, &ALL_PERMISSIONS).await;
        app.set_grants_elsewhere(stale_caller, Some(&[]), Some(&[])).await;
        let stale = token_for(&app, Needs::Access, Case::StaleGrants, caller, stale_caller).await;
        app.eventually(stale.as_deref(), "{ adminPanel }", |b| b["errors"][0]["extensions"]["code"] == "TOKEN_REVOKED").await;
        for case in CASES {
            let token = token_for(&app, Needs::Access, case, caller, stale_caller).await;
            let payload = token.map_or_else(|| json!({}), |t| json!({ "Authorization": format!("Bearer {t}") }));
            let mut ws = app.ws_connect(&[], payload).await;
            match expected(Needs::Access, case) {
                Some(refused) => {
                    assert_eq!(ws.expect_close().await, Some(4401), "sessionEvents × {case:?} ({refused})");
                }
                None => {
                    assert_eq!(ws.next().await["type"], "connection_ack", "sessionEvents × {case:?}");
                    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": crate::support::SESSION_EVENTS } })).await;
                    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), ws.next_event()).await;
                    assert!(quiet.is_err(), "sessionEvents × {case:?}: no error, no event yet: {quiet:?}");
                    ws.close().await;
                }
            }
        }
    }
}
