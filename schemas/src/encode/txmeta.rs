//! Transaction metadata records (Debezium's layout), for the optional
//! `<prefix>.<source>.transactions` topic.
//!
//! Invariant: a `BEGIN` record precedes the first event of a transaction and
//! an `END` record with the event count per table follows its last event,
//! both keyed by the transaction id, so a consumer can regroup events into
//! whole transactions.

use serde_json::json;

/// The record key: `{"id": "<transaction id>"}`.
pub fn key(id: &str) -> Vec<u8> {
    json!({ "id": id }).to_string().into_bytes()
}

/// The `BEGIN` record value.
pub fn begin(id: &str, ts_ms: i64) -> Vec<u8> {
    json!({
        "status": "BEGIN",
        "id": id,
        "event_count": null,
        "data_collections": null,
        "ts_ms": ts_ms,
    })
    .to_string()
    .into_bytes()
}

/// The `END` record value, with the events per table (`namespace.table`).
pub fn end(id: &str, ts_ms: i64, counts: &[(String, u64)]) -> Vec<u8> {
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let collections: Vec<serde_json::Value> = counts
        .iter()
        .map(|(t, n)| json!({ "data_collection": t, "event_count": n }))
        .collect();
    json!({
        "status": "END",
        "id": id,
        "event_count": total,
        "data_collections": collections,
        "ts_ms": ts_ms,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debezium_layout() {
        let v: serde_json::Value = serde_json::from_slice(&end(
            "771",
            5,
            &[("public.a".into(), 2), ("public.b".into(), 1)],
        ))
        .unwrap();
        assert_eq!(v["status"], "END");
        assert_eq!(v["event_count"], 3);
        assert_eq!(v["data_collections"][1]["data_collection"], "public.b");
        let b: serde_json::Value = serde_json::from_slice(&begin("771", 5)).unwrap();
        assert_eq!(b["status"], "BEGIN");
        assert!(b["event_count"].is_null());
        assert_eq!(key("771"), br#"{"id":"771"}"#);
    }
}
