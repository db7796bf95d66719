//! How the platform's ids look in a path, and how a person is shown to others.

/// An id as it may appear in a path: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
