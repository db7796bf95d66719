//! Small text helpers every worker shares, so that none keeps a copy of its own: money
//! amounts and HTML escaping.

/// An amount in cents as a decimal: `1250` → `"12.50"`, `-150` → `"-1.50"`, `-5` → `"-0.05"`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// [`money`] followed by the currency code: `"12.50 CAD"`.
pub fn money_in(cents: i64, currency: &str) -> String {
    format!("{} {currency}", money(cents))
}

/// Escapes text for HTML element content and for quoted attribute values: `&`, `<`, `>`,
/// `"` and `'`.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_the_sign_of_negative_amounts_under_and_over_a_unit() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(1250), "12.50");
        assert_eq!(money(-150), "-1.50");
        assert_eq!(money(-50), "-0.50");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(money(i64::MIN), "-92233720368547758.08");
        assert_eq!(money_in(-150, "CAD"), "-1.50 CAD");
    }

    #[test]
    fn every_html_special_character_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
    }
}
