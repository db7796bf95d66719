//! The Stripe adapter: Checkout Sessions over Stripe's HTTP API (form-encoded, bearer
//! secret key, `Idempotency-Key`), at a configurable base URL.

use noizylab_kit::{ApiError, ApiResult, OrInternal};
use serde::Deserialize;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct CheckoutSession<'a> {
    pub invoice_id: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub description: &'a str,
    pub customer_email: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

#[derive(Deserialize)]
pub struct Session {
    pub id: String,
    pub url: String,
}

/// Stripe's bracketed keys, form-encoded.
fn form(pairs: &[(&str, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    noizylab_kit::http::form_urlencode(&borrowed)
}

/// `POST {base}/v1/checkout/sessions`: a one-line-item payment for the invoice.
pub async fn create_checkout_session(base: &str, key: &str, s: &CheckoutSession<'_>) -> ApiResult<Session> {
    let mut pairs = vec![
        ("mode", "payment".to_owned()),
        ("success_url", s.success_url.to_owned()),
        ("cancel_url", s.cancel_url.to_owned()),
        ("client_reference_id", s.invoice_id.to_owned()),
        ("metadata[invoice_id]", s.invoice_id.to_owned()),
        ("line_items[0][quantity]", "1".to_owned()),
        ("line_items[0][price_data][currency]", s.currency.to_ascii_lowercase()),
        ("line_items[0][price_data][unit_amount]", s.amount_cents.to_string()),
        ("line_items[0][price_data][product_data][name]", s.description.to_owned()),
    ];
    if let Some(email) = s.customer_email {
        pairs.push(("customer_email", email.to_owned()));
    }
    let headers = Headers::new();
    headers.set("authorization", &format!("Bearer {key}")).or_internal("header")?;
    headers.set("content-type", "application/x-www-form-urlencoded").or_internal("header")?;
    headers.set("idempotency-key", &format!("checkout-{}", s.invoice_id)).or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(form(&pairs).into()));
    let url = format!("{}/v1/checkout/sessions", base.trim_end_matches('/'));
    let req = Request::new_with_init(&url, &init).or_internal("stripe request")?;
    let mut resp = Fetch::Request(req).send().await.map_err(|e| ApiError::BadGateway(format!("stripe: {e}")))?;
    if resp.status_code() != 200 {
        let text = resp.text().await.unwrap_or_default();
        return Err(ApiError::BadGateway(format!("stripe answered {}: {}", resp.status_code(), text)));
    }
    resp.json().await.map_err(|e| ApiError::BadGateway(format!("stripe answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::form;

    #[test]
    fn brackets_and_spaces_are_encoded_as_stripe_expects() {
        let body = form(&[("line_items[0][quantity]", "1".into()), ("name", "Repair T-1 (a&b)".into())]);
        assert_eq!(body, "line_items%5B0%5D%5Bquantity%5D=1&name=Repair+T-1+%28a%26b%29");
    }
}
