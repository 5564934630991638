use super::*;
use crate::holder::{hex, marker, spawn_holder};
use crate::lookup;
use crate::ModuleResult;
use serde_json::json;

fn run(v: serde_json::Value) -> ModuleResult {
    lookup("memory")
        .unwrap()
        .run_json(&v, &Context::new(Some(std::time::Duration::from_secs(120))))
}

fn pids(result: &ModuleResult, label: &str) -> Vec<u32> {
    result.elements[label]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["process"]["pid"].as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn finds_a_marker_in_a_child_process_heap() {
    let h = spawn_holder();
    let pid = h.child.id();
    let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let exe_name = regex::escape(&exe.to_string_lossy());
    let r = run(json!({"searches": {
        "heap": {"names": [format!("^{exe_name}$")], "contents": [regex::escape(&String::from_utf8_lossy(&h.heap))],
                 "options": {"matchall": true}},
        "seam": {"bytes": [hex(&h.seam)], "options": {"matchall": true}},
        "libc": {"names": [format!("^{exe_name}$")], "libraries": ["libc[.-]"], "options": {"matchall": true}},
    }}));
    assert!(r.success, "{r:?}");
    assert!(r.foundanything);
    assert_eq!(pids(&r, "heap"), vec![pid], "{}", r.elements);
    // The seam marker spans two regions: found because they are contiguous.
    assert_eq!(pids(&r, "seam"), vec![pid], "{}", r.elements);
    assert!(pids(&r, "libc").contains(&pid), "{}", r.elements);
    let first = &r.elements["heap"][0];
    assert_eq!(first["process"]["name"], exe.to_string_lossy().as_ref());
    assert_eq!(first["search"]["options"], json!({"matchall": true}));
    assert!(r.statistics["processcount"].as_u64().unwrap() >= 1);
    assert!(r.statistics["memoryread"].as_u64().unwrap() > 0);
    assert_eq!(r.statistics["totalhits"], 3);

    let lines = lookup("memory").unwrap().pretty(&r, true);
    assert!(
        lines.contains(&format!("{} [pid:{pid}] in search 'heap'", exe.display())),
        "{lines:?}"
    );
}

#[test]
fn matchany_reports_each_check_and_what_matched_nothing() {
    let h = spawn_holder();
    let pid = h.child.id();
    let absent = hex(&marker("absent"));
    let r = run(json!({"searches": {"s1": {
        "contents": [regex::escape(&String::from_utf8_lossy(&h.heap))],
        "bytes": [absent],
        "names": ["^/nonexistent/binary$"],
    }}}));
    assert!(r.success, "{r:?}");
    let entries = r.elements["s1"].as_array().unwrap();
    // name (nothing), content (the child), bytes (nothing), in MIG's check order.
    let nothing: Vec<_> = entries
        .iter()
        .filter(|e| e["process"]["pid"] == 0)
        .map(|e| e["search"].clone())
        .collect();
    assert_eq!(
        nothing,
        vec![
            json!({"names": ["^/nonexistent/binary$"], "options": {}}),
            json!({"bytes": [absent], "options": {}})
        ]
    );
    let hit = entries
        .iter()
        .find(|e| e["process"]["pid"] == pid)
        .expect("the child matched the content check");
    assert!(hit["search"]["contents"].is_array());
    let lines = lookup("memory").unwrap().pretty(&r, false);
    assert!(
        lines
            .iter()
            .any(|l| l == "0 match found in search 's1' on checks name='^/nonexistent/binary$'"),
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.contains(&format!("[pid:{pid}] in search 's1' on checks content="))));
    assert!(lines.last().unwrap().starts_with("Statistics: "));
}

#[test]
fn a_marker_nobody_holds_is_not_found() {
    // This process holds the marker (it built the search) but a module never inspects itself.
    let absent = marker("nowhere");
    let r = run(json!({"searches": {"s1": {
        "contents": [regex::escape(&String::from_utf8_lossy(&absent))],
        "options": {"matchall": true}
    }}}));
    assert!(r.success, "{r:?}");
    assert!(!r.foundanything, "{}", r.elements);
    assert_eq!(
        r.elements["s1"],
        json!([{"process": {"name": "", "pid": 0}, "search": {
            "contents": [regex::escape(&String::from_utf8_lossy(&absent))],
            "options": {"matchall": true}}}])
    );
}

#[test]
fn maxlength_and_offset_bound_what_is_read() {
    let h = spawn_holder();
    let content = regex::escape(&String::from_utf8_lossy(&h.heap));
    // One byte per process cannot hold the marker.
    let r = run(json!({"searches": {"s1": {
        "contents": [content], "options": {"matchall": true, "maxlength": 1}
    }}}));
    assert!(!pids(&r, "s1").contains(&h.child.id()), "{}", r.elements);
    // Starting above every address reads nothing at all.
    let r = run(json!({"searches": {"s1": {
        "contents": [content], "options": {"matchall": true, "offset": 9.2e18}
    }}}));
    assert!(!r.foundanything, "{}", r.elements);
}

#[test]
fn stops_at_its_deadline() {
    let r = lookup("memory").unwrap().run_json(
        &json!({"searches": {"s1": {"contents": ["x"]}}}),
        &Context::new(Some(std::time::Duration::ZERO)),
    );
    assert!(r.success);
    assert!(
        r.errors.iter().any(|e| e.contains("stopped early")),
        "{r:?}"
    );
}

#[test]
fn flags_use_the_right_names() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = Memory::parse_flags(&args(&[
        "-name",
        "sshd",
        "-lib",
        "libssl",
        "-bytes",
        "00ff",
        "-content",
        "a.b",
        "-content",
        "c",
        "-offset",
        "4096",
        "-maxlength",
        "1000",
        "-logfailures",
    ]))
    .unwrap();
    let s = &p.searches["s1"];
    assert_eq!(s.names, ["sshd"]);
    assert_eq!(s.libraries, ["libssl"]);
    assert_eq!(s.bytes, ["00ff"]);
    assert_eq!(s.contents, ["a.b", "c"]);
    assert_eq!(
        s.options,
        Options {
            offset: 4096.0,
            maxlength: 1000.0,
            logfailures: true,
            matchall: true
        }
    );
    let any = Memory::parse_flags(&args(&["-name", "x", "-matchany"])).unwrap();
    assert!(!any.searches["s1"].options.matchall);
    // MIG registered offset and maxlength as -maxdepth and -matchlimit: not here.
    for wrong in ["-maxdepth", "-matchlimit"] {
        let e = Memory::parse_flags(&args(&["-name", "x", wrong, "1"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not defined"), "{e}");
    }
    assert!(lookup("memory")
        .unwrap()
        .flags_to_json(&args(&["-bytes", "xyz"]))
        .unwrap_err()
        .to_string()
        .contains("hexadecimal"));
}
