//! D1 in one line per statement: `call.sql()?.first::<Row>(SQL, &[a.into(), b.into()])`.
//!
//! Each helper prepares, binds and runs; a platform failure becomes an internal error that
//! names the statement (for the log only, never the client).
//!
//! A `LIMIT` is written into the statement as a number (one the handler computed, never
//! text from the request), not bound as an argument: the SQLite in workerd (3.47) lets a
//! bound `LIMIT` steer the query plan, so it marks the statement to be compiled again
//! whenever that argument is bound, which is every run. Written in, the statement stays
//! compiled in the runtime's cache (measured: see docs/benchmarks.md, 2026-12-06).

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures;
use worker::{D1Database, D1PreparedStatement};

use crate::{ApiError, ApiResult, OrInternal};

pub struct Db(pub D1Database);

/// A nullable text argument.
pub fn opt(v: Option<&str>) -> JsValue {
    v.map(JsValue::from).unwrap_or(JsValue::NULL)
}

/// An integer argument (D1 takes numbers as f64; every integer we store fits in 2^53).
pub fn int(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

/// `json_object('a', a, 'b', b, …)` for a list of plain column names (`"a, b, …"`): a row
/// as the JSON object serde writes for a struct of those fields in that order, for
/// columns of text, integers and NULLs (a number stored for a boolean stays a number).
pub fn json_object(columns: &str) -> String {
    let pairs: Vec<String> = columns.split(',').map(str::trim).map(|c| format!("'{c}', {c}")).collect();
    format!("json_object({})", pairs.join(", "))
}

/// A `WHERE` clause of only the conditions that apply, with their arguments in order: a
/// list's optional filters are left out of the statement instead of being written as
/// `?n IS NULL OR …` and bound to NULL, which SQLite must compile into every plan. Each
/// condition uses anonymous `?` placeholders, bound in the order the conditions were
/// added.
pub struct Filter {
    clause: String,
    args: Vec<JsValue>,
}

impl Filter {
    /// The condition every row must meet.
    pub fn new(condition: &str, args: impl IntoIterator<Item = JsValue>) -> Filter {
        Filter { clause: format!("({condition})"), args: args.into_iter().collect() }
    }

    /// `AND condition`.
    pub fn and(&mut self, condition: &str, args: impl IntoIterator<Item = JsValue>) -> &mut Filter {
        self.clause.push_str(" AND (");
        self.clause.push_str(condition);
        self.clause.push(')');
        self.args.extend(args);
        self
    }

    /// The clause, without `WHERE`.
    pub fn clause(&self) -> &str {
        &self.clause
    }

    /// The arguments, with `more` (a `LIMIT`, say) bound after them.
    pub fn args(mut self, more: impl IntoIterator<Item = JsValue>) -> Vec<JsValue> {
        self.args.extend(more);
        self.args
    }
}

const READ_RETRIES: u32 = 2;

async fn backoff(attempt: u32) {
    worker::Delay::from(std::time::Duration::from_millis(15 * u64::from(attempt))).await;
}

/// A failure of the database itself (busy, restarting), as opposed to the statement's
/// (a constraint, bad SQL): nothing was written, so trying again is safe.
pub fn transient(e: &worker::Error) -> bool {
    let text = e.to_string();
    (text.contains("internal error") || text.contains("SQLITE_BUSY") || text.contains("database is locked"))
        && !text.contains("constraint")
}

fn label(sql: &str) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(60).collect()
}

impl Db {
    pub fn statement(&self, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
        self.0.prepare(sql).bind(args).map_err(|e| ApiError::internal(format!("{}: {e}", label(sql))))
    }

    /// The first row, if any. Reads are retried twice on a platform error (a busy or
    /// restarting database), since reading again changes nothing.
    pub async fn first<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Option<T>> {
        let mut attempt = 0;
        loop {
            match self.statement(sql, args)?.first(None).await {
                Ok(row) => return Ok(row),
                Err(e) if attempt >= READ_RETRIES => return Err(e).or_internal(&label(sql)),
                Err(_) => attempt += 1,
            }
            backoff(attempt).await;
        }
    }

    /// Every row as one JSON text, `[[col, col, …], …]` in the statement's column order,
    /// read and written by the runtime (D1's `raw()`, then `JSON.stringify`): one string
    /// crosses into wasm however many rows and columns, to be parsed with serde (a struct
    /// reads from an array in its field order). The text crosses as UTF-8 bytes made by
    /// the runtime's `TextEncoder` and copied in one piece (a JS string is copied into wasm
    /// a character at a time). Retried like [`Db::first`].
    pub async fn rows_json(&self, sql: &str, args: &[JsValue]) -> ApiResult<String> {
        let mut attempt = 0;
        loop {
            let statement = self.statement(sql, args)?;
            let read = async {
                let rows = wasm_bindgen_futures::JsFuture::from(statement.inner().raw()?).await?;
                let text = worker::js_sys::JSON::stringify(&rows)?;
                Ok::<_, JsValue>(utf8::Encoder::new()?.encode(&text).to_vec())
            };
            match read.await {
                // The label only on failure: it is built from the whole statement.
                Ok(bytes) => {
                    return String::from_utf8(bytes).map_err(|e| ApiError::internal(format!("{}: {e}", label(sql))))
                }
                Err(e) if attempt >= READ_RETRIES => {
                    return Err(ApiError::internal(format!("{}: {}", label(sql), worker::Error::from(e))))
                }
                Err(_) => attempt += 1,
            }
            backoff(attempt).await;
        }
    }

    /// Every row. Retried like [`Db::first`].
    pub async fn all<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Vec<T>> {
        let mut attempt = 0;
        loop {
            match self.statement(sql, args)?.all().await {
                Ok(result) => return result.results().map_err(|e| ApiError::internal(format!("{}: {e}", label(sql)))),
                Err(e) if attempt >= READ_RETRIES => return Err(e).or_internal(&label(sql)),
                Err(_) => attempt += 1,
            }
            backoff(attempt).await;
        }
    }

    /// Runs a write; the number of rows it changed. A write the database refused to start
    /// (busy) is tried again; a constraint failure is not.
    pub async fn run(&self, sql: &str, args: &[JsValue]) -> ApiResult<usize> {
        let mut attempt = 0;
        loop {
            match self.statement(sql, args)?.run().await {
                Ok(result) => return Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)),
                Err(e) if attempt >= READ_RETRIES || !transient(&e) => return Err(e).or_internal(&label(sql)),
                Err(_) => attempt += 1,
            }
            backoff(attempt).await;
        }
    }

    /// Runs statements in one implicit transaction: all or none (retried like a write).
    pub async fn batch(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<()> {
        self.batch_changes(statements).await.map(|_| ())
    }

    /// [`Db::batch`], answering how many rows each statement changed, in order.
    pub async fn batch_changes(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<usize>> {
        let results = self.batch_results(statements).await?;
        Ok(results.iter().map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)).collect())
    }

    /// [`Db::batch`], answering the first row the first statement returned: a write whose
    /// `RETURNING` clause gives back the row as written, so that it is not read again.
    pub async fn batch_returning<T: DeserializeOwned>(
        &self,
        statements: Vec<D1PreparedStatement>,
    ) -> ApiResult<Option<T>> {
        let results = self.batch_results(statements).await?;
        let Some(first) = results.first() else {
            return Ok(None);
        };
        Ok(rows::<T>(Some(first))?.into_iter().next())
    }

    /// Several reads in one round trip to the database, each statement's rows in order
    /// (read them with [`rows`]). Retried like a write.
    pub async fn batch_read(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<worker::D1Result>> {
        self.batch_results(statements).await
    }

    async fn batch_results(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<worker::D1Result>> {
        let mut attempt = 0;
        loop {
            match self.0.batch(statements.clone()).await {
                Ok(results) => return Ok(results),
                Err(e) if attempt >= READ_RETRIES || !transient(&e) => return Err(e).or_internal("batch"),
                Err(_) => attempt += 1,
            }
            backoff(attempt).await;
        }
    }
}

/// The rows of one statement of a [`Db::batch_read`] (none if the batch had no such
/// statement).
pub fn rows<T: DeserializeOwned>(result: Option<&worker::D1Result>) -> ApiResult<Vec<T>> {
    match result {
        Some(r) => r.results().map_err(|e| ApiError::internal(format!("batch rows: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// The runtime's `TextEncoder`, taking a JS string as it is (web-sys's binding takes a
/// Rust `&str`, which would cross into JS first).
mod utf8 {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = TextEncoder)]
        pub type Encoder;
        #[wasm_bindgen(constructor, catch, js_class = "TextEncoder")]
        pub fn new() -> Result<Encoder, wasm_bindgen::JsValue>;
        #[wasm_bindgen(method, js_class = "TextEncoder")]
        pub fn encode(this: &Encoder, text: &js_sys::JsString) -> js_sys::Uint8Array;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_object_pairs_each_column_with_its_name_in_order() {
        assert_eq!(super::json_object("id, number,title"), "json_object('id', id, 'number', number, 'title', title)");
    }
}
