//! The S-expressions KiCad writes its netlists in: lists in parentheses, bare atoms
//! (`U1`, `Net-(R1-Pad1)` in KiCad 5, `F:\path` too) and quoted strings with `\"` and
//! `\\` escapes (KiCad 6 and later quote everything). Each node keeps the line it starts
//! on, so an error can say where.

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub enum Sexp {
    Atom { text: String, line: u32 },
    List { items: Vec<Sexp>, line: u32 },
}

/// What is wrong with a file, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Deeper nesting than any netlist has: refused rather than followed.
pub const MAX_DEPTH: usize = 64;

fn error(line: u32, message: impl Into<String>) -> SyntaxError {
    SyntaxError { line, message: message.into() }
}

impl Sexp {
    pub fn line(&self) -> u32 {
        match self {
            Sexp::Atom { line, .. } | Sexp::List { line, .. } => *line,
        }
    }

    /// The text of an atom.
    pub fn atom(&self) -> Option<&str> {
        match self {
            Sexp::Atom { text, .. } => Some(text),
            Sexp::List { .. } => None,
        }
    }

    /// A list's items after its head.
    pub fn args(&self) -> &[Sexp] {
        match self {
            Sexp::List { items, .. } if !items.is_empty() => &items[1..],
            _ => &[],
        }
    }

    /// A list's head atom: `comp` for `(comp (ref U1) …)`.
    pub fn head(&self) -> Option<&str> {
        match self {
            Sexp::List { items, .. } => items.first().and_then(Sexp::atom),
            Sexp::Atom { .. } => None,
        }
    }

    /// The child lists headed `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sexp> + 'a {
        self.args().iter().filter(move |c| c.head() == Some(name))
    }

    /// The first child list headed `name`.
    pub fn child(&self, name: &str) -> Option<&Sexp> {
        self.args().iter().find(|c| c.head() == Some(name))
    }

    /// The first atom of child `name`: `value` of `(comp … (value 10k))` is `10k`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(|c| c.args().first()).and_then(Sexp::atom)
    }
}

/// Parses one top-level expression (a file), with nothing after it but whitespace.
pub fn parse(text: &str) -> Result<Sexp, SyntaxError> {
    let mut chars = text.char_indices().peekable();
    let mut line: u32 = 1;
    // The lists being read, innermost last, each with the line it opened on.
    let mut open: Vec<(Vec<Sexp>, u32)> = Vec::new();
    let mut done: Option<Sexp> = None;
    while let Some((_, c)) = chars.next() {
        let node = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            '(' => {
                if done.is_some() {
                    return Err(error(line, "more after the end of the netlist"));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(error(line, format!("nested deeper than {MAX_DEPTH} lists")));
                }
                open.push((Vec::new(), line));
                continue;
            }
            ')' => {
                let (items, started) =
                    open.pop().ok_or_else(|| error(line, "a ')' closes a list that was never opened"))?;
                Sexp::List { items, line: started }
            }
            '"' => {
                let started = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(error(started, "a quoted string is never closed")),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, other)) => s.push(other),
                            None => return Err(error(started, "a quoted string is never closed")),
                        },
                        Some((_, ch)) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                        }
                    }
                }
                Sexp::Atom { text: s, line: started }
            }
            first => {
                let mut s = String::from(first);
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                Sexp::Atom { text: s, line }
            }
        };
        match open.last_mut() {
            Some((items, _)) => items.push(node),
            None if done.is_none() && matches!(node, Sexp::List { .. }) => done = Some(node),
            None => return Err(error(line, "more after the end of the netlist")),
        }
    }
    if let Some((_, started)) = open.last() {
        return Err(error(*started, "this list is never closed (a ')' is missing)"));
    }
    done.ok_or_else(|| error(1, "the file is empty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_strings_and_lines_are_read() {
        let s = parse("(export (version D)\n  (comp (ref \"U 1\") (value 10k)\n   (name \"a \\\"b\\\"\")))")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.head(), Some("export"));
        assert_eq!(s.text_of("version"), Some("D"));
        let comp = s.child("comp").unwrap_or_else(|| panic!("comp"));
        assert_eq!(comp.line(), 2);
        assert_eq!(comp.text_of("ref"), Some("U 1"));
        assert_eq!(comp.text_of("name"), Some("a \"b\""));
    }

    #[test]
    fn unbalanced_and_trailing_input_names_the_line() {
        let open = parse("(export\n (comp (ref U1)\n").unwrap_err();
        assert_eq!(open.line, 2, "{open}");
        let close = parse("(export)\n)").unwrap_err();
        assert_eq!(close.line, 2);
        assert!(parse("(a) (b)").unwrap_err().message.contains("after the end"));
        assert!(parse("   ").is_err());
        assert!(parse("(a \"never closed)").unwrap_err().message.contains("never closed"));
        let deep = "(".repeat(100) + &")".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
    }
}
