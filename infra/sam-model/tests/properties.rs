//! Property tests (proptest) of the template reader: whatever text it is handed — arbitrary
//! bytes, YAML-shaped documents with CloudFormation's short-form tags, or the real template cut
//! or mutated anywhere — `Template::parse` and every accessor the local runner uses answer an
//! error or a value, never a panic; and the real template round-trips through its JSON form.
//!
//! Case counts are bounded so this runs in seconds in `scripts/test`; `PROPTEST_CASES=N` raises them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sam_model::{Resolver, Template, referenced_ids, repo_root};

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn real_template() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml")
}

/// Everything the runner asks of a parsed template.
fn exercise(template: &Template) {
    let _ = template.routes();
    for function in template.functions() {
        let _ = function.db_name();
    }
    let _ = template.throttles();
    let _ = template.parameter_defaults();
    let resolver = Resolver::new(template);
    let _ = template.jwt_audiences(&resolver);
    let _ = template.cors(&resolver);
    let _ = referenced_ids(template.root());
    let _ = resolver.resolve(template.root());
}

/// A YAML scalar, sometimes tagged with an intrinsic.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 .:/${}!*-]{0,16}",
        Just("~".to_owned()),
        Just("null".to_owned()),
        Just("-1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        ("(!Ref|!GetAtt|!Sub|!Join|!If|!Select|!Split|!Condition|!Equals|!Not|!FindInMap|!Unknown) ", "[A-Za-z0-9.${}]{0,12}")
            .prop_map(|(tag, v)| format!("{tag}{v}")),
    ]
}

/// A YAML value (block maps and flow sequences) of bounded depth.
fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = scalar();
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[A-Za-z]{1,10}", inner.clone()), 0..4)
                .prop_map(|pairs| format!("{{{}}}", pairs.into_iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))),
            ("(!Sub|!Join|!If|!Select|!GetAtt|!Ref) ", inner).prop_map(|(tag, v)| format!("{tag}{v}")),
        ]
    })
}

/// A template-shaped document: Parameters, Globals and Resources of the kinds the reader
/// interprets, with properties drawn from [`yaml_value`].
fn template_text() -> impl Strategy<Value = String> {
    let kinds = prop::sample::select(vec![
        "AWS::Serverless::Function",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Serverless::HttpApi",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::WAFv2::WebACL",
    ]);
    let property_names = prop::sample::select(vec![
        "RouteKey",
        "Target",
        "IntegrationUri",
        "AuthorizationType",
        "AuthorizationScopes",
        "Events",
        "Environment",
        "Timeout",
        "JwtConfiguration",
        "RouteSettings",
        "DefaultRouteSettings",
        "CorsConfiguration",
        "TimeoutInMillis",
    ]);
    // Conditions C0..C2 referring to each other (cycles included, which CloudFormation refuses).
    let condition = prop_oneof![
        (scalar(), scalar()).prop_map(|(a, b)| format!("!Equals [{a}, {b}]")),
        (0..3u8).prop_map(|i| format!("!Not [!Condition C{i}]")),
        (0..3u8).prop_map(|i| format!("!Condition C{i}")),
        (0..3u8, 0..3u8).prop_map(|(i, j)| format!("!Or [!Condition C{i}, !And [!Condition C{j}]]")),
    ];
    let conditional = (0..4u8, scalar(), scalar()).prop_map(|(i, a, b)| format!("!If [C{i}, {a}, {b}]"));
    let property = (property_names, prop_oneof![4 => yaml_value(), 1 => conditional]);
    let resource = ("[A-Z][A-Za-z0-9]{0,12}", kinds, prop::collection::vec(property, 0..5));
    (
        prop::collection::vec(("[A-Z][a-z]{0,8}", scalar()), 0..3),
        prop::collection::vec(condition, 0..3),
        prop::collection::vec(resource, 0..6),
    )
        .prop_map(|(params, conditions, resources)| {
            let mut text = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n");
            for (name, default) in params {
                text.push_str(&format!("  {name}:\n    Type: String\n    Default: {default}\n"));
            }
            text.push_str("Conditions:\n");
            for (i, condition) in conditions.into_iter().enumerate() {
                text.push_str(&format!("  C{i}: {condition}\n"));
            }
            text.push_str("Resources:\n");
            for (id, kind, props) in resources {
                text.push_str(&format!("  {id}:\n    Type: {kind}\n    Properties:\n"));
                for (name, value) in props {
                    text.push_str(&format!("      {name}: {value}\n"));
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary text (any Unicode) is refused or read, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Ok(template) = Template::parse(&text) {
            exercise(&template);
        }
    }

    /// Template-shaped documents with tags, flow collections and odd scalars in every property
    /// the reader interprets: every accessor answers.
    #[test]
    fn template_shaped_documents_never_panic(text in template_text()) {
        if let Ok(template) = Template::parse(&text) {
            exercise(&template);
        }
    }
}

proptest! {
    // The real template is 270 KB: fewer, larger cases.
    #![proptest_config(config(24))]

    /// The real template cut at any character boundary, or with any line removed or any byte
    /// range replaced by arbitrary text, never panics the reader.
    #[test]
    fn mutated_real_template_never_panics(cut in any::<prop::sample::Index>(), len in 0usize..400, junk in "[^\\u{0}]{0,12}") {
        let text = real_template();
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        for candidate in [text[..at].to_owned(), format!("{}{}{}", &text[..at], junk, &text[end..])] {
            if let Ok(template) = Template::parse(&candidate) {
                exercise(&template);
            }
        }
    }
}

/// The real template read, written back as JSON (which is YAML) and read again is the same
/// document: same tree, same routes, same functions, same throttles.
#[test]
fn the_real_template_round_trips() {
    let first = Template::parse(&real_template()).expect("template.yaml parses");
    let json = serde_json::to_string_pretty(first.root()).expect("JSON");
    let second = Template::parse(&json).expect("its JSON form parses");
    assert_eq!(first.root(), second.root());
    let routes = |t: &Template| t.routes().expect("routes").into_iter().map(|r| format!("{r:?}")).collect::<Vec<_>>();
    assert_eq!(routes(&first), routes(&second));
    assert!(routes(&first).len() > 50, "the template's routes are all read");
    let functions = |t: &Template| t.functions().into_iter().map(|f| format!("{f:?}")).collect::<Vec<_>>();
    assert_eq!(functions(&first), functions(&second));
    assert_eq!(format!("{:?}", first.throttles()), format!("{:?}", second.throttles()));
}

/// Deep nesting (a classic stack overflow in recursive readers) is an error, not a crash.
#[test]
fn deep_flow_nesting_is_refused_not_a_crash() {
    for depth in [200usize, 1_000, 2_000] {
        let flow = format!("Resources: {}{}", "[".repeat(depth), "]".repeat(depth));
        let _ = Template::parse(&flow);
    }
}

/// Deeply nested short-form tags (`!Sub !Sub ... x`) are read or refused, not a crash.
#[test]
fn deep_tag_nesting_is_refused_not_a_crash() {
    for depth in [50usize, 200] {
        let tags = format!("Resources:\n  A:\n    Type: X\n    Properties: {}x", "!Sub ".repeat(depth));
        let _ = Template::parse(&tags);
    }
}

/// Circular conditions (which CloudFormation refuses) evaluate to false instead of overflowing
/// the stack; a `Fn::If` on one picks its false branch.
#[test]
fn circular_conditions_are_false_not_a_crash() {
    let text = "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n  C: !Condition C\nResources:\n  R:\n    Type: X\n    Properties:\n      P: !If [C, yes, no]\n";
    let template = Template::parse(text).expect("parses");
    let resolver = Resolver::new(&template);
    assert!(!resolver.condition("C"));
    let _ = resolver.condition("A");
    assert_eq!(resolver.resolve(&template.resource("R").unwrap().properties["P"]), serde_json::json!("no"));
    exercise(&template);
}
