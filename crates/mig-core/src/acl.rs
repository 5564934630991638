//! Access control lists: which investigators may run which module, with weights (m-of-n).
//!
//! MIG's format, read by every agent from its own configuration:
//!
//! ```json
//! {"default": {"minimumweight": 2,
//!              "investigators": {"Bob": {"fingerprint": "E608…", "weight": 2}}},
//!  "file":    {"minimumweight": 1, "investigators": {…}}}
//! ```
//!
//! An operation on module M is allowed when the distinct signers of the action, looked up in
//! the permission named M (or `default` when there is none), weigh at least `minimumweight`.

use crate::action::fold_keys;
use crate::error::FieldError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The name of the permission used for modules without their own.
pub const DEFAULT_PERMISSION: &str = "default";

/// A checked ACL: its permissions, by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Acl {
    permissions: BTreeMap<String, Permission>,
}

/// One permission: whose signatures count, and how much they must weigh together.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Permission {
    /// The weight the distinct signers must reach; at least 1.
    pub minimumweight: i64,
    /// The investigators whose signatures count, by name.
    #[serde(default)]
    pub investigators: BTreeMap<String, AclInvestigator>,
}

/// An investigator in a permission: their key, and what their signature weighs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AclInvestigator {
    /// Their key's fingerprint; upper-case hex without spaces once the ACL is checked.
    pub fingerprint: String,
    /// What their signature adds to the total; never negative.
    pub weight: i64,
}

/// Why the ACL refused an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclError {
    /// Neither a permission for the module nor a `default` one.
    NoPermission {
        /// The module the operation runs.
        module: String,
    },
    /// Two signatures from the same key: MIG counts this as a violation, not as double weight.
    DuplicateSigner {
        /// The key that signed more than once, normalised.
        fingerprint: String,
    },
    /// The signers do not weigh enough.
    InsufficientWeight {
        /// The module the operation runs.
        module: String,
        /// The permission that was checked: the module's own, `default`, or an exact one.
        permission: String,
        /// What the signers the permission lists weigh together.
        got: i64,
        /// The permission's `minimumweight`.
        need: i64,
    },
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclError::NoPermission { module } => write!(
                f,
                "ACL has no permission for module {module} and no default permission"
            ),
            AclError::DuplicateSigner { fingerprint } => {
                write!(
                    f,
                    "ACL violation: several signatures from the same key {fingerprint}"
                )
            }
            AclError::InsufficientWeight {
                module,
                permission,
                got,
                need,
            } => write!(
                f,
                "ACL weight {got} < {need} for module {module} (permission '{permission}')"
            ),
        }
    }
}

impl std::error::Error for AclError {}

/// What the ACL granted, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The permission that granted it: the module's own, `default`, or an exact one.
    pub permission: String,
    /// What the signers that counted weigh together.
    pub weight: i64,
    /// The permission's `minimumweight`.
    pub minimum: i64,
    /// The ACL names of the signers that counted.
    pub signers: Vec<String>,
}

impl Acl {
    /// Parses MIG's ACL JSON: one object of permissions, or MIG's array of such objects.
    pub fn from_json(bytes: &[u8]) -> Result<Acl, FieldError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| FieldError::new("acl", format!("invalid JSON: {e}")))?;
        let objects = match value {
            Value::Object(map) => vec![map],
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(map),
                    _ => Err(FieldError::new(format!("acl[{i}]"), "expected an object")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(FieldError::new("acl", "expected an object of permissions")),
        };
        let mut permissions = BTreeMap::new();
        for map in objects {
            for (name, mut perm) in map {
                if let Value::Object(fields) = &mut perm {
                    // Go matches `MinimumWeight`, `Investigators`… case-insensitively.
                    fold_keys(fields, &["minimumweight", "investigators"]);
                    if let Some(Value::Object(invs)) = fields.get_mut("investigators") {
                        for inv in invs.values_mut() {
                            if let Value::Object(inv) = inv {
                                fold_keys(inv, &["fingerprint", "weight"]);
                            }
                        }
                    }
                }
                let perm: Permission = serde_path_to_error::deserialize(perm).map_err(|e| {
                    FieldError::new(
                        format!("acl.{name}.{}", e.path()),
                        e.into_inner().to_string(),
                    )
                })?;
                let perm = Self::check_permission(&name, perm)?;
                if permissions.insert(name.clone(), perm).is_some() {
                    return Err(FieldError::new(
                        format!("acl.{name}"),
                        "permission is defined twice",
                    ));
                }
            }
        }
        Ok(Acl { permissions })
    }

    fn check_permission(name: &str, mut perm: Permission) -> Result<Permission, FieldError> {
        if perm.minimumweight < 1 {
            return Err(FieldError::new(
                format!("acl.{name}.minimumweight"),
                format!("must be at least 1, got {}", perm.minimumweight),
            ));
        }
        for (inv_name, inv) in &mut perm.investigators {
            if inv.weight < 0 {
                return Err(FieldError::new(
                    format!("acl.{name}.investigators.{inv_name}.weight"),
                    format!("must not be negative, got {}", inv.weight),
                ));
            }
            inv.fingerprint = normalize_fingerprint(&inv.fingerprint).ok_or_else(|| {
                FieldError::new(
                    format!("acl.{name}.investigators.{inv_name}.fingerprint"),
                    format!(
                        "expected 40 or 64 hexadecimal digits, got {:?}",
                        inv.fingerprint
                    ),
                )
            })?;
        }
        Ok(perm)
    }

    /// Builds an ACL in code (tests, `mig-server dev`).
    pub fn from_permissions(permissions: BTreeMap<String, Permission>) -> Result<Acl, FieldError> {
        let mut checked = BTreeMap::new();
        for (name, perm) in permissions {
            let perm = Self::check_permission(&name, perm)?;
            checked.insert(name, perm);
        }
        Ok(Acl {
            permissions: checked,
        })
    }

    /// Its permissions, by name.
    pub fn permissions(&self) -> &BTreeMap<String, Permission> {
        &self.permissions
    }

    /// May these signers run `module`? Uses the module's permission, else `default`.
    pub fn check_module(
        &self,
        module: &str,
        signer_fingerprints: &[String],
    ) -> Result<Grant, AclError> {
        let name = if self.permissions.contains_key(module) {
            module
        } else if self.permissions.contains_key(DEFAULT_PERMISSION) {
            DEFAULT_PERMISSION
        } else {
            return Err(AclError::NoPermission {
                module: module.to_string(),
            });
        };
        self.check_named(name, module, signer_fingerprints)
    }

    /// Checks a permission that exists only when named, with no fallback to `default`
    /// (e.g. `query:shell_history`, an extra requirement on top of the module's).
    /// Returns `None` when the ACL has no such permission.
    pub fn check_exact(
        &self,
        name: &str,
        signer_fingerprints: &[String],
    ) -> Option<Result<Grant, AclError>> {
        self.permissions
            .contains_key(name)
            .then(|| self.check_named(name, name, signer_fingerprints))
    }

    fn check_named(
        &self,
        name: &str,
        module: &str,
        signer_fingerprints: &[String],
    ) -> Result<Grant, AclError> {
        let perm = &self.permissions[name];
        let mut seen: Vec<String> = Vec::with_capacity(signer_fingerprints.len());
        for fp in signer_fingerprints {
            let fp = normalize_fingerprint(fp).unwrap_or_else(|| fp.to_ascii_uppercase());
            if seen.contains(&fp) {
                return Err(AclError::DuplicateSigner { fingerprint: fp });
            }
            seen.push(fp);
        }
        let mut weight = 0;
        let mut signers = Vec::new();
        for fp in &seen {
            // Each signer counts once, even if the ACL lists its key under two names.
            if let Some((inv_name, inv)) = perm
                .investigators
                .iter()
                .find(|(_, i)| &i.fingerprint == fp)
            {
                weight += inv.weight;
                signers.push(inv_name.clone());
            }
        }
        if weight < perm.minimumweight {
            return Err(AclError::InsufficientWeight {
                module: module.to_string(),
                permission: name.to_string(),
                got: weight,
                need: perm.minimumweight,
            });
        }
        Ok(Grant {
            permission: name.to_string(),
            weight,
            minimum: perm.minimumweight,
            signers,
        })
    }
}

/// Upper-case hex without spaces; `None` unless it is a v4 (40) or v6 (64) fingerprint.
pub fn normalize_fingerprint(fp: &str) -> Option<String> {
    let cleaned: String = fp
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let cleaned = cleaned
        .strip_prefix("0X")
        .map(str::to_string)
        .unwrap_or(cleaned);
    let ok = (cleaned.len() == 40 || cleaned.len() == 64)
        && cleaned.chars().all(|c| c.is_ascii_hexdigit());
    ok.then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "E60892BB9BD89A69F759A1A0A3D652F0FE4A5AF6";
    const JOHN: &str = "9F759A1A0A3D652F0FE4A5AF6E60892BB9BD89A6";
    const EVE: &str = "1111111111111111111111111111111111111111";

    fn seed_acl() -> Acl {
        // The concepts document's example, with full fingerprints.
        Acl::from_json(
            format!(
                r#"{{"filechecker": {{"minimumweight": 2, "investigators": {{
                    "Bob Kelso": {{"fingerprint": "{BOB}", "weight": 2}},
                    "John Smith": {{"fingerprint": "{}", "weight": 1}}}}}},
                  "default": {{"minimumweight": 1, "investigators": {{
                    "John Smith": {{"fingerprint": "{JOHN}", "weight": 1}}}}}}}}"#,
                JOHN.to_lowercase()
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn john_alone_is_refused_for_filechecker() {
        let err = seed_acl()
            .check_module("filechecker", &[JOHN.into()])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ACL weight 1 < 2 for module filechecker (permission 'filechecker')"
        );
    }

    #[test]
    fn john_and_bob_pass() {
        let grant = seed_acl()
            .check_module("filechecker", &[JOHN.into(), BOB.into()])
            .unwrap();
        assert_eq!(grant.weight, 3);
        assert_eq!(
            grant.signers,
            vec!["John Smith".to_string(), "Bob Kelso".to_string()]
        );
    }

    #[test]
    fn other_modules_fall_back_to_default() {
        let grant = seed_acl().check_module("netstat", &[JOHN.into()]).unwrap();
        assert_eq!(grant.permission, "default");
        let err = seed_acl()
            .check_module("netstat", &[EVE.into()])
            .unwrap_err();
        assert!(matches!(
            err,
            AclError::InsufficientWeight {
                got: 0,
                need: 1,
                ..
            }
        ));
    }

    #[test]
    fn no_default_means_no_permission() {
        let acl = Acl::from_json(
            format!(r#"{{"file": {{"minimumweight": 1, "investigators": {{"a": {{"fingerprint": "{BOB}", "weight": 1}}}}}}}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            acl.check_module("pkg", &[BOB.into()]).unwrap_err(),
            AclError::NoPermission {
                module: "pkg".into()
            }
        );
    }

    #[test]
    fn duplicate_signer_is_an_error() {
        let err = seed_acl()
            .check_module("filechecker", &[JOHN.into(), JOHN.to_lowercase()])
            .unwrap_err();
        assert!(matches!(err, AclError::DuplicateSigner { .. }), "{err}");
    }

    #[test]
    fn minimumweight_below_one_is_invalid() {
        let err = Acl::from_json(br#"{"default": {"minimumweight": 0, "investigators": {}}}"#)
            .unwrap_err();
        assert_eq!(err.field, "acl.default.minimumweight");
    }

    #[test]
    fn bad_fingerprint_is_named() {
        let err = Acl::from_json(
            br#"{"default": {"minimumweight": 1, "investigators": {"x": {"fingerprint": "E60892BB9BD...", "weight": 1}}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "acl.default.investigators.x.fingerprint");
    }

    #[test]
    fn array_form_and_go_case_are_accepted() {
        let acl = Acl::from_json(
            format!(r#"[{{"default": {{"MinimumWeight": 1, "Investigators": {{"a": {{"Fingerprint": "{BOB}", "Weight": 1}}}}}}}}]"#).as_bytes(),
        )
        .unwrap();
        assert!(acl.check_module("file", &[BOB.into()]).is_ok());
    }

    #[test]
    fn exact_permissions_do_not_fall_back() {
        let acl = seed_acl();
        assert!(acl
            .check_exact("query:shell_history", &[JOHN.into()])
            .is_none());
        assert!(acl
            .check_exact("filechecker", &[JOHN.into()])
            .unwrap()
            .is_err());
    }

    #[test]
    fn malformed_acls_are_errors_not_panics() {
        for bad in [
            &b"[1]"[..],
            b"\"x\"",
            b"{\"default\": 3}",
            b"{\"default\": {\"minimumweight\": \"2\"}}",
            b"{",
        ] {
            assert!(
                Acl::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
