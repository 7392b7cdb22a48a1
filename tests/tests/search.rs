//! OpenSearch-API (osmem) smoke tests: external versioning rejects a stale
//! version with 409, and dropping the handle stops the server.

use rowlog_tests::SearchServer;
use rowlog_tests::ports::check_drop_cleans_up;
use serde_json::{Value, json};

async fn bulk(
    http: &reqwest::Client,
    url: &str,
    version: u64,
    name: &str,
) -> anyhow::Result<Value> {
    let body = format!(
        "{}\n{}\n",
        json!({"index": {"_index": "items", "_id": "1", "version": version, "version_type": "external"}}),
        json!({"name": name})
    );
    let resp = http
        .post(format!("{url}/_bulk"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.json().await?)
}

#[tokio::test]
async fn external_version_conflict_is_409() -> anyhow::Result<()> {
    let search = SearchServer::start().await?;
    let http = reqwest::Client::new();

    let first = bulk(&http, &search.url(), 5, "five").await?;
    assert_eq!(first["errors"], json!(false), "{first}");
    assert_eq!(first["items"][0]["index"]["status"], json!(201), "{first}");
    assert_eq!(first["items"][0]["index"]["_version"], json!(5), "{first}");

    let stale = bulk(&http, &search.url(), 3, "three").await?;
    assert_eq!(stale["errors"], json!(true), "{stale}");
    let item = &stale["items"][0]["index"];
    assert_eq!(item["status"], json!(409), "{stale}");
    assert_eq!(
        item["error"]["type"],
        json!("version_conflict_engine_exception"),
        "{stale}"
    );

    let doc: Value = http
        .get(format!("{}/items/_doc/1", search.url()))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(doc["_version"], json!(5), "{doc}");
    assert_eq!(doc["_source"]["name"], json!("five"), "{doc}");
    Ok(())
}

#[tokio::test]
async fn drop_stops_server_and_removes_dir() -> anyhow::Result<()> {
    let search = SearchServer::start().await?;
    let (port, dir) = (search.port(), search.dir().to_owned());
    check_drop_cleans_up(search, port, &dir)
}
