//! The example browser app (`examples/browser/`), served in development at `/example/`.
//!
//! One static page in plain HTML and JavaScript that works in cookie mode and in header mode:
//! it restores its session through `refresh` on load, signs in, asks for the password again on
//! `FRESH_TOKEN_REQUIRED`, refreshes before expiry (once, shared, on `TOKEN_EXPIRED`) and
//! listens to `sessionEvents`. It is built into the binary and served only while the playground
//! is on (development), under a policy that allows the server's own scripts and connections
//! only: served here, the page can talk to no other server.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const FILES: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../examples/browser/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../examples/browser/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../examples/browser/app.css"),
    ),
];

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => {
            let mut response = ([(header::CONTENT_TYPE, *content_type)], *body).into_response();
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /example/`: the page.
pub(super) async fn index() -> Response {
    serve("index.html")
}

/// `GET /example/{file}`: its script and style sheet.
pub(super) async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}
