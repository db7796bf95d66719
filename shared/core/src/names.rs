//! How the platform's ids look in a path, and how a person is shown to others.

/// An id as it may appear in a path: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A person as others see them in rooms and chats: their name, or failing that the local
/// part of their address.
pub fn display_name(name: Option<&str>, email: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_owned(),
        None => email.split('@').next().unwrap_or_default().to_owned(),
    }
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
}
