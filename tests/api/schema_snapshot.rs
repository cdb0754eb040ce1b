//! `schema.graphql` is generated and committed; this fails on drift.

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    let generated = warden::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: regenerate it with `cargo run -q -- schema > schema.graphql`"
    );
}
