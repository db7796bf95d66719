//! Parts and stock (issue 16): a part's fields checked, the catalogue's CSV read and
//! written (bad rows reported by line, never half-imported), and the stock ledger's
//! movements with what each does to on-hand and reserved stock. Pure: `inventory` stores
//! and serves it.

use serde::{Deserialize, Serialize};

use crate::error::invalid;
pub use crate::error::Invalid;

/// A catalogue entry as written and read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartInput {
    pub sku: String,
    #[serde(default)]
    pub mpn: Option<String>,
    pub description: String,
    #[serde(default = "other")]
    pub category: String,
    /// Unit cost in cents.
    pub cost_cents: i64,
    #[serde(default = "cad")]
    pub currency: String,
    #[serde(default)]
    pub barcodes: Vec<String>,
    /// Device models it fits.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub reorder_point: i64,
    #[serde(default)]
    pub reorder_quantity: i64,
}

fn other() -> String {
    "other".into()
}

fn cad() -> String {
    "CAD".into()
}

/// The most a unit may cost: 100,000.00.
pub const MAX_CENTS: i64 = 10_000_000;

impl PartInput {
    /// Refuses what a catalogue should not hold, trimming what it keeps.
    pub fn checked(mut self) -> Result<PartInput, Invalid> {
        let text = |field: &str, v: &str, max: usize| -> Result<String, Invalid> {
            let v = v.trim();
            if v.is_empty() || v.chars().count() > max {
                return Err(invalid(field, format!("{field} is 1 to {max} characters")));
            }
            Ok(v.to_owned())
        };
        self.sku = text("sku", &self.sku, 64)?;
        if !self.sku.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            return Err(invalid("sku", "a SKU is letters, digits, '-', '_', '.' or '/'"));
        }
        self.description = text("description", &self.description, 300)?;
        self.category = text("category", &self.category, 60)?.to_lowercase();
        self.mpn = self.mpn.as_deref().map(|m| text("mpn", m, 80)).transpose()?;
        if !(0..=MAX_CENTS).contains(&self.cost_cents) {
            return Err(invalid("cost_cents", "a unit cost is 0 to 100,000.00"));
        }
        self.currency = self.currency.trim().to_uppercase();
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid("currency", "a currency is a three-letter ISO 4217 code (CAD, USD, EUR)"));
        }
        let list = |field: &str, v: &[String], max: usize, len: usize| -> Result<Vec<String>, Invalid> {
            if v.len() > max {
                return Err(invalid(field, format!("at most {max} {field}")));
            }
            let mut out: Vec<String> = v.iter().map(|x| text(field, x, len)).collect::<Result<_, _>>()?;
            out.sort();
            out.dedup();
            Ok(out)
        };
        self.barcodes = list("barcodes", &self.barcodes, 10, 128)?;
        self.models = list("models", &self.models, 200, 120)?;
        if self.reorder_point < 0
            || self.reorder_quantity < 0
            || self.reorder_point > 1_000_000
            || self.reorder_quantity > 1_000_000
        {
            return Err(invalid("reorder_point", "reorder point and quantity are 0 to 1,000,000"));
        }
        Ok(self)
    }
}

/// `12.50`, `12`, `0.5` → cents; anything else (a sign, more than two decimals) is `None`.
pub fn parse_cents(text: &str) -> Option<i64> {
    let t = text.trim();
    let (units, frac) = t.split_once('.').unwrap_or((t, ""));
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    units.checked_mul(100)?.checked_add(frac)
}

/// The catalogue CSV's columns, in order (lists inside a cell are separated by `|`).
pub const CSV_HEADER: [&str; 10] = [
    "sku",
    "mpn",
    "description",
    "category",
    "cost",
    "currency",
    "barcodes",
    "models",
    "reorder_point",
    "reorder_quantity",
];

/// A row the import left out, by its line in the file, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub line: u64,
    pub sku: Option<String>,
    pub reason: String,
}

/// What a catalogue CSV holds: each good row with its line, and the rejected rows.
pub struct Sheet {
    pub good: Vec<(u64, PartInput)>,
    pub rejected: Vec<Rejected>,
}

/// Reads a catalogue CSV: the good rows, and the rejected ones with their line and why
/// (a missing column, a cost that is not money, a SKU twice in the file …). `Err` when the
/// file itself is not the catalogue's CSV (no header, another header).
pub fn read_csv(text: &str) -> Result<Sheet, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header does not read: {e}"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    if header != CSV_HEADER {
        return Err(format!("the first line must be the header: {}", CSV_HEADER.join(",")));
    }
    let mut good: Vec<(u64, PartInput)> = Vec::new();
    let mut rejected = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                rejected.push(Rejected { line, sku: None, reason: format!("unreadable: {e}") });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("").to_owned();
        let sku = Some(cell(0)).filter(|s| !s.is_empty());
        let reject = |reason: String| Rejected { line, sku: sku.clone(), reason };
        if record.len() != CSV_HEADER.len() {
            rejected.push(reject(format!("{} columns, not {}", record.len(), CSV_HEADER.len())));
            continue;
        }
        let Some(cost_cents) = parse_cents(&cell(4)) else {
            rejected.push(reject(format!("cost '{}' is not an amount like 12.50", cell(4))));
            continue;
        };
        let number = |i: usize| -> Result<i64, String> {
            let c = cell(i);
            if c.is_empty() {
                return Ok(0);
            }
            c.parse::<i64>().map_err(|_| format!("{} '{c}' is not a whole number", CSV_HEADER[i]))
        };
        let (point, quantity) = match (number(8), number(9)) {
            (Ok(p), Ok(q)) => (p, q),
            (Err(e), _) | (_, Err(e)) => {
                rejected.push(reject(e));
                continue;
            }
        };
        let split = |c: String| c.split('|').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let input = PartInput {
            sku: cell(0),
            mpn: Some(cell(1)).filter(|m| !m.is_empty()),
            description: cell(2),
            category: Some(cell(3)).filter(|c| !c.is_empty()).unwrap_or_else(other),
            cost_cents,
            currency: Some(cell(5)).filter(|c| !c.is_empty()).unwrap_or_else(cad),
            barcodes: split(cell(6)),
            models: split(cell(7)),
            reorder_point: point,
            reorder_quantity: quantity,
        };
        match input.checked() {
            Ok(p) if good.iter().any(|(_, g)| g.sku == p.sku) => {
                rejected.push(reject(format!("SKU {} appears twice", p.sku)))
            }
            Ok(p) => good.push((line, p)),
            Err(e) => rejected.push(reject(format!("{}: {}", e.field, e.message))),
        }
    }
    Ok(Sheet { good, rejected })
}

/// The catalogue as CSV, in [`CSV_HEADER`]'s columns.
pub fn write_csv(parts: &[PartInput]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
    for p in parts {
        let cost = format!("{}.{:02}", p.cost_cents / 100, p.cost_cents % 100);
        w.write_record([
            p.sku.as_str(),
            p.mpn.as_deref().unwrap_or(""),
            p.description.as_str(),
            p.category.as_str(),
            cost.as_str(),
            p.currency.as_str(),
            p.barcodes.join("|").as_str(),
            p.models.join("|").as_str(),
            p.reorder_point.to_string().as_str(),
            p.reorder_quantity.to_string().as_str(),
        ])
        .map_err(|e| e.to_string())?;
    }
    String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// A stock movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Stock arrives (+on hand).
    Receive,
    /// Held for a ticket (+reserved).
    Reserve,
    /// Used on a ticket: from what it reserved (−on hand, −reserved).
    Consume,
    /// A reservation given back (−reserved).
    Release,
    /// A count corrected, with a reason (± on hand).
    Adjust,
    /// Moved to another location (−here, +there).
    Transfer,
}

/// What a movement of `quantity` does: (on-hand change, reserved change). `Adjust` takes a
/// signed quantity; every other kind a positive one. `Transfer` is its outgoing half.
pub fn effect(kind: Kind, quantity: i64) -> (i64, i64) {
    match kind {
        Kind::Receive => (quantity, 0),
        Kind::Reserve => (0, quantity),
        Kind::Consume => (-quantity, -quantity),
        Kind::Release => (0, -quantity),
        Kind::Adjust => (quantity, 0),
        Kind::Transfer => (-quantity, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_a_price_and_nothing_else() {
        assert_eq!(parse_cents("12.50"), Some(1250));
        assert_eq!(parse_cents("12.5"), Some(1250));
        assert_eq!(parse_cents("7"), Some(700));
        for bad in ["-1", "1.234", "abc", "", "1e3", "12,50"] {
            assert_eq!(parse_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_catalogue_csv_imports_its_good_rows_and_names_the_bad_ones_by_line() {
        let csv = "sku,mpn,description,category,cost,currency,barcodes,models,reorder_point,reorder_quantity\n\
                   BAT-X1C7,SB10K97643,\"Battery, 4-cell 51 Wh\",battery,54.90,CAD,5901234123457|QR:BAT-X1C7,ThinkPad X1 Carbon G7|ThinkPad X1 Carbon G8,2,5\n\
                   FAN-T14,,CPU fan,cooling,abc,CAD,,ThinkPad T14,1,2\n\
                   SCR-13,,13.3in panel,display,120,CAD,,,0,0,extra\n\
                   BAT-X1C7,,duplicate,battery,1,CAD,,,0,0\n\
                   KEY-US,,Keyboard,input,30,usd,,,-1,0\n";
        let Sheet { good, rejected } = read_csv(csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(good.len(), 1);
        let (line, first) = &good[0];
        assert_eq!(*line, 2);
        assert_eq!(first.description, "Battery, 4-cell 51 Wh");
        assert_eq!(first.models, ["ThinkPad X1 Carbon G7", "ThinkPad X1 Carbon G8"]);
        assert_eq!(first.cost_cents, 5490);
        let lines: Vec<u64> = rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6], "{rejected:?}");
        assert!(rejected[0].reason.contains("abc") && rejected[2].reason.contains("twice"), "{rejected:?}");
        // Written back, it reads the same.
        let parts: Vec<PartInput> = good.iter().map(|(_, p)| p.clone()).collect();
        let again = read_csv(&write_csv(&parts).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.good, good);
        assert!(read_csv("name,price\nx,1\n").is_err(), "another file");
    }

    #[test]
    fn movements_change_on_hand_and_reserved_as_a_bench_expects() {
        assert_eq!(effect(Kind::Receive, 5), (5, 0));
        assert_eq!(effect(Kind::Reserve, 2), (0, 2));
        assert_eq!(effect(Kind::Consume, 2), (-2, -2));
        assert_eq!(effect(Kind::Release, 1), (0, -1));
        assert_eq!(effect(Kind::Adjust, -3), (-3, 0));
        assert_eq!(effect(Kind::Transfer, 4), (-4, 0));
    }
}
