//! The shipped documents (docs/examples/scribe-*.json) on passing and failing fixtures. Each
//! document takes its root directory from a variable (`etc`, `ssh`), which the tests point
//! at a temporary directory; operators run them unchanged against /etc.

use super::*;
use crate::ModuleResult;
use serde_json::json;
use serde_json::Value;
use std::path::Path;

const ROOT_PASSWORD: &str = include_str!("../../../../docs/examples/scribe-root-password.json");
const SSHD: &str = include_str!("../../../../docs/examples/scribe-sshd.json");

/// Runs `doc` with its variable `key` set to `dir`; the master result of each test by id.
fn run_example(doc: &str, key: &str, dir: &Path) -> (ModuleResult, Vec<(String, bool)>) {
    let mut doc: Value = serde_json::from_str(doc).unwrap();
    let vars = doc["variables"].as_array_mut().unwrap();
    let var = vars.iter_mut().find(|v| v["key"] == key).unwrap();
    var["value"] = json!(dir);
    let r = crate::lookup("scribe")
        .unwrap()
        .run_json(&json!({ "scribedoc": doc }), &Context::default());
    assert!(r.success, "{:?}", r.errors);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let results: Vec<TestResult> = serde_json::from_value(r.elements["results"].clone()).unwrap();
    let masters = results
        .into_iter()
        .map(|t| (t.testid, t.masterresult))
        .collect();
    (r, masters)
}

fn master(masters: &[(String, bool)], id: &str) -> bool {
    masters
        .iter()
        .find(|(t, _)| t == id)
        .unwrap_or_else(|| panic!("no test {id}"))
        .1
}

fn shadow(root_line: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let text =
        format!("{root_line}\ndaemon:*:19000:0:99999:7:::\nalice:$6$salt$abc:19000:0:99999:7:::\n");
    std::fs::write(d.path().join("shadow"), text).unwrap();
    // Names that contain "shadow" but are not it must not count.
    std::fs::write(d.path().join("gshadow"), "root:::\n").unwrap();
    std::fs::write(d.path().join("shadow-"), "root::19000:0:99999:7:::\n").unwrap();
    d
}

#[test]
fn root_password_hashed_or_disabled() {
    for (line, hashed, disabled) in [
        (
            "root:$6$rounds=5000$saltsalt$hashhashhash:19000:0:99999:7:::",
            true,
            false,
        ),
        ("root:$y$j9T$salt$hash:19000:0:99999:7:::", true, false),
        ("root:$1$salt$hash:19000:0:99999:7:::", true, false),
        ("root:!:19000:0:99999:7:::", false, true),
        ("root:*:19000:0:99999:7:::", false, true),
        ("root:!$6$salt$hash:19000:0:99999:7:::", false, true),
    ] {
        let d = shadow(line);
        let (_, m) = run_example(ROOT_PASSWORD, "etc", d.path());
        assert_eq!(master(&m, "root-password-hashed"), hashed, "{line}");
        assert_eq!(master(&m, "root-password-disabled"), disabled, "{line}");
        assert!(master(&m, "root-password-ok"), "{line}");
    }
    for line in [
        "root::19000:0:99999:7:::",
        "root:hunter2:19000:0:99999:7:::",
        "root:$6:19000:0:99999:7:::",
        "toor:$6$salt$hash:19000:0:99999:7:::",
    ] {
        let d = shadow(line);
        let (_, m) = run_example(ROOT_PASSWORD, "etc", d.path());
        assert!(!master(&m, "root-password-ok"), "{line}");
    }
    // No shadow file at all: not compliant (nothing says root is protected).
    let empty = tempfile::tempdir().unwrap();
    let (_, m) = run_example(ROOT_PASSWORD, "etc", empty.path());
    assert!(!master(&m, "root-password-ok"));
    // The greppable line an operator filters on.
    let d = shadow("root:!:19000:0:99999:7:::");
    let (r, _) = run_example(ROOT_PASSWORD, "etc", d.path());
    let lines = crate::lookup("scribe").unwrap().pretty(&r, true);
    assert!(
        lines.contains(&"master [true] name:\"root password hashed or disabled\" id:\"root-password-ok\" hastrue:true error:\"\"".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"sub [true] name:\"root password hashed or disabled\" id:\"root-password-ok\" identifier:\"root-password-disabled\"".to_string()));
}

/// Files of sshd_config.d: (name, text).
type Dropins<'a> = Vec<(&'a str, &'a str)>;

/// An sshd configuration directory: `main` is sshd_config, `dropins` go to sshd_config.d.
fn sshd(main: &str, dropins: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("sshd_config"), main).unwrap();
    // The client's configuration also has PasswordAuthentication: it must not count.
    std::fs::write(
        d.path().join("ssh_config"),
        "Host *\n    PasswordAuthentication yes\n",
    )
    .unwrap();
    std::fs::create_dir(d.path().join("sshd_config.d")).unwrap();
    for (name, text) in dropins {
        std::fs::write(d.path().join("sshd_config.d").join(name), text).unwrap();
    }
    d
}

const HARDENED: &str = "\
# a comment: PermitRootLogin yes
Include /etc/ssh/sshd_config.d/*.conf
Port 22
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
Subsystem sftp /usr/lib/openssh/sftp-server
";

#[test]
fn sshd_disallows_root_login_and_password_auth() {
    let passing: Vec<(&str, Dropins)> = vec![
        (HARDENED, vec![]),
        // Keyword=value, any case, settings in a drop-in.
        (
            "Include /etc/ssh/sshd_config.d/*.conf\n",
            vec![(
                "10-hardening.conf",
                "permitrootlogin=No\nPASSWORDAUTHENTICATION no\n",
            )],
        ),
        // A drop-in that is not .conf is not read by sshd's Include.
        (HARDENED, vec![("README", "PasswordAuthentication yes\n")]),
    ];
    for (main, dropins) in passing {
        let d = sshd(main, &dropins);
        let (_, m) = run_example(SSHD, "ssh", d.path());
        assert!(
            master(&m, "sshd-root-login-disallowed"),
            "{main} {dropins:?}"
        );
        assert!(
            master(&m, "sshd-password-auth-disallowed"),
            "{main} {dropins:?}"
        );
        assert!(master(&m, "sshd-hardened"), "{main} {dropins:?}");
    }
    let failing: Vec<(&str, Dropins, bool, bool)> = vec![
        // (sshd_config, drop-ins, root login disallowed, password auth disallowed)
        ("PermitRootLogin yes\nPasswordAuthentication no\n", vec![], false, true),
        ("PermitRootLogin prohibit-password\nPasswordAuthentication no\n", vec![], false, true),
        ("PasswordAuthentication no\n", vec![], false, true),
        ("PermitRootLogin no\n", vec![], true, false),
        ("#PermitRootLogin no\n#PasswordAuthentication no\n", vec![], false, false),
        // cloud-init's drop-in turns passwords back on.
        (HARDENED, vec![("50-cloud-init.conf", "PasswordAuthentication yes\n")], true, false),
        // A Match block lets root in from somewhere.
        ("PermitRootLogin no\nPasswordAuthentication no\nMatch Address 10.0.0.0/8\n    PermitRootLogin yes\n", vec![], false, true),
        ("PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication yes\n", vec![], true, false),
        (HARDENED, vec![("20-pam.conf", "ChallengeResponseAuthentication yes\n")], true, false),
    ];
    for (main, dropins, root_ok, password_ok) in failing {
        let d = sshd(main, &dropins);
        let (_, m) = run_example(SSHD, "ssh", d.path());
        assert_eq!(
            master(&m, "sshd-root-login-disallowed"),
            root_ok,
            "{main} {dropins:?}"
        );
        assert_eq!(
            master(&m, "sshd-password-auth-disallowed"),
            password_ok,
            "{main} {dropins:?}"
        );
        assert!(!master(&m, "sshd-hardened"), "{main} {dropins:?}");
    }
    // No sshd at all: not hardened.
    let empty = tempfile::tempdir().unwrap();
    let (_, m) = run_example(SSHD, "ssh", empty.path());
    assert!(!master(&m, "sshd-hardened"));

    // With onlytrue, a hardened host answers with the tests that hold, the final one among them.
    let d = sshd(HARDENED, &[]);
    let mut doc: Value = serde_json::from_str(SSHD).unwrap();
    doc["variables"][0]["value"] = json!(d.path());
    let r = crate::lookup("scribe").unwrap().run_json(
        &json!({"scribedoc": doc, "onlytrue": true}),
        &Context::default(),
    );
    let lines = crate::lookup("scribe").unwrap().pretty(&r, true);
    assert!(lines.contains(&"master [true] name:\"sshd disallows root login and password auth\" id:\"sshd-hardened\" hastrue:true error:\"\"".to_string()), "{lines:?}");
    assert!(!lines
        .iter()
        .any(|l| l.contains("[false]") && l.starts_with("master")));
}
