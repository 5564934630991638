//! The target language: which agents an action runs on.
//!
//! MIG pasted the target, a PostgreSQL WHERE clause, into its SQL: an injection hole. We keep
//! the syntax investigators know (`status='online' and os='linux'`,
//! `heartbeattime > NOW() - interval '1 minute'`, `environment->>'ident' like 'Debian%'`), but
//! parse it and accept only an allow-list: agent columns, comparisons, LIKE/ILIKE, IN lists,
//! IS [NOT] NULL, AND/OR/NOT, `NOW() - interval '…'`, and the one subquery MIG users write
//! ("agents whose command for action N found something"), also spelled `found(N)` /
//! `notfound(N)`. Everything else is refused with an error quoting the offending part. The
//! result is an AST; the store renders it with bound parameters for SQLite or PostgreSQL.

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget,
    ObjectNamePart, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use std::fmt;

/// Targets longer than this are refused before parsing.
pub const MAX_TARGET_LEN: usize = 8192;

/// A checked target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `a AND b`: both hold.
    And(Box<Target>, Box<Target>),
    /// `a OR b`: either holds.
    Or(Box<Target>, Box<Target>),
    /// `NOT a`: it does not hold.
    Not(Box<Target>),
    /// `column op value`, such as `pid > 100`.
    Compare {
        /// The agent column compared.
        column: Column,
        /// The comparison, with the column on its left.
        op: CmpOp,
        /// The value, in the column's type.
        value: Literal,
    },
    /// `column [NOT] LIKE 'pattern'`, or ILIKE.
    Like {
        /// The agent column matched.
        column: Column,
        /// The SQL pattern: `%` for any run of characters, `_` for one.
        pattern: String,
        /// `NOT LIKE`: the agents that do not match.
        negated: bool,
        /// `ILIKE`: case is ignored.
        case_insensitive: bool,
    },
    /// `column [NOT] IN (v1, v2, …)`.
    In {
        /// The agent column.
        column: Column,
        /// The values, each in the column's type; never empty.
        values: Vec<Literal>,
        /// `NOT IN`: the agents whose value is none of them.
        negated: bool,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The agent column.
        column: Column,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// Agents whose command for `action` found something (`found`) or finished without
    /// finding anything (`!found`); `negated` selects the other agents.
    ActionResult {
        /// The action's ID.
        action: u64,
        /// Whether the command must have found something, or finished finding nothing.
        found: bool,
        /// `NOT IN (…)`: the agents the condition does not select.
        negated: bool,
    },
    /// A constant: `true` selects every agent, `false` none.
    Bool(bool),
}

/// An agent column a target may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// `id`: the server's ID for the agent.
    Id,
    /// `name`: the host's name.
    Name,
    /// `queueloc`: where the agent's commands go.
    QueueLoc,
    /// `os`: the OS family (`linux`, `darwin`, `windows`).
    Os,
    /// `arch`: the CPU architecture (`amd64`, `arm64`).
    Arch,
    /// `version`: the agent's version.
    Version,
    /// `mode`: `daemon` or `checkin`.
    Mode,
    /// `status`: `online`, `idle`, `offline`…
    Status,
    /// `pid`: the agent's process ID.
    Pid,
    /// `starttime`: when the agent's process started.
    StartTime,
    /// `heartbeattime` (or MIG's `heartbeatts`): when the agent's last heartbeat arrived.
    HeartbeatTime,
    /// `environment->>'key'`
    Environment(String),
    /// `tags->>'key'`
    Tag(String),
}

/// What kind of values a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Integers: `id` and `pid`.
    Int,
    /// Text: every column that is neither an integer nor a time.
    Text,
    /// Unix milliseconds.
    Time,
}

impl Column {
    /// What kind of values it holds, which decides how a literal compared with it is read.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Column::Id | Column::Pid => ColumnType::Int,
            Column::StartTime | Column::HeartbeatTime => ColumnType::Time,
            _ => ColumnType::Text,
        }
    }

    fn from_name(name: &str) -> Option<Column> {
        Some(match name {
            "id" => Column::Id,
            "name" => Column::Name,
            "queueloc" => Column::QueueLoc,
            "os" => Column::Os,
            "arch" => Column::Arch,
            "version" => Column::Version,
            "mode" => Column::Mode,
            "status" => Column::Status,
            "pid" => Column::Pid,
            "starttime" => Column::StartTime,
            "heartbeattime" | "heartbeatts" => Column::HeartbeatTime,
            _ => return None,
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>` or `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CmpOp {
    /// The operator as SQL writes it.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }

    /// The operator with its sides swapped (`5 < pid` is `pid > 5`).
    fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }
}

/// A literal, already converted to the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer, for an integer column.
    Int(i64),
    /// Text, for a text column.
    Text(String),
    /// An instant, for a time column.
    Time(TimeValue),
}

/// Times are resolved when the target is rendered, so `NOW()` means "when the query runs".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// Unix milliseconds.
    Absolute(i64),
    /// NOW() minus this many milliseconds (0 for NOW() itself).
    NowMinus(i64),
}

impl TimeValue {
    /// Unix milliseconds, taking `now_ms` as `NOW()`.
    pub fn resolve(self, now_ms: i64) -> i64 {
        match self {
            TimeValue::Absolute(ms) => ms,
            TimeValue::NowMinus(ms) => now_ms.saturating_sub(ms),
        }
    }
}

/// Why a target was refused; `Display` quotes the offending part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError(pub String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid target: {}", self.0)
    }
}

impl std::error::Error for TargetError {}

fn refuse<T>(msg: impl Into<String>) -> Result<T, TargetError> {
    Err(TargetError(msg.into()))
}

const ALLOWED_COLUMNS: &str =
    "id, name, queueloc, os, arch, version, mode, status, pid, starttime, \
heartbeattime, environment->>'key', tags->>'key'";

/// Parses and checks a target.
pub fn parse(text: &str) -> Result<Target, TargetError> {
    if text.trim().is_empty() {
        return refuse("the target is empty");
    }
    if text.len() > MAX_TARGET_LEN {
        return refuse(format!(
            "the target is longer than {MAX_TARGET_LEN} characters"
        ));
    }
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| TargetError(format!("cannot read `{text}`: {e}")))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| TargetError(format!("cannot parse `{text}`: {e}")))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return refuse(format!(
            "unexpected `{}` after the condition `{expr}`",
            next.token
        ));
    }
    check_size(&expr)?;
    convert(&expr)
}

/// Conditions one target may combine at most.
pub const MAX_TARGET_TERMS: usize = 256;
/// How deeply conditions may nest: ANDs, ORs and NOTs inside one another (a chain of N ORs
/// nests N - 1 deep). Databases refuse expressions past a depth of their own (SQLite: 1000).
pub const MAX_TARGET_DEPTH: usize = 256;
/// Values one IN list may hold.
pub const MAX_IN_VALUES: usize = 1000;

/// Refuses targets too large for a database to take in one statement (a hostile target must
/// get a clear error at the API, not stall the scheduler), before anything recurses over
/// them: the parsed expression is measured with a stack of its own.
fn check_size(expr: &Expr) -> Result<(), TargetError> {
    let mut terms = 0usize;
    let mut deepest = 0usize;
    let mut stack = vec![(expr, 0usize)];
    while let Some((e, depth)) = stack.pop() {
        // The text is at most MAX_TARGET_LEN characters: the walk is short whatever its shape.
        deepest = deepest.max(depth);
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or,
                right,
            } => {
                stack.push((left, depth + 1));
                stack.push((right, depth + 1));
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            }
            | Expr::Nested(inner) => stack.push((inner, depth + 1)),
            Expr::In {
                target: InTarget::List(items),
                ..
            } if items.len() > MAX_IN_VALUES => {
                return refuse(format!(
                    "an IN list holds {} values, more than the {MAX_IN_VALUES} allowed",
                    items.len()
                ));
            }
            _ => terms += 1,
        }
    }
    if terms > MAX_TARGET_TERMS {
        return refuse(format!(
            "the target combines {terms} conditions, more than the {MAX_TARGET_TERMS} allowed (use `column IN (…)` for long lists)"
        ));
    }
    if deepest > MAX_TARGET_DEPTH {
        return refuse(format!(
            "the target nests {deepest} levels deep, more than the {MAX_TARGET_DEPTH} allowed"
        ));
    }
    Ok(())
}

fn convert(expr: &Expr) -> Result<Target, TargetError> {
    match expr {
        Expr::Nested(inner) => convert(inner),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => Ok(Target::And(
                Box::new(convert(left)?),
                Box::new(convert(right)?),
            )),
            BinaryOperator::Or => Ok(Target::Or(
                Box::new(convert(left)?),
                Box::new(convert(right)?),
            )),
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => comparison(expr, left, op, right),
            other => refuse(format!("operator `{other}` is not allowed in `{expr}`")),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: inner,
        } => Ok(Target::Not(Box::new(convert(inner)?))),
        Expr::Like {
            negated,
            any: false,
            expr: col,
            pattern,
            escape_char: None,
        } => like(expr, col, pattern, *negated, false),
        Expr::ILike {
            negated,
            any: false,
            expr: col,
            pattern,
            escape_char: None,
        } => like(expr, col, pattern, *negated, true),
        Expr::In {
            expr: col,
            target,
            negated,
            ..
        } => match target {
            InTarget::List(items) => {
                let column = column(col)?;
                if items.is_empty() {
                    return refuse(format!("empty IN list in `{expr}`"));
                }
                let values = items
                    .iter()
                    .map(|v| literal_for(&column, v, expr))
                    .collect::<Result<_, _>>()?;
                Ok(Target::In {
                    column,
                    values,
                    negated: *negated,
                })
            }
            InTarget::Subquery(query) => {
                if column(col)? != Column::Id {
                    return refuse(format!("only `id IN (…)` may use a subquery, in `{expr}`"));
                }
                let (action, found) = mig_result_subquery(&query.to_string())
                    .ok_or_else(|| TargetError(format!("subquery `{query}` is not allowed: only MIG's \"agents whose command for action N found (or did not find) anything\" form, or found(N) / notfound(N)")))?;
                Ok(Target::ActionResult {
                    action,
                    found,
                    negated: *negated,
                })
            }
            _ => refuse(format!("`{expr}` is not allowed")),
        },
        Expr::IsNull(col) => Ok(Target::IsNull {
            column: column(col)?,
            negated: false,
        }),
        Expr::IsNotNull(col) => Ok(Target::IsNull {
            column: column(col)?,
            negated: true,
        }),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let found = match name.as_str() {
                "found" => true,
                "notfound" => false,
                _ => {
                    return refuse(format!(
                        "function `{expr}` is not allowed (only found(N) and notfound(N))"
                    ))
                }
            };
            let action = single_integer_arg(&f.args).ok_or_else(|| {
                TargetError(format!(
                    "`{expr}`: expected one action ID, e.g. found(1234)"
                ))
            })?;
            Ok(Target::ActionResult {
                action,
                found,
                negated: false,
            })
        }
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => Ok(Target::Bool(*b)),
            _ => refuse(format!("`{expr}` is not a condition")),
        },
        _ => refuse(format!("`{expr}` is not allowed")),
    }
}

fn comparison(
    whole: &Expr,
    left: &Expr,
    op: &BinaryOperator,
    right: &Expr,
) -> Result<Target, TargetError> {
    let op = match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::NotEq,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::LtEq,
        BinaryOperator::Gt => CmpOp::Gt,
        _ => CmpOp::GtEq,
    };
    // Column on the left, or on the right (`'linux' = os`).
    let (column, value, op) = match column(left) {
        Ok(c) => (c, right, op),
        Err(left_err) => match column(right) {
            Ok(c) => (c, left, op.flipped()),
            Err(_) => {
                if is_literal(left) && is_literal(right) {
                    // `1=1` and friends: the classic injection filler.
                    return refuse(format!(
                        "`{whole}` compares two constants; name an agent column"
                    ));
                }
                return Err(left_err);
            }
        },
    };
    let value = literal_for(&column, value, whole)?;
    Ok(Target::Compare { column, op, value })
}

fn like(
    whole: &Expr,
    col: &Expr,
    pattern: &Expr,
    negated: bool,
    case_insensitive: bool,
) -> Result<Target, TargetError> {
    let column = column(col)?;
    let pattern = match string_literal(pattern) {
        Some(s) => s,
        None => return refuse(format!("LIKE needs a quoted pattern, in `{whole}`")),
    };
    Ok(Target::Like {
        column,
        pattern,
        negated,
        case_insensitive,
    })
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(_))
        || matches!(e, Expr::UnaryOp { op: UnaryOperator::Minus, expr } if matches!(**expr, Expr::Value(_)))
}

/// An agent column: a plain name (`os`, `agents.os`), or a JSON field of environment or tags.
fn column(e: &Expr) -> Result<Column, TargetError> {
    match e {
        Expr::Nested(inner) => column(inner),
        Expr::Identifier(id) => named_column(id, e),
        Expr::CompoundIdentifier(parts)
            if parts.len() == 2 && parts[0].value.eq_ignore_ascii_case("agents") =>
        {
            named_column(&parts[1], e)
        }
        Expr::BinaryOp { left, op, right }
            if matches!(
                op,
                BinaryOperator::LongArrow | BinaryOperator::HashLongArrow
            ) =>
        {
            let base = match &**left {
                Expr::Identifier(id) => id.value.to_ascii_lowercase(),
                Expr::CompoundIdentifier(p)
                    if p.len() == 2 && p[0].value.eq_ignore_ascii_case("agents") =>
                {
                    p[1].value.to_ascii_lowercase()
                }
                _ => {
                    return refuse(format!(
                        "`{e}`: only environment->>'key' and tags->>'key' are allowed"
                    ))
                }
            };
            let Some(raw) = string_literal(right) else {
                return refuse(format!("`{e}`: the key must be a quoted string"));
            };
            // MIG writes environment#>>'{ident}'; nested paths are not agent fields.
            let key = if *op == BinaryOperator::HashLongArrow {
                match raw.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
                    Some(k) if !k.contains(',') => k.to_string(),
                    _ => {
                        return refuse(format!("`{e}`: expected a single key such as '{{ident}}'"))
                    }
                }
            } else {
                raw
            };
            let key_ok = !key.is_empty()
                && key.len() <= 128
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !key_ok {
                return refuse(format!(
                    "`{e}`: the key must have 1 to 128 letters, digits, '_', '-' or '.'"
                ));
            }
            match base.as_str() {
                "environment" => Ok(Column::Environment(key)),
                "tags" => Ok(Column::Tag(key)),
                _ => refuse(format!("`{e}`: only environment and tags hold JSON fields")),
            }
        }
        _ => refuse(format!(
            "`{e}` is not an agent column (allowed: {ALLOWED_COLUMNS})"
        )),
    }
}

fn named_column(id: &Ident, whole: &Expr) -> Result<Column, TargetError> {
    Column::from_name(&id.value.to_ascii_lowercase()).ok_or_else(|| {
        TargetError(format!(
            "`{whole}` is not an agent column (allowed: {ALLOWED_COLUMNS})"
        ))
    })
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Nested(inner) => string_literal(inner),
        _ => None,
    }
}

fn integer_literal(e: &Expr) -> Option<i64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => integer_literal(expr).map(|n| -n),
        Expr::Nested(inner) => integer_literal(inner),
        _ => None,
    }
}

/// Converts a literal to the column's type; the error quotes the whole condition.
fn literal_for(column: &Column, e: &Expr, whole: &Expr) -> Result<Literal, TargetError> {
    match column.column_type() {
        ColumnType::Int => {
            if let Some(n) = integer_literal(e) {
                return Ok(Literal::Int(n));
            }
            if let Some(n) = string_literal(e).and_then(|s| s.trim().parse().ok()) {
                return Ok(Literal::Int(n));
            }
            refuse(format!("`{e}` is not an integer, in `{whole}`"))
        }
        ColumnType::Text => {
            if let Some(s) = string_literal(e) {
                return Ok(Literal::Text(s));
            }
            if let Expr::Value(v) = e {
                if let Value::Number(n, _) = &v.value {
                    return Ok(Literal::Text(n.clone()));
                }
            }
            refuse(format!("`{e}` is not a quoted string, in `{whole}`"))
        }
        ColumnType::Time => time_literal(e)
            .map(Literal::Time)
            .ok_or_else(|| TargetError(format!("`{e}` is not a time (use NOW() - interval '10 minutes' or '2026-01-31T12:00:00Z'), in `{whole}`"))),
    }
}

fn time_literal(e: &Expr) -> Option<TimeValue> {
    match e {
        Expr::Nested(inner) => time_literal(inner),
        Expr::Function(f) if is_now(f) => Some(TimeValue::NowMinus(0)),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Minus,
            right,
        } => match (&**left, &**right) {
            (Expr::Function(f), Expr::Interval(iv)) if is_now(f) && iv.leading_field.is_none() => {
                let text = string_literal(&iv.value)?;
                parse_interval(&text).map(TimeValue::NowMinus)
            }
            _ => None,
        },
        _ => {
            let s = string_literal(e)?;
            parse_time_text(&s).map(TimeValue::Absolute)
        }
    }
}

fn is_now(f: &sqlparser::ast::Function) -> bool {
    let no_args = match &f.args {
        FunctionArguments::None => true,
        FunctionArguments::List(l) => l.args.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    no_args
        && f.name.0.len() == 1
        && matches!(&f.name.0[0], ObjectNamePart::Identifier(id) if id.value.eq_ignore_ascii_case("now"))
}

fn single_integer_arg(args: &FunctionArguments) -> Option<u64> {
    let FunctionArguments::List(list) = args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => {
            integer_literal(e).and_then(|n| u64::try_from(n).ok())
        }
        _ => None,
    }
}

/// `'10 minutes'`, `'1 hour'`, `'2 days 3 hours'`, `'90 s'` → milliseconds.
pub fn parse_interval(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let mut total: i64 = 0;
    for pair in words.chunks(2) {
        let n: i64 = pair[0].parse().ok()?;
        let unit_ms: i64 = match pair[1].to_ascii_lowercase().trim_end_matches('s') {
            "" | "sec" | "second" => 1_000,
            "m" | "min" | "minute" => 60_000,
            "h" | "hour" => 3_600_000,
            "d" | "day" => 86_400_000,
            "w" | "week" => 7 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(total)
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or `YYYY-MM-DD`.
fn parse_time_text(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Recognises MIG's subquery:
/// `select agentid from commands, json_array_elements(commands.results) as r
///  where actionid=N and r#>>'{foundanything}' = 'true'` (either condition first).
fn mig_result_subquery(query: &str) -> Option<(u64, bool)> {
    let q = query
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let rest = q.strip_prefix(
        "select agentid from commands, json_array_elements(commands.results) as r where ",
    )?;
    let (a, b) = rest.split_once(" and ")?;
    let parse_action =
        |s: &str| -> Option<u64> { s.strip_prefix("actionid = ")?.trim().parse().ok() };
    let parse_found = |s: &str| -> Option<bool> {
        match s.trim() {
            "r #>> '{foundanything}' = 'true'" => Some(true),
            "r #>> '{foundanything}' = 'false'" => Some(false),
            _ => None,
        }
    };
    match (parse_action(a), parse_found(b)) {
        (Some(id), Some(f)) => Some((id, f)),
        _ => Some((parse_action(b)?, parse_found(a)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str) -> Target {
        parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn err(t: &str) -> String {
        parse(t).unwrap_err().to_string()
    }

    #[test]
    fn migs_everyday_targets() {
        assert_eq!(
            ok("status='online'"),
            Target::Compare {
                column: Column::Status,
                op: CmpOp::Eq,
                value: Literal::Text("online".into())
            }
        );
        ok("name like '%'");
        ok("agents.queueloc like 'linux.%'");
        ok("os='linux' and (arch='amd64' or arch = 'arm64') and not mode='checkin'");
        ok("version='201409171023+c4d6f50.prod' and heartbeattime > NOW() - interval '1 minute'");
        ok("environment->>'ident' ILIKE 'debian%'");
        ok("environment#>>'{ident}' NOT LIKE 'Red Hat%'");
        ok("tags->>'operator' = 'IT'");
        ok("id IN (1, 2, 3) or pid is not null");
        ok("name IN ('a', 'b') AND pid > 100");
        ok("starttime < '2026-01-01T00:00:00Z'");
        ok("TRUE");
    }

    #[test]
    fn now_minus_interval_is_resolved_later() {
        match ok("heartbeattime > NOW() - interval '10 minutes'") {
            Target::Compare {
                value: Literal::Time(t),
                ..
            } => assert_eq!(t.resolve(1_000_000), 1_000_000 - 600_000),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_interval("2 days 3 hours"),
            Some(2 * 86_400_000 + 3 * 3_600_000)
        );
        assert_eq!(parse_interval("90 s"), Some(90_000));
        assert_eq!(parse_interval("forever"), None);
    }

    #[test]
    fn migs_found_subquery_and_the_short_form() {
        let mig = "id IN (select agentid from commands, json_array_elements(commands.results) as r where actionid=1234 and r#>>'{foundanything}' = 'true')";
        assert_eq!(
            ok(mig),
            Target::ActionResult {
                action: 1234,
                found: true,
                negated: false
            }
        );
        let mig_not = "id NOT IN (select agentid from commands, json_array_elements(commands.results) as r where r#>>'{foundanything}' = 'false' and actionid=7)";
        assert_eq!(
            ok(mig_not),
            Target::ActionResult {
                action: 7,
                found: false,
                negated: true
            }
        );
        assert_eq!(
            ok("found(99)"),
            Target::ActionResult {
                action: 99,
                found: true,
                negated: false
            }
        );
        assert_eq!(
            ok("notfound(99) and os='linux'"),
            Target::And(
                Box::new(Target::ActionResult {
                    action: 99,
                    found: false,
                    negated: false
                }),
                Box::new(Target::Compare {
                    column: Column::Os,
                    op: CmpOp::Eq,
                    value: Literal::Text("linux".into())
                })
            )
        );
    }

    #[test]
    fn injection_attempts_are_refused_with_the_offending_part() {
        let cases = [
            ("status='online'; DROP TABLE agents", "unexpected `;`"),
            ("status='online' OR 1=1", "compares two constants"),
            ("password='x'", "`password` is not an agent column"),
            (
                "id IN (SELECT id FROM investigators)",
                "subquery `SELECT id FROM investigators` is not allowed",
            ),
            (
                "pg_sleep(10) IS NULL",
                "`pg_sleep(10)` is not an agent column",
            ),
            (
                "name = (SELECT name FROM agents LIMIT 1)",
                "is not a quoted string",
            ),
            ("status='online' UNION SELECT 1", "unexpected"),
            ("name LIKE 'a%' ESCAPE '!'", "is not allowed"),
            ("environment->>'a'->>'b' = 'x'", "only environment->>'key'"),
            ("environment#>>'{a,b}' = 'x'", "single key"),
            ("tags->>'a\"b' = 'x'", "letters, digits"),
            ("lower(name) = 'x'", "`lower(name)` is not an agent column"),
            ("status = 'a' || 'b'", "is not a quoted string"),
            ("pid = 'abc'", "is not an integer"),
            ("heartbeattime > 'yesterday'", "is not a time"),
            ("", "empty"),
            ("status='online' -- comment\n OR TRUE", "OR"),
        ];
        for (target, want) in cases {
            let e = parse(target);
            match e {
                Err(e) => assert!(
                    e.to_string().contains(want),
                    "{target}: {e} (wanted {want:?})"
                ),
                Ok(t) if want == "OR" => {
                    // Comments are ignored by the tokenizer; the OR TRUE is then a real condition,
                    // harmless because it is still only a condition on agents.
                    assert!(matches!(t, Target::Or(..)));
                }
                Ok(t) => panic!("{target} was accepted as {t:?}"),
            }
        }
        assert!(err(&"a".repeat(MAX_TARGET_LEN + 1)).contains("longer"));
        // Hostile sizes get a clear error instead of reaching the database.
        let ors = vec!["id=1"; 999].join(" OR ");
        assert!(ors.len() < MAX_TARGET_LEN);
        assert!(
            err(&ors).contains("combines 999 conditions"),
            "{}",
            err(&ors)
        );
        let fine = vec!["name='a'"; MAX_TARGET_TERMS].join(" OR ");
        assert!(parse(&fine).is_ok());
        // Deep nesting without many conditions: refused (by the parser's own recursion limit
        // before the depth limit is reached), not a stack overflow.
        let nots = format!("{}TRUE", "NOT ".repeat(300));
        assert!(parse(&nots).is_err());
        let parens = format!("{}TRUE{}", "(".repeat(3000), ")".repeat(3000));
        assert!(parse(&parens).is_err());
        let list = (0..1200)
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",");
        let long_in = format!("name IN ({list})");
        assert!(
            err(&long_in).contains("more than the 1000"),
            "{}",
            err(&long_in)
        );
        let deep = format!("{}status='x'{}", "(".repeat(500), ")".repeat(500));
        assert!(
            parse(&deep).is_err(),
            "deep nesting must be refused, not overflow the stack"
        );
    }
}
