//! Every problem `code` a function can answer is in the error table of `docs/api.md`, with the
//! status it is raised with, and the table lists no code that nothing raises.
//!
//! The codes are read from the sources (`functions/*/src`, `shared/*/src`; unit-test modules and
//! comments left out): the `code` argument of `ApiError::new(StatusCode::X, code, ..)`,
//! `conflict(code, ..)`, `bad_request(code, ..)`, `unauthorized(code, ..)` and
//! `too_many_requests(code, ..)` — a string literal or a `const NAME: &str` — and, through the
//! same `Self::new(StatusCode::X, "code", ..)` calls in `problem.rs`, the fixed codes of the
//! helper constructors (`validation_failed`, `invalid_parameter`, `not_found`, `forbidden`,
//! `internal_error`, `service_unavailable`). A code passed any other way fails the test, so a new
//! code cannot slip past it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The error table's header in `docs/api.md`.
const TABLE_HEADER: &str = "| Status | `code` | When |";

/// The constructors whose first argument is the code, with the status they answer.
const CODE_FIRST: [(&str, u16); 4] = [("conflict", 409), ("bad_request", 400), ("unauthorized", 401), ("too_many_requests", 429)];

/// Where a code is raised.
#[derive(Debug, Clone)]
struct Raised {
    code: String,
    status: u16,
    at: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `src` file of the crates under `functions/` and `shared/`, as (path relative to the
/// repository, text without comments and unit-test modules).
fn sources() -> Vec<(String, String)> {
    let root = repo_root();
    let mut files = Vec::new();
    for group in ["functions", "shared"] {
        let Ok(crates) = std::fs::read_dir(root.join(group)) else { panic!("{group}/ is missing") };
        let mut crates: Vec<PathBuf> = crates.filter_map(|e| e.ok().map(|e| e.path())).collect();
        crates.sort();
        for krate in crates {
            rust_files(&krate.join("src"), &mut files);
        }
    }
    assert!(files.len() > 20, "found only {} source files under {}", files.len(), root.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let relative = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            (relative, without_tests_and_comments(&text))
        })
        .collect()
}

/// The text up to its `#[cfg(test)] mod ...`, without `//` comment lines.
fn without_tests_and_comments(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let next = lines[i + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or_default();
        if trimmed == "#[cfg(test)]" && next.starts_with("mod ") {
            break;
        }
        if !trimmed.starts_with("//") {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The top-level, comma-separated arguments of the call whose `(` is just before `text`.
fn arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            current.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                current.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => args.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_owned());
    }
    args
}

/// `const NAME: &str = "value";` of every file: name → (file, value).
fn string_consts(sources: &[(String, String)]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut consts: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (file, text) in sources {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            let Some(rest) = line.strip_prefix("const ") else { continue };
            let Some((name, value)) = rest.split_once(": &str = \"") else { continue };
            let Some(value) = value.strip_suffix("\";") else { continue };
            consts.entry(name.to_owned()).or_default().push((file.clone(), value.to_owned()));
        }
    }
    consts
}

fn status_of(argument: &str) -> Option<u16> {
    let name = argument.strip_prefix("StatusCode::").or_else(|| argument.strip_prefix("http::StatusCode::"))?;
    Some(match name {
        "BAD_REQUEST" => 400,
        "UNAUTHORIZED" => 401,
        "FORBIDDEN" => 403,
        "NOT_FOUND" => 404,
        "METHOD_NOT_ALLOWED" => 405,
        "CONFLICT" => 409,
        "PAYLOAD_TOO_LARGE" => 413,
        "UNSUPPORTED_MEDIA_TYPE" => 415,
        "UNPROCESSABLE_ENTITY" => 422,
        "TOO_MANY_REQUESTS" => 429,
        "INTERNAL_SERVER_ERROR" => 500,
        "BAD_GATEWAY" => 502,
        "SERVICE_UNAVAILABLE" => 503,
        "GATEWAY_TIMEOUT" => 504,
        _ => return None,
    })
}

/// Every code the sources raise; `Err` names each call whose code or status cannot be read.
fn raised_codes(sources: &[(String, String)]) -> Result<Vec<Raised>, Vec<String>> {
    let consts = string_consts(sources);
    let mut raised = Vec::new();
    let mut unreadable = Vec::new();
    for (file, text) in sources {
        let line_of = |offset: usize| text[..offset].lines().count().max(1);
        // (where the arguments start, the constructor, the argument index of the code)
        let mut calls: Vec<(usize, &str, usize)> = Vec::new();
        for receiver in ["ApiError::", "Self::"] {
            for (name, _) in CODE_FIRST.iter().chain([("new", 0)].iter()) {
                let needle = format!("{receiver}{name}(");
                for (at, _) in text.match_indices(&needle) {
                    let preceded_by_ident = text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
                    if !preceded_by_ident {
                        calls.push((at + needle.len(), name, usize::from(*name == "new")));
                    }
                }
            }
        }
        for (start, name, code_index) in calls {
            let args = arguments(&text[start..]);
            let at = format!("{file}:{}", line_of(start));
            let status = if name == "new" {
                match args.first().map(String::as_str).and_then(status_of) {
                    Some(status) => status,
                    // `Self::new(..)` of another type, or an `ApiError::new` we cannot read.
                    None if text[..start].ends_with("Self::new(") => continue,
                    None => {
                        unreadable.push(format!("{at}: the status of `ApiError::new({})`", args.join(", ")));
                        continue;
                    }
                }
            } else {
                CODE_FIRST.iter().find(|(n, _)| *n == name).map_or(0, |(_, s)| *s)
            };
            let Some(argument) = args.get(code_index) else {
                unreadable.push(format!("{at}: `{name}` without a code argument"));
                continue;
            };
            let code = if let Some(literal) = argument.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                literal.to_owned()
            } else if file.ends_with("shop-core/src/problem.rs") && argument == "code" {
                // A constructor forwarding its caller's code: the call sites are read instead.
                continue;
            } else {
                let name = argument.rsplit("::").next().unwrap_or(argument);
                let found = consts.get(name).map(Vec::as_slice).unwrap_or_default();
                let same_file: Vec<_> = found.iter().filter(|(f, _)| f == file).collect();
                let values: BTreeSet<&String> =
                    if same_file.is_empty() { found.iter().map(|(_, v)| v).collect() } else { same_file.iter().map(|(_, v)| v).collect() };
                match values.into_iter().collect::<Vec<_>>().as_slice() {
                    [value] => (*value).clone(),
                    _ => {
                        unreadable.push(format!("{at}: the code `{argument}` (pass a string literal or a `const NAME: &str`)"));
                        continue;
                    }
                }
            };
            raised.push(Raised { code, status, at });
        }
    }
    if unreadable.is_empty() { Ok(raised) } else { Err(unreadable) }
}

/// The error table of `docs/api.md`: code → the statuses of the rows naming it.
fn documented_codes(doc: &str) -> BTreeMap<String, BTreeSet<u16>> {
    let mut rows = doc.lines().skip_while(|l| l.trim() != TABLE_HEADER).skip(2).take_while(|l| l.trim_start().starts_with('|'));
    let mut table: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for row in rows.by_ref() {
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [status, codes, ..] = cells.as_slice() else { continue };
        let statuses: BTreeSet<u16> = status.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
        for code in codes.split('`').skip(1).step_by(2) {
            table.entry(code.to_owned()).or_default().extend(statuses.iter().copied());
        }
    }
    table
}

#[test]
fn every_problem_code_is_in_the_error_table_of_the_api_docs() {
    let sources = sources();
    let raised = match raised_codes(&sources) {
        Ok(raised) => raised,
        Err(unreadable) => panic!("cannot tell the problem code of:\n  {}", unreadable.join("\n  ")),
    };
    let codes: BTreeSet<&str> = raised.iter().map(|r| r.code.as_str()).collect();
    for expected in ["validation_failed", "invalid_parameter", "route_not_found", "contended", "email_taken"] {
        assert!(codes.contains(expected), "the scan missed `{expected}`; found {codes:?}");
    }

    let doc_path = repo_root().join("docs/api.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let table = documented_codes(&doc);
    assert!(!table.is_empty(), "no error table (`{TABLE_HEADER}`) in docs/api.md");

    let mut problems = Vec::new();
    let mut by_code: BTreeMap<&str, Vec<&Raised>> = BTreeMap::new();
    for r in &raised {
        by_code.entry(&r.code).or_default().push(r);
    }
    for (code, uses) in &by_code {
        let statuses: BTreeSet<u16> = uses.iter().map(|r| r.status).collect();
        let places = uses.iter().map(|r| r.at.as_str()).collect::<Vec<_>>().join(", ");
        match table.get(*code) {
            None => problems.push(format!("`{code}` ({statuses:?}, raised at {places}) is not in the error table")),
            Some(documented) => {
                for status in statuses.difference(documented) {
                    let at = uses.iter().filter(|r| r.status == *status).map(|r| r.at.as_str()).collect::<Vec<_>>().join(", ");
                    problems.push(format!("`{code}` is raised with {status} ({at}) but the table lists it under {documented:?}"));
                }
            }
        }
    }
    for code in table.keys() {
        if !by_code.contains_key(code.as_str()) {
            problems.push(format!("`{code}` is in the error table but nothing raises it"));
        }
    }
    assert!(problems.is_empty(), "docs/api.md's error table and the code disagree:\n  {}", problems.join("\n  "));
}

#[test]
fn the_scanner_reads_literals_constants_and_nested_arguments() {
    let sources = vec![(
        "functions/x/src/lib.rs".to_owned(),
        without_tests_and_comments(
            r#"
const GONE: &str = "gone_for_good";
// ApiError::conflict("commented_out", "..")
fn f() {
    ApiError::new(StatusCode::GONE_AWAY, GONE, "..");
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "nested_call",
        format!("{}, {}", a(b, c), "x,y"),
    );
    ApiError::conflict("taken", format!("{n}"));
    shop_core::ApiError::unauthorized("who_are_you", "..");
}
#[cfg(test)]
mod tests {
    fn t() { ApiError::conflict("only_in_tests", ".."); }
}
"#,
        ),
    )];
    let found = raised_codes(&sources);
    let Err(unreadable) = found else { panic!("an unknown status must not be skipped: {found:?}") };
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(unreadable[0].contains("GONE_AWAY"), "{unreadable:?}");

    let readable = vec![(sources[0].0.clone(), sources[0].1.replace("GONE_AWAY", "CONFLICT"))];
    let found = raised_codes(&readable).unwrap_or_default();
    let pairs: Vec<(&str, u16)> = found.iter().map(|r| (r.code.as_str(), r.status)).collect();
    assert_eq!(pairs.len(), 4, "{pairs:?}");
    for expected in [("gone_for_good", 409), ("nested_call", 422), ("taken", 409), ("who_are_you", 401)] {
        assert!(pairs.contains(&expected), "{expected:?} not in {pairs:?}");
    }
}
