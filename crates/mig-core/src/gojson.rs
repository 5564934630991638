//! JSON encoded the way Go's `encoding/json` encodes it.
//!
//! MIG signs the text of an action, and part of that text is the operations array as Go's
//! `json.Marshal` prints it. To produce (and verify) byte-identical signatures we reproduce Go's
//! rules for the values an action can hold after Go decoded it into `interface{}`:
//!
//! * object keys sorted byte-wise (Go marshals `map[string]interface{}` with sorted keys);
//! * every number is a `float64`, printed with the shortest representation that round-trips,
//!   in exponent form below 1e-6 and from 1e21 up (`1e-07` shortened to `1e-7`, `1e+21`);
//! * strings escape `"` `\\` `\n` `\r` `\t`, other control characters as `\u00XX`, the
//!   HTML-sensitive `<` `>` `&` as `\u003c` `\u003e` `\u0026`, and U+2028/U+2029;
//! * no insignificant whitespace.
//!
//! Go 1.22 started writing `\b` and `\f` as short escapes; MIG's agents were built with older Go,
//! so we keep the older `\u0008` / `\u000c` form (listed in docs/compat.md).

use serde_json::Value;

/// Encodes `value` as Go's `json.Marshal` would after decoding it into `interface{}`.
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value);
    out
}

/// Appends `value` to `out` in Go's encoding.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Go decodes every JSON number into a float64; integers beyond 2^53 lose precision
            // exactly as they do in Go.
            let f = n.as_f64().unwrap_or(f64::NAN);
            write_float(out, f);
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map keeps insertion order when another crate in the
            // build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Appends a float64 as Go's encoding/json prints it (`floatEncoder` with bits = 64).
pub fn write_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // Go refuses to marshal these; serde_json never produces them from parsed input.
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the shortest round-trip mantissa, like Go's 'e' with precision -1,
        // but writes `1e21` / `1e-7` where Go writes `1e+21` / `1e-07` (then encoding/json
        // trims `e-07` to `e-7`). So only the positive exponent needs its sign.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                out.push_str(mantissa);
                out.push_str("e+");
                out.push_str(exp);
            }
            _ => out.push_str(&s),
        }
    } else {
        // Display never uses an exponent and prints the shortest round-trip digits.
        use std::fmt::Write;
        let _ = write!(out, "{f}");
    }
}

/// Appends a JSON string literal with Go's HTML-safe escaping.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value) -> String {
        to_string(&v)
    }

    #[test]
    fn keys_are_sorted_bytewise() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":2,"B":3,"é":4,"aa":5}"#).unwrap();
        assert_eq!(enc(v), r#"{"B":3,"a":2,"aa":5,"b":1,"é":4}"#);
    }

    #[test]
    fn html_characters_are_escaped() {
        assert_eq!(
            enc(json!("a<b>&c")),
            r#""a\u003cb\u003e\u0026c""#,
            "Go's HTMLEscape is on by default in json.Marshal"
        );
    }

    #[test]
    fn control_characters_and_quotes() {
        assert_eq!(
            enc(json!("q\"b\\n\nr\rt\tz\u{0}\u{1f}\u{8}\u{c}")),
            r#""q\"b\\n\nr\rt\tz\u0000\u001f\u0008\u000c""#
        );
    }

    #[test]
    fn non_ascii_passes_through_except_line_separators() {
        assert_eq!(
            enc(json!("héllo 世界 \u{2028}\u{2029} \u{7f}")),
            "\"héllo 世界 \\u2028\\u2029 \u{7f}\""
        );
    }

    #[test]
    fn numbers_print_as_go_float64() {
        let cases = [
            ("0", "0"),
            ("-0", "-0"),
            ("1", "1"),
            ("1.0", "1"),
            ("1000", "1000"),
            ("-17", "-17"),
            ("0.1", "0.1"),
            ("1.5e3", "1500"),
            ("123456789", "123456789"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("1.5e300", "1.5e+300"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.25e-10", "1.25e-10"),
            ("12345678901234567890", "12345678901234567000"),
            ("9007199254740993", "9007199254740992"),
            ("1508946605", "1508946605"),
            ("3.141592653589793", "3.141592653589793"),
        ];
        for (input, want) in cases {
            let v: Value = serde_json::from_str(input).unwrap();
            assert_eq!(enc(v), want, "input {input}");
        }
    }

    #[test]
    fn empty_and_null_arrays_differ() {
        assert_eq!(enc(json!({"a": [], "b": null})), r#"{"a":[],"b":null}"#);
    }

    #[test]
    fn nested_structures() {
        let v = json!({"z": [1, {"y": true, "x": false}], "a": {"c": null, "b": "s"}});
        assert_eq!(
            enc(v),
            r#"{"a":{"b":"s","c":null},"z":[1,{"x":false,"y":true}]}"#
        );
    }
}

/// Serde helper for `f64` fields that MIG declares as float64 but that hold whole numbers:
/// written as `1000` (as Go prints them), not serde's `1000.0`.
pub mod float64 {
    use serde::Serializer;

    /// Writes `v` as an integer when it is whole and exactly representable, else as a float.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            s.serialize_i64(*v as i64)
        } else {
            s.serialize_f64(*v)
        }
    }
}
