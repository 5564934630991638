//! Unit tests: documents, each object and evaluator kind, dependencies and expressions,
//! EVR comparisons, output modes, limits and validation errors. Many cases are scribe's own
//! test documents (test/*/test*.json in mozilla/scribe) with their expected results.

use super::evaluate::evr;
use super::model::EvrOp;
use super::*;
use crate::os::packages::Package;
use crate::ModuleResult;
use crate::{lookup, Limits};
use serde_json::{json, Value};
use std::path::Path;

/// scribe's package test table (pkgmgr.go `testPkgTable`).
fn test_packages() -> Vec<Package> {
    [
        ("openssl", "1.0.1e"),
        ("bash", "4.3-11"),
        ("upstart", "1.13.2"),
        ("grub-common", "2.02-beta2"),
        ("libbind", "1:9.9.5.dfsg-4.3"),
        ("kernel", "2.6.32-504.12.2.el6.x86_64"),
        ("kernel", "2.6.32-573.8.1.el6.x86_64"),
    ]
    .iter()
    .map(|(n, v)| Package {
        name: n.to_string(),
        version: v.to_string(),
        kind: "test",
        ..Default::default()
    })
    .collect()
}

fn params(doc: Value) -> Params {
    serde_json::from_value(json!({ "scribedoc": doc })).unwrap()
}

/// Validates and runs parameters as the registry does, against `packages`.
fn run_params(p: &Params, ctx: &Context, packages: Packages) -> ModuleResult {
    match Plan::new(p) {
        Ok(plan) => run_with(&plan, ctx, packages).into_result(),
        Err(e) => ModuleResult::failure(e.to_string()),
    }
}

fn run_doc(doc: Value) -> ModuleResult {
    run_params(
        &params(doc),
        &Context::default(),
        Packages::Fixed(test_packages()),
    )
}

fn results(r: &ModuleResult) -> Vec<TestResult> {
    serde_json::from_value(r.elements["results"].clone()).unwrap()
}

fn get(r: &ModuleResult, id: &str) -> TestResult {
    results(r)
        .into_iter()
        .find(|t| t.testid == id)
        .unwrap_or_else(|| panic!("no result for {id}: {r:?}"))
}

/// (master, hastrue, values) of a test.
fn outcome(r: &ModuleResult, id: &str) -> (bool, bool, Vec<(bool, String)>) {
    let t = get(r, id);
    assert!(!t.iserror, "{id}: {}", t.error);
    let subs = t
        .results
        .iter()
        .map(|s| (s.result, s.identifier.clone()))
        .collect();
    (t.masterresult, t.hastrueresults, subs)
}

fn invalid(doc: Value) -> String {
    lookup("scribe")
        .unwrap()
        .check_json(&json!({ "scribedoc": doc }))
        .unwrap_err()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// scribe's test/filecontent data files.
fn filecontent_fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "testfile0",
        "This is a Test file\nanother line\nTesting 123\n",
    );
    write(d.path(), "testfile1", "Version = 0.5\n");
    write(d.path(), "testfile2", "Version = 0.4z\n");
    write(d.path(), "data/a", "alpha\n");
    write(d.path(), "data/b", "beta\n");
    d
}

#[test]
fn scribes_filecontent_document_gives_scribes_expected_results() {
    let d = filecontent_fixture();
    let root = d.path().to_str().unwrap();
    let fc = |file: &str, expr: &str| json!({"path": "${root}", "file": file, "expression": expr});
    let doc = json!({
        "variables": [{"key": "root", "value": root}],
        "objects": [
            {"object": "nosuchfile", "filecontent": fc("nosuchfile", ".*")},
            {"object": "testfile0-test", "filecontent": fc("testfile0", ".*(Test).*")},
            {"object": "testfile0-all", "filecontent": fc("testfile0", "(.*)")},
            {"object": "testfile0-regex", "filecontent": fc("testfile0", "^(T\\S+).*")},
            {"object": "testfile1-version", "filecontent": fc(".*file1", "^Version = (\\S+)")},
            {"object": "testfile2-version", "filecontent": fc(".*file2", "^Version = (\\S+)")},
            {"object": "anyfile", "filecontent": {"path": "${root}/data", "file": ".*", "expression": "(.*)"}}
        ],
        "tests": [
            {"test": "simplecontent0", "object": "nosuchfile", "expectedresult": false},
            {"test": "simplecontent1", "object": "testfile0-test", "expectedresult": true},
            {"test": "simplecontent2", "object": "testfile0-all", "regexp": {"value": "Test"}},
            {"test": "simplecontent3", "object": "testfile0-regex", "regexp": {"value": "Test"}},
            {"test": "filecontent0", "object": "testfile1-version", "evr": {"operation": "<", "value": "0.6"}},
            {"test": "filecontent1", "object": "testfile1-version", "evr": {"operation": "<", "value": "0.6"}, "if": ["simplecontent0"]},
            {"test": "filecontent2", "object": "testfile1-version", "evr": {"operation": "<", "value": "0.6"}, "if": ["simplecontent1"]},
            {"test": "filecontent3", "object": "testfile1-version", "evr": {"operation": "<", "value": "0.4z"}},
            {"test": "filecontent4", "object": "testfile2-version", "evr": {"operation": "<", "value": "0.4z"}},
            {"test": "anyfile0", "object": "anyfile"}
        ]
    });
    let r = run_doc(doc);
    assert!(r.success, "{:?}", r.errors);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.foundanything);
    for (id, want) in [
        ("simplecontent0", false),
        ("simplecontent1", true),
        ("simplecontent2", true),
        ("simplecontent3", true),
        ("filecontent0", true),
        ("filecontent1", false),
        ("filecontent2", true),
        ("filecontent3", false),
        ("filecontent4", false),
        ("anyfile0", true),
    ] {
        assert_eq!(outcome(&r, id).0, want, "{id}");
    }
    // Results keep the document's order.
    let ids: Vec<String> = results(&r).into_iter().map(|t| t.testid).collect();
    assert_eq!(ids[0], "simplecontent0");
    assert_eq!(ids[9], "anyfile0");
    // One value per capture group per matching line, identified by the file.
    let (_, _, subs) = outcome(&r, "simplecontent3");
    let f0 = format!("{root}/testfile0");
    assert_eq!(
        subs,
        vec![(false, f0.clone()), (true, f0.clone())],
        "This, Testing"
    );
    let (_, _, subs) = outcome(&r, "simplecontent2");
    assert_eq!(subs.len(), 3, "(.*) captures every line");
    // A dependency that is false makes the test false, though its own value is true.
    let t = get(&r, "filecontent1");
    assert!(t.hastrueresults && !t.masterresult);
    assert!(t.human().contains(
        &"\tmaster result: false, has true results, failure caused by dependency".to_string()
    ));
    let (_, _, subs) = outcome(&r, "anyfile0");
    assert_eq!(
        subs.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        vec![format!("{root}/data/a"), format!("{root}/data/b")],
        "files in name order"
    );
}

#[test]
fn filecontent_groups_names_depth_symlinks_and_file_paths() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().to_str().unwrap().to_string();
    write(d.path(), "cfg", "a = 1, 2\nb = 3\nopt = \n");
    write(d.path(), "gcfg", "a = 9, 9\n");
    let deep = (1..=10)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join("/");
    write(d.path(), &format!("{deep}/cfg"), "a = 10, 10\n");
    std::os::unix::fs::symlink(d.path().join("cfg"), d.path().join("link-cfg")).unwrap();
    std::os::unix::fs::symlink(d.path().join("d1"), d.path().join("dirlink")).unwrap();
    let doc = |path: &str, file: &str, expr: &str| {
        json!({"objects": [{"object": "o", "filecontent": {"path": path, "file": file, "expression": expr}}],
               "tests": [{"test": "t", "object": "o"}]})
    };
    let ids =
        |r: &ModuleResult| -> Vec<String> { outcome(r, "t").2.into_iter().map(|s| s.1).collect() };

    // Unanchored name regex: "cfg" also finds gcfg and link-cfg (a symlink to a file), not
    // the symlinked directory's content, and nothing ten directories down (depth 11).
    let r = run_doc(doc(&root, "cfg", "^a = (\\d+), (\\d+)"));
    let found = ids(&r);
    assert!(found.contains(&format!("{root}/cfg")));
    assert!(found.contains(&format!("{root}/gcfg")));
    assert!(found.contains(&format!("{root}/link-cfg")));
    assert!(!found.iter().any(|f| f.contains("dirlink")));
    assert!(!found.iter().any(|f| f.contains("d10")), "{found:?}");
    assert_eq!(
        found.len(),
        6,
        "two groups in each of three files: {found:?}"
    );

    // Depth 10 is reached when the tree starts one level lower.
    let r = run_doc(doc(&format!("{root}/d1"), "^cfg$", "^a = (\\d+)"));
    assert_eq!(ids(&r).len(), 1);

    // A path that is a file is a candidate itself; an empty optional group gives "".
    let r = run_doc(
        json!({"objects": [{"object": "o", "filecontent": {"path": format!("{root}/cfg"), "file": "^cfg$", "expression": "^opt = (\\S*)"}}],
        "tests": [{"test": "t", "object": "o", "exactmatch": {"value": "x"}}, {"test": "u", "object": "o"}]}),
    );
    assert_eq!(outcome(&r, "t").2, vec![(false, format!("{root}/cfg"))]);
    assert!(outcome(&r, "u").0, "noop: true for every value, even empty");

    // Without a capture group there are no values, so the test is false (as in scribe).
    let r = run_doc(doc(&root, "^cfg$", "^a ="));
    assert_eq!(outcome(&r, "t"), (false, false, vec![]));

    // A path that does not exist: false, no error.
    let r = run_doc(doc(&format!("{root}/nope"), "cfg", "(.*)"));
    assert_eq!(outcome(&r, "t"), (false, false, vec![]));
}

#[test]
fn import_chain_and_concat_build_one_value_per_file() {
    // scribe's test/import-chain document.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a/testfile0", "var = (1, 2)\n");
    write(d.path(), "a/testfile1", "minor = 3\n");
    write(d.path(), "b/testfile0", "var = (4, 5)\n");
    write(d.path(), "b/testfile1", "minor = 6\nminor = 7\n");
    let root = d.path().to_str().unwrap();
    let doc = json!({
        "variables": [{"key": "root", "value": root}],
        "objects": [
            {"object": "testfile0-combined", "filecontent": {"path": "${root}", "file": "testfile0",
                "expression": "var = \\((\\S+), (\\S+)\\)", "concat": ".", "import-chain": ["testfile1-minor"]}},
            {"object": "testfile1-minor", "filecontent": {"path": "${chain_root}", "file": "testfile1", "expression": "minor = (\\S+)"}}
        ],
        "tests": [
            {"test": "testfile0-noop", "object": "testfile0-combined"},
            {"test": "version", "object": "testfile0-combined", "evr": {"operation": "=", "value": "1.2.3"}}
        ]
    });
    let r = run_doc(doc);
    assert!(outcome(&r, "testfile0-noop").0);
    let (master, _, subs) = outcome(&r, "version");
    assert!(master);
    // Each matching file fires the chain in its own directory: a gives 1.2.3, b 4.5.6.7.
    assert_eq!(
        subs,
        vec![
            (true, format!("{root}/a/testfile0")),
            (false, format!("{root}/b/testfile0"))
        ]
    );
    let r = run_doc(json!({
        "objects": [
            {"object": "combined", "filecontent": {"path": root, "file": "testfile0",
                "expression": "var = \\((\\S+), (\\S+)\\)", "concat": ".", "import-chain": ["minor"]}},
            {"object": "minor", "filecontent": {"path": "${chain_root}", "file": "testfile1", "expression": "minor = (\\S+)"}}
        ],
        "tests": [{"test": "b", "object": "combined", "exactmatch": {"value": "4.5.6.7"}}]
    }));
    assert_eq!(
        outcome(&r, "b").2,
        vec![
            (false, format!("{root}/a/testfile0")),
            (true, format!("{root}/b/testfile0"))
        ]
    );
    let m = model::build(&params(json!({
        "objects": [{"object": "a", "filecontent": {"path": "/x", "file": "f", "expression": "(.*)", "concat": "-"}}],
        "tests": [{"test": "t", "object": "a"}]})).scribedoc).unwrap();
    assert_eq!(m.objects.len(), 1);
    let joined = objects::concat(
        vec![
            objects::Criterion {
                identifier: "f".into(),
                value: "".into(),
            },
            objects::Criterion {
                identifier: "g".into(),
                value: "x".into(),
            },
            objects::Criterion {
                identifier: "f".into(),
                value: "1".into(),
            },
            objects::Criterion {
                identifier: "f".into(),
                value: "2".into(),
            },
        ],
        "-",
    );
    assert_eq!(
        joined[0].value, "1-2",
        "an empty first value takes no separator"
    );
    assert_eq!(joined[1].value, "x");
}

#[test]
fn filename_hasline_raw_and_package_objects() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "libfoo.so.1.2", "");
    write(d.path(), "libfoo.so.1.10", "");
    write(d.path(), "a.txt", "nothing here\n");
    write(d.path(), "b.txt", "a test line\n");
    let root = d.path().to_str().unwrap();
    let doc = json!({
        "objects": [
            {"object": "libfoo", "filename": {"path": root, "file": "^libfoo\\.so\\.(.*)$"}},
            {"object": "nogroup", "filename": {"path": root, "file": "^libfoo"}},
            {"object": "file-hasline", "hasline": {"path": root, "file": ".*\\.txt", "expression": ".*test.*"}},
            {"object": "raw0", "raw": {"identifiers": [{"identifier": "an identifier", "value": "VALUE"}, {"identifier": "another identifier", "value": "TEST"}]}},
            {"object": "openssl-package", "package": {"name": "openssl"}},
            {"object": "libbind-package", "package": {"name": "libbind"}},
            {"object": "grub-common-package", "package": {"name": "grub-common"}},
            {"object": "kernel-package-newest", "package": {"name": "kernel", "onlynewest": true}},
            {"object": "kernels", "package": {"name": "kernel", "collectmatch": "^ker"}},
            {"object": "absent", "package": {"name": "nginx"}}
        ],
        "tests": [
            {"test": "libfoo-old", "object": "libfoo", "evr": {"operation": "<", "value": "1.5"}},
            {"test": "nogroup", "object": "nogroup"},
            {"test": "files-without-line", "object": "file-hasline", "exactmatch": {"value": "false"},
             "tags": [{"key": "testtag", "value": "tag1"}, {"key": "another tag", "value": "Another tag with spaces"}]},
            {"test": "raw", "object": "raw0", "regexp": {"value": "TEST"}},
            {"test": "package0", "object": "openssl-package"},
            {"test": "package1", "object": "libbind-package", "evr": {"operation": "=", "value": "1:9.9.5.dfsg-4.3"}},
            {"test": "package2", "object": "grub-common-package", "evr": {"operation": "<", "value": "2.02-beta1"}},
            {"test": "package3", "object": "grub-common-package", "evr": {"operation": "<", "value": "2.02-beta2"}},
            {"test": "package4", "object": "grub-common-package", "evr": {"operation": "<", "value": "2.01-beta2"}},
            {"test": "package5", "object": "grub-common-package", "evr": {"operation": "<", "value": "2.02-beta3"}, "if": ["package2"]},
            {"test": "package7", "object": "openssl-package", "evr": {"operation": ">", "value": "1.0.1d"}},
            {"test": "package8", "object": "kernel-package-newest", "evr": {"operation": "<", "value": "2.6.32-573.8.1.el6.x86_64"}},
            {"test": "kernels", "object": "kernels", "evr": {"operation": "<", "value": "2.6.32-573.8.1.el6.x86_64"}},
            {"test": "absent", "object": "absent"}
        ]
    });
    let r = run_doc(doc);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let (m, _, subs) = outcome(&r, "libfoo-old");
    assert!(m);
    assert_eq!(
        subs,
        vec![
            (false, format!("{root}/libfoo.so.1.10")),
            (true, format!("{root}/libfoo.so.1.2"))
        ]
    );
    assert_eq!(
        outcome(&r, "nogroup"),
        (false, false, vec![]),
        "filename needs a capture group"
    );
    let (m, _, subs) = outcome(&r, "files-without-line");
    assert!(m);
    assert_eq!(
        subs,
        vec![
            (true, format!("{root}/a.txt")),
            (false, format!("{root}/b.txt"))
        ]
    );
    assert_eq!(get(&r, "files-without-line").tags.len(), 2);
    assert_eq!(
        outcome(&r, "raw"),
        (
            true,
            true,
            vec![
                (false, "an identifier".into()),
                (true, "another identifier".into())
            ]
        )
    );
    // scribe's test/package document, expected results included.
    for (id, want) in [
        ("package0", true),
        ("package1", true),
        ("package2", false),
        ("package3", false),
        ("package4", false),
        ("package5", false),
        ("package7", true),
        ("package8", false),
        ("kernels", true),
        ("absent", false),
    ] {
        assert_eq!(outcome(&r, id).0, want, "{id}");
    }
    assert_eq!(
        outcome(&r, "package0").2,
        vec![(true, "openssl".to_string())]
    );
    assert_eq!(outcome(&r, "package8").2.len(), 1, "only the newest kernel");
    assert_eq!(outcome(&r, "kernels").2.len(), 2);
}

#[test]
fn expressions_combine_tests() {
    // Four raw tests whose truth is chosen per case; test5 is the roadmap's expression.
    let run = |t: [bool; 4]| {
        let tests: Vec<Value> = (0..4)
            .map(|i| json!({"test": format!("test{}", i + 1), "object": "v", "exactmatch": {"value": if t[i] { "x" } else { "nope" }}}))
            .chain([json!({"test": "test5", "name": "combined", "expression": "(((test1 and test2) or test3) and test4)"})])
            .collect();
        let r = run_doc(
            json!({"objects": [{"object": "v", "raw": {"identifiers": [{"identifier": "i", "value": "x"}]}}], "tests": tests}),
        );
        outcome(&r, "test5")
    };
    assert!(run([true, true, false, true]).0);
    assert!(run([false, false, true, true]).0);
    assert!(run([true, false, true, true]).0);
    assert!(!run([true, true, true, false]).0, "test4 is required");
    assert!(!run([true, false, false, true]).0);
    let (master, hastrue, subs) = run([true, false, false, true]);
    assert!(!master && hastrue);
    assert_eq!(
        subs,
        vec![
            (true, "test1".into()),
            (false, "test2".into()),
            (false, "test3".into()),
            (true, "test4".into())
        ],
        "one sub-result per test named"
    );

    // not, and `if` on an expression test.
    let r = run_doc(json!({
        "objects": [{"object": "v", "raw": {"identifiers": [{"identifier": "i", "value": "x"}]}}],
        "tests": [
            {"test": "yes", "object": "v"},
            {"test": "no", "object": "v", "exactmatch": {"value": "y"}},
            {"test": "not-no", "expression": "NOT no"},
            {"test": "gated", "expression": "yes", "if": ["no"]}
        ]
    }));
    assert!(outcome(&r, "not-no").0);
    assert!(
        !outcome(&r, "gated").0,
        "if applies to expression tests too"
    );
    let r2 = run_params(
        &params(json!({
            "objects": [{"object": "v", "raw": {"identifiers": [{"identifier": "i", "value": "x"}]}},
                        {"object": "p", "package": {"name": "openssl"}}],
            "tests": [{"test": "yes", "object": "v"}, {"test": "pk", "object": "p"},
                      {"test": "uses", "expression": "yes or pk"}, {"test": "dep", "object": "v", "if": ["pk"]}]})),
        &Context::default(),
        Packages::Fixed(Vec::new()),
    );
    assert!(
        !outcome(&r2, "pk").0,
        "an empty package list: not installed"
    );
    assert!(outcome(&r2, "uses").0);
    assert!(!outcome(&r2, "dep").0);
}

#[test]
fn errors_propagate_to_dependents_and_are_reported_even_with_onlytrue() {
    // A package without a version cannot be compared: that test errors, and so do the tests
    // that depend on it; a missing file is not an error, only false.
    let mut p = params(json!({
        "objects": [{"object": "missing", "filecontent": {"path": "/nonexistent-scribe", "file": "x", "expression": "(.*)"}},
                    {"object": "p", "package": {"name": "p"}}],
        "tests": [
            {"test": "ok", "object": "missing"},
            {"test": "bad", "object": "p", "evr": {"operation": "<", "value": "1"}},
            {"test": "after", "object": "p", "if": ["bad"]},
            {"test": "expr", "expression": "ok or bad"}
        ]
    }));
    let unversioned = || {
        Packages::Fixed(vec![Package {
            name: "p".into(),
            ..Default::default()
        }])
    };
    let r = run_params(&p, &Context::default(), unversioned());
    assert_eq!(outcome(&r, "ok"), (false, false, vec![]));
    let bad = get(&r, "bad");
    assert!(
        bad.iserror && bad.error.contains("evr: no version"),
        "{bad:?}"
    );
    assert!(!bad.masterresult && bad.results.is_empty());
    assert_eq!(get(&r, "after").error, "a test dependency failed (\"bad\")");
    assert_eq!(get(&r, "expr").error, "a test dependency failed (\"bad\")");
    assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
    assert_eq!(
        r.errors[1],
        "Error: a test dependency failed (\"bad\") in \"after\""
    );
    let lines = bad.single_lines();
    assert!(
        lines[0].starts_with("master [error] name:\"bad\" id:\"bad\" hastrue:false error:\"evr:"),
        "{lines:?}"
    );
    assert!(bad
        .human()
        .contains(&format!("\t[error] error: {}", bad.error)));

    // onlytrue keeps only true tests, but the errors stay in `errors`.
    p.onlytrue = true;
    let r = run_params(&p, &Context::default(), unversioned());
    assert!(results(&r).is_empty());
    assert!(!r.foundanything);
    assert_eq!(r.errors.len(), 3);
}

#[test]
fn onlytrue_and_the_three_output_modes() {
    let doc = json!({
        "objects": [{"object": "v", "raw": {"identifiers": [{"identifier": "a<b", "value": "x"}, {"identifier": "c", "value": "y"}]}}],
        "tests": [
            {"test": "t1", "name": "has x", "description": "finds x", "object": "v", "exactmatch": {"value": "x"}, "tags": [{"key": "k", "value": "v"}]},
            {"test": "t2", "object": "v", "exactmatch": {"value": "z"}}
        ]
    });
    let mut p = params(doc);
    let r = run_params(&p, &Context::default(), Packages::System);
    assert_eq!(results(&r).len(), 2);
    assert!(r.foundanything, "found: at least one result, true or false");
    assert!(r.statistics["execruntime"].as_str().unwrap().ends_with('s'));
    let m = lookup("scribe").unwrap();
    assert_eq!(
        m.pretty(&r, true),
        vec![
            "master [true] name:\"has x\" id:\"t1\" hastrue:true error:\"\"",
            "sub [true] name:\"has x\" id:\"t1\" identifier:\"a<b\"",
            "sub [false] name:\"has x\" id:\"t1\" identifier:\"c\"",
            "master [false] name:\"t2\" id:\"t2\" hastrue:false error:\"\"",
            "sub [false] name:\"t2\" id:\"t2\" identifier:\"a<b\"",
            "sub [false] name:\"t2\" id:\"t2\" identifier:\"c\"",
        ]
    );
    let all = m.pretty(&r, false);
    assert!(all.last().unwrap().starts_with("Statistics: runtime "));

    p.onlytrue = true;
    p.humanoutput = true;
    let r = run_params(&p, &Context::default(), Packages::System);
    assert_eq!(r.elements["humanoutput"], true);
    assert_eq!(
        m.pretty(&r, true),
        vec![
            "result for \"has x\" (t1)",
            "\tdescription: finds x",
            "\tmaster result: true",
            "\ttag: k: v",
            "\t[true] identifier: \"a<b\"",
            "\t[false] identifier: \"c\"",
        ]
    );

    p.humanoutput = false;
    p.jsonoutput = true;
    let r = run_params(&p, &Context::default(), Packages::System);
    assert_eq!(
        m.pretty(&r, true),
        vec![
            r#"{"testid":"t1","name":"has x","description":"finds x","tags":[{"key":"k","value":"v"}],"iserror":false,"error":"","masterresult":true,"hastrueresults":true,"results":[{"result":true,"identifier":"a\u003cb"},{"result":false,"identifier":"c"}]}"#
        ]
    );

    // Masking hides the endpoint's identifiers, not the document's test ids.
    let mut masked = r.clone();
    m.mask(&mut masked);
    assert_eq!(
        masked.elements["results"][0]["results"][0]["identifier"],
        "[masked]"
    );
    assert_eq!(masked.elements["results"][0]["testid"], "t1");
}

#[test]
fn evr_comparisons_follow_scribes_test_data() {
    // mozilla/scribe test/evrtest/data: "<op> <actual> <check>".
    let data = "\
= 2:3.14.5-1+deb7u1 2:3.14.5-1+deb7u1
= 0:24.7.0esr-1~deb7u1 0:24.7.0esr-1~deb7u1
= 0:7u65-2.5.1-2~deb7u1 0:7u65-2.5.1-2~deb7u1
= 2:7.3.547-7 2:7.3.547-7
< 1:7.3.547-7 2:7.3.547-7
< 2:7.2.547-7 2:7.3.547-7
< 2:7.3.540-7 2:7.3.547-7
< 2:7.3.547-6 2:7.3.547-7
= 1.0.1e-2+deb7u14 1.0.1e-2+deb7u14
< 1.0.1d-2+deb7u14 1.0.1e-2+deb7u14
< 1.0.1 1.0.1e
= 1.0.1 1.0.1
< 1.0.1d 1.0.1e
< 0:0.2.4-1~deb7u1 0:0.2.4.23-1~deb7u1
< 0:0.2.4.23-0~deb7u1 0:0.2.4.23-1~deb7u1
< 2.6.32-504.el6 0:2.6.32-504.8.1.el6";
    for line in data.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let op = if f[0] == "=" {
            EvrOp::Equal
        } else {
            EvrOp::Less
        };
        assert!(evr(op, f[1], f[2]).unwrap(), "{line}");
        if op == EvrOp::Less {
            assert!(evr(EvrOp::Greater, f[2], f[1]).unwrap(), "reversed: {line}");
            assert!(!evr(EvrOp::Equal, f[1], f[2]).unwrap(), "{line}");
        }
    }
    // Where scribe erred or was wrong: all-digit versions compare, `~` sorts first.
    assert!(evr(EvrOp::Less, "5", "6").unwrap());
    assert!(evr(EvrOp::Less, "1.0~rc1", "1.0").unwrap());
    assert!(evr(EvrOp::Less, "", "1").is_err());
}

#[test]
fn invalid_documents_name_what_is_wrong() {
    let raw = json!({"identifiers": [{"identifier": "i", "value": "v"}]});
    let obj = json!({"object": "v", "raw": raw});
    let t = |test: Value| json!({"objects": [obj.clone()], "tests": [test]});
    for (doc, want) in [
        (json!({}), "scribedoc.tests: expected at least one test"),
        (json!({"objects": [obj], "tests": [{"object": "v"}]}), "scribedoc.tests[0]: test must be set"),
        (json!({"objects": [{"raw": raw}], "tests": [{"test": "t"}]}), "scribedoc.objects[0]: object must be set"),
        (json!({"objects": [{"object": "o"}], "tests": [{"test": "t"}]}), "scribedoc.objects[0] (\"o\"): no object kind"),
        (json!({"objects": [{"object": "o", "raw": raw, "package": {"name": "x"}}], "tests": [{"test": "t", "object": "o"}]}),
            "more than one kind (package, raw)"),
        (json!({"objects": [obj, obj], "tests": [{"test": "t", "object": "v"}]}), "scribedoc.objects[1] (\"v\"): object name \"v\" is used twice"),
        (json!({"objects": [{"object": "o", "filecontent": {"path": "/x", "expression": "(.*)"}}], "tests": [{"test": "t", "object": "o"}]}),
            "scribedoc.objects[0] (\"o\"): filecontent.file must be set"),
        (json!({"objects": [{"object": "o", "filecontent": {"path": "/x", "file": "f", "expression": "("}}], "tests": [{"test": "t", "object": "o"}]}),
            "scribedoc.objects[0] (\"o\"): filecontent.expression: invalid regex \"(\""),
        (json!({"objects": [{"object": "o", "hasline": {"path": "${root}", "file": "f", "expression": "x"}}], "tests": [{"test": "t", "object": "o"}]}),
            "hasline.path: unknown variable ${root}"),
        (json!({"variables": [{"key": "chain_root", "value": "/"}], "objects": [obj], "tests": [{"test": "t", "object": "v"}]}),
            "scribedoc.variables[0]: key \"chain_root\" is reserved"),
        (json!({"objects": [{"object": "o", "raw": {"identifiers": [{"identifier": "i"}]}}], "tests": [{"test": "t", "object": "o"}]}),
            "raw.identifiers[0]: identifier and value must both be set"),
        (json!({"objects": [{"object": "o", "package": {"name": "x", "collectmatch": "["}}], "tests": [{"test": "t", "object": "o"}]}),
            "package.collectmatch: invalid regex"),
        (json!({"objects": [{"object": "o", "filecontent": {"path": "/", "file": "f", "expression": "(.*)", "import-chain": ["v"]}}, obj], "tests": [{"test": "t", "object": "o"}]}),
            "filecontent.import-chain: object \"v\" is not an import-chain object"),
        (json!({"objects": [{"object": "o", "filecontent": {"path": "/", "file": "f", "expression": "(.*)", "import-chain": ["nope"]}}], "tests": [{"test": "t", "object": "o"}]}),
            "filecontent.import-chain: unknown object \"nope\""),
        (json!({"objects": [
            {"object": "a", "filecontent": {"path": "${chain_root}", "file": "f", "expression": "(.*)", "import-chain": ["b"]}},
            {"object": "b", "filecontent": {"path": "${chain_root}", "file": "f", "expression": "(.*)", "import-chain": ["a"]}},
            obj], "tests": [{"test": "t", "object": "v"}]}),
            "circular import chain: a -> b -> a"),
        (json!({"objects": [{"object": "c", "filecontent": {"path": "${chain_root}", "file": "f", "expression": "(.*)"}}], "tests": [{"test": "t", "object": "c"}]}),
            "is an import-chain object"),
        (json!({"objects": [{"object": "o", "filename": {"path": "${chain_root}", "file": "(f)"}}], "tests": [{"test": "t", "object": "o"}]}),
            "filename.path: unknown variable ${chain_root}"),
        (t(json!({"test": "a", "object": "nope"})), "scribedoc.tests[0] (\"a\"): object: unknown object \"nope\""),
        (t(json!({"test": "a"})), "scribedoc.tests[0] (\"a\"): needs an object"),
        (t(json!({"test": "a", "object": "v", "expression": "a"})), "object and expression cannot both be set"),
        (t(json!({"test": "a", "object": "v", "evr": {"operation": "<=", "value": "1"}})),
            "scribedoc.tests[0] (\"a\"): evr.operation: expected \"<\", \">\" or \"=\", got \"<=\""),
        (t(json!({"test": "a", "object": "v", "evr": {"operation": "<"}})), "evr.value must be set"),
        (t(json!({"test": "a", "object": "v", "regexp": {"value": "(("}})), "regexp.value: invalid regex"),
        (t(json!({"test": "a", "object": "v", "regexp": {"value": "x"}, "exactmatch": {"value": "x"}})),
            "more than one evaluator (regexp, exactmatch)"),
        (t(json!({"test": "a", "object": "v", "if": ["b"]})), "scribedoc.tests[0] (\"a\"): if: unknown test \"b\""),
        (t(json!({"test": "a", "object": "v", "if": ["a"]})), "if: a test cannot reference itself"),
        (t(json!({"test": "a", "expression": "a or a"})), "expression: a test cannot reference itself"),
        (t(json!({"test": "a", "expression": "(b"})), "scribedoc.tests[0] (\"a\"): expression: expected \")\", found the end"),
        (t(json!({"test": "a", "expression": "x", "regexp": {"value": "x"}})), "an expression test has none"),
        (t(json!({"test": "a", "object": "v", "tags": [{"key": "q\"", "value": "v"}]})), "tags[0]: a tag key or value cannot contain a quote"),
        (json!({"objects": [obj], "tests": [{"test": "a", "object": "v"}, {"test": "a", "object": "v"}]}), "scribedoc.tests[1] (\"a\"): test id \"a\" is used twice"),
        (json!({"objects": [obj], "tests": [{"test": "a", "expression": "b"}, {"test": "b", "object": "v", "if": ["c"]}, {"test": "c", "expression": "not a"}]}),
            "circular dependency between tests: a -> b -> c -> a"),
        (json!({"objects": [{"object": "o", "filecontent": {"path": "/", "file": "f", "expresion": "x"}}], "tests": []}),
            "invalid parameter scribedoc.objects[0].filecontent.expresion: unknown field `expresion`, expected one of `path`, `file`, `expression`"),
        (json!({"tests": [{"test": "t", "object": "o", "evr": {"operation": "<", "value": 1}}]}),
            "invalid parameter scribedoc.tests[0].evr.value: invalid type"),
    ] {
        let got = invalid(doc.clone());
        assert!(got.contains(want), "{doc}\nwant: {want}\ngot:  {got}");
    }
    // Running an invalid document fails the same way.
    let r = lookup("scribe")
        .unwrap()
        .run_json(&json!({"scribedoc": {}}), &Context::default());
    assert!(!r.success);
    assert_eq!(
        r.errors,
        vec!["scribedoc.tests: expected at least one test"]
    );
    assert!(lookup("scribe")
        .unwrap()
        .check_json(
            &json!({"scribedoc": {"tests": [{"test": "t", "expression": "x"}]}, "onlytru": true})
        )
        .unwrap_err()
        .to_string()
        .contains("unknown field `onlytru`"));
}

#[test]
fn documents_as_go_writes_them_are_accepted() {
    // MIG's Go client writes every struct field, empty ones as {} and "".
    let doc = json!({
        "variables": null,
        "objects": [{"object": "v", "filecontent": {}, "filename": {}, "package": {}, "raw": {"identifiers": [{"identifier": "i", "value": "1.2"}]}, "hasline": {}}],
        "tests": [{"test": "t", "name": "", "object": "v", "description": "", "evr": {"operation": "<", "value": "1.3"}, "regexp": {}, "exactmatch": {}}]
    });
    let r = run_doc(doc);
    assert!(outcome(&r, "t").0);
}

#[test]
fn variables_expand_in_order_everywhere_but_raw() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "etc/app.conf", "level = 3\n");
    write(d.path(), "etc/app.d/x", "");
    let root = d.path().to_str().unwrap();
    let r = run_doc(json!({
        // In order: ${etc} brings a ${top} that the next variable expands.
        "variables": [{"key": "etc", "value": "${top}/etc"}, {"key": "top", "value": root}, {"key": "name", "value": "app"}],
        "objects": [
            {"object": "level", "filecontent": {"path": "${etc}", "file": "^${name}\\.conf$", "expression": "level = (\\d+)"}},
            {"object": "dirs", "filename": {"path": "${etc}", "file": "^(x)$"}},
            {"object": "pkg", "package": {"name": "${name}ssl"}},
            {"object": "raw", "raw": {"identifiers": [{"identifier": "${name}", "value": "${name}"}]}}
        ],
        "tests": [
            {"test": "level", "object": "level", "evr": {"operation": ">", "value": "2"}},
            {"test": "dirs", "object": "dirs"},
            {"test": "pkg", "object": "pkg"},
            {"test": "raw", "object": "raw", "exactmatch": {"value": "${name}"}}
        ]
    }));
    assert!(outcome(&r, "level").0);
    assert!(outcome(&r, "dirs").0);
    assert!(!outcome(&r, "pkg").0, "appssl is not installed");
    assert!(outcome(&r, "raw").0, "raw values are not expanded");
}

#[test]
fn limits_and_deadlines_give_errors_not_partial_answers() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "f", &"x\n".repeat(50));
    let doc = json!({
        "objects": [{"object": "o", "filecontent": {"path": d.path(), "file": "^f$", "expression": "(x)"}}],
        "tests": [{"test": "t", "object": "o"}, {"test": "u", "object": "o"}]
    });
    let ctx = Context::default().with_limits(Limits {
        max_elements: 10,
        max_errors: 1,
        ..Default::default()
    });
    let r = run_params(&params(doc.clone()), &ctx, Packages::System);
    let t = get(&r, "t");
    assert!(
        t.iserror && t.error.contains("over the agent's result limit"),
        "{t:?}"
    );
    assert_eq!(
        r.errors.len(),
        2,
        "one error kept, then how many were left out: {:?}",
        r.errors
    );
    assert_eq!(r.errors[1], "1 more errors left out");

    // Sub-results across tests are capped too.
    let ctx = Context::default().with_limits(Limits {
        max_elements: 60,
        max_errors: 10,
        ..Default::default()
    });
    let r = run_params(&params(doc.clone()), &ctx, Packages::System);
    assert!(!get(&r, "t").iserror);
    assert!(get(&r, "u")
        .error
        .contains("results across the document's tests"));

    let ctx = Context::new(Some(std::time::Duration::ZERO));
    let r = run_params(&params(doc), &ctx, Packages::System);
    assert_eq!(get(&r, "t").error, "the module ran out of time");
}

#[test]
fn unreadable_matched_files_make_the_test_an_error() {
    assert_eq!(
        lines::each_line(
            Path::new("/nonexistent-scribe/f"),
            &Context::default(),
            |_| true
        )
        .unwrap_err()
        .to_string(),
        "open /nonexistent-scribe/f: no such file or directory"
    );
    // Lines: \r\n endings, a last line without newline, a very long line in pieces.
    let d = tempfile::tempdir().unwrap();
    let long = "y".repeat(lines::MAX_LINE + 10);
    write(d.path(), "f", &format!("a\r\nb\n{long}\nc"));
    let mut seen = Vec::new();
    lines::each_line(&d.path().join("f"), &Context::default(), |l| {
        seen.push(l.len());
        true
    })
    .unwrap();
    assert_eq!(seen, vec![1, 1, lines::MAX_LINE, 10, 1]);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return; // root reads everything: the permission case cannot be made here.
    }
    write(d.path(), "secret", "root:x:\n");
    std::fs::set_permissions(
        d.path().join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    let r = run_doc(
        json!({"objects": [{"object": "o", "filecontent": {"path": d.path(), "file": "^secret$", "expression": "^root:([^:]*)"}}],
                           "tests": [{"test": "t", "object": "o"}]}),
    );
    assert!(get(&r, "t").error.contains("permission denied"));
}

#[test]
fn flags_read_the_document_here() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("doc.json");
    std::fs::write(&good, r#"{"objects": [{"object": "v", "raw": {"identifiers": [{"identifier": "i", "value": "x"}]}}], "tests": [{"test": "t", "object": "v"}]}"#).unwrap();
    let m = lookup("scribe").unwrap();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = m
        .flags_to_json(&args(&[
            "-path",
            good.to_str().unwrap(),
            "-onlytrue",
            "-human",
        ]))
        .unwrap();
    assert_eq!(p["onlytrue"], true);
    assert_eq!(p["humanoutput"], true);
    assert_eq!(p["jsonoutput"], false);
    assert_eq!(p["scribedoc"]["tests"][0]["test"], "t");
    // What the action carries runs as is.
    let r = m.run_json(&p, &Context::default());
    assert!(r.foundanything && r.success);

    assert_eq!(
        m.flags_to_json(&args(&["-onlytrue"]))
            .unwrap_err()
            .to_string(),
        "-path option is required"
    );
    assert!(m
        .flags_to_json(&args(&["-path", "/nonexistent-scribe.json"]))
        .unwrap_err()
        .to_string()
        .contains("no such file"));
    let bad = d.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"tests": [{"test": "t", "evr": {"operation": "<", "value": "1", "extra": 1}}]}"#,
    )
    .unwrap();
    let e = m
        .flags_to_json(&args(&["-path", bad.to_str().unwrap()]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json: invalid scribe document: tests[0].evr.extra: unknown field `extra`"),
        "{e}"
    );
    std::fs::write(&bad, r#"{"tests": []} trailing"#).unwrap();
    assert!(m
        .flags_to_json(&args(&["-path", bad.to_str().unwrap()]))
        .unwrap_err()
        .to_string()
        .contains("trailing characters"));
    std::fs::write(&bad, r#"{"tests": [{"test": "t"}]}"#).unwrap();
    assert!(m
        .flags_to_json(&args(&["-path", bad.to_str().unwrap()]))
        .unwrap_err()
        .to_string()
        .contains("needs an object"));
    assert!(m.usage().contains("-path <doc.json>"));
}
