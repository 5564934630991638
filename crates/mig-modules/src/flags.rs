//! Command-line flags the way Go's `flag` package reads them, because MIG users type
//! `mig file -path /etc -name '^passwd$'`: one dash or two, `-flag value` or `-flag=value`,
//! booleans as `-flag` or `-flag=false`, repeatable flags, and parsing stops at the first
//! argument that is not a flag (or after `--`).

use crate::ModuleError;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a flag takes its value.
pub enum Kind {
    /// `-flag` or `-flag=true|false`.
    Bool,
    /// One value; the last one given wins.
    Value,
    /// Repeatable; every value is kept in order.
    Multi,
}

#[derive(Debug, Clone, Copy)]
/// One `mig <module>` flag.
pub struct Flag {
    /// The flag's name, without the dash.
    pub name: &'static str,
    /// How it takes its value.
    pub kind: Kind,
    /// Shown in the usage text, e.g. `<regex>`.
    pub arg: &'static str,
    /// One line of help.
    pub help: &'static str,
}

impl Flag {
    /// A boolean flag.
    pub const fn bool(name: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Bool,
            arg: "",
            help,
        }
    }
    /// A flag with one value.
    pub const fn value(name: &'static str, arg: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Value,
            arg,
            help,
        }
    }
    /// A repeatable flag.
    pub const fn multi(name: &'static str, arg: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Multi,
            arg,
            help,
        }
    }
}

/// The flags that were given.
#[derive(Debug, Default)]
pub struct Parsed {
    values: HashMap<&'static str, Vec<String>>,
    /// Arguments after the flags.
    pub positional: Vec<String>,
}

impl Parsed {
    /// A boolean flag's value, if given.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(|v| v == "true")
    }

    /// A flag's last value, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a repeatable flag, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// An integer flag, with the flag named in the error.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ModuleError> {
        self.value(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ModuleError::Flag(format!(
                        "invalid value {v:?} for flag -{name}: expected an integer"
                    ))
                })
            })
            .transpose()
    }

    /// A number flag (MIG's float64 parameters), `default` when not given.
    pub fn number(&self, name: &str, default: f64) -> Result<f64, ModuleError> {
        match self.value(name) {
            Some(v) => v
                .parse()
                .map_err(|_| ModuleError::Flag(format!("invalid value {v:?} for flag -{name}"))),
            None => Ok(default),
        }
    }

    /// Refuses arguments after the flags, for modules that take none.
    pub fn no_positional(&self) -> Result<(), ModuleError> {
        match self.positional.first() {
            Some(extra) => Err(ModuleError::Flag(format!("unexpected argument {extra:?}"))),
            None => Ok(()),
        }
    }

    /// Whether the flag was given at all.
    pub fn given(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// Parses `args` against `flags`. Errors read like Go's: `flag provided but not defined: -x`.
pub fn parse(flags: &[Flag], args: &[String]) -> Result<Parsed, ModuleError> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            parsed.positional.extend(args[i + 1..].iter().cloned());
            break;
        }
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            parsed.positional.extend(args[i..].iter().cloned());
            break;
        };
        if stripped.is_empty() || arg == "-" {
            parsed.positional.extend(args[i..].iter().cloned());
            break;
        }
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (stripped, None),
        };
        let Some(flag) = flags.iter().find(|f| f.name == name) else {
            return Err(ModuleError::Flag(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value = match (flag.kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => match v.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => "true".into(),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => "false".into(),
                _ => {
                    return Err(ModuleError::Flag(format!(
                        "invalid boolean value {v:?} for -{name}"
                    )))
                }
            },
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| ModuleError::Flag(format!("flag needs an argument: -{name}")))?
            }
        };
        let slot = parsed.values.entry(flag.name).or_default();
        if flag.kind != Kind::Multi {
            slot.clear();
        }
        slot.push(value);
        i += 1;
    }
    Ok(parsed)
}

/// Usage text: one line per flag.
pub fn usage(command: &str, flags: &[Flag]) -> String {
    let mut s = format!("usage: {command} [flags]\n");
    for f in flags {
        let left = if f.arg.is_empty() {
            format!("-{}", f.name)
        } else {
            format!("-{} {}", f.name, f.arg)
        };
        let repeat = if f.kind == Kind::Multi {
            " (repeatable)"
        } else {
            ""
        };
        s.push_str(&format!("  {left:<24} {}{repeat}\n", f.help));
    }
    s
}

/// Splits a command line on spaces, keeping 'single' and "double" quoted words together
/// (the console's input, and the file-module flags inside yara's `filesearch`).
pub fn split_words(s: &str) -> Vec<String> {
    mig_core::words::split(s, mig_core::words::Quotes::Shell)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::multi("path", "<dir>", "where to search"),
        Flag::value("maxdepth", "<n>", "how deep"),
        Flag::bool("matchall", "all checks"),
    ];

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_forms_are_accepted() {
        let p = parse(
            FLAGS,
            &args(&[
                "-path",
                "/etc",
                "--path=/usr",
                "-maxdepth=3",
                "-matchall",
                "rest",
                "-x",
            ]),
        )
        .unwrap();
        assert_eq!(p.all("path"), vec!["/etc", "/usr"]);
        assert_eq!(p.int("maxdepth").unwrap(), Some(3));
        assert_eq!(p.bool("matchall"), Some(true));
        assert_eq!(p.positional, vec!["rest", "-x"]);
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            parse(FLAGS, &args(&["-nope"])).unwrap_err().to_string(),
            "flag provided but not defined: -nope"
        );
        assert_eq!(
            parse(FLAGS, &args(&["-path"])).unwrap_err().to_string(),
            "flag needs an argument: -path"
        );
        assert!(parse(FLAGS, &args(&["-matchall=maybe"])).is_err());
        let p = parse(FLAGS, &args(&["-maxdepth", "x"])).unwrap();
        assert!(p
            .int("maxdepth")
            .unwrap_err()
            .to_string()
            .contains("-maxdepth"));
    }

    #[test]
    fn bool_can_be_turned_off() {
        let p = parse(FLAGS, &args(&["-matchall=false"])).unwrap();
        assert_eq!(p.bool("matchall"), Some(false));
    }

    #[test]
    fn words_keep_quotes_together() {
        assert_eq!(
            split_words("file -path /etc -name '^pass wd$'"),
            vec!["file", "-path", "/etc", "-name", "^pass wd$"]
        );
        assert_eq!(split_words(r#"a "" b"#), vec!["a", "", "b"]);
    }
}
