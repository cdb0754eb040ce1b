//! The per-request costs of auth, side by side: decoding a token (HS256 and RS256), running a
//! guard on decoded credentials, and one argon2id verification (login and reauth only).
//! Compare the figures as ratios from one run; the machine is shared and noisy.
//!
//! `cargo bench --bench auth`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use std::{sync::Arc, time::Duration};

use warden::{
    auth::{
        guards::{HasRole, Requirement},
        revocation::RevocationState,
        tokens::{NewToken, TokenCodec},
        verify::{Presented, Source, TokenVerifier},
    },
    config::{JwtConfig, SigningKey},
    error::TokenKind,
    password,
    testing::{PASSWORD, hs256_codec, verified},
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture key")
}

fn token(codec: &TokenCodec) -> String {
    let roles = vec!["editor".to_owned()];
    codec
        .mint(&NewToken {
            user_id: 1,
            kind: TokenKind::Access,
            fresh: true,
            sid: Some("00000000-0000-0000-0000-000000000000"),
            grants: Some((&roles, &[])),
            grants_version: Some(0),
            csrf: None,
        })
        .expect("mint")
        .token
}

fn benches(c: &mut Criterion) {
    let hs = hs256_codec();
    let rs = TokenCodec::new(&JwtConfig::new(
        jsonwebtoken::Algorithm::RS256,
        SigningKey::Pem {
            private: fixture("rs256-private.pem").into(),
            public: fixture("rs256-public.pem"),
        },
    ))
    .expect("codec");
    let hs_token = token(&hs);
    let rs_token = token(&rs);
    c.bench_function("decode HS256 access token", |b| {
        b.iter(|| hs.decode(black_box(&hs_token)).expect("valid"))
    });
    c.bench_function("decode RS256 access token", |b| {
        b.iter(|| rs.decode(black_box(&rs_token)).expect("valid"))
    });

    // What a request pays for its token: decode, then the in-memory revocation state.
    let state = Arc::new(RevocationState::new(Duration::from_secs(3600)));
    state.confirm(std::time::Instant::now());
    let hs = Arc::new(hs);
    let verifier = TokenVerifier::new(hs.clone(), state, true);
    c.bench_function(
        "verify HS256 header token (decode + revocation state)",
        |b| {
            b.iter(|| {
                verifier.verify(Presented {
                    token: black_box(&hs_token),
                    source: Source::Header,
                    csrf_header: None,
                    state_changing: true,
                })
            })
        },
    );

    let credentials = verified(hs.decode(&hs_token).expect("valid"), None);
    let guard = HasRole::any_of(&["admin", "editor"]);
    c.bench_function("hasRole guard on decoded credentials", |b| {
        b.iter(|| {
            guard
                .check_credentials(black_box(&credentials), 0)
                .expect("allowed")
        })
    });

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let passwords = password::Passwords::default();
    let phc = runtime
        .block_on(passwords.hash(PASSWORD.to_owned().into()))
        .expect("hash");
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    group.bench_function("verify one password (m=19 MiB, t=2, p=1)", |b| {
        b.iter(|| {
            runtime
                .block_on(passwords.verify(PASSWORD.to_owned().into(), phc.clone()))
                .expect("verify")
        })
    });
    group.finish();
}

criterion_group!(auth, benches);
criterion_main!(auth);
