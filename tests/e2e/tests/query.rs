//! The query module through the platform (mig → server → agent → back), locally, and the
//! ACL's per-table permissions (`query:shell_history` needing two signers).

use mig_e2e::{acl, stderr, stdout, Platform};
use serde_json::json;

#[test]
fn query_answers_fleet_wide_and_sensitive_tables_need_more_weight() {
    let p = Platform::start();
    let mut acl = acl(1, &[&p.admin]);
    acl["query:shell_history"] = json!({
        "minimumweight": 2,
        "investigators": {p.admin.name.clone(): {"fingerprint": p.admin.fingerprint, "weight": 1}}
    });
    let a = p.agent("querier", &[&p.admin], acl, "");
    p.wait_online("querier");

    let out = p.mig(
        &p.admin,
        &[
            "query",
            "-t",
            "all",
            "SELECT pid, name FROM processes WHERE pid = 1",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("| pid | name") && text.contains("| 1   |"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(
        text.contains("querier"),
        "results are labelled with the agent: {text}"
    );

    // A join, with the row cap reported.
    let out = p.mig(
        &p.admin,
        &[
            "query",
            "-t",
            "all",
            "-maxrows",
            "2",
            "SELECT p.pid, u.username FROM processes p JOIN users u USING (uid)",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("| pid | username"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(text.contains("maxrows=2"), "{text}");

    // One signer weighs 1: shell_history needs 2, so the agent refuses the whole action.
    let out = p.mig(
        &p.admin,
        &[
            "query",
            "-t",
            "all",
            "-show",
            "all",
            "SELECT count(*) FROM shell_history",
        ],
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("reads table shell_history") && all.contains("ACL weight 1 < 2"),
        "{all}"
    );
    assert!(a.audit().contains("query:shell_history"), "{}", a.audit());

    // Locally, no server: the same module in-process.
    let out = p.mig(
        &p.admin,
        &[
            "query",
            "-t",
            "local",
            "SELECT count(*) AS n FROM users WHERE uid = 0",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("| n |") && text.contains("| 1 |"),
        "{text}\n{}",
        stderr(&out)
    );
}
