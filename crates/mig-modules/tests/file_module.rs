//! The file module on temporary trees: every criterion and option, and the awkward cases
//! (symlinks, loops, gzip, long lines, empty, binary and deep trees).

use mig_modules::{lookup, Context, ModuleResult};
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn run(params: Value) -> ModuleResult {
    lookup("file")
        .unwrap()
        .run_json(&params, &Context::default())
}

/// One search labelled s1 over `dir` with the given fields and options.
fn search(dir: &Path, fields: Value) -> Value {
    let mut s = json!({"paths": [dir.to_str().unwrap()]});
    for (k, v) in fields.as_object().unwrap() {
        s[k] = v.clone();
    }
    json!({"searches": {"s1": s}})
}

/// The matched files of a label, relative to `dir` (empty entries skipped), sorted.
fn files(r: &ModuleResult, label: &str, dir: &Path) -> Vec<String> {
    assert!(r.success, "module failed: {:?}", r.errors);
    let mut out: Vec<String> = r.elements[label]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.strip_prefix(dir.to_str().unwrap())
                .unwrap_or(&f)
                .to_string()
        })
        .collect();
    out.sort();
    out
}

fn write(path: &Path, content: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        &p.join("etc/passwd"),
        b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\n",
    );
    write(
        &p.join("etc/shadow"),
        b"root:$6$abc$def:19000:0:99999:7:::\n",
    );
    write(
        &p.join("etc/ssh/sshd_config"),
        b"PermitRootLogin no\nPasswordAuthentication no\n",
    );
    write(&p.join("etc/empty"), b"");
    write(
        &p.join("bin/tool"),
        b"\x7fELF\x00\x00binary\x00with a marker inside\x00",
    );
    write(&p.join("deep/a/b/c/d/e/file.txt"), b"deep content\n");
    fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    d
}

#[test]
fn names_match_basenames_with_regex_and_negation() {
    let d = tree();
    let r = run(search(
        d.path(),
        json!({"names": ["^passwd$"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/etc/passwd"]);
    assert!(r.foundanything);
    let e = &r.elements["s1"][0];
    assert_eq!(e["fileinfo"]["mode"], "-rw-r--r--");
    assert_eq!(e["fileinfo"]["size"], 66.0);
    assert!(e["fileinfo"]["lastmodified"]
        .as_str()
        .unwrap()
        .ends_with(" +0000 UTC"));
    assert_eq!(r.statistics["totalhits"], 1.0);

    let r = run(search(
        &d.path().join("etc"),
        json!({"names": ["!^(passwd|shadow)$"], "sizes": [">1"], "options": {"matchall": true}}),
    ));
    // Directories are walked, not evaluated (MIG): /ssh itself is not a match.
    assert_eq!(
        files(&r, "s1", &d.path().join("etc")),
        vec!["/ssh/sshd_config"]
    );
    let r = run(search(
        d.path(),
        json!({"names": ["^(ssh|etc|deep)$"], "options": {"matchall": true}}),
    ));
    assert!(!r.foundanything, "{:?}", r.elements);
    // Only files are counted: passwd, shadow, sshd_config, empty, tool, file.txt.
    assert_eq!(r.statistics["filescount"], 6.0);
}

#[test]
fn content_is_matched_per_line_and_negated() {
    let d = tree();
    let r = run(search(
        d.path(),
        json!({"contents": ["^root:\\$6\\$"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/etc/shadow"]);
    // The seed's "root password hashed or disabled" search.
    let r = run(search(
        &d.path().join("etc/shadow"),
        json!({"contents": ["root:(\\*|!|\\$(1|2a|5|6)\\$).+"]}),
    ));
    assert_eq!(r.elements["s1"].as_array().unwrap().len(), 1);
    assert!(r.foundanything);
    // ! = no line matches: every regular file without "root" (directories never match content).
    let r = run(search(
        &d.path().join("etc"),
        json!({"contents": ["!root"], "options": {"matchall": true}}),
    ));
    assert_eq!(
        files(&r, "s1", &d.path().join("etc")),
        vec!["/empty", "/ssh/sshd_config"]
    );
    // Binary files are searched too.
    let r = run(search(
        d.path(),
        json!({"contents": ["a marker"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/bin/tool"]);
}

#[test]
fn macroal_requires_every_line() {
    let d = tree();
    let r = run(search(
        &d.path().join("etc"),
        json!({"contents": ["^[A-Za-z]+ no$"], "options": {"matchall": true, "macroal": true}}),
    ));
    assert_eq!(
        files(&r, "s1", &d.path().join("etc")),
        vec!["/ssh/sshd_config"]
    );
}

#[test]
fn sizes_modes_and_mtimes() {
    let d = tree();
    let p = d.path();
    let old = fs::File::options()
        .write(true)
        .open(p.join("etc/passwd"))
        .unwrap();
    old.set_modified(SystemTime::now() - Duration::from_secs(200 * 86400))
        .unwrap();
    let r = run(search(
        p,
        json!({"sizes": ["<0"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", p), vec!["/etc/empty"]);
    let r = run(search(
        p,
        json!({"modes": ["^u"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", p), vec!["/bin/tool"]);
    let r = run(search(
        &p.join("etc"),
        json!({"mtimes": [">90d"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", &p.join("etc")), vec!["/passwd"]);
    let r = run(search(
        &p.join("etc"),
        json!({"mtimes": ["<90d"], "names": ["^passwd$"], "options": {"matchall": true}}),
    ));
    assert!(!r.foundanything);
    let r = run(search(
        &p.join("etc"),
        json!({"modes": ["^d"], "options": {"matchall": true}}),
    ));
    assert!(
        !r.foundanything,
        "directories are not evaluated: {:?}",
        r.elements
    );
}

#[test]
fn hashes_of_every_kind_land_in_their_own_list() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("abc"), b"abc");
    write(&d.path().join("other"), b"other");
    let r = run(search(
        d.path(),
        json!({
            "md5": ["900150983CD24FB0D6963F7D28E17F72"],
            "sha1": ["a9993e364706816aba3e25717850c26c9cd0d89d"],
            "sha2": [
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            ],
            "sha3": ["3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"],
            "options": {"matchall": false}
        }),
    ));
    let entries = r.elements["s1"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        6,
        "one entry per matching check: {entries:#?}"
    );
    let sha3_entry = entries
        .iter()
        .find(|e| e["search"].get("sha3").is_some())
        .unwrap();
    assert!(
        sha3_entry["search"].get("sha2").is_none(),
        "sha3 hits belong under sha3"
    );
    // Each hash is echoed as MIG compared it: uppercased.
    assert_eq!(
        sha3_entry["search"]["sha3"],
        json!(["3A985DA74FE225B2045C172D6BD390BD855F086E3E9D525B46BFE24511431532"])
    );
    let sha1_entry = entries
        .iter()
        .find(|e| e["search"].get("sha1").is_some())
        .unwrap();
    assert_eq!(
        sha1_entry["search"]["sha1"],
        json!(["A9993E364706816ABA3E25717850C26C9CD0D89D"])
    );
    assert_eq!(r.statistics["totalhits"], 6.0);
}

#[test]
fn matchany_reports_each_check_and_no_match_gives_an_empty_entry() {
    let d = tree();
    let r = run(search(
        &d.path().join("etc"),
        json!({"names": ["^passwd$", "^nothing$"], "contents": ["PermitRootLogin"]}),
    ));
    let entries = r.elements["s1"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    // MIG's order: contents checks first, then names.
    assert!(entries[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("sshd_config"));
    assert_eq!(entries[0]["search"]["contents"], json!(["PermitRootLogin"]));
    assert!(entries[0]["search"].get("names").is_none());
    assert_eq!(entries[1]["search"]["names"], json!(["^passwd$"]));

    let r = run(search(d.path(), json!({"names": ["^nothing-here$"]})));
    assert!(!r.foundanything);
    let entries = r.elements["s1"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["file"], "");
    assert_eq!(entries[0]["search"]["names"], json!(["^nothing-here$"]));
    assert_eq!(entries[0]["search"]["options"]["mismatch"], Value::Null);
}

#[test]
fn mismatch_inverts_a_kind_of_check() {
    let d = tree();
    let r = run(search(
        &d.path().join("etc"),
        json!({"names": ["^s"], "modes": ["^-"], "options": {"matchall": true, "mismatch": ["name"]}}),
    ));
    assert_eq!(
        files(&r, "s1", &d.path().join("etc")),
        vec!["/empty", "/passwd"]
    );
}

#[test]
fn maxdepth_counts_the_root_as_level_one_as_mig_does() {
    let d = tree();
    let deep = d.path().join("deep");
    let r = run(search(
        &deep,
        json!({"names": ["^file.txt$"], "options": {"matchall": true, "maxdepth": 5}}),
    ));
    assert!(
        !r.foundanything,
        "file.txt is at level 6: deep/ is 1, e/ is 6"
    );
    let r = run(search(
        &deep,
        json!({"names": ["^file.txt$"], "options": {"matchall": true, "maxdepth": 6}}),
    ));
    assert_eq!(files(&r, "s1", &deep), vec!["/a/b/c/d/e/file.txt"]);
    // maxdepth 1: the root's own files only.
    let etc = d.path().join("etc");
    let r = run(search(
        &etc,
        json!({"names": ["."], "options": {"matchall": true, "maxdepth": 1}}),
    ));
    assert_eq!(files(&r, "s1", &etc), vec!["/empty", "/passwd", "/shadow"]);
    let r = run(search(
        &etc,
        json!({"names": ["."], "options": {"matchall": true, "maxdepth": 2}}),
    ));
    assert_eq!(
        files(&r, "s1", &etc),
        vec!["/empty", "/passwd", "/shadow", "/ssh/sshd_config"]
    );
    let r = run(search(
        &deep,
        json!({"names": ["^file.txt$"], "options": {"matchall": true}}),
    ));
    assert!(r.foundanything, "0 = no limit");
}

#[test]
fn matchlimit_stops_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write(&d.path().join(format!("f{i}")), b"x");
    }
    let r = run(search(
        d.path(),
        json!({"names": ["^f"], "options": {"matchall": true, "matchlimit": 5}}),
    ));
    assert_eq!(files(&r, "s1", d.path()).len(), 5);
    assert!(
        r.errors.iter().any(|e| e.contains("matchlimit of 5")),
        "{:?}",
        r.errors
    );
}

#[test]
fn errors_are_capped_by_maxerrors() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..5 {
        symlink(
            d.path().join(format!("missing{i}")),
            d.path().join(format!("dangling{i}")),
        )
        .unwrap();
    }
    let r = run(search(
        d.path(),
        json!({"contents": ["x"], "options": {"matchall": true, "maxerrors": 2}}),
    ));
    assert!(r.success);
    assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
    assert!(
        r.errors[0].contains("no such file or directory"),
        "{:?}",
        r.errors
    );
    assert_eq!(r.errors[2], "3 errors were not returned");
    assert_eq!(r.statistics["openfailed"], 5.0);
}

#[test]
fn gzip_files_are_searched_and_corrupt_ones_reported() {
    let d = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"line one\nneedle in a log\n").unwrap();
    write(&d.path().join("log.1.gz"), &gz.finish().unwrap());
    write(
        &d.path().join("bad.gz"),
        b"\x1f\x8b\x08\x00garbage that is not deflate",
    );
    write(&d.path().join("plain.txt"), b"a needle here\n");
    let r = run(search(
        d.path(),
        json!({"contents": ["needle"], "options": {"matchall": true, "decompress": true}}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/log.1.gz", "/plain.txt"]);
    assert!(
        r.errors.iter().any(|e| e.contains("bad.gz")),
        "{:?}",
        r.errors
    );
    let r = run(search(
        d.path(),
        json!({"contents": ["needle"], "options": {"matchall": true}}),
    ));
    assert_eq!(
        files(&r, "s1", d.path()),
        vec!["/plain.txt"],
        "without decompress, gzip is opaque"
    );
}

#[test]
fn returnsha256_adds_the_hash() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("abc"), b"abc");
    let r = run(search(
        d.path(),
        json!({"names": ["abc"], "options": {"matchall": true, "returnsha256": true}}),
    ));
    assert_eq!(
        r.elements["s1"][0]["fileinfo"]["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Matched by two checks of one search (matchall off: one entry per check) and by a
    // second search: every entry carries the hash.
    let dir = d.path().to_str().unwrap();
    let options = json!({"matchall": false, "returnsha256": true});
    let r = run(json!({"searches": {
        "s1": {"paths": [dir], "names": ["^abc$"], "contents": ["ab"], "options": options},
        "s2": {"paths": [dir], "sizes": ["<10"], "options": options},
    }}));
    let entries: Vec<&Value> = ["s1", "s2"]
        .iter()
        .flat_map(|l| r.elements[*l].as_array().unwrap())
        .collect();
    assert_eq!(entries.len(), 3, "{:#}", r.elements);
    for e in entries {
        assert_eq!(
            e["fileinfo"]["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "{e}"
        );
    }
}

#[test]
fn symlinks_and_loops() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(&p.join("real/target.conf"), b"secret=1\n");
    symlink(p.join("real"), p.join("linkdir")).unwrap();
    symlink(p.join("real/target.conf"), p.join("link.conf")).unwrap();
    symlink(p.join("loop-a"), p.join("loop-b")).unwrap();
    symlink(p.join("loop-b"), p.join("loop-a")).unwrap();
    let r = run(search(
        p,
        json!({"contents": ["secret"], "options": {"matchall": true}}),
    ));
    // The file through its link, under the link's path; the linked directory is not entered.
    assert_eq!(files(&r, "s1", p), vec!["/link.conf", "/real/target.conf"]);
    assert!(
        r.errors.iter().any(|e| e.contains("loop-a")),
        "loops are counted: {:?}",
        r.errors
    );
    let link = r.elements["s1"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().ends_with("link.conf"))
        .unwrap();
    // MIG stats a linked file: its fileinfo is the target's.
    assert_eq!(link["fileinfo"]["mode"], "-rw-r--r--");
    assert_eq!(link["fileinfo"]["size"], 9.0);
    // Size checks see the target too (the link itself is as long as the target's path).
    let r = run(search(
        p,
        json!({"sizes": ["<10"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", p), vec!["/link.conf", "/real/target.conf"]);

    let r = run(search(
        &p.join("linkdir"),
        json!({"names": ["target"], "options": {"matchall": true}}),
    ));
    assert!(!r.foundanything);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("symbolic link to a directory")),
        "{:?}",
        r.errors
    );
    // Mode checks see the target too; links to directories and broken links are not files.
    let r = run(search(
        p,
        json!({"modes": ["^L"], "options": {"matchall": true}}),
    ));
    assert!(!r.foundanything, "{:?}", r.elements);
    assert!(
        r.statistics["openfailed"].as_f64().unwrap() >= 2.0,
        "the broken links failed to open: {:?}",
        r.statistics
    );
}

#[test]
fn long_lines_do_not_end_the_scan() {
    let d = tempfile::tempdir().unwrap();
    let mut long = vec![b'a'; 100 * 1024];
    long.extend_from_slice(b"NEEDLE\nnext line\n");
    write(&d.path().join("long"), &long);
    let mut huge = vec![b'b'; 9 * 1024 * 1024];
    huge.extend_from_slice(b"HUGE-END\n");
    write(&d.path().join("huge"), &huge);
    let mut after = vec![b'c'; 70 * 1024];
    after.extend_from_slice(b"\nAFTER\n");
    write(&d.path().join("after"), &after);
    let r = run(search(
        d.path(),
        json!({"contents": ["NEEDLE$", "HUGE-END", "^AFTER$"]}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/after", "/huge", "/long"]);
}

#[test]
fn deep_trees_and_overlapping_roots() {
    let d = tempfile::tempdir().unwrap();
    let mut p = d.path().to_path_buf();
    for i in 0..200 {
        p.push(format!("d{i}"));
    }
    write(&p.join("bottom"), b"x");
    let root = d.path().to_str().unwrap();
    let params = json!({"searches": {
        "s1": {"paths": [root, format!("{root}/d0"), format!("{root}/./d0/../")], "names": ["^bottom$"], "options": {"matchall": true}},
        "s2": {"paths": [format!("{root}/d0/d1")], "names": ["^bottom$"], "options": {"matchall": true}}
    }});
    let r = run(params);
    assert_eq!(
        files(&r, "s1", d.path()).len(),
        1,
        "roots are de-duplicated"
    );
    assert_eq!(files(&r, "s2", d.path()).len(), 1);
    assert_eq!(r.statistics["totalhits"], 2.0);
}

#[test]
fn crlf_and_empty_files() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("dos.txt"), b"key=value\r\nother=1\r\n");
    write(&d.path().join("empty"), b"");
    let r = run(search(
        d.path(),
        json!({"contents": ["^key=value$"], "options": {"matchall": true}}),
    ));
    assert_eq!(files(&r, "s1", d.path()), vec!["/dos.txt"]);
    let r = run(search(
        d.path(),
        json!({"contents": [".*"], "options": {"matchall": true}}),
    ));
    assert_eq!(
        files(&r, "s1", d.path()),
        vec!["/dos.txt"],
        "an empty file has no line"
    );
}

#[test]
fn non_utf8_names_are_lossless() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    write(&d.path().join(name), b"x");
    let r = run(search(
        d.path(),
        json!({"names": ["^bad-"], "options": {"matchall": true}}),
    ));
    let e = &r.elements["s1"][0];
    assert!(e["file"].as_str().unwrap().ends_with("bad-\u{fffd}-name"));
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(e["filebase64"].as_str().unwrap())
        .unwrap();
    assert!(raw.ends_with(b"bad-\xff-name"));
}

#[test]
fn pseudo_filesystems_are_skipped_unless_rooted_there() {
    if !Path::new("/proc/cpuinfo").exists() {
        return;
    }
    let r = run(
        json!({"searches": {"s1": {"paths": ["/"], "names": ["^cpuinfo$"], "options": {"matchall": true, "maxdepth": 1}}}}),
    );
    assert!(
        !r.foundanything,
        "must not walk into /proc: {:?}",
        r.elements
    );
    let r = run(
        json!({"searches": {"s1": {"paths": ["/proc"], "names": ["^cpuinfo$"], "options": {"matchall": true, "maxdepth": 1}}}}),
    );
    assert!(r.foundanything);
}

#[test]
fn globs_in_paths_are_expanded() {
    let d = tree();
    let pattern = format!("{}/e*", d.path().display());
    let r = run(
        json!({"searches": {"s1": {"paths": [pattern], "names": ["^passwd$"], "options": {"matchall": true}}}}),
    );
    assert_eq!(files(&r, "s1", d.path()), vec!["/etc/passwd"]);
}

#[test]
fn invalid_parameters_say_what_is_wrong() {
    let cases = [
        (json!({"searches": {}}), "at least one search"),
        (
            json!({"searches": {"s1": {"paths": ["etc"], "names": ["x"]}}}),
            "not an absolute path",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "names": ["("]}}}),
            "names: \"(\"",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "sizes": ["big"]}}}),
            "sizes: \"big\"",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "mtimes": ["90d"]}}}),
            "mtimes",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "sha2": ["abcd"]}}}),
            "sha2",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"]}}}),
            "at least one check",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "names": ["x"], "options": {"mismatch": ["color"]}}}}),
            "mismatch",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "names": ["x"], "options": {"maxdepth": -1}}}}),
            "maxdepth",
        ),
        (
            json!({"searches": {"s1": {"paths": "/", "names": ["x"]}}}),
            "searches.s1.paths",
        ),
        (
            json!({"searches": {"s1": {"paths": ["/"], "contents": [""]}}}),
            "empty content",
        ),
    ];
    for (params, want) in cases {
        let r = run(params);
        assert!(!r.success);
        assert!(
            r.errors[0].contains(want),
            "want {want:?} in {:?}",
            r.errors
        );
    }
}

#[test]
fn pretty_output_reads_like_mig() {
    let d = tree();
    let r = run(search(
        d.path(),
        json!({"names": ["^passwd$"], "options": {"matchall": true}}),
    ));
    let lines = lookup("file").unwrap().pretty(&r, false);
    assert!(
        lines[0].contains("/etc/passwd [lastmodified:"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(", mode:-rw-r--r--, size:66] in search 's1'"),
        "{}",
        lines[0]
    );
    assert!(
        lines.last().unwrap().starts_with("Statistics: "),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().contains("1 matched"));
    let r = run(search(d.path(), json!({"names": ["^zzz$"]})));
    assert_eq!(
        lookup("file").unwrap().pretty(&r, false)[0],
        "0 match found in search 's1'"
    );
    assert_eq!(lookup("file").unwrap().pretty(&r, true).len(), 0);
}

#[test]
fn deadline_stops_with_partial_results() {
    let ctx = Context::new(Some(Duration::ZERO));
    let r = lookup("file").unwrap().run_json(
        &json!({"searches": {"s1": {"paths": ["/usr"], "names": ["x"]}}}),
        &ctx,
    );
    assert!(
        r.errors.iter().any(|e| e.contains("ran out of time")),
        "{:?}",
        r.errors
    );
}

#[test]
fn content_regexes_read_invalid_utf8_as_go_does() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Latin-1, a binary with invalid bytes between ASCII, UTF-16LE, and compiled Python.
    write(&p.join("latin1.conf"), b"secret=caf\xe9 xyz\n");
    write(&p.join("blob.bin"), b"abc\xff\xfe\x00\x81def\n");
    write(
        &p.join("utf16.txt"),
        b"s\x00e\x00c\x00r\x00e\x00t\x00\n\x00",
    );
    write(
        &p.join("mod.pyc"),
        b"\x55\x0d\x0d\x0a\x00\x00\x00\x00\xe3\x00\x00\x00\xda\x08print",
    );
    let found = |content: &str, macroal: bool| {
        let r = run(search(
            p,
            json!({"contents": [content], "options": {"matchall": true, "macroal": macroal}}),
        ));
        files(&r, "s1", p)
    };
    assert_eq!(found("secret=.*xyz", false), vec!["/latin1.conf"]);
    assert_eq!(found("^secret=caf[^a-z] xyz$", false), vec!["/latin1.conf"]);
    assert_eq!(found("^abc.*def$", false), vec!["/blob.bin"]);
    assert_eq!(found("s.e.c.r.e.t", false), vec!["/utf16.txt"]);
    // macroal: every line of every file matches `^.*$`, binary ones included.
    assert_eq!(
        found("^.*$", true),
        vec!["/blob.bin", "/latin1.conf", "/mod.pyc", "/utf16.txt"]
    );
}
