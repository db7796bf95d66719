//! Email replies that land on the right ticket.
//!
//! Customer email carries `Reply-To: ticket+<ticket id>.<tag>@<reply domain>`, where the
//! tag is an HMAC of the ticket id under the platform's secret: a reply address cannot be
//! made up for another ticket. The inbound side (`notifications`) reads the address back
//! with [`ticket_of`], and keeps only the new part of a reply ([`new_text`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::names::is_plain_id as plain_id;

/// Hex characters of the tag (64 bits).
const TAG_HEX: usize = 16;

fn tag(secret: &[u8], ticket: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(b"noizylab-reply:");
    mac.update(ticket.as_bytes());
    let bytes = mac.finalize().into_bytes();
    Some(bytes.iter().take(TAG_HEX / 2).map(|b| format!("{b:02x}")).collect())
}

/// The reply address for `ticket`: `ticket+<id>.<tag>@<domain>`.
pub fn address(secret: &[u8], ticket: &str, domain: &str) -> Option<String> {
    plain_id(ticket).then_some(())?;
    Some(format!("ticket+{ticket}.{}@{domain}", tag(secret, ticket)?))
}

/// The bare address in a header value: `"Ann <ann@example.com>"` → `ann@example.com`
/// (lowercased).
pub fn bare(header: &str) -> Option<String> {
    let inner = match (header.rfind('<'), header.rfind('>')) {
        (Some(a), Some(b)) if a < b => &header[a + 1..b],
        _ => header,
    };
    let addr = inner.trim().trim_matches('"').to_ascii_lowercase();
    let (local, domain) = addr.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !addr.contains(char::is_whitespace)).then_some(addr)
}

/// The ticket a reply address (or a list of recipients, comma-separated) points to, if
/// one of them is a genuine reply address.
pub fn ticket_of(secret: &[u8], recipients: &str) -> Option<String> {
    recipients.split(',').filter_map(bare).find_map(|addr| {
        let local = addr.split_once('@')?.0;
        let (id, given) = local.strip_prefix("ticket+")?.rsplit_once('.')?;
        let expected = tag(secret, id)?;
        (plain_id(id) && crate::auth::constant_time_eq(expected.as_bytes(), given.as_bytes())).then(|| id.to_owned())
    })
}

/// The new part of a reply: everything before the quoted original (`On … wrote:`,
/// `-----Original Message-----`, `From: …` after a blank line, or `>` lines), trimmed.
pub fn new_text(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut previous_blank = true;
    for line in body.lines() {
        let t = line.trim();
        let quote_header = (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with("-----Original Message-----")
            || (previous_blank && t.starts_with("From:") && !kept.is_empty())
            || t.starts_with('>');
        if quote_header {
            break;
        }
        previous_blank = t.is_empty();
        kept.push(line.trim_end());
    }
    kept.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_reply_address_names_its_ticket_and_cannot_be_forged() {
        let a = address(SECRET, "t-42", "replies.example.com").expect("address");
        assert!(a.starts_with("ticket+t-42.") && a.ends_with("@replies.example.com"), "{a}");
        assert_eq!(ticket_of(SECRET, &format!("Shop <{a}>")), Some("t-42".into()));
        assert_eq!(ticket_of(SECRET, &format!("other@example.com, {}", a.to_uppercase())), Some("t-42".into()));
        let forged = a.replace("t-42", "t-43");
        assert_eq!(ticket_of(SECRET, &forged), None);
        assert_eq!(ticket_of(b"another secret of 32 bytes......", &a), None);
        assert_eq!(ticket_of(SECRET, "ticket+t-42@replies.example.com"), None);
        assert_eq!(address(SECRET, "bad id", "x.com"), None);
    }

    #[test]
    fn bare_addresses_come_out_of_header_values() {
        assert_eq!(bare("Ann Smith <Ann@Example.com>").as_deref(), Some("ann@example.com"));
        assert_eq!(bare("ann@example.com").as_deref(), Some("ann@example.com"));
        assert_eq!(bare("not an address"), None);
    }

    #[test]
    fn only_the_new_part_of_a_reply_is_kept() {
        let body =
            "Yes, please go ahead.\nThanks!\n\nOn Mon, 23 Nov 2026 at 10:00, NoizyLab wrote:\n> Your quote is ready";
        assert_eq!(new_text(body), "Yes, please go ahead.\nThanks!");
        assert_eq!(new_text("Fine\n\n-----Original Message-----\nFrom: shop"), "Fine");
        assert_eq!(new_text("> only quoted"), "");
        assert_eq!(new_text("Plain message"), "Plain message");
    }
}
