//! Renders a checked target into a SQL condition on the `agents` table, for SQLite or
//! PostgreSQL, with every literal as a bound parameter. Both renderings select the same agents.

use crate::Dialect;
use mig_core::target::{Column, Literal, Target};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer (IDs, Unix ms, limits).
    Int(i64),
    /// Text.
    Text(String),
}

/// Collects bound parameters while a query is assembled; `bind` returns the placeholder.
#[derive(Debug, Default)]
pub struct Binder {
    /// The parameters so far: `$1` is the first.
    pub params: Vec<Param>,
}

impl Binder {
    /// Adds a parameter; returns its placeholder (`$N`).
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// Appends a rendered target, whose placeholders must start after ours.
    pub fn append_target(&mut self, target: &Target, dialect: Dialect, now_ms: i64) -> String {
        let c = render(target, dialect, now_ms, self.params.len() + 1);
        self.params.extend(c.params);
        c.sql
    }
}

/// A condition and its parameters, numbered from `$first`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The SQL condition on `agents`, with `$N` placeholders.
    pub sql: String,
    /// The values of the placeholders, in order.
    pub params: Vec<Param>,
}

/// Renders `target` for `dialect`, resolving `NOW()` to `now_ms`. Placeholders start at
/// `$first` so the condition can follow other parameters.
pub fn render(target: &Target, dialect: Dialect, now_ms: i64, first: usize) -> Condition {
    let mut r = Renderer {
        dialect,
        now_ms,
        sql: String::new(),
        params: Vec::new(),
        first,
    };
    r.expr(target);
    Condition {
        sql: r.sql,
        params: r.params,
    }
}

struct Renderer {
    dialect: Dialect,
    now_ms: i64,
    sql: String,
    params: Vec<Param>,
    first: usize,
}

impl Renderer {
    fn bind(&mut self, p: Param) {
        self.params.push(p);
        let n = self.first + self.params.len() - 1;
        self.sql.push_str(&format!("${n}"));
    }

    fn literal(&mut self, v: &Literal) {
        let p = match v {
            Literal::Int(n) => Param::Int(*n),
            Literal::Text(s) => Param::Text(s.clone()),
            Literal::Time(t) => Param::Int(t.resolve(self.now_ms)),
        };
        self.bind(p);
    }

    fn column(&mut self, c: &Column) {
        let plain = match c {
            Column::Id => "agents.id",
            Column::Name => "agents.name",
            Column::QueueLoc => "agents.queueloc",
            Column::Os => "agents.os",
            Column::Arch => "agents.arch",
            Column::Version => "agents.version",
            Column::Mode => "agents.mode",
            Column::Status => "agents.status",
            Column::Pid => "agents.pid",
            Column::StartTime => "agents.starttime",
            Column::HeartbeatTime => "agents.heartbeattime",
            Column::Environment(key) => return self.json_field("agents.environment", key),
            Column::Tag(key) => return self.json_field("agents.tags", key),
        };
        self.sql.push_str(plain);
    }

    /// A string field of a JSON object stored as TEXT.
    fn json_field(&mut self, column: &str, key: &str) {
        match self.dialect {
            Dialect::Sqlite => {
                self.sql.push_str(&format!("json_extract({column}, "));
                // Keys are restricted to [A-Za-z0-9_.-] by the parser, so quoting is safe.
                self.bind(Param::Text(format!("$.\"{key}\"")));
                self.sql.push(')');
            }
            Dialect::Postgres => {
                self.sql.push_str(&format!("(CAST({column} AS jsonb) ->> "));
                self.bind(Param::Text(key.to_string()));
                self.sql.push(')');
            }
        }
    }

    fn expr(&mut self, t: &Target) {
        match t {
            Target::And(a, b) => self.binary(a, "AND", b),
            Target::Or(a, b) => self.binary(a, "OR", b),
            Target::Not(a) => {
                self.sql.push_str("(NOT ");
                self.expr(a);
                self.sql.push(')');
            }
            Target::Compare { column, op, value } => {
                self.sql.push('(');
                self.column(column);
                self.sql.push_str(&format!(" {} ", op.sql()));
                self.literal(value);
                self.sql.push(')');
            }
            Target::Like {
                column,
                pattern,
                negated,
                case_insensitive,
            } => self.like(column, pattern, *negated, *case_insensitive),
            Target::In {
                column,
                values,
                negated,
            } => {
                self.sql.push('(');
                self.column(column);
                self.sql
                    .push_str(if *negated { " NOT IN (" } else { " IN (" });
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(", ");
                    }
                    self.literal(v);
                }
                self.sql.push_str("))");
            }
            Target::IsNull { column, negated } => {
                self.sql.push('(');
                self.column(column);
                self.sql.push_str(if *negated {
                    " IS NOT NULL)"
                } else {
                    " IS NULL)"
                });
            }
            Target::ActionResult {
                action,
                found,
                negated,
            } => {
                self.sql.push_str(if *negated {
                    "(agents.id NOT IN (SELECT agentid FROM commands WHERE actionid = "
                } else {
                    "(agents.id IN (SELECT agentid FROM commands WHERE actionid = "
                });
                self.bind(Param::Int(*action as i64));
                self.sql.push_str(if *found {
                    " AND found = 1))"
                } else {
                    " AND found = 0 AND results IS NOT NULL))"
                });
            }
            Target::Bool(true) => self.sql.push_str("(1 = 1)"),
            Target::Bool(false) => self.sql.push_str("(1 = 0)"),
        }
    }

    fn binary(&mut self, a: &Target, op: &str, b: &Target) {
        self.sql.push('(');
        self.expr(a);
        self.sql.push_str(&format!(" {op} "));
        self.expr(b);
        self.sql.push(')');
    }

    /// PostgreSQL's LIKE is case-sensitive with `\` as escape; SQLite's LIKE is neither, so
    /// SQLite gets the equivalent GLOB.
    fn like(&mut self, column: &Column, pattern: &str, negated: bool, case_insensitive: bool) {
        self.sql.push_str(if negated { "(NOT (" } else { "((" });
        match self.dialect {
            Dialect::Postgres => {
                self.column(column);
                self.sql.push_str(if case_insensitive {
                    " ILIKE "
                } else {
                    " LIKE "
                });
                self.bind(Param::Text(pattern.to_string()));
            }
            Dialect::Sqlite => {
                let glob = like_to_glob(pattern);
                if case_insensitive {
                    self.sql.push_str("lower(");
                    self.column(column);
                    self.sql.push_str(") GLOB ");
                    self.bind(Param::Text(glob.to_lowercase()));
                } else {
                    self.column(column);
                    self.sql.push_str(" GLOB ");
                    self.bind(Param::Text(glob));
                }
            }
        }
        self.sql.push_str("))");
    }
}

/// `%` → `*`, `_` → `?`, `\x` → literal x; GLOB's own metacharacters quoted with brackets.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => match chars.next() {
                Some(n) => push_glob_literal(&mut out, n),
                None => push_glob_literal(&mut out, '\\'),
            },
            c => push_glob_literal(&mut out, c),
        }
    }
    out
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mig_core::target::parse;

    #[test]
    fn literals_are_parameters() {
        let t = parse("status='online' and name like 'web%' and pid in (1, 2)").unwrap();
        let c = render(&t, Dialect::Postgres, 0, 1);
        assert_eq!(
            c.sql,
            "(((agents.status = $1) AND ((agents.name LIKE $2))) AND (agents.pid IN ($3, $4)))"
        );
        assert_eq!(
            c.params,
            vec![
                Param::Text("online".into()),
                Param::Text("web%".into()),
                Param::Int(1),
                Param::Int(2)
            ]
        );
        let c = render(&t, Dialect::Sqlite, 0, 3);
        assert!(c.sql.contains("agents.name GLOB $4"), "{}", c.sql);
        assert_eq!(c.params[1], Param::Text("web*".into()));
    }

    #[test]
    fn like_patterns_become_globs() {
        assert_eq!(like_to_glob("linux.%"), "linux.*");
        assert_eq!(like_to_glob("a_b"), "a?b");
        assert_eq!(like_to_glob(r"100\%"), "100%");
        assert_eq!(like_to_glob("x*y?[z"), "x[*]y[?][[]z");
    }

    #[test]
    fn json_fields_and_times() {
        let t = parse(
            "environment->>'ident' = 'Debian' and heartbeattime > NOW() - interval '1 minute'",
        )
        .unwrap();
        let c = render(&t, Dialect::Sqlite, 100_000, 1);
        assert!(
            c.sql.contains("json_extract(agents.environment, $1)"),
            "{}",
            c.sql
        );
        assert_eq!(c.params[0], Param::Text("$.\"ident\"".into()));
        assert_eq!(c.params[2], Param::Int(40_000));
        let c = render(&t, Dialect::Postgres, 100_000, 1);
        assert!(
            c.sql.contains("(CAST(agents.environment AS jsonb) ->> $1)"),
            "{}",
            c.sql
        );
    }
}
