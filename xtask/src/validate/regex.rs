//! Translation of XSD 1.0 regular expressions (XML Schema Part 2, appendix F) into the syntax of
//! the `regex` crate.
//!
//! An XSD pattern matches the whole value, so the result is anchored (`^(?:…)$`). Differences
//! handled here:
//!
//! - `.` excludes `\n` and `\r` in XSD (the `regex` crate's excludes only `\n`): `[^\n\r]`;
//! - `\s` is exactly space, tab, newline and carriage return in XSD, `\S` its complement;
//! - `\d` is `\p{Nd}`, `\w` is "not punctuation, separator or other" (`[^\p{P}\p{Z}\p{C}]`);
//! - `^` and `$` are ordinary characters in XSD;
//! - groups are `(?:…)` (XSD has no captures to keep);
//! - character class subtraction `[a-z-[aeiou]]` becomes intersection with the complement
//!   `[a-z&&[^aeiou]]`;
//! - `\p{IsBlock}` (Unicode blocks) and the XML name escapes `\i`, `\I`, `\c`, `\C` are refused with
//!   an error naming the construct, as is anything else that is not XSD regex syntax.

use anyhow::{Result, bail};

/// Translates one XSD pattern into an anchored `regex` crate pattern.
pub(crate) fn translate(xsd: &str) -> Result<String> {
    let chars: Vec<char> = xsd.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
        pattern: xsd,
    };
    let body = parser.branches(0)?;
    if parser.pos != chars.len() {
        bail!(
            "pattern {xsd:?}: unbalanced `)` at character {}",
            parser.pos + 1
        );
    }
    Ok(format!("^(?:{body})$"))
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    pattern: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        bail!(
            "pattern {:?}: {what} at character {}",
            self.pattern,
            self.pos + 1
        )
    }

    /// `branch ( '|' branch )*`, up to an unmatched `)` or the end.
    fn branches(&mut self, depth: usize) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Ok(out),
                Some(')') => {
                    if depth == 0 {
                        return self.fail("unbalanced `)`");
                    }
                    return Ok(out);
                }
                Some('|') => {
                    self.pos += 1;
                    out.push('|');
                }
                Some(_) => {
                    let atom = self.atom(depth)?;
                    out.push_str(&atom);
                    out.push_str(&self.quantifier()?);
                }
            }
        }
    }

    fn atom(&mut self, depth: usize) -> Result<String> {
        let c = self.chars[self.pos];
        self.pos += 1;
        Ok(match c {
            '(' => {
                let inner = self.branches(depth + 1)?;
                if self.peek() != Some(')') {
                    return self.fail("unclosed `(`");
                }
                self.pos += 1;
                format!("(?:{inner})")
            }
            '[' => self.class()?,
            '.' => "[^\\n\\r]".to_owned(),
            '\\' => self.escape(false)?,
            '*' | '+' | '?' | '{' => {
                return self.fail(&format!("quantifier `{c}` without an atom"));
            }
            ']' | '}' => return self.fail(&format!("unescaped `{c}`")),
            c => literal(c),
        })
    }

    /// `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}` or nothing.
    fn quantifier(&mut self) -> Result<String> {
        match self.peek() {
            Some(c @ ('?' | '*' | '+')) => {
                self.pos += 1;
                Ok(c.to_string())
            }
            Some('{') => {
                let start = self.pos;
                self.pos += 1;
                let min = self.digits();
                if min.is_empty() {
                    return self.fail("`{` without a number");
                }
                let mut out = format!("{{{min}");
                if self.peek() == Some(',') {
                    self.pos += 1;
                    out.push(',');
                    let max = self.digits();
                    if !max.is_empty() {
                        if max.parse::<u64>().ok() < min.parse::<u64>().ok() {
                            self.pos = start;
                            return self.fail("quantifier with max below min");
                        }
                        out.push_str(&max);
                    }
                }
                if self.peek() != Some('}') {
                    return self.fail("unclosed quantifier");
                }
                self.pos += 1;
                out.push('}');
                Ok(out)
            }
            _ => Ok(String::new()),
        }
    }

    fn digits(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// After `\`: a single-character escape, a multi-character escape or a category escape.
    /// Inside a class the result is class items (no brackets) where possible.
    fn escape(&mut self, in_class: bool) -> Result<String> {
        let Some(c) = self.peek() else {
            return self.fail("`\\` at the end");
        };
        self.pos += 1;
        let wrap = |items: &str, negated: bool| {
            if in_class && !negated {
                items.to_owned()
            } else if negated {
                format!("[^{items}]")
            } else {
                format!("[{items}]")
            }
        };
        Ok(match c {
            'n' => "\\n".to_owned(),
            'r' => "\\r".to_owned(),
            't' => "\\t".to_owned(),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^' => {
                format!("\\{c}")
            }
            'd' => "\\p{Nd}".to_owned(),
            'D' => "\\P{Nd}".to_owned(),
            's' => wrap(" \\t\\n\\r", false),
            'S' => wrap(" \\t\\n\\r", true),
            'w' => "[^\\p{P}\\p{Z}\\p{C}]".to_owned(),
            'W' => "[\\p{P}\\p{Z}\\p{C}]".to_owned(),
            'p' | 'P' => {
                if self.peek() != Some('{') {
                    return self.fail(&format!("`\\{c}` without `{{`"));
                }
                let start = self.pos + 1;
                let Some(len) = self.chars[start..].iter().position(|&ch| ch == '}') else {
                    return self.fail("unclosed `\\p{`");
                };
                let name: String = self.chars[start..start + len].iter().collect();
                self.pos = start + len + 1;
                if !is_general_category(&name) {
                    return self.fail(&format!(
                        "unsupported character property `\\{c}{{{name}}}` (only Unicode general \
                         categories are translated; blocks `Is…` are not)"
                    ));
                }
                format!("\\{c}{{{name}}}")
            }
            'i' | 'I' | 'c' | 'C' => {
                return self.fail(&format!(
                    "unsupported XML name escape `\\{c}` (not used by the KSeF schemas)"
                ));
            }
            other => return self.fail(&format!("unknown escape `\\{other}`")),
        })
    }

    /// After `[`: a character class, possibly negated, possibly with a subtraction.
    fn class(&mut self) -> Result<String> {
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return self.fail("unclosed `[`");
            };
            match c {
                ']' if !first => {
                    self.pos += 1;
                    break;
                }
                '-' if self.chars.get(self.pos + 1) == Some(&'[') && !first => {
                    self.pos += 2;
                    let sub = self.class()?;
                    // `sub` is `[...]`: intersect with its complement.
                    let inner = &sub[1..sub.len() - 1];
                    out.push_str(&format!("&&[^{inner}]"));
                    if self.peek() != Some(']') {
                        return self.fail("subtraction must end the class");
                    }
                    self.pos += 1;
                    break;
                }
                '[' => return self.fail("unescaped `[` inside a class"),
                _ => {
                    let start = self.class_char()?;
                    // A range `a-z` (a `-` before `]` or `[` is a literal or a subtraction).
                    if self.peek() == Some('-')
                        && !matches!(self.chars.get(self.pos + 1), Some(']' | '[') | None)
                    {
                        let Some(lo) = start.1 else {
                            return self.fail("range starting with a multi-character escape");
                        };
                        self.pos += 1;
                        let end = self.class_char()?;
                        let Some(hi) = end.1 else {
                            return self.fail("range ending with a multi-character escape");
                        };
                        if hi < lo {
                            return self.fail("range out of order");
                        }
                        out.push_str(&start.0);
                        out.push('-');
                        out.push_str(&end.0);
                    } else {
                        out.push_str(&start.0);
                    }
                }
            }
            first = false;
        }
        out.push(']');
        Ok(out)
    }

    /// One class item: its translation and, if it is a single character, that character.
    fn class_char(&mut self) -> Result<(String, Option<char>)> {
        let c = self.chars[self.pos];
        self.pos += 1;
        if c == '\\' {
            let single = self.peek();
            let text = self.escape(true)?;
            let ch = match single {
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                Some('t') => Some('\t'),
                Some(
                    ch @ ('\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '['
                    | ']' | '^'),
                ) => Some(ch),
                _ => None,
            };
            return Ok((text, ch));
        }
        let text = match c {
            '&' | '~' | '-' | '^' | ']' | '[' => format!("\\{c}"),
            c => c.to_string(),
        };
        Ok((text, Some(c)))
    }
}

/// A literal character outside a class, escaped if the `regex` crate would read it as syntax.
fn literal(c: char) -> String {
    match c {
        '^' | '$' | '&' | '~' | '#' | '-' => format!("\\{c}"),
        ' ' => "\\x20".to_owned(),
        c => c.to_string(),
    }
}

fn is_general_category(name: &str) -> bool {
    matches!(
        name,
        "L" | "Lu"
            | "Ll"
            | "Lt"
            | "Lm"
            | "Lo"
            | "M"
            | "Mn"
            | "Mc"
            | "Me"
            | "N"
            | "Nd"
            | "Nl"
            | "No"
            | "P"
            | "Pc"
            | "Pd"
            | "Ps"
            | "Pe"
            | "Pi"
            | "Pf"
            | "Po"
            | "Z"
            | "Zs"
            | "Zl"
            | "Zp"
            | "S"
            | "Sm"
            | "Sc"
            | "Sk"
            | "So"
            | "C"
            | "Cc"
            | "Cf"
            | "Co"
            | "Cn"
    )
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn matches(xsd: &str, value: &str) -> bool {
        let re = regex::Regex::new(&translate(xsd).unwrap()).unwrap();
        re.is_match(value)
    }

    #[test]
    fn anchors_and_groups() {
        assert_eq!(
            translate("\\d{2}/\\d{2}").unwrap(),
            "^(?:\\p{Nd}{2}/\\p{Nd}{2})$"
        );
        assert!(matches("\\d{11}", "12345678901"));
        assert!(!matches("\\d{11}", "123456789012"));
        assert!(!matches("\\d{11}", "x12345678901"));
        assert!(matches("(a|b)c", "bc"));
        assert!(!matches("a|bc", "ac"), "alternation is inside the anchors");
    }

    #[test]
    fn dot_and_whitespace_follow_xsd() {
        assert!(matches("(.)+@(.)+", "a@b"));
        assert!(!matches("(.)+@(.)+", "a\r@b"), "XSD `.` excludes CR");
        assert!(
            !matches("\\s", "\u{a0}"),
            "XSD `\\s` is only space, tab, CR, LF"
        );
        assert!(matches("[^\\s?#]+", "abc"));
        assert!(!matches("[^\\s?#]+", "a c"));
        assert!(matches("\\S+", "abc"));
    }

    #[test]
    fn caret_and_dollar_are_literals() {
        assert!(matches("a^b$", "a^b$"));
        assert!(matches("[$^]", "^"));
    }

    #[test]
    fn classes_ranges_and_escapes() {
        assert!(matches("[A-OQ-Z][A-Z]", "DE"));
        assert!(!matches("[A-OQ-Z][A-Z]", "PL"));
        assert!(matches("[a-zA-Z0-9-]+", "a-b"));
        assert!(matches("(\\d|[A-Z]|\\+|\\*){1,12}", "AB+*12"));
        assert!(matches("x&amp;y", "x&amp;y"));
        assert!(matches("[&~]", "~"));
        assert!(matches("\\p{Lu}\\P{Lu}", "Ab"));
    }

    #[test]
    fn subtraction_becomes_intersection() {
        assert_eq!(translate("[a-z-[aeiou]]").unwrap(), "^(?:[a-z&&[^aeiou]])$");
        assert!(matches("[a-z-[aeiou]]+", "xyz"));
        assert!(!matches("[a-z-[aeiou]]+", "xaz"));
    }

    #[test]
    fn unsupported_constructs_are_refused_by_name() {
        let err = translate("\\i\\c*").unwrap_err().to_string();
        assert!(err.contains("\\i"), "{err}");
        let err = translate("\\p{IsBasicLatin}").unwrap_err().to_string();
        assert!(err.contains("IsBasicLatin"), "{err}");
        assert!(translate("(ab").is_err());
        assert!(translate("ab)").is_err());
        assert!(translate("[ab").is_err());
        assert!(translate("a{3,1}").is_err());
        assert!(translate("*a").is_err());
        assert!(translate("\\q").is_err());
    }

    #[test]
    fn every_schema_pattern_translates_and_compiles() {
        for xsd in [
            "((\\d{4})-(\\d{2})-(\\d{2}))",
            "[1-9]((\\d[1-9])|([1-9]\\d))\\d{7}",
            "-?([1-9]\\d{0,13}|0)(\\.\\d{1,8})?",
            "(https?)://([a-zA-Z0-9][a-zA-Z0-9-]*\\.)+[a-zA-Z]{2,}(:[0-9]{1,5})?(/[^\\s?#]*)?\\?([^#\\s]*&)?IPKSeF=[0-9]{3}[a-zA-Z0-9]{10}(&[^#\\s]*)?(#.*)?",
            "[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3}){0,1}",
        ] {
            let translated = translate(xsd).unwrap();
            regex::Regex::new(&translated).unwrap_or_else(|e| panic!("{xsd} -> {translated}: {e}"));
        }
        assert!(matches("-?([1-9]\\d{0,13}|0)(\\.\\d{1,8})?", "-12.5"));
        assert!(!matches("-?([1-9]\\d{0,13}|0)(\\.\\d{1,8})?", "012.5"));
    }
}
