//! `cachelens load-data` against the real MariaDB: exact round trips, atomic failure, idempotence.

use std::path::Path;

use cachelens::server::loader::csv_load::{load_csv, LoadReport};
use cachelens::server::loader::dataset::{connect_creating, current_record};
use cachelens::server::loader::progress::Progress;
use sqlx::{MySqlPool, Row};

use crate::support::*;

const HEADER: &str = "OBJECTID,SHA,PossiblePlace,Sentence,MatchedPlace,DOI,Title,Abstract,PublishedDate,Authors,Journal,Source,License";

fn row(id: &str, sentence: &str) -> String {
    format!("{id},sha{id},Lima,{sentence},Lima,10.1/x{id},Title {id},Abstract,2020-01-01,\"Doe, J.\",BMJ,PMC,cc-by")
}

fn write(name: &str, content: &[u8]) -> std::path::PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The load's report, or its error's message (what the CLI prints).
async fn load(db: &MySqlPool, path: &Path, force: bool) -> Result<LoadReport, String> {
    load_csv(db, path, force, &mut Progress::Silent).await.map_err(|e| e.to_string())
}

async fn ids(db: &MySqlPool) -> Vec<i32> {
    sqlx::query_scalar("SELECT OBJECTID FROM articles ORDER BY OBJECTID").fetch_all(db).await.unwrap()
}

#[tokio::test]
async fn tricky_fields_round_trip_byte_exact() {
    let url = fresh_database("roundtrip").await;
    let db = connect_creating(&url, None).await.unwrap();
    // Quoted commas, doubled quotes, LF and CRLF inside fields, non-ASCII, edge spaces, an empty field.
    let expected: Vec<(i32, &str, &str, &str)> = vec![
        (1, "plain delta sentence", "Title, with comma", ""),
        (2, "she said \"delta\" twice", "\"Quoted\" title", "x"),
        (3, "line one\nline two\r\nline three", "Zürich – São Paulo – 武汉", "ends with space "),
        (4, "  leading and trailing  ", "emoji 🦠 title", "a,b,\"c\""),
    ];
    let mut csv = String::from(HEADER);
    csv.push_str("\r\n");
    for (id, sentence, title, abstract_) in &expected {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        csv.push_str(&format!(
            "{id},sha,Place,{},Place,doi,{},{},2020-01-01,\"Doe, J.\",J,PMC,cc-by\r\n",
            q(sentence),
            q(title),
            q(abstract_)
        ));
    }
    let path = write("roundtrip.csv", csv.as_bytes());
    let report = load(&db, &path, false).await.unwrap();
    assert_eq!((report.rows, report.loaded), (4, true));

    let rows = sqlx::query("SELECT OBJECTID, Sentence, Title, Abstract FROM articles ORDER BY OBJECTID").fetch_all(&db).await.unwrap();
    let got: Vec<(i32, String, String, String)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    let want: Vec<(i32, String, String, String)> =
        expected.iter().map(|(i, s, t, a)| (*i, s.to_string(), t.to_string(), a.to_string())).collect();
    assert_eq!(got, want);
    let record = current_record(&db).await.unwrap().unwrap();
    assert_eq!(record.row_count, 4);
    assert!(record.source.ends_with("roundtrip.csv"));
}

#[tokio::test]
async fn a_bad_row_names_its_line_and_leaves_the_table_as_it_was() {
    let url = fresh_database("badrow").await;
    let db = connect_creating(&url, None).await.unwrap();
    let good = write("good.csv", format!("{HEADER}\n{}\n{}\n", row("1", "delta"), row("2", "x")).as_bytes());
    load(&db, &good, false).await.unwrap();
    let before = current_record(&db).await.unwrap().unwrap();

    // Line 2 holds a field with two line breaks, so the bad row that follows starts on line 5.
    let multi = row("3", "\"a\nb\nc\"");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("columns", format!("{HEADER}\n{multi}\n7,too,few\n").into_bytes(), ":5: expected 13 fields, found 3"),
        ("objectid", format!("{HEADER}\n{multi}\n{}\n", row("x7", "s")).into_bytes(), ":5: OBJECTID \"x7\" is not an integer"),
        ("duplicate", format!("{HEADER}\n{multi}\n{}\n", row("3", "again")).into_bytes(), ":5: duplicate OBJECTID 3 (first on line 2)"),
        (
            "utf8",
            [format!("{HEADER}\n{multi}\n9,sha,P,bad ").as_bytes(), &[0xffu8][..], &b",P,doi,T,A,2020,D,J,S,L\n"[..]].concat(),
            ":5: Sentence is not valid UTF-8",
        ),
    ];
    for (name, content, message) in cases {
        let path = write(&format!("bad-{name}.csv"), &content);
        let err = load(&db, &path, true).await.expect_err(name);
        assert!(err.contains(&format!("bad-{name}.csv{message}")), "{name}: {err}");
        assert_eq!(ids(&db).await, vec![1, 2], "{name} changed the table");
        assert_eq!(current_record(&db).await.unwrap().unwrap(), before, "{name} changed the record");
    }
}

#[tokio::test]
async fn rerunning_the_same_source_is_a_no_op_and_force_replaces() {
    let url = fresh_database("idempotent").await;
    let db = connect_creating(&url, None).await.unwrap();
    let path = write("idem.csv", format!("{HEADER}\n{}\n{}\n", row("1", "a"), row("2", "b")).as_bytes());
    assert!(load(&db, &path, false).await.unwrap().loaded);
    let first = current_record(&db).await.unwrap().unwrap();

    let again = load(&db, &path, false).await.unwrap();
    assert!(!again.loaded, "same file loaded twice");
    assert_eq!(again.rows, 2);

    // The operator changed a row behind the loader's back: --force restores the file's rows.
    sqlx::query("DELETE FROM articles WHERE OBJECTID = 2").execute(&db).await.unwrap();
    assert!(load(&db, &path, true).await.unwrap().loaded);
    assert_eq!(ids(&db).await, vec![1, 2]);

    // A different file is a different source: loaded without --force, replacing the rows.
    let other = write("idem2.csv", format!("{HEADER}\n{}\n", row("10", "c")).as_bytes());
    assert!(load(&db, &other, false).await.unwrap().loaded);
    assert_eq!(ids(&db).await, vec![10]);
    assert_ne!(current_record(&db).await.unwrap().unwrap().checksum, first.checksum);
}

#[tokio::test]
async fn generated_rows_load_and_match_the_default_query() {
    let url = loaded_database("generated", 2000).await;
    let db = connect_creating(&url, None).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles WHERE Sentence LIKE '%delta%'").fetch_one(&db).await.unwrap();
    assert!(n > 300, "only {n} rows match delta");
}
