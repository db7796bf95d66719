//! The audit log's hash chain: each entry's hash covers the previous entry's hash and the
//! entry itself, so editing, deleting or reordering any row breaks every hash after it.

use serde::{Deserialize, Serialize};

use crate::auth::sha256_hex;

/// The hash the first entry chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, as hashed. Field order is the canonical order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub actor: Option<String>,
    pub workspace_id: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

pub fn chain_hash(prev_hash: &str, entry: &Entry) -> String {
    let body = serde_json::to_string(entry).unwrap_or_default();
    sha256_hex(format!("{prev_hash}\n{body}").as_bytes())
}

/// Checks a chain, oldest first. `Err(seq)` names the first entry whose hash (or link)
/// does not hold.
pub fn verify_chain<'a>(rows: impl IntoIterator<Item = (&'a Entry, &'a str, &'a str)>) -> Result<usize, i64> {
    verify_from(GENESIS, rows)
}

/// Checks a stretch of the chain that follows the entry whose hash is `prev`.
pub fn verify_from<'a>(
    prev: &str,
    rows: impl IntoIterator<Item = (&'a Entry, &'a str, &'a str)>,
) -> Result<usize, i64> {
    let mut expected_prev = prev.to_owned();
    let mut n = 0;
    for (entry, prev_hash, hash) in rows {
        if prev_hash != expected_prev || chain_hash(prev_hash, entry) != hash {
            return Err(entry.seq);
        }
        expected_prev = hash.to_owned();
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, action: &str) -> Entry {
        Entry {
            seq,
            at: "2026-11-21T10:00:00Z".into(),
            action: action.into(),
            actor: Some("u1".into()),
            workspace_id: None,
            target: None,
            ip: Some("127.0.0.1".into()),
            request_id: Some("r".into()),
            detail: "{}".into(),
        }
    }

    fn chain(entries: &[Entry]) -> Vec<(Entry, String, String)> {
        let mut prev = GENESIS.to_owned();
        entries
            .iter()
            .map(|e| {
                let h = chain_hash(&prev, e);
                let row = (e.clone(), prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    fn check(rows: &[(Entry, String, String)]) -> Result<usize, i64> {
        verify_chain(rows.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let rows = chain(&[entry(1, "auth.sign_in"), entry(2, "auth.sign_out")]);
        assert_eq!(check(&rows), Ok(2));
    }

    #[test]
    fn an_edited_row_is_detected() {
        let mut rows = chain(&[entry(1, "auth.sign_in"), entry(2, "role.changed"), entry(3, "auth.sign_out")]);
        rows[1].0.actor = Some("someone-else".into());
        assert_eq!(check(&rows), Err(2));
    }

    #[test]
    fn a_stretch_verifies_from_the_hash_before_it_and_not_from_another() {
        let rows = chain(&[entry(1, "a.b"), entry(2, "c.d"), entry(3, "e.f")]);
        let tail = &rows[1..];
        let from = |prev: &str| verify_from(prev, tail.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())));
        assert_eq!(from(&rows[0].2), Ok(2));
        assert_eq!(from(GENESIS), Err(2));
    }

    #[test]
    fn a_deleted_row_is_detected() {
        let mut rows = chain(&[entry(1, "a.b"), entry(2, "c.d"), entry(3, "e.f")]);
        rows.remove(1);
        assert_eq!(check(&rows), Err(3));
    }
}
