//! The reference (`docs/reference.md`) names everything a user can set or meet: every
//! environment variable the code reads, every directive of the schema, every error code. These
//! tests read the sources and the reference as text (no server), so a new variable, directive or
//! code fails here until the reference documents it.

use std::{collections::BTreeSet, fs, path::Path};

use warden::error::ErrorCode;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> String {
    let path = repository().join("docs/reference.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The string literals in `source` that name a variable: `"DATABASE_URL"`, or `"WARDEN_…"` /
/// `"JWT_…"` made of capital letters, digits and underscores only.
fn variable_literals(source: &str, into: &mut BTreeSet<String>) {
    let mut rest = source;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let closed = after[end..].starts_with('"');
        let is_variable = name == "DATABASE_URL"
            || ["WARDEN_", "JWT_"]
                .iter()
                .any(|prefix| name.len() > prefix.len() && name.starts_with(prefix));
        if closed && is_variable {
            into.insert(name.to_owned());
            rest = &after[end + 1..];
        } else {
            rest = after;
        }
    }
}

/// The variables the code under `src/` reads.
fn variables_the_code_reads() -> BTreeSet<String> {
    variables_in_src_but(None)
}

/// The variable literals under `src/`, leaving out the file `skip` (relative to `src/`).
fn variables_in_src_but(skip: Option<&str>) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&repository().join("src"), &mut files);
    let skipped = skip.map(|s| repository().join("src").join(s));
    let mut names = BTreeSet::new();
    for file in files.into_iter().filter(|f| Some(f) != skipped.as_ref()) {
        let source = fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        variable_literals(&source, &mut names);
    }
    names
}

/// True when `text` holds `name` as a whole word (not as the start of a longer name).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

#[test]
fn the_scanner_finds_variable_literals_and_nothing_else() {
    let mut found = BTreeSet::new();
    variable_literals(
        r#"env.get("JWT_SECRET_KEY"); "WARDEN_"; "WARDEN_ADDR: bad"; "DATABASE_URL" "jwt_x" "WARDEN_MAX_BATCH""#,
        &mut found,
    );
    let expected: BTreeSet<String> = ["DATABASE_URL", "JWT_SECRET_KEY", "WARDEN_MAX_BATCH"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn the_list_of_known_variables_is_exactly_what_the_code_reads() {
    // Start-up warns of a `JWT_*` / `WARDEN_*` variable outside this list, so a variable
    // missing from it would be called a misspelling, and a stale entry would hide one.
    let read = variables_in_src_but(Some("config/known.rs"));
    let test_only = ["WARDEN_CHROMIUM", "WARDEN_INTEROP_PYTHON"];
    let known: BTreeSet<String> = warden::config::KNOWN_VARIABLES
        .iter()
        .filter(|v| !test_only.contains(v))
        .map(|v| (*v).to_owned())
        .collect();
    assert_eq!(read, known, "src/config/known.rs and the code disagree");
}

#[test]
fn every_variable_the_code_reads_is_in_the_reference() {
    let variables = variables_the_code_reads();
    // The configuration has dozens of variables; a handful would mean the scan went wrong.
    assert!(
        variables.len() >= 40,
        "the scan of src/ found only {} variables: {variables:?}",
        variables.len()
    );
    for expected in [
        "DATABASE_URL",
        "JWT_SECRET_KEY",
        "WARDEN_REVOCATION_MAX_LAG",
    ] {
        assert!(variables.contains(expected), "the scan missed {expected}");
    }
    let reference = reference();
    let missing: Vec<&String> = variables
        .iter()
        .filter(|name| !names(&reference, &format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reference.md does not document {missing:?} (of the {} variables the code reads)",
        variables.len()
    );
}

#[test]
fn every_directive_of_the_schema_is_in_the_reference() {
    let path = repository().join("schema.graphql");
    let schema =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let builtin = ["include", "skip", "deprecated", "specifiedBy", "oneOf"];
    let directives: Vec<&str> = schema
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("directive @"))
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
        })
        .filter(|name| !builtin.contains(name))
        .collect();
    assert!(
        directives.len() >= 6,
        "schema.graphql declares only {directives:?}"
    );
    let reference = reference();
    let missing: Vec<&&str> = directives
        .iter()
        .filter(|name| !names(&reference, &format!("@{name}")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reference.md does not document the directives {missing:?}"
    );
}

#[test]
fn every_error_code_is_in_the_reference() {
    let reference = reference();
    let missing: Vec<&str> = ErrorCode::ALL
        .into_iter()
        .map(ErrorCode::as_str)
        .filter(|code| !names(&reference, &format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reference.md does not document the error codes {missing:?}"
    );
}

#[test]
fn the_example_environment_file_lists_every_variable() {
    let path = repository().join(".env.example");
    let example = fs::read_to_string(&path).expect(".env.example");
    let missing: Vec<&&str> = warden::config::KNOWN_VARIABLES
        .iter()
        .filter(|v| !["WARDEN_CHROMIUM", "WARDEN_INTEROP_PYTHON"].contains(v))
        .filter(|v| {
            !example.lines().any(|l| {
                l.trim_start_matches(['#', ' '])
                    .starts_with(&format!("{v}="))
            })
        })
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}
