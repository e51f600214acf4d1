//! Idempotency keys of sandbox creates: the request each key came with and the response it
//! got, so that a retried create (same key) is answered with the first response instead of
//! creating a second sandbox.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreResult};

/// What a key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentCall {
    /// The request body, as canonical JSON.
    pub request_json: String,
    /// The response body, as JSON.
    pub response_json: String,
}

impl Store {
    /// The call recorded under `key` at or after `since` (Unix microseconds), if any.
    pub fn idempotent_call(&self, key: &str, since: i64) -> StoreResult<Option<IdempotentCall>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT request_json, response_json FROM idempotency_keys
                 WHERE key = ?1 AND created_at >= ?2",
            )?;
            Ok(stmt
                .query_row(params![key, since], |r| {
                    Ok(IdempotentCall { request_json: r.get(0)?, response_json: r.get(1)? })
                })
                .optional()?)
        })
    }

    /// Records `call` under `key` at `now`, replacing an expired record of the same key, and
    /// drops every record older than `expired_before`.
    pub fn remember_idempotent_call(
        &self,
        key: &str,
        call: &IdempotentCall,
        now: i64,
        expired_before: i64,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM idempotency_keys WHERE created_at < ?1", [expired_before])?;
            tx.execute(
                "INSERT OR REPLACE INTO idempotency_keys
                 (key, request_json, response_json, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![key, call.request_json, call.response_json, now],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(request: &str) -> IdempotentCall {
        IdempotentCall { request_json: request.into(), response_json: r#"{"id":"sb-1"}"#.into() }
    }

    #[test]
    fn keys_are_found_until_they_expire() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.idempotent_call("k", 0).unwrap(), None);
        store.remember_idempotent_call("k", &call("{}"), 100, 0).unwrap();
        assert_eq!(store.idempotent_call("k", 50).unwrap(), Some(call("{}")));
        // Older than the window: as if never seen.
        assert_eq!(store.idempotent_call("k", 101).unwrap(), None);
        // A later record purges the expired one.
        store.remember_idempotent_call("other", &call("[]"), 500, 200).unwrap();
        assert_eq!(store.idempotent_call("k", 0).unwrap(), None);
        assert_eq!(store.idempotent_call("other", 0).unwrap(), Some(call("[]")));
    }
}
