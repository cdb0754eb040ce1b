//! Load reference "ref-graphql", the ENGINE REFERENCE: axum + async-graphql with a JWT guard
//! and no database. Every ratio in the load report is to `{ me { id } }` on this server.
//!
//! The handler decodes the HS256 token once per request and puts the outcome into the
//! request data; `me` is guarded by an async-graphql `Guard` that reads it. `greeting` needs
//! no token.
//!
//! Listen address: first argument, else `LISTEN_ADDR`, else 127.0.0.1:8102.
//! Key: `JWT_SECRET_KEY` (raw bytes, as Warden reads it).

use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ErrorExtensions, Guard, ID, Object, Result, Schema,
    SimpleObject,
};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, header},
    routing::{get, post},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

/// The claims checked (unknown ones are ignored; `exp` is validated by jsonwebtoken).
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: String,
    #[serde(rename = "type", default)]
    token_type: Option<String>,
}

/// What the handler found in `Authorization`, handed to the schema as request data.
enum Credentials {
    Anonymous,
    Invalid,
    Valid(Claims),
}

/// Allows the field only with a valid access token.
struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match ctx.data_opt::<Credentials>() {
            Some(Credentials::Valid(_)) => Ok(()),
            Some(Credentials::Invalid) => Err(error("invalid token", "INVALID_TOKEN")),
            Some(Credentials::Anonymous) | None => {
                Err(error("authentication required", "UNAUTHENTICATED"))
            }
        }
    }
}

fn error(message: &str, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

#[derive(SimpleObject)]
struct User {
    id: ID,
}

struct Query;

#[Object]
impl Query {
    /// A constant; no token needed.
    async fn greeting(&self) -> String {
        "Hello, guest".to_owned()
    }

    /// The caller (the token's `sub`).
    #[graphql(guard = "Authenticated")]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        match ctx.data::<Credentials>()? {
            Credentials::Valid(claims) => Ok(User {
                id: ID(claims.sub.clone()),
            }),
            _ => Err(error("authentication required", "UNAUTHENTICATED")),
        }
    }
}

type RefSchema = Schema<Query, EmptyMutation, EmptySubscription>;

struct AppState {
    schema: RefSchema,
    key: DecodingKey,
    validation: Validation,
}

impl AppState {
    fn credentials(&self, headers: &HeaderMap) -> Credentials {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Credentials::Anonymous;
        };
        let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return Credentials::Invalid;
        };
        match decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) if data.claims.token_type.as_deref().unwrap_or("access") == "access" => {
                Credentials::Valid(data.claims)
            }
            _ => Credentials::Invalid,
        }
    }
}

async fn graphql(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let request = request.into_inner().data(state.credentials(&headers));
    state.schema.execute(request).await.into()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LISTEN_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8102".to_owned());
    let secret = std::env::var("JWT_SECRET_KEY").map_err(|_| "JWT_SECRET_KEY is not set")?;
    let state = Arc::new(AppState {
        schema: Schema::build(Query, EmptyMutation, EmptySubscription).finish(),
        key: DecodingKey::from_secret(secret.as_bytes())?,
        validation: Validation::new(Algorithm::HS256),
    });
    let app = Router::new()
        .route("/graphql", post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ref-graphql listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
