//! The shared edge-case table (`tests/edge_cases.json`) through the Rust core. Python, Node
//! and HTTP run the same table; every door must give the same outcome for the same input.

mod common;

use std::path::Path;

use serde_json::Value;

fn table() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/edge_cases.json");
    let text = std::fs::read_to_string(&path).expect("tests/edge_cases.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The query of a case: `query`, or `query_repeat: [text, times]`.
fn query_of(case: &Value) -> String {
    match (&case["query"], &case["query_repeat"]) {
        (Value::String(q), _) => q.clone(),
        (_, Value::Array(parts)) => {
            let text = parts[0].as_str().expect("repeat text");
            text.repeat(parts[1].as_u64().expect("repeat count") as usize)
        }
        _ => panic!("case without a query: {case}"),
    }
}

#[test]
fn every_edge_case_gives_the_tables_outcome() {
    let table = table();
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let doc = &table["document"];
    let added = assistant
        .ingest_bytes(
            doc["name"].as_str().unwrap(),
            doc["text"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
    assert_eq!(added.status.label(), "added");

    for case in table["search"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let outcome = assistant.search(&query_of(case), k);
        match (&case["error"], outcome) {
            (Value::String(code), Err(e)) => assert_eq!(e.code(), code, "{name}: {e}"),
            (Value::String(code), Ok(hits)) => {
                panic!("{name}: expected {code}, got {} results", hits.len())
            }
            (_, Err(e)) => panic!("{name}: unexpected error {e}"),
            (_, Ok(hits)) => {
                let ok = &case["ok"];
                assert!(
                    hits.len() as u64 >= ok["min_results"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(hits[0].name, ok["first_name"].as_str().unwrap(), "{name}");
            }
        }
    }

    for case in table["upload"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let report = assistant
            .ingest_bytes(
                case["name"].as_str().unwrap(),
                case["text"].as_str().unwrap().as_bytes(),
            )
            .unwrap();
        assert_eq!(report.status.label(), case["ok"]["status"], "{name}");
        let document = report.status.document().expect("a document");
        assert_eq!(document.name, case["ok"]["name"], "{name}");
    }

    for case in table["ingest_path"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let report = assistant.ingest(&[case["path"].as_str().unwrap()]).unwrap();
        let error = report.files[0].status.error().expect("a failed file");
        assert_eq!(error.code(), case["file_error"], "{name}");
    }
}
