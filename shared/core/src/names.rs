//! How the platform's ids look in a path, and how a person is shown to others.

/// An id as it may appear in a path: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The live room a WebSocket path names, with the `TicketRoom` object it lives in:
/// `GET /api/v1/tickets/:id/live` is the ticket's own room (named by the ticket id) and
/// `GET /api/v1/users/:id/live` that person's inbox. `None` for any other path; an id that
/// is not a plain id is `Some(Err(why))`, for the 400 on the path's `id`.
pub fn live_room(area: &str, rest: &[&str]) -> Option<Result<String, &'static str>> {
    let (id, why) = match (area, rest) {
        ("tickets", [id, "live"]) => (*id, "a ticket id is 1-64 letters, digits, '-' or '_'"),
        ("users", [id, "live"]) => (*id, "not a user id"),
        _ => return None,
    };
    if !is_plain_id(id) {
        return Some(Err(why));
    }
    Some(Ok(if area == "users" { inbox_room(id) } else { id.to_owned() }))
}

/// The name of a person's inbox room (in-app notices), a `TicketRoom` like a ticket's.
pub fn inbox_room(user: &str) -> String {
    format!("inbox:{user}")
}

/// A person as others see them in rooms and chats: their name, or failing that the local
/// part of their address; one that reads as the platform's own (`noizylab@…`, a name set
/// before names were checked) is marked as a person's, so nobody speaks as the system.
pub fn display_name(name: Option<&str>, email: &str) -> String {
    let shown = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_owned(),
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    if is_reserved_name(&shown) {
        format!("{shown} (user)")
    } else {
        shown
    }
}

/// Whether a person may call themselves `name`: never the platform's own sender name (or a
/// look-alike of it, spaces, case and punctuation aside), so nobody speaks in a room as the
/// shop's system.
pub fn is_reserved_name(name: &str) -> bool {
    let folded: String = name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    let folded = folded.replace('0', "o").replace('1', "l");
    ["noizylab", "system", "admin", "support", "staff"].iter().any(|r| folded == *r || folded.starts_with("noizylab"))
}

/// A `Content-Disposition` value for a stored file name (RFC 6266): an ASCII `filename`
/// for old clients (anything else becomes `_`) and the exact name as UTF-8 in
/// `filename*` (RFC 8187), so any name (Cyrillic, CJK, emoji) gives a valid header.
pub fn content_disposition(kind: &str, name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rooms_are_named_by_their_path() {
        assert_eq!(live_room("tickets", &["t-1", "live"]), Some(Ok("t-1".to_owned())));
        assert_eq!(live_room("users", &["u1", "live"]), Some(Ok("inbox:u1".to_owned())));
        assert!(matches!(live_room("tickets", &["a:b", "live"]), Some(Err(_))));
        assert!(matches!(live_room("users", &["inbox:u1", "live"]), Some(Err(_))));
        assert_eq!(live_room("tickets", &["t-1", "live", "ticket"]), None);
        assert_eq!(live_room("devices", &["d1", "live"]), None);
    }

    #[test]
    fn plain_ids_are_short_and_path_safe() {
        assert!(is_plain_id("t-42_A"));
        for bad in ["", "a/b", "inbox:u1", "a b", &"x".repeat(65)] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_person_without_a_name_shows_their_address_local_part() {
        assert_eq!(display_name(Some(" Dana "), "d@x.test"), "Dana");
        assert_eq!(display_name(Some("  "), "dana@x.test"), "dana");
        assert_eq!(display_name(None, "dana@x.test"), "dana");
    }

    #[test]
    fn a_content_disposition_is_latin_only_and_keeps_any_name_in_utf8() {
        let header = content_disposition("inline", "схема платы 日本.png");
        assert!(header.is_ascii(), "{header}");
        assert!(header.starts_with("inline; filename=\"_____ _____ __.png\"; filename*=UTF-8''"), "{header}");
        assert!(header.ends_with("%E6%97%A5%E6%9C%AC.png"), "{header}");
        assert_eq!(
            content_disposition("inline", "a\"b.jpg"),
            "inline; filename=\"a_b.jpg\"; filename*=UTF-8''a%22b.jpg"
        );
    }

    #[test]
    fn the_platform_s_own_names_are_reserved_in_any_spelling() {
        for n in ["NoizyLab", "noizy lab", "N0IZYLAB", "NoizyLab Support", "System", "support"] {
            assert!(is_reserved_name(n), "{n}");
        }
        for n in ["Ana Noizy", "Bob", "Labrador"] {
            assert!(!is_reserved_name(n), "{n}");
        }
    }

    #[test]
    fn nobody_is_shown_under_the_platform_s_name() {
        assert_eq!(display_name(None, "noizylab@evil.example"), "noizylab (user)");
        assert_eq!(display_name(Some(" NoizyLab "), "a@b.c"), "NoizyLab (user)");
        assert_eq!(display_name(Some("Ana"), "a@b.c"), "Ana");
        assert_eq!(display_name(None, "ana@b.c"), "ana");
    }
}
