//! Token cookies for browser apps (`JWT_TOKEN_LOCATION` includes `cookies`): the tokens in
//! `HttpOnly` cookies, and each token's CSRF value in a cookie page scripts can read and echo
//! in the CSRF header (double submit), as Flask-JWT-Extended lays them out.

use async_graphql::Context;
use cookie::{Cookie, SameSite as CookieSameSite, time::Duration};

use crate::{
    auth::{service::Issued, tokens::SignedToken},
    clock::now_secs,
    config::{SameSite, TransportConfig},
};

/// One `Set-Cookie` value. `max_age: None` makes a browser-session cookie (no `Max-Age`).
fn build(
    transport: &TransportConfig,
    name: &str,
    value: &str,
    http_only: bool,
    max_age: Option<i64>,
) -> String {
    let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(http_only)
        .secure(transport.cookie_secure)
        .same_site(match transport.cookie_samesite {
            SameSite::Strict => CookieSameSite::Strict,
            SameSite::Lax => CookieSameSite::Lax,
            SameSite::None => CookieSameSite::None,
        })
        .build();
    if let Some(max_age) = max_age {
        cookie.set_max_age(Duration::seconds(max_age.max(0)));
    }
    // Shared with sibling hosts (`JWT_COOKIE_DOMAIN`), so that an app on another subdomain
    // can read the CSRF cookie; expiring a cookie needs the same domain it was set with.
    if let Some(domain) = &transport.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie.to_string()
}

fn set_pair(
    ctx: &Context<'_>,
    transport: &TransportConfig,
    token: &SignedToken,
    token_cookie: &str,
    csrf_cookie: &str,
) {
    // `JWT_SESSION_COOKIE` (default true), as in Flask-JWT-Extended: the cookies end with the
    // browser session; the token inside still expires at its own `exp`.
    let max_age = (!transport.session_cookie).then(|| token.claims.exp - now_secs());
    ctx.append_http_header(
        "set-cookie",
        build(transport, token_cookie, &token.token, true, max_age),
    );
    if let Some(csrf) = &token.claims.csrf {
        ctx.append_http_header(
            "set-cookie",
            build(transport, csrf_cookie, csrf, false, max_age),
        );
    }
}

/// Sets the cookies for freshly issued tokens (the refresh pair only when one was issued).
pub(super) fn set_tokens(ctx: &Context<'_>, transport: &TransportConfig, issued: &Issued) {
    if !transport.uses_cookies() {
        return;
    }
    set_pair(
        ctx,
        transport,
        &issued.access,
        &transport.access_cookie,
        &transport.access_csrf_cookie,
    );
    if let Some(refresh) = &issued.refresh {
        set_pair(
            ctx,
            transport,
            refresh,
            &transport.refresh_cookie,
            &transport.refresh_csrf_cookie,
        );
    }
}

/// Expires all four cookies (logout).
pub(super) fn clear_tokens(ctx: &Context<'_>, transport: &TransportConfig) {
    if !transport.uses_cookies() {
        return;
    }
    for (name, http_only) in [
        (&transport.access_cookie, true),
        (&transport.refresh_cookie, true),
        (&transport.access_csrf_cookie, false),
        (&transport.refresh_csrf_cookie, false),
    ] {
        ctx.append_http_header("set-cookie", build(transport, name, "", http_only, Some(0)));
    }
}
