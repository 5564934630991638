//! The SQL functions osquery adds to SQLite, so that queries written for osquery run here:
//! string (`split`, `regex_split`, `regex_match`, `inet_aton`), `version_compare` and the
//! `version*` collations, `in_cidr_block`, base64, hashing and osquery's math. All are
//! deterministic and read nothing but their arguments. SQLite itself has `concat` and
//! `concat_ws` (3.44+).

use super::version::{self, Flavor};
use base64::Engine as _;
use mig_host::hash::hex;
use mig_host::net::IpMatch;
use regex::Regex;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Error, Result};
use sha1::Digest;
use std::sync::Arc;

const PURE: FunctionFlags = FunctionFlags::SQLITE_UTF8
    .union(FunctionFlags::SQLITE_DETERMINISTIC)
    .union(FunctionFlags::SQLITE_INNOCUOUS);

/// Regexes larger than this (compiled) are refused: a query must not eat the host's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn user_error(msg: String) -> Error {
    Error::UserFunctionError(msg.into())
}

/// The argument as text (numbers are written out, NULL is `None`).
fn text_arg(ctx: &Context<'_>, i: usize) -> Result<Option<String>> {
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    })
}

fn bytes_arg(ctx: &Context<'_>, i: usize) -> Option<Vec<u8>> {
    match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(t.to_vec()),
    }
}

fn index_arg(ctx: &Context<'_>, i: usize, name: &str) -> Result<usize> {
    let n: i64 = ctx
        .get(i)
        .map_err(|_| user_error(format!("{name}: the index must be an integer")))?;
    usize::try_from(n).map_err(|_| user_error(format!("{name}: the index must not be negative")))
}

/// The compiled regex of argument `i`, kept for the whole statement.
fn regex_arg(ctx: &Context<'_>, i: usize, name: &'static str) -> Result<Arc<Regex>> {
    ctx.get_or_create_aux(i as i32, |v| -> std::result::Result<Regex, Error> {
        let pattern = v
            .as_str()
            .map_err(|_| user_error(format!("{name}: the pattern must be text")))?;
        let build = |unicode: bool| {
            regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .unicode(unicode)
                .build()
        };
        // osquery's engine (std::regex) knows ASCII classes only: `(\w{40,})` is small there
        // and huge with Unicode's \w. Too big with Unicode classes, a pattern is compiled
        // with ASCII ones, as osquery would run it.
        build(true)
            .or_else(|e| match e {
                regex::Error::CompiledTooBig(_) => build(false).map_err(|_| e),
                other => Err(other),
            })
            .map_err(|e| user_error(format!("{name}: invalid regex {pattern:?}: {e}")))
    })
}

fn register_strings(conn: &Connection) -> Result<()> {
    conn.create_scalar_function("split", 3, PURE, |ctx| {
        let (Some(s), Some(tokens)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else {
            return Ok(None);
        };
        let n = index_arg(ctx, 2, "split")?;
        Ok(s.split(|c| tokens.contains(c))
            .filter(|p| !p.is_empty())
            .nth(n)
            .map(str::to_string))
    })?;
    conn.create_scalar_function("regex_split", 3, PURE, |ctx| {
        let Some(s) = text_arg(ctx, 0)? else {
            return Ok(None);
        };
        let re = regex_arg(ctx, 1, "regex_split")?;
        let n = index_arg(ctx, 2, "regex_split")?;
        let piece = re
            .split(&s)
            .filter(|p| !p.is_empty())
            .nth(n)
            .map(str::to_string);
        Ok(piece)
    })?;
    conn.create_scalar_function("regex_match", 3, PURE, |ctx| {
        let Some(s) = text_arg(ctx, 0)? else {
            return Ok(None);
        };
        let re = regex_arg(ctx, 1, "regex_match")?;
        let n = index_arg(ctx, 2, "regex_match")?;
        Ok(re
            .captures(&s)
            .and_then(|c| c.get(n))
            .map(|m| m.as_str().to_string()))
    })?;
    conn.create_scalar_function("inet_aton", 1, PURE, |ctx| {
        Ok(text_arg(ctx, 0)?
            .and_then(|s| s.trim().parse::<std::net::Ipv4Addr>().ok())
            .map(|ip| u32::from(ip) as i64))
    })?;
    Ok(())
}

fn register_versions(conn: &Connection) -> Result<()> {
    conn.create_scalar_function("version_compare", -1, PURE, |ctx| {
        if !(2..=3).contains(&ctx.len()) {
            return Err(user_error(
                "version_compare(LEFT, RIGHT[, 'ARCH'|'DPKG'|'RHEL']) takes 2 or 3 arguments"
                    .into(),
            ));
        }
        let (Some(a), Some(b)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else {
            return Ok(None);
        };
        let flavor_text = if ctx.len() == 3 {
            text_arg(ctx, 2)?.unwrap_or_default()
        } else {
            String::new()
        };
        let flavor = Flavor::parse(&flavor_text).ok_or_else(|| {
            user_error(format!(
                "version_compare: unknown flavour {flavor_text:?}, expected ARCH, DPKG or RHEL"
            ))
        })?;
        Ok(Some(version::compare(&a, &b, flavor) as i64))
    })?;
    for (name, flavor) in [
        ("version", Flavor::Generic),
        ("version_arch", Flavor::Arch),
        ("version_dpkg", Flavor::Dpkg),
        ("version_rhel", Flavor::Rhel),
    ] {
        conn.create_collation(name, move |a, b| version::compare(a, b, flavor))?;
    }
    Ok(())
}

fn register_network(conn: &Connection) -> Result<()> {
    conn.create_scalar_function("in_cidr_block", 2, PURE, |ctx| {
        let (Some(cidr), Some(ip)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else {
            return Ok(None);
        };
        let block = IpMatch::parse(&cidr).map_err(|e| user_error(format!("in_cidr_block: {e}")))?;
        let Ok(ip) = ip.trim().parse() else {
            return Ok(Some(0));
        };
        Ok(Some(block.contains(&ip) as i64))
    })
}

fn register_encodings(conn: &Connection) -> Result<()> {
    use base64::engine::general_purpose::STANDARD as b64;
    conn.create_scalar_function("to_base64", 1, PURE, |ctx| {
        Ok(bytes_arg(ctx, 0).map(|b| b64.encode(b)))
    })?;
    conn.create_scalar_function("from_base64", 1, PURE, |ctx| {
        // As osquery: text that is not base64 decodes to the empty string.
        Ok(text_arg(ctx, 0)?.map(|s| {
            b64.decode(s.trim())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }))
    })?;
    conn.create_scalar_function("conditional_to_base64", 1, PURE, |ctx| {
        Ok(bytes_arg(ctx, 0).map(|b| {
            if b.is_ascii() {
                String::from_utf8_lossy(&b).into_owned()
            } else {
                b64.encode(b)
            }
        }))
    })?;
    fn digest<D: Digest>(ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(bytes_arg(ctx, 0).map(|b| hex(&D::digest(&b))))
    }
    conn.create_scalar_function("md5", 1, PURE, digest::<md5::Md5>)?;
    conn.create_scalar_function("sha1", 1, PURE, digest::<sha1::Sha1>)?;
    conn.create_scalar_function("sha256", 1, PURE, digest::<sha2::Sha256>)?;
    Ok(())
}

/// osquery's C math functions. `log` is the natural logarithm, as in osquery (SQLite's own
/// `log` would be base 10).
fn register_math(conn: &Connection) -> Result<()> {
    fn real(ctx: &Context<'_>, i: usize) -> Result<Option<f64>> {
        Ok(match ctx.get_raw(i) {
            ValueRef::Null => None,
            ValueRef::Integer(n) => Some(n as f64),
            ValueRef::Real(f) => Some(f),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            ValueRef::Blob(_) => None,
        })
    }
    type Unary = (&'static str, fn(f64) -> f64);
    let unary: [Unary; 14] = [
        ("sqrt", f64::sqrt),
        ("log", f64::ln),
        ("ln", f64::ln),
        ("log10", f64::log10),
        ("exp", f64::exp),
        ("sin", f64::sin),
        ("cos", f64::cos),
        ("tan", f64::tan),
        ("cot", |x| 1.0 / x.tan()),
        ("asin", f64::asin),
        ("acos", f64::acos),
        ("atan", f64::atan),
        ("radians", f64::to_radians),
        ("degrees", f64::to_degrees),
    ];
    for (name, f) in unary {
        conn.create_scalar_function(name, 1, PURE, move |ctx| {
            // NaN is not a value SQL knows: it becomes NULL.
            Ok(real(ctx, 0)?.map(f).filter(|v| !v.is_nan()))
        })?;
    }
    for (name, f) in [("ceil", f64::ceil as fn(f64) -> f64), ("floor", f64::floor)] {
        conn.create_scalar_function(name, 1, PURE, move |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Integer(n) => Value::Integer(n),
                _ => match real(ctx, 0)?.map(f) {
                    Some(v) if v.abs() < 9.0e18 => Value::Integer(v as i64),
                    Some(v) if !v.is_nan() => Value::Real(v),
                    _ => Value::Null,
                },
            })
        })?;
    }
    conn.create_scalar_function("power", 2, PURE, |ctx| {
        Ok(match (real(ctx, 0)?, real(ctx, 1)?) {
            (Some(x), Some(y)) => Some(x.powf(y)).filter(|v| !v.is_nan()),
            _ => None,
        })
    })?;
    conn.create_scalar_function("pi", 0, PURE, |_| Ok(std::f64::consts::PI))?;
    Ok(())
}

pub(crate) fn register(conn: &Connection) -> Result<()> {
    register_strings(conn)?;
    register_versions(conn)?;
    register_network(conn)?;
    register_encodings(conn)?;
    register_math(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(sql: &str) -> Value {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Value>(0)).unwrap()
    }

    fn err(sql: &str) -> String {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Value>(0))
            .unwrap_err()
            .to_string()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn osquery_string_functions() {
        assert_eq!(eval("SELECT split('1001', '1', 0)"), text("00"));
        assert_eq!(eval("SELECT split('a b,c', ' ,', 2)"), text("c"));
        assert_eq!(eval("SELECT split('a', ',', 3)"), Value::Null);
        assert_eq!(
            eval("SELECT regex_match('hello world. Goodbye', '(\\w+) \\w+', 0)"),
            text("hello world")
        );
        assert_eq!(
            eval("SELECT regex_match('hello world. Goodbye', '(\\w+) \\w+', 1)"),
            text("hello")
        );
        assert_eq!(eval("SELECT regex_match('abc', 'z', 0)"), Value::Null);
        // Too big with Unicode classes: osquery's ASCII classes.
        let key = "k".repeat(45);
        assert_eq!(
            eval(&format!(
                "SELECT regex_match('key={key};', '(\\w{{40,}})', 1)"
            )),
            text(&key)
        );
        assert_eq!(eval("SELECT regex_split('a1b22c', '[0-9]+', 2)"), text("c"));
        assert_eq!(
            eval("SELECT inet_aton('1.0.1.5')"),
            Value::Integer(16777477)
        );
        assert_eq!(
            eval("SELECT concat_ws(' ', 'hello', NULL, 'world')"),
            text("hello world")
        );
        assert_eq!(
            eval("SELECT concat('hello', NULL, ' ', 'world')"),
            text("hello world")
        );
        assert!(err("SELECT regex_match('a', '(', 0)").contains("invalid regex"));
        assert!(err("SELECT split('a', 'b', -1)").contains("negative"));
    }

    #[test]
    fn versions_network_encodings_math() {
        assert_eq!(
            eval("SELECT version_compare('1.0', '1.0')"),
            Value::Integer(0)
        );
        assert_eq!(
            eval("SELECT version_compare('50.4.1b', '50.4.1c')"),
            Value::Integer(-1)
        );
        assert_eq!(
            eval("SELECT version_compare('1.0.0~rc2^2021', '1.0.0', 'RHEL')"),
            Value::Integer(-1)
        );
        assert_eq!(
            eval("SELECT version_compare('4:1.1.0', '4:1.1.0-3', 'ARCH')"),
            Value::Integer(0)
        );
        assert_eq!(
            eval("SELECT '1:2.0-10' = '1:2.0-10' COLLATE version_dpkg"),
            Value::Integer(1)
        );
        assert_eq!(
            eval("SELECT '2.36-9+deb12u4' < '2.36-9+deb12u10' COLLATE version_dpkg"),
            Value::Integer(1)
        );
        assert!(err("SELECT version_compare('1', '2', 'BSD')").contains("unknown flavour"));
        assert_eq!(
            eval("SELECT in_cidr_block('10.0.0.0/26', '10.0.0.24')"),
            Value::Integer(1)
        );
        assert_eq!(
            eval("SELECT in_cidr_block('2001:db8::/48', '2001:db8:0:ffff:ffff:ffff:ffff:ffff')"),
            Value::Integer(1)
        );
        assert_eq!(
            eval("SELECT in_cidr_block('10.0.0.0/26', '10.0.0.64')"),
            Value::Integer(0)
        );
        assert!(err("SELECT in_cidr_block('10.0.0.0/33', '10.0.0.1')").contains("in_cidr_block"));
        assert_eq!(eval("SELECT to_base64('CPU0')"), text("Q1BVMA=="));
        assert_eq!(eval("SELECT from_base64('Q1BVMA==')"), text("CPU0"));
        assert_eq!(eval("SELECT from_base64('!!')"), text(""));
        assert_eq!(eval("SELECT conditional_to_base64('CPU0')"), text("CPU0"));
        assert_eq!(eval("SELECT conditional_to_base64('é')"), text("w6k="));
        assert_eq!(
            eval("SELECT sha256('abc')"),
            text("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            eval("SELECT md5('abc')"),
            text("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(eval("SELECT sqrt(16)"), Value::Real(4.0));
        assert_eq!(eval("SELECT ceil(1.2)"), Value::Integer(2));
        assert_eq!(eval("SELECT floor(-1.2)"), Value::Integer(-2));
        assert_eq!(eval("SELECT power(2, 10)"), Value::Real(1024.0));
        assert_eq!(eval("SELECT sqrt(-1)"), Value::Null);
        assert!(
            matches!(eval("SELECT log(100)"), Value::Real(v) if (v - 4.605170185988092).abs() < 1e-9)
        );
    }
}
