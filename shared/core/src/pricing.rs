//! The quote engine (seed 000's pricing engine): a fair, explained price from issue
//! complexity, estimated time, parts, urgency and the customer's history, under a
//! workspace's price list. All money is integer cents; every factor that changed the
//! price says by how much.

use crate::text::money;
use serde::{Deserialize, Serialize};

/// A workspace's prices. Percentages are basis points (1 % = 100 bps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceList {
    pub currency: String,
    /// Bench labour, per hour.
    pub labor_rate_cents: i64,
    pub diagnostic_fee_cents: i64,
    /// What parts are sold at over their cost.
    pub parts_markup_bps: i64,
    /// The least share of the pre-tax total that must be margin over parts cost.
    pub margin_floor_bps: i64,
    pub tax_bps: i64,
    pub guarantee_days: i64,
    pub quote_valid_hours: i64,
}

impl Default for PriceList {
    fn default() -> Self {
        PriceList {
            currency: "CAD".into(),
            labor_rate_cents: 13_200,
            diagnostic_fee_cents: 4_900,
            parts_markup_bps: 3_000,
            margin_floor_bps: 2_500,
            tax_bps: 1_300,
            guarantee_days: 90,
            quote_valid_hours: 72,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    Simple,
    Standard,
    Complex,
    Expert,
}

impl Complexity {
    /// Labour multiplier in basis points.
    fn factor_bps(self) -> i64 {
        match self {
            Complexity::Simple => 10_000,
            Complexity::Standard => 12_000,
            Complexity::Complex => 15_000,
            Complexity::Expert => 20_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Standard,
    Priority,
    Emergency,
}

impl Urgency {
    /// Surcharge on labour in basis points.
    fn surcharge_bps(self) -> i64 {
        match self {
            Urgency::Standard => 0,
            Urgency::Priority => 3_000,
            Urgency::Emergency => 6_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    None,
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Tier {
    /// Discount on labour in basis points.
    pub fn discount_bps(self) -> i64 {
        match self {
            Tier::None | Tier::Bronze => 0,
            Tier::Silver => 500,
            Tier::Gold => 1_000,
            Tier::Platinum => 1_500,
        }
    }
}

/// A part on a quote: from the catalogue (`part_id`: its name and real cost come from
/// inventory, and an approved quote reserves it) or typed by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cost_cents: i64,
    pub quantity: i64,
}

/// What a quote is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub complexity: Complexity,
    pub estimated_minutes: i64,
    pub parts: Vec<Part>,
    pub urgency: Urgency,
    pub tier: Tier,
    /// Completed repairs before this one: a returning customer's diagnosis is free.
    pub previous_repairs: i64,
    /// Other shops' prices for the same job, pre-tax, if known.
    pub competitor_cents: Vec<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub diagnostic: i64,
    pub labor: i64,
    pub parts: i64,
    pub urgency_fee: i64,
    pub discount: i64,
    pub subtotal: i64,
    pub tax: i64,
}

/// One line of the explanation: which factor did what to the price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub factor: String,
    pub effect_cents: i64,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub total: i64,
    pub breakdown: Breakdown,
    pub explanation: Vec<Factor>,
}

/// `amount × bps / 10000`, rounded half up.
fn pct(amount: i64, bps: i64) -> i64 {
    (amount * bps + 5_000).div_euclid(10_000)
}

/// Prices a job. Deterministic: the same inputs and list give the same quote.
pub fn price(list: &PriceList, input: &Inputs) -> Priced {
    let mut why = Vec::new();
    let mut note = |factor: &str, effect: i64, text: String| {
        why.push(Factor { factor: factor.into(), effect_cents: effect, note: text })
    };

    let (diagnostic, diag_note) = if input.previous_repairs > 0 {
        (0, format!("waived: returning customer ({} earlier repairs)", input.previous_repairs))
    } else {
        (list.diagnostic_fee_cents, "diagnostic fee".to_owned())
    };
    note("diagnostic", diagnostic, diag_note);

    let base_labor = (input.estimated_minutes * list.labor_rate_cents + 30) / 60;
    note(
        "estimated_time",
        base_labor,
        format!("{} min at {}/h", input.estimated_minutes, money(list.labor_rate_cents)),
    );
    let labor = pct(base_labor, input.complexity.factor_bps());
    note(
        "complexity",
        labor - base_labor,
        format!("{:?} work: labour × {}", input.complexity, input.complexity.factor_bps() as f64 / 10_000.0),
    );

    let parts_cost: i64 = input.parts.iter().map(|p| p.cost_cents * p.quantity).sum();
    let parts = parts_cost + pct(parts_cost, list.parts_markup_bps);
    if parts_cost > 0 {
        note(
            "parts",
            parts,
            format!("{} part(s), cost {} + {} bps", input.parts.len(), money(parts_cost), list.parts_markup_bps),
        );
    }

    let urgency_fee = pct(labor, input.urgency.surcharge_bps());
    if urgency_fee > 0 {
        note("urgency", urgency_fee, format!("{:?}: +{} bps of labour", input.urgency, input.urgency.surcharge_bps()));
    }

    let mut discount = pct(labor, input.tier.discount_bps());
    if discount > 0 {
        note("loyalty", -discount, format!("{:?} tier: −{} bps of labour", input.tier, input.tier.discount_bps()));
    }

    let before_match = diagnostic + labor + parts + urgency_fee - discount;
    // The least pre-tax total that keeps the margin floor over parts cost.
    let floor = if list.margin_floor_bps >= 10_000 {
        before_match
    } else {
        (parts_cost * 10_000 + (10_000 - list.margin_floor_bps) - 1) / (10_000 - list.margin_floor_bps)
    };
    if let Some(&best) = input.competitor_cents.iter().filter(|c| **c > 0).min() {
        if best < before_match {
            // Meet the competitor from labour, at most 15 % of it, never under the floor.
            let room = pct(labor, 1_500).min(before_match - floor.max(0)).max(0);
            let cut = (before_match - best).min(room);
            if cut > 0 {
                discount += cut;
                note("competitor_match", -cut, format!("another shop quotes {}", money(best)));
            }
        }
    }

    let mut subtotal = diagnostic + labor + parts + urgency_fee - discount;
    if subtotal < floor {
        let lift = floor - subtotal;
        discount -= lift.min(discount);
        subtotal = diagnostic + labor + parts + urgency_fee - discount;
        note("margin_floor", lift, format!("kept at least {} bps margin over parts", list.margin_floor_bps));
    }
    let tax = pct(subtotal, list.tax_bps);
    note("tax", tax, format!("{} bps", list.tax_bps));
    Priced {
        total: subtotal + tax,
        breakdown: Breakdown { diagnostic, labor, parts, urgency_fee, discount, subtotal, tax },
        explanation: why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Inputs {
        Inputs {
            complexity: Complexity::Simple,
            estimated_minutes: 60,
            parts: vec![],
            urgency: Urgency::Standard,
            tier: Tier::None,
            previous_repairs: 0,
            competitor_cents: vec![],
        }
    }

    #[test]
    fn an_hour_of_simple_work_costs_the_rate_plus_diagnosis_and_tax() {
        let list = PriceList::default();
        let q = price(&list, &job());
        assert_eq!(q.breakdown.labor, 13_200);
        assert_eq!(q.breakdown.diagnostic, 4_900);
        assert_eq!(q.breakdown.subtotal, 18_100);
        assert_eq!(q.breakdown.tax, 2_353);
        assert_eq!(q.total, 20_453);
    }

    #[test]
    fn each_factor_moves_the_price_and_says_so() {
        let list = PriceList::default();
        let base = price(&list, &job()).total;
        let urgent = price(&list, &Inputs { urgency: Urgency::Emergency, ..job() });
        assert!(urgent.total > base);
        assert!(urgent.explanation.iter().any(|f| f.factor == "urgency" && f.effect_cents == 7_920));
        let gold = price(&list, &Inputs { tier: Tier::Gold, previous_repairs: 3, ..job() });
        assert_eq!(gold.breakdown.diagnostic, 0);
        assert_eq!(gold.breakdown.discount, 1_320);
        let hard = price(&list, &Inputs { complexity: Complexity::Expert, ..job() });
        assert_eq!(hard.breakdown.labor, 26_400);
        let sum: i64 = urgent.explanation.iter().filter(|f| f.factor != "estimated_time").map(|f| f.effect_cents).sum();
        assert_eq!(sum + urgent.explanation[1].effect_cents, urgent.total, "the explanation adds up to the total");
    }

    #[test]
    fn parts_carry_their_markup_and_competitors_never_push_below_the_floor() {
        let list = PriceList::default();
        let parts = vec![Part { part_id: None, name: "OLED panel".into(), cost_cents: 20_000, quantity: 1 }];
        let q = price(&list, &Inputs { parts: parts.clone(), ..job() });
        assert_eq!(q.breakdown.parts, 26_000);
        let matched = price(&list, &Inputs { parts: parts.clone(), competitor_cents: vec![40_000], ..job() });
        assert!(matched.breakdown.subtotal < q.breakdown.subtotal);
        assert!(matched.breakdown.subtotal >= 40_000);
        let cheap = price(&list, &Inputs { parts, competitor_cents: vec![100], ..job() });
        let floor = 20_000 * 10_000 / 7_500;
        assert!(cheap.breakdown.subtotal >= floor, "{}", cheap.breakdown.subtotal);
        assert!(cheap.breakdown.discount <= 1_980, "at most 15 % of labour is given up");
    }
}
