//! Load reference "ref-axum": the floor for one HTTP request with one HS256 JWT check.
//!
//! `POST /graphql` reads the body, verifies `Authorization: Bearer <jwt>` and answers a fixed
//! small JSON document; 401 with a JSON error when the token is missing or invalid. No GraphQL.
//!
//! Listen address: first argument, else `LISTEN_ADDR`, else 127.0.0.1:8101.
//! Key: `JWT_SECRET_KEY` (raw bytes, as Warden reads it).

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

const OK_BODY: &str = r#"{"data":{"me":{"id":"1"}}}"#;
const UNAUTHORIZED_BODY: &str = r#"{"errors":[{"message":"invalid or missing token","extensions":{"code":"UNAUTHENTICATED"}}]}"#;

/// The claims checked (unknown ones are ignored; `exp` is validated by jsonwebtoken).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(rename = "type", default)]
    token_type: Option<String>,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    fn check(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        decode::<Claims>(token, &self.key, &self.validation)
            .is_ok_and(|data| data.claims.token_type.as_deref().unwrap_or("access") == "access")
    }
}

async fn graphql(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    if verifier.check(&headers) {
        (json, OK_BODY).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, json, UNAUTHORIZED_BODY).into_response()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LISTEN_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8101".to_owned());
    let secret = std::env::var("JWT_SECRET_KEY").map_err(|_| "JWT_SECRET_KEY is not set")?;
    let verifier = Arc::new(Verifier {
        key: DecodingKey::from_secret(secret.as_bytes())?,
        validation: Validation::new(Algorithm::HS256),
    });
    let app = Router::new()
        .route("/graphql", post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ref-axum listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
