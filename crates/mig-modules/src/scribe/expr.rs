//! Boolean expressions over tests, the "logic parser for actions that have multiple tests"
//! of MIG's roadmap: `(((test1 and test2) or test3) and test4)`.
//!
//! Grammar (keywords are case-insensitive; `not` binds tighter than `and`, `and` tighter than
//! `or`):
//!
//! ```text
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | primary
//! primary := "(" or ")" | <test id>
//! ```
//!
//! A test id is any run of characters other than white space and parentheses; `and`, `or`
//! and `not` cannot be used as ids in an expression.

/// A parsed expression; `T` is a test name while parsing, an index once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr<T> {
    /// A test, by id.
    Test(T),
    /// True when the inner expression is false.
    Not(Box<Expr<T>>),
    /// True when every inner expression is.
    And(Vec<Expr<T>>),
    /// True when any inner expression is.
    Or(Vec<Expr<T>>),
}

/// Deep enough for any expression a person writes; bounds the parser's recursion.
const MAX_NESTING: usize = 64;
/// Longer than any sensible combination of tests.
pub(crate) const MAX_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    Not,
    Name(&'a str),
}

fn word(w: &str) -> Token<'_> {
    if w.eq_ignore_ascii_case("and") {
        Token::And
    } else if w.eq_ignore_ascii_case("or") {
        Token::Or
    } else if w.eq_ignore_ascii_case("not") {
        Token::Not
    } else {
        Token::Name(w)
    }
}

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() || c == '(' || c == ')' {
            if let Some(st) = start.take() {
                out.push(word(&s[st..i]));
            }
            match c {
                '(' => out.push(Token::Open),
                ')' => out.push(Token::Close),
                _ => {}
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(word(&s[st..]));
    }
    out
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

fn describe(t: Option<&Token<'_>>) -> String {
    match t {
        None => "the end".into(),
        Some(Token::Open) => "\"(\"".into(),
        Some(Token::Close) => "\")\"".into(),
        Some(Token::And) => "\"and\"".into(),
        Some(Token::Or) => "\"or\"".into(),
        Some(Token::Not) => "\"not\"".into(),
        Some(Token::Name(n)) => format!("{n:?}"),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self) -> Result<Expr<String>, String> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr<String>, String> {
        let mut terms = vec![self.unary()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary(&mut self) -> Result<Expr<String>, String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("nested more than {MAX_NESTING} levels deep"));
        }
        let e = match self.peek() {
            Some(Token::Not) => {
                self.pos += 1;
                Expr::Not(Box::new(self.unary()?))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(format!("expected \")\", found {}", describe(self.peek())));
                }
                self.pos += 1;
                inner
            }
            Some(Token::Name(n)) => {
                let n = n.to_string();
                self.pos += 1;
                Expr::Test(n)
            }
            other => return Err(format!("expected a test id, found {}", describe(other))),
        };
        self.depth -= 1;
        Ok(e)
    }
}

/// Parses an expression; the error says what was expected where.
pub(crate) fn parse(s: &str) -> Result<Expr<String>, String> {
    if s.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} bytes"));
    }
    let mut p = Parser {
        tokens: tokenize(s),
        pos: 0,
        depth: 0,
    };
    if p.tokens.is_empty() {
        return Err("empty expression".into());
    }
    let e = p.or()?;
    if p.pos < p.tokens.len() {
        return Err(format!(
            "unexpected {} after a complete expression",
            describe(p.peek())
        ));
    }
    Ok(e)
}

impl<T> Expr<T> {
    /// The same expression with every test name mapped (e.g. resolved to an index).
    pub(crate) fn try_map<U, E>(self, f: &mut impl FnMut(T) -> Result<U, E>) -> Result<Expr<U>, E> {
        Ok(match self {
            Expr::Test(t) => Expr::Test(f(t)?),
            Expr::Not(e) => Expr::Not(Box::new(e.try_map(f)?)),
            Expr::And(v) => Expr::And(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => Expr::Or(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The tests named, in order of first appearance.
    pub(crate) fn tests(&self) -> Vec<&T>
    where
        T: PartialEq,
    {
        fn walk<'e, T: PartialEq>(e: &'e Expr<T>, out: &mut Vec<&'e T>) {
            match e {
                Expr::Test(t) => {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
                Expr::Not(e) => walk(e, out),
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, out)),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The expression's value, given each test's value.
    pub(crate) fn eval(&self, value: &impl Fn(&T) -> bool) -> bool {
        match self {
            Expr::Test(t) => value(t),
            Expr::Not(e) => !e.eval(value),
            Expr::And(v) => v.iter().all(|e| e.eval(value)),
            Expr::Or(v) => v.iter().any(|e| e.eval(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Expr<String> {
        Expr::Test(s.into())
    }

    #[test]
    fn the_roadmaps_expression_parses_and_evaluates() {
        let e = parse("(((test1 and test2) or test3) and test4)").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::Or(vec![Expr::And(vec![t("test1"), t("test2")]), t("test3")]),
                t("test4")
            ])
        );
        let truth = |set: &[&str]| {
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            e.eval(&|name: &String| set.contains(name))
        };
        assert!(truth(&["test1", "test2", "test4"]));
        assert!(truth(&["test3", "test4"]));
        assert!(!truth(&["test1", "test2", "test3"]), "test4 is required");
        assert!(!truth(&["test1", "test4"]), "test1 alone is not enough");
        assert!(!truth(&[]));
        assert_eq!(e.tests(), vec!["test1", "test2", "test3", "test4"]);
    }

    #[test]
    fn precedence_not_then_and_then_or() {
        // a or b and not c  ==  a or (b and (not c))
        assert_eq!(
            parse("a OR b And NOT c").unwrap(),
            Expr::Or(vec![
                t("a"),
                Expr::And(vec![t("b"), Expr::Not(Box::new(t("c")))])
            ])
        );
        assert_eq!(
            parse("not not x").unwrap(),
            Expr::Not(Box::new(Expr::Not(Box::new(t("x")))))
        );
        assert_eq!(
            parse("(sshd-root)and(sshd.pw)").unwrap(),
            Expr::And(vec![t("sshd-root"), t("sshd.pw")])
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert_eq!(parse("").unwrap_err(), "empty expression");
        assert_eq!(
            parse("a and").unwrap_err(),
            "expected a test id, found the end"
        );
        assert_eq!(
            parse("(a or b").unwrap_err(),
            "expected \")\", found the end"
        );
        assert_eq!(
            parse("a b").unwrap_err(),
            "unexpected \"b\" after a complete expression"
        );
        assert_eq!(
            parse("a )").unwrap_err(),
            "unexpected \")\" after a complete expression"
        );
        assert_eq!(
            parse("and a").unwrap_err(),
            "expected a test id, found \"and\""
        );
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().contains("nested more than"));
        assert!(parse(&"a or ".repeat(5000))
            .unwrap_err()
            .contains("longer than"));
    }
}
