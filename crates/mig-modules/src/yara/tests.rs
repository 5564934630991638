use super::*;
use crate::holder::spawn_holder;
use crate::lookup;
use crate::ModuleResult;
use serde_json::json;

fn run(v: serde_json::Value) -> ModuleResult {
    lookup("yara")
        .unwrap()
        .run_json(&v, &Context::new(Some(Duration::from_secs(120))))
}

const RULES: &str = r#"
rule webshell_eval {
    strings:
        $a = "eval(base64_decode("
    condition:
        $a
}
rule elf_binary {
    condition:
        uint32(0) == 0x464c457f
}
"#;

#[test]
fn scans_the_files_a_file_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let shell = dir.path().join("upload.php");
    std::fs::write(&shell, "<?php eval(base64_decode($_POST['x'])); ?>").unwrap();
    std::fs::write(dir.path().join("clean.php"), "<?php echo 'hello'; ?>").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "eval(base64_decode(").unwrap();
    let r = run(json!({
        "yara": RULES,
        "filesearch": format!("-path '{}' -name '\\.php$'", dir.path().display()),
    }));
    assert!(r.success, "{r:?}");
    assert!(r.foundanything);
    assert_eq!(
        r.elements,
        json!({"Matches": [{"Object": shell.to_string_lossy(), "MatchedRules": ["webshell_eval"]}]})
    );
    assert_eq!(r.statistics["filesscanned"], 2);
    assert_eq!(
        lookup("yara").unwrap().pretty(&r, true),
        vec![format!("{} [webshell_eval]", shell.display())]
    );

    // Several rules on one file, in rule order; nothing found is not an error.
    let r = run(json!({"yara": RULES, "filesearch": "-path /bin -name '^ls$' -maxdepth 1"}));
    assert!(r.success, "{r:?}");
    let matched = r.elements["Matches"].as_array().unwrap();
    if let Some(ls) = matched.first() {
        assert_eq!(ls["MatchedRules"], json!(["elf_binary"]));
    }
}

#[test]
fn scans_process_memory_by_pid_and_by_name() {
    let h = spawn_holder();
    let pid = h.child.id();
    let marker = String::from_utf8_lossy(&h.heap).into_owned();
    let seam = String::from_utf8_lossy(&h.seam).into_owned();
    let rules = format!(
        r#"rule heap_marker {{ strings: $m = "{marker}" condition: $m }}
           rule seam_marker {{ strings: $m = "{seam}" condition: $m }}
           rule absent {{ strings: $m = "mig-nobody-holds-this-{pid}-x" condition: $m }}"#
    );
    let r = run(json!({"yara": rules, "pids": [pid]}));
    assert!(r.success, "{r:?}");
    assert_eq!(
        r.elements["Matches"],
        json!([{"Object": crate::os::procmem::process_name(pid).unwrap().unwrap(),
                "MatchedRules": ["heap_marker", "seam_marker"], "Pid": pid}]),
        "{r:?}"
    );
    assert_eq!(r.statistics["processesscanned"], 1);
    assert!(lookup("yara").unwrap().pretty(&r, true)[0]
        .contains(&format!("[pid:{pid}] [heap_marker,seam_marker]")));

    // By name: this test binary's path; the module never scans itself.
    let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let r = run(
        json!({"yara": rules, "procnames": [format!("^{}$", regex::escape(&exe.to_string_lossy()))]}),
    );
    assert!(r.success, "{r:?}");
    let pids: Vec<u64> = r.elements["Matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Pid"].as_u64().unwrap())
        .collect();
    assert!(pids.contains(&(pid as u64)), "{r:?}");
    assert!(!pids.contains(&(std::process::id() as u64)));
}

#[test]
fn bad_rules_and_parameters_are_clear_errors() {
    let m = lookup("yara").unwrap();
    let e = m
        .check_json(&json!({"yara": "rule x {\n  condition:\n    nope\n}", "pids": [1]}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not compile"), "{e}");
    assert!(
        e.contains("line:3") || e.contains(":3:"),
        "the error names the line: {e}"
    );
    for (p, want) in [
        (json!({"filesearch": "-path /etc"}), "rules are required"),
        (json!({"yara": RULES}), "nothing to scan"),
        (
            json!({"yara": RULES, "filesearch": "-path /etc -nope x"}),
            "filesearch: flag provided but not defined: -nope",
        ),
        (json!({"yara": RULES, "pids": [0.5]}), "pids: 0.5"),
        (json!({"yara": RULES, "procnames": ["("]}), "procnames"),
        (
            json!({"yara": RULES, "pids": [1], "scantimeout": "soon"}),
            "scantimeout",
        ),
        (
            json!({"yara": "include \"/etc/passwd\"", "pids": [1]}),
            "do not compile",
        ),
    ] {
        let e = m.check_json(&p).unwrap_err().to_string();
        assert!(e.contains(want), "{p}: {e}");
    }
}

#[test]
fn flags_read_the_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yar");
    std::fs::write(&rules, RULES).unwrap();
    let args: Vec<String> = [
        "-rules",
        rules.to_str().unwrap(),
        "-files",
        "-path /bin -name ssh",
        "-pid",
        "42",
        "-procname",
        "sshd$",
        "-scantimeout",
        "30s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let p = Yara::parse_flags(&args).unwrap();
    assert_eq!(p.rules, RULES);
    assert_eq!(p.filesearch, "-path /bin -name ssh");
    assert_eq!(p.pids, vec![42.0]);
    assert_eq!(p.procnames, vec!["sshd$"]);
    assert_eq!(p.scantimeout, "30s");
    let e = Yara::parse_flags(&["-files".into(), "-path /".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("-rules"), "{e}");
}

#[test]
fn a_slow_scan_is_cut_at_the_time_limit() {
    // A rule that would take hours on 64 KiB (yara-x checks its clock about once a second).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![b'a'; 64 << 10]).unwrap();
    let rules = r#"rule slow { condition:
        for all i in (0..filesize-1) : (for all j in (0..filesize-1) : (uint8(i) == uint8(j))) }"#;
    let r = run(json!({
        "yara": rules,
        "filesearch": format!("-path {} -name big", dir.path().display()),
        "scantimeout": "1s",
    }));
    assert!(r.success, "{r:?}");
    assert!(!r.foundanything, "{r:?}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("big.bin") && e.contains("time")),
        "{r:?}"
    );
}

#[test]
fn errors_are_capped_for_every_module() {
    // Five pids that do not exist, five errors; the shared cap keeps two and says so.
    let ctx = Context::new(Some(Duration::from_secs(30))).with_limits(crate::Limits {
        max_elements: 10,
        max_errors: 2,
        ..Default::default()
    });
    let pids: Vec<u64> = (0..5).map(|i| 4_000_000_000 + i).collect();
    let r = lookup("yara")
        .unwrap()
        .run_json(&json!({"yara": RULES, "pids": pids}), &ctx);
    assert_eq!(r.errors.len(), 3, "{r:?}");
    assert_eq!(r.errors[2], "3 errors were not returned");
}

/// The query module's yara tables scan with this module's engine: the same rules give the
/// same matches, with osquery's columns.
#[test]
fn the_query_modules_yara_tables_use_this_engine() {
    let dir = tempfile::tempdir().unwrap();
    let hit = dir.path().join("hit.txt");
    let miss = dir.path().join("miss.txt");
    std::fs::write(&hit, "xx EVIL_MARKER yy EVIL_MARKER").unwrap();
    std::fs::write(&miss, "nothing here").unwrap();
    let rules = dir.path().join("rules.yar");
    std::fs::write(
        &rules,
        "rule marker : tagged bad { strings: $m = \"EVIL_MARKER\" condition: $m }",
    )
    .unwrap();
    let query = |sql: String| {
        let r = crate::lookup("query")
            .unwrap()
            .run_json(&serde_json::json!({ "sql": sql }), &Context::default());
        assert!(r.success, "{sql}: {:?}", r.errors);
        r.elements["rows"].clone()
    };
    for table in ["yara_file", "yara"] {
        let rows = query(format!(
            "SELECT path, matches, count, strings, tags, sigfile FROM {table} WHERE path LIKE '{}/%.txt' AND sigfile = '{}' ORDER BY path",
            dir.path().display(),
            rules.display()
        ));
        assert_eq!(
            rows,
            serde_json::json!([
                [
                    hit.to_str().unwrap(),
                    "marker",
                    1,
                    "$m:3,$m:12",
                    "tagged,bad",
                    rules.to_str().unwrap()
                ],
                [
                    miss.to_str().unwrap(),
                    "",
                    0,
                    "",
                    "",
                    rules.to_str().unwrap()
                ],
            ])
        );
    }
    // This process's memory holds the marker (as a literal of this test).
    let rows = query(format!(
        "SELECT pid, matches FROM yara_process WHERE pid = {} AND sigrule = 'rule m {{ strings: $a = \"EVIL_MARKER\" condition: $a }}'",
        std::process::id()
    ));
    assert_eq!(rows, serde_json::json!([[std::process::id(), "m"]]));
    // Rules that do not compile, and rules from nowhere, are errors that say so.
    let r = crate::lookup("query").unwrap().run_json(
        &serde_json::json!({"sql": "SELECT * FROM yara_file WHERE path = '/etc/hostname' AND sigrule = 'rule {'"}),
        &Context::default(),
    );
    assert!(
        !r.success && r.errors[0].contains("sigrule"),
        "{:?}",
        r.errors
    );
    let r = crate::lookup("query").unwrap().run_json(
        &serde_json::json!({"sql": "SELECT * FROM yara_file WHERE path = '/etc/hostname'"}),
        &Context::default(),
    );
    assert!(
        !r.success && r.errors[0].contains("needs rules"),
        "{:?}",
        r.errors
    );
}
