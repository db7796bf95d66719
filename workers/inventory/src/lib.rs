//! `noizylab-inventory`: parts and stock (issue 16) — the catalogue (SKU, part number,
//! barcodes, cost, the device models each part fits), CSV import and export, and stock per
//! location kept as a ledger of movements whose sums are on hand, reserved and available.
//!
//! Life of a part on a repair: it is received (`receive`), reserved for a ticket
//! (`reserve`: refused with 409 when none is available — the insert itself checks), used
//! on it (`consume`) or given back (`release`); a count is corrected with a reason
//! (`adjust`) and stock moves between locations (`transfer`). Falling to the reorder point
//! puts `inventory.low_stock` on the bus.
//!
//! Reordering: a part's reorder point and quantity are forecast from what repairs consumed
//! (SBA, for intermittent demand) and the cheapest supplier's lead time, and applied on
//! request (`/api/v1/parts/:id/reorder-plan`).
//!
//! Buying: suppliers with their prices; purchase orders drafted (or suggested, grouped by
//! the cheapest supplier, from the parts at their reorder point), ordered, received line
//! by line into the ledger — never more than ordered — and closed.
//!
//! Tickets use parts: an approved quote reserves its catalogue parts, a repair done (READY)
//! consumes them, a voided ticket releases them (`/internal/tickets/:id/parts`, from the
//! orchestrator); `pricing` quotes a catalogue part at its real cost (`/internal/parts/:id`).
//!
//! Deals: `ebay-sniper` reads a part's facts (`/internal/parts/:id`) and turns an approved
//! deal into an `ordered` purchase order to the eBay seller (`/internal/purchases`, once per
//! approval however often it is asked).
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod barcodes;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{internal, parts, purchase_orders as orders, reorder, stock, suppliers, tickets};

const DIR: &str = "inventory";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Get, Post, Put};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Get, ["internal", "parts", id]) => internal::part(&req, &call, id).await,
        (Post, ["internal", "purchases"]) => internal::purchase(req, &call).await,
        (Post, ["internal", "tickets", id, "parts"]) => tickets::parts(req, &call, id).await,
        (Post, ["api", "v1", "parts"]) => parts::create(req, &call).await,
        (Get, ["api", "v1", "parts"]) => parts::list(&req, &call).await,
        (Post, ["api", "v1", "parts", "import"]) => parts::import(req, &call).await,
        (Get, ["api", "v1", "parts", "export"]) => parts::export(&call).await,
        (Get, ["api", "v1", "parts", id]) => parts::show(&call, id).await,
        (Put, ["api", "v1", "parts", id]) => parts::replace(req, &call, id).await,
        (Get, ["api", "v1", "parts", id, "reorder-plan"]) => reorder::show(&call, id).await,
        (Post, ["api", "v1", "parts", id, "reorder-plan"]) => reorder::apply(&call, id).await,
        (Post, ["api", "v1", "inventory", "movements"]) => stock::movement(req, &call).await,
        (Get, ["api", "v1", "inventory", "ledger"]) => stock::ledger(&req, &call).await,
        (Post, ["api", "v1", "inventory", "scan"]) => stock::scan(req, &call).await,
        (Get, ["api", "v1", "inventory", "low-stock"]) => stock::low(&call).await,
        (Post, ["api", "v1", "suppliers"]) => suppliers::create(req, &call).await,
        (Get, ["api", "v1", "suppliers"]) => suppliers::list(&call).await,
        (Get, ["api", "v1", "suppliers", id]) => suppliers::show(&call, id).await,
        (Put, ["api", "v1", "suppliers", id, "parts", part]) => suppliers::price(req, &call, id, part).await,
        (Post, ["api", "v1", "purchase-orders"]) => orders::create(req, &call).await,
        (Get, ["api", "v1", "purchase-orders"]) => orders::list(&req, &call).await,
        (Get, ["api", "v1", "purchase-orders", "suggestions"]) => orders::suggestions(&call).await,
        (Get, ["api", "v1", "purchase-orders", id]) => orders::show(&call, id).await,
        (Post, ["api", "v1", "purchase-orders", id, "order"]) => orders::order(&call, id).await,
        (Post, ["api", "v1", "purchase-orders", id, "receive"]) => orders::receive(req, &call, id).await,
        (Post, ["api", "v1", "purchase-orders", id, "close"]) => orders::close(&call, id).await,
        (Post, ["api", "v1", "purchase-orders", id, "cancel"]) => orders::cancel(&call, id).await,
        (_, ["api", "v1", "parts"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "parts", "import"] | ["api", "v1", "inventory", "movements" | "scan"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (_, ["api", "v1", "parts", "export"] | ["api", "v1", "inventory", "ledger" | "low-stock"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "parts", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        (_, ["api", "v1", "parts", _, "reorder-plan"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] })
        }
        (_, ["api", "v1", "suppliers" | "purchase-orders"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] })
        }
        (_, ["api", "v1", "suppliers", _] | ["api", "v1", "purchase-orders", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "suppliers", _, "parts", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["PUT"] }),
        (_, ["api", "v1", "purchase-orders", _, "order" | "receive" | "close" | "cancel"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
