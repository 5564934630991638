//! Actions: what investigators sign and agents run (MIG syntaxversion 2).

use crate::error::{FieldError, ParseError};
use crate::gojson;
use crate::gotime::GoTime;
use crate::id;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::io::{Read, Write};

/// The only action format MIG agents accept.
pub const SYNTAX_VERSION: u16 = 2;

/// Decompressed operation parameters larger than this are refused (a gzip bomb otherwise);
/// the same cap holds for all of an action's parameters together.
pub const MAX_DECOMPRESSED_PARAMETERS: u64 = 16 << 20;

/// The most operations one action may carry: each is a process on every agent.
pub const MAX_OPERATIONS: usize = 64;

/// An investigator's request: run these operations on the agents this target selects, within
/// this validity window. Field names are MIG's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Action {
    /// The server's ID for the action, given when it is stored; 0 before.
    #[serde(default, deserialize_with = "id::deserialize_opt")]
    pub id: u64,
    /// What the investigator calls it; signed.
    #[serde(default)]
    pub name: String,
    /// Which agents run it, in MIG's target language (e.g. `status='online'`); signed.
    #[serde(default)]
    pub target: String,
    /// Who wrote it, for people reading it; not signed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: Description,
    /// What threat it investigates, for people reading it; not signed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub threat: Threat,
    /// When agents may start running it; signed.
    #[serde(default)]
    pub validfrom: GoTime,
    /// When it expires: agents refuse it and unanswered commands expire after this; signed.
    #[serde(default)]
    pub expireafter: GoTime,
    /// What to run, in order; signed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub operations: Vec<Operation>,
    /// The investigators' signatures of [`Action::signing_text`], one per signer.
    #[serde(default, deserialize_with = "null_as_default")]
    pub pgpsignatures: Vec<String>,
    /// The signers as the server knows them; filled by the API, empty in what is signed.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub investigators: Vec<InvestigatorRef>,
    /// Where the action is in its life on the server; empty before it is stored.
    #[serde(default, skip_serializing_if = "ActionStatus::is_empty")]
    pub status: ActionStatus,
    /// Why the server found the action invalid (the server's note, not MIG's, never signed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When the server sent its commands out (it became inflight); zero before.
    #[serde(default)]
    pub starttime: GoTime,
    /// When it reached a final status; zero before.
    #[serde(default)]
    pub finishtime: GoTime,
    /// When the server last changed its status.
    #[serde(default)]
    pub lastupdatetime: GoTime,
    /// How its commands stand, counted by the server when the action is read.
    #[serde(default, deserialize_with = "null_as_default")]
    pub counters: Counters,
    /// The format's version: [`SYNTAX_VERSION`], or validation fails.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub syntaxversion: u16,
}

/// One module invocation inside an action.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Operation {
    /// The module to run (`file`, `netstat`, …).
    #[serde(default)]
    pub module: String,
    /// The module's parameters as JSON, or, when `is_compressed`, a string holding
    /// base64(gzip(json)).
    #[serde(default)]
    pub parameters: Value,
    /// Whether `parameters` holds the compressed form now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_compressed: bool,
    /// Whether the client should compress `parameters` before signing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub want_compressed: bool,
}

/// Who wrote an action, as MIG's `description` records it. Free text, not signed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Description {
    /// The author's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// The author's email address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// A link to more about the action (a ticket, a document).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// The action's revision number, as its author counts them.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub revision: f64,
}

/// What an action investigates, as MIG's `threat` records it. Free text, not signed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Threat {
    /// A reference to the threat (`ref` on the wire): an advisory, an incident number.
    #[serde(default, rename = "ref", skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// How serious it is (e.g. `high`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub level: String,
    /// What family it belongs to (e.g. `malware`, `vulnerability`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family: String,
    /// Its kind within the family (`type` on the wire).
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// A signer of an action as the API records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct InvestigatorRef {
    /// The investigator's ID on the server.
    #[serde(default, deserialize_with = "id::deserialize_opt")]
    pub id: u64,
    /// Their name.
    #[serde(default)]
    pub name: String,
    /// Their key's fingerprint.
    #[serde(default)]
    pub pgpfingerprint: String,
    /// Their account's status (`active`, `disabled`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
}

/// Progress of an action across its commands. MIG omits zero counters.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    /// Commands created, one per targeted agent.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub sent: i64,
    /// Commands that reached a final status: `sent` minus `inflight`.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub done: i64,
    /// Commands still waiting for their agent's answer.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inflight: i64,
    /// Commands whose agent ran every operation successfully.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub success: i64,
    /// Commands cancelled with their action before their agent answered.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub cancelled: i64,
    /// Commands whose agent did not answer before the action expired.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub expired: i64,
    /// Commands that failed on their agent (refused, or a module failed).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub failed: i64,
    /// Commands whose module ran out of time on the agent and was killed.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub timeout: i64,
}

crate::wire_enum! {
    /// Where an action is in its life.
    ActionStatus {
        /// Stored, waiting for its validity window to open.
        Pending = "pending",
        /// Its window is open; waiting for a scheduler to claim it.
        Scheduled = "scheduled",
        /// A scheduler claimed it and is creating its commands.
        Preparing = "preparing",
        /// Its commands are out; waiting for the agents' results.
        Inflight = "inflight",
        /// Every command reached a final status before expiry.
        Completed = "completed",
        /// Its window closed: before it was launched, or with commands still unanswered.
        Expired = "expired",
        /// The server could not launch it (unreadable, a bad target, no agent selected);
        /// `reason` says why.
        Invalid = "invalid",
        /// Not in MIG: an investigator cancelled the action through the API.
        Cancelled = "cancelled",
    }
}

impl ActionStatus {
    /// An action that no longer changes.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            ActionStatus::Completed
                | ActionStatus::Expired
                | ActionStatus::Invalid
                | ActionStatus::Cancelled
        )
    }
}

/// MIG's action statuses, as text (for SQL and comparisons).
pub mod status {
    /// [`ActionStatus::Pending`](super::ActionStatus::Pending).
    pub const PENDING: &str = "pending";
    /// [`ActionStatus::Scheduled`](super::ActionStatus::Scheduled).
    pub const SCHEDULED: &str = "scheduled";
    /// [`ActionStatus::Preparing`](super::ActionStatus::Preparing).
    pub const PREPARING: &str = "preparing";
    /// [`ActionStatus::Inflight`](super::ActionStatus::Inflight).
    pub const INFLIGHT: &str = "inflight";
    /// [`ActionStatus::Completed`](super::ActionStatus::Completed).
    pub const COMPLETED: &str = "completed";
    /// [`ActionStatus::Expired`](super::ActionStatus::Expired).
    pub const EXPIRED: &str = "expired";
    /// [`ActionStatus::Invalid`](super::ActionStatus::Invalid).
    pub const INVALID: &str = "invalid";
    /// Not in MIG: an investigator cancelled the action through the API.
    pub const CANCELLED: &str = "cancelled";

    /// Every status, for checking a filter.
    pub const ALL: &[&str] = &[
        PENDING, SCHEDULED, PREPARING, INFLIGHT, COMPLETED, EXPIRED, INVALID, CANCELLED,
    ];
}

const ACTION_FIELDS: &[&str] = &[
    "id",
    "name",
    "target",
    "description",
    "threat",
    "validfrom",
    "expireafter",
    "operations",
    "pgpsignatures",
    "investigators",
    "status",
    "reason",
    "starttime",
    "finishtime",
    "lastupdatetime",
    "counters",
    "syntaxversion",
];
const OPERATION_FIELDS: &[&str] = &["module", "parameters", "is_compressed", "want_compressed"];

impl Action {
    /// Parses an action from JSON. Like Go's decoder, field names match case-insensitively
    /// (MIG's documents write `"Operations"`, `"Module"`), and unknown fields are ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Action, ParseError> {
        let value: Value = serde_json::from_slice(bytes).map_err(ParseError::json)?;
        Self::from_value(value)
    }

    /// Parses an action from an already-decoded JSON value (e.g. inside a command).
    pub fn from_value(mut value: Value) -> Result<Action, ParseError> {
        Self::fold_field_names(&mut value);
        let mut action: Action =
            serde_path_to_error::deserialize(value).map_err(ParseError::path)?;
        // MIG's own tools sign actions without it: MIG's client adds it only when posting to
        // MIG's API, and it is not in the signing text. Such an action is a version 2 action;
        // any other version is still refused by `validate`.
        if action.syntaxversion == 0 {
            action.syntaxversion = SYNTAX_VERSION;
        }
        Ok(action)
    }

    pub(crate) fn fold_field_names(value: &mut Value) {
        if let Value::Object(map) = value {
            fold_keys(map, ACTION_FIELDS);
            if let Some(Value::Array(ops)) = map.get_mut("operations") {
                for op in ops {
                    if let Value::Object(op) = op {
                        fold_keys(op, OPERATION_FIELDS);
                    }
                }
            }
        }
    }

    /// The action as indented JSON, with MIG's field names.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data structures to JSON cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The text MIG signs, byte-identical to Go's `Action.String()`:
    /// `name=…;target=…;validfrom=<unix>;expireafter=%!s(int64=<unix>);operations=<json>;`
    ///
    /// The `%!s(int64=…)` comes from MIG formatting an int64 with `%s`; every signature in the
    /// wild covers it, so it stays.
    pub fn signing_text(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("name=");
        s.push_str(&self.name);
        s.push_str(";target=");
        s.push_str(&self.target);
        s.push_str(";validfrom=");
        s.push_str(&self.validfrom.unix().to_string());
        s.push_str(";expireafter=%!s(int64=");
        s.push_str(&self.expireafter.unix().to_string());
        s.push_str(");operations=");
        Self::write_operations_go_json(&mut s, &self.operations);
        s.push(';');
        s
    }

    /// Go's encoding of `[]Operation`: struct fields in declaration order, omitempty booleans.
    fn write_operations_go_json(out: &mut String, ops: &[Operation]) {
        out.push('[');
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"module\":");
            gojson::write_string(out, &op.module);
            out.push_str(",\"parameters\":");
            gojson::write_value(out, &op.parameters);
            if op.is_compressed {
                out.push_str(",\"is_compressed\":true");
            }
            if op.want_compressed {
                out.push_str(",\"want_compressed\":true");
            }
            out.push('}');
        }
        out.push(']');
    }

    /// MIG's `Action.Validate()` rules, with the clock passed in. Each error names the field.
    pub fn validate(&self, now: GoTime) -> Result<(), FieldError> {
        self.validate_structure()?;
        if now > self.expireafter {
            return Err(FieldError::new(
                "expireafter",
                format!(
                    "the action expired at {} (now is {})",
                    self.expireafter, now
                ),
            ));
        }
        Ok(())
    }

    /// Everything [`Action::validate`] checks except expiry: for inspecting old actions.
    pub fn validate_structure(&self) -> Result<(), FieldError> {
        if self.name.is_empty() {
            return Err(FieldError::new(
                "name",
                "is empty, expected the action's name",
            ));
        }
        if self.target.is_empty() {
            return Err(FieldError::new(
                "target",
                "is empty, expected a target such as status='online'",
            ));
        }
        if self.syntaxversion != SYNTAX_VERSION {
            let got = if self.syntaxversion == 0 {
                "0 (missing)".to_string()
            } else {
                self.syntaxversion.to_string()
            };
            return Err(FieldError::new(
                "syntaxversion",
                format!("expected {SYNTAX_VERSION}, got {got}"),
            ));
        }
        if self.validfrom.is_zero() {
            return Err(FieldError::new("validfrom", "is not set"));
        }
        if self.expireafter.is_zero() {
            return Err(FieldError::new("expireafter", "is not set"));
        }
        if self.validfrom > self.expireafter {
            return Err(FieldError::new(
                "validfrom",
                format!(
                    "{} is after expireafter {}",
                    self.validfrom, self.expireafter
                ),
            ));
        }
        if self.operations.is_empty() {
            return Err(FieldError::new(
                "operations",
                "is empty, expected at least one operation",
            ));
        }
        if self.operations.len() > MAX_OPERATIONS {
            return Err(FieldError::new(
                "operations",
                format!(
                    "{} operations, more than the {MAX_OPERATIONS} an action may have",
                    self.operations.len()
                ),
            ));
        }
        for (i, op) in self.operations.iter().enumerate() {
            if op.module.is_empty() {
                return Err(FieldError::new(
                    format!("operations[{i}].module"),
                    "is empty, expected a module name",
                ));
            }
            if op.is_compressed && !op.parameters.is_string() {
                return Err(FieldError::new(
                    format!("operations[{i}].parameters"),
                    "is_compressed is set, expected a base64 string",
                ));
            }
        }
        if self.pgpsignatures.is_empty() {
            return Err(FieldError::new(
                "pgpsignatures",
                "is empty, expected at least one signature",
            ));
        }
        Ok(())
    }

    /// Is `now` inside [validfrom, expireafter]? The agent refuses to run outside it.
    pub fn check_window(&self, now: GoTime) -> Result<(), FieldError> {
        if now < self.validfrom {
            return Err(FieldError::new(
                "validfrom",
                format!(
                    "the action is not valid before {} (now is {})",
                    self.validfrom, now
                ),
            ));
        }
        if now > self.expireafter {
            return Err(FieldError::new(
                "expireafter",
                format!(
                    "the action expired at {} (now is {})",
                    self.expireafter, now
                ),
            ));
        }
        Ok(())
    }

    /// Replaces compressed parameters with their JSON. Call only after the signatures were
    /// verified: the signature covers the compressed form.
    pub fn decompress_operations(&mut self) -> Result<(), FieldError> {
        let mut left = MAX_DECOMPRESSED_PARAMETERS;
        for (i, op) in self.operations.iter_mut().enumerate() {
            let field = || format!("operations[{i}].parameters");
            let size = op
                .decompress_within(left)
                .map_err(|e| FieldError::new(field(), e))?;
            left = left.checked_sub(size).ok_or_else(|| {
                FieldError::new(
                    field(),
                    format!(
                        "the action's parameters add up to more than {MAX_DECOMPRESSED_PARAMETERS} bytes"
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Compresses the parameters of every operation marked `want_compressed`. Call before
    /// signing, as MIG's client does.
    pub fn compress_operations(&mut self) {
        for op in &mut self.operations {
            if op.want_compressed && !op.is_compressed {
                op.compress();
            }
        }
    }

    /// The distinct module names of this action's operations, in order.
    pub fn modules(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for op in &self.operations {
            if !names.contains(&op.module.as_str()) {
                names.push(&op.module);
            }
        }
        names
    }
}

impl Operation {
    /// An operation running `module` with these uncompressed parameters.
    pub fn new(module: impl Into<String>, parameters: Value) -> Operation {
        Operation {
            module: module.into(),
            parameters,
            is_compressed: false,
            want_compressed: false,
        }
    }

    /// Decodes base64(gzip(json)) parameters in place; a no-op for uncompressed ones.
    pub fn decompress(&mut self) -> Result<(), String> {
        self.decompress_within(MAX_DECOMPRESSED_PARAMETERS)
            .map(|_| ())
    }

    /// [`Operation::decompress`] refusing parameters larger than `max` bytes of JSON once
    /// decompressed; returns their size.
    pub fn decompress_within(&mut self, max: u64) -> Result<u64, String> {
        if !self.is_compressed {
            let size = gojson::to_string(&self.parameters).len() as u64;
            if size > max {
                return Err(format!(
                    "{size} bytes of parameters, more than the {max} left"
                ));
            }
            return Ok(size);
        }
        let Value::String(encoded) = &self.parameters else {
            return Err("is_compressed is set, expected a base64 string".into());
        };
        let (value, size) = decode_compressed_within(encoded, max)?;
        self.parameters = value;
        self.is_compressed = false;
        Ok(size)
    }

    /// Encodes the parameters as base64(gzip(json)).
    pub fn compress(&mut self) {
        self.parameters = Value::String(encode_compressed(&self.parameters));
        self.is_compressed = true;
    }
}

/// base64(gzip(json(value))), MIG's compressed parameter form.
pub fn encode_compressed(value: &Value) -> String {
    let json = gojson::to_string(value);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(json.as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes MIG's compressed parameter form, refusing oversized or corrupt input.
pub fn decode_compressed(encoded: &str) -> Result<Value, String> {
    decode_compressed_within(encoded, MAX_DECOMPRESSED_PARAMETERS).map(|(v, _)| v)
}

/// The same, refusing more than `max` bytes of JSON; returns the value and its size.
fn decode_compressed_within(encoded: &str, max: u64) -> Result<(Value, u64), String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("compressed parameters are not valid base64: {e}"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .take(max + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("compressed parameters are not valid gzip: {e}"))?;
    if json.len() as u64 > max {
        return Err(format!("compressed parameters expand beyond {max} bytes"));
    }
    let value = serde_json::from_slice(&json)
        .map_err(|e| format!("decompressed parameters are not valid JSON: {e}"))?;
    Ok((value, json.len() as u64))
}

/// Go's decoder matches struct fields case-insensitively; serde does not. Renames keys that
/// differ from a known field only by case (an exact match wins, as in Go).
pub(crate) fn fold_keys(map: &mut serde_json::Map<String, Value>, fields: &[&str]) {
    let misfits: Vec<String> = map
        .keys()
        .filter(|k| !fields.contains(&k.as_str()))
        .filter(|k| fields.iter().any(|f| f.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    for key in misfits {
        let lower = key.to_ascii_lowercase();
        if let Some(v) = map.remove(&key) {
            map.entry(lower).or_insert(v);
        }
    }
}

/// Reads `null` as the type's default, as Go does for slices, maps and structs.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}
fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/mig-v2");

    fn vector(name: &str) -> Action {
        let bytes = std::fs::read(format!("{VECTORS}/{name}")).unwrap();
        Action::from_json(&bytes).unwrap()
    }

    fn sample() -> Action {
        Action {
            name: "test".into(),
            target: "status='online'".into(),
            validfrom: GoTime::parse("2020-01-01T00:00:00Z").unwrap(),
            expireafter: GoTime::parse("2020-01-01T00:05:00Z").unwrap(),
            operations: vec![Operation::new("file", json!({"searches": {}}))],
            pgpsignatures: vec!["sig".into()],
            syntaxversion: 2,
            ..Default::default()
        }
    }

    #[test]
    fn signing_text_matches_mig_vector() {
        let a = vector("valid-signed-action1.json");
        assert_eq!(
            a.signing_text(),
            r#"name=pkg -s -name test ;target=status='online';validfrom=1508946605;expireafter=%!s(int64=1508946965);operations=[{"module":"pkg","parameters":{"pkgmatch":{"matches":["test"]},"vermatch":""}}];"#
        );
    }

    #[test]
    fn signing_text_of_multiop_vector_sorts_keys_and_keeps_null() {
        let a = vector("signed-multiop-action1.json");
        let text = a.signing_text();
        assert!(text.contains(
            r#"{"module":"file","parameters":{"searches":{"s1":{"names":["test"],"options":{"macroal":false,"matchall":true,"matchlimit":1000,"maxdepth":1000,"maxerrors":30,"mismatch":null},"paths":["/etc"]}}}}]"#
        ), "{text}");
    }

    #[test]
    fn signing_text_escapes_and_omits_like_go() {
        let mut a = sample();
        a.name = "a<b>&c é".into();
        a.operations = vec![
            Operation::new("file", json!({"x": "<&>", "n": 1.0, "e": []})),
            Operation {
                module: "pkg".into(),
                parameters: json!("H4sI"),
                is_compressed: true,
                want_compressed: true,
            },
        ];
        assert_eq!(
            a.signing_text(),
            concat!(
                "name=a<b>&c é;target=status='online';validfrom=1577836800;",
                "expireafter=%!s(int64=1577837100);operations=[",
                r#"{"module":"file","parameters":{"e":[],"n":1,"x":"\u003c\u0026\u003e"}},"#,
                r#"{"module":"pkg","parameters":"H4sI","is_compressed":true,"want_compressed":true}];"#
            )
        );
    }

    #[test]
    fn fields_match_case_insensitively_like_go() {
        let a = Action::from_json(
            br#"{"Name":"n","TARGET":"t","Operations":[{"Module":"file","Parameters":{"A":1}}],"syntaxversion":2}"#,
        )
        .unwrap();
        assert_eq!(a.name, "n");
        assert_eq!(a.target, "t");
        assert_eq!(a.operations[0].module, "file");
        // Keys inside parameters are the module's business and keep their case.
        assert_eq!(a.operations[0].parameters, json!({"A": 1}));
    }

    #[test]
    fn an_action_read_without_syntaxversion_is_version_2_as_migs_tools_write_it() {
        let a = Action::from_json(br#"{"name":"n","target":"t"}"#).unwrap();
        assert_eq!(a.syntaxversion, SYNTAX_VERSION);
        let a = Action::from_json(br#"{"name":"n","target":"t","syntaxversion":3}"#).unwrap();
        assert_eq!(
            a.syntaxversion, 3,
            "another version is kept, for validate to refuse"
        );
    }

    #[test]
    fn validation_names_the_field() {
        let now = GoTime::parse("2020-01-01T00:01:00Z").unwrap();
        assert!(sample().validate(now).is_ok());
        type Mutation = fn(&mut Action);
        let cases: Vec<(Mutation, &str)> = vec![
            (|a| a.name.clear(), "name"),
            (|a| a.target.clear(), "target"),
            (|a| a.syntaxversion = 1, "syntaxversion"),
            (|a| a.syntaxversion = 0, "syntaxversion"),
            (
                |a| a.validfrom = GoTime::parse("2020-01-02T00:00:00Z").unwrap(),
                "validfrom",
            ),
            (
                |a| a.expireafter = GoTime::parse("2020-01-01T00:00:30Z").unwrap(),
                "expireafter",
            ),
            (|a| a.operations.clear(), "operations"),
            (|a| a.operations[0].module.clear(), "operations[0].module"),
            (|a| a.pgpsignatures.clear(), "pgpsignatures"),
        ];
        for (mutate, field) in cases {
            let mut a = sample();
            mutate(&mut a);
            let err = a.validate(now).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn window_refuses_early_and_late() {
        let a = sample();
        assert!(a
            .check_window(GoTime::parse("2020-01-01T00:02:00Z").unwrap())
            .is_ok());
        let early = a.check_window(GoTime::parse("2019-12-31T00:00:00Z").unwrap());
        assert_eq!(early.unwrap_err().field, "validfrom");
        let late = a.check_window(GoTime::parse("2020-01-02T00:00:00Z").unwrap());
        assert_eq!(late.unwrap_err().field, "expireafter");
    }

    #[test]
    fn compression_round_trips() {
        let mut a = sample();
        let original = json!({"searches": {"s1": {"paths": ["/etc"], "names": ["^passwd$"]}}});
        a.operations[0].parameters = original.clone();
        a.operations[0].want_compressed = true;
        a.compress_operations();
        assert!(a.operations[0].is_compressed);
        assert!(a.operations[0].parameters.is_string());
        let signed_text = a.signing_text();
        assert!(signed_text.contains("\"is_compressed\":true"));
        a.decompress_operations().unwrap();
        assert_eq!(a.operations[0].parameters, original);
        assert!(!a.operations[0].is_compressed);
    }

    #[test]
    fn corrupt_compressed_parameters_are_an_error() {
        let mut op = Operation {
            module: "file".into(),
            parameters: json!("bm90IGd6aXA="),
            is_compressed: true,
            want_compressed: false,
        };
        let err = op.decompress().unwrap_err();
        assert!(err.contains("gzip"), "{err}");
        op.parameters = json!("%%%");
        assert!(op.decompress().unwrap_err().contains("base64"));
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let zeros = vec![b' '; (MAX_DECOMPRESSED_PARAMETERS + 10) as usize];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&zeros).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let err = decode_compressed(&b64).unwrap_err();
        assert!(err.contains("expand beyond"), "{err}");
    }

    #[test]
    fn an_action_is_capped_in_operations_and_in_parameters_altogether() {
        let mut a = sample();
        let op = a.operations[0].clone();
        a.operations = vec![op.clone(); MAX_OPERATIONS];
        a.validate_structure().unwrap();
        a.operations.push(op);
        let err = a.validate_structure().unwrap_err();
        assert_eq!(err.field, "operations");
        assert!(err.message.contains("more than the 64"), "{err}");

        // Each operation's parameters expand to 3 MiB: fine alone, too much six together.
        let blob = json!({"pad": " ".repeat(3 << 20)});
        let mut compressed = Operation::new("file", blob);
        compressed.compress();
        let mut a = sample();
        a.operations = vec![compressed.clone(); 5];
        a.clone().decompress_operations().unwrap();
        a.operations.push(compressed);
        let err = a.decompress_operations().unwrap_err();
        assert_eq!(err.field, "operations[5].parameters");
        assert!(err.message.contains("expand beyond"), "{err}");
    }

    #[test]
    fn serializes_with_migs_field_names() {
        let a = vector("valid-signed-action1.json");
        let v: Value = serde_json::to_value(&a).unwrap();
        for key in [
            "id",
            "name",
            "target",
            "validfrom",
            "expireafter",
            "operations",
            "pgpsignatures",
            "counters",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["validfrom"], "2017-10-25T15:50:05.220759533Z");
        let back = Action::from_value(v).unwrap();
        assert_eq!(back.signing_text(), a.signing_text());
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        let err = Action::from_json(b"{\"name\": ").unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
        let err = Action::from_json(br#"{"name": 5}"#).unwrap_err();
        assert!(err.to_string().starts_with("name: invalid type"), "{err}");
        let err = Action::from_json(br#"{"operations": [{"module": 1}]}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("operations[0].module:"),
            "{err}"
        );
    }
}
