//! The RPM database reader on a database made by Debian's real `rpm` tool (`apt install rpm`).

use mig_host::packages::{read_rpmdb, read_rpmdb_files};
use std::process::Command;

#[test]
fn reads_a_database_written_by_rpm() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("t.spec"),
        "Name: migtest\nVersion: 1.2.3\nRelease: 4\nEpoch: 2\nSummary: test package\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%install\nmkdir -p %{buildroot}/etc/migtest\necho hello > %{buildroot}/etc/migtest/a.conf\n%files\n%attr(0640,root,root) /etc/migtest/a.conf\n",
    )
    .unwrap();
    let top = format!("_topdir {}", dir.join("top").display());
    let db = dir.join("db");
    let dbpath = format!("_dbpath {}", db.display());
    let run = |args: &[&str]| {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .expect("rpm and rpmbuild must be installed (apt install rpm)");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "rpmbuild",
        "--define",
        &top,
        "--define",
        &dbpath,
        "-bb",
        dir.join("t.spec").to_str().unwrap(),
    ]);
    let rpm = dir.join("top/RPMS/noarch/migtest-1.2.3-4.noarch.rpm");
    run(&["rpm", "--dbpath", db.to_str().unwrap(), "--initdb"]);
    run(&[
        "rpm",
        "--dbpath",
        db.to_str().unwrap(),
        "-i",
        "--nodeps",
        "--justdb",
        rpm.to_str().unwrap(),
    ]);

    let pkgs = read_rpmdb(&db.join("rpmdb.sqlite")).unwrap();
    assert_eq!(pkgs.len(), 1, "{pkgs:?}");
    let p = &pkgs[0];
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.arch.as_str(), p.kind),
        ("migtest", "2:1.2.3-4", "noarch", "rpm")
    );
    assert_eq!(p.summary, "test package");

    // The package's files, as `rpm -q` lists them from the same database.
    let files = read_rpmdb_files(&db.join("rpmdb.sqlite")).unwrap();
    assert_eq!(files.len(), 1);
    let (name, files) = &files[0];
    assert_eq!(name, "migtest");
    let listed = Command::new("rpm")
        .args(["--dbpath", db.to_str().unwrap(), "-q", "--qf"])
        .arg("[%{FILENAMES} %{FILEMODES:octal} %{FILESIZES} %{FILEDIGESTS} %{FILEUSERNAME}\\n]")
        .arg("migtest")
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&listed.stdout).into_owned();
    let ours: String = files
        .iter()
        .map(|f| {
            format!(
                "{} {:o} {} {} {}\n",
                f.path, f.mode, f.size, f.sha256, f.username
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    assert!(ours.starts_with("/etc/migtest/a.conf 100640 6 "), "{ours}");

    // Not an RPM database: a clear error, not a panic.
    std::fs::write(dir.join("junk.sqlite"), b"not sqlite at all").unwrap();
    assert!(read_rpmdb(&dir.join("junk.sqlite")).is_err());
}
