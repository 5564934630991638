//! file, hash and suid_bin: files found by path, by directory or by osquery's `%`/`%%`
//! patterns (see ../paths.rs), one at a time.

use super::super::paths::{normalize_dir, Expand, Found, Pattern, Source};
use super::super::schema::*;
use mig_host::hash::{HashAlgo, HashSet, MultiHasher};
use mig_host::users;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Where the scan's paths come from, and what else they must satisfy. `=` and `IN` on
/// `path` and `directory` are honoured here exactly (SQLite is told not to check them
/// again, so that `directory = '/etc/'` finds `/etc`'s files); LIKE is checked again by
/// SQLite.
struct Selection {
    source: Source,
    dirs: Option<Vec<String>>,
    paths: Option<Vec<String>>,
}

impl Selection {
    fn new(q: &Constraints) -> Result<Selection, String> {
        let paths = q.texts("path");
        let dirs = q
            .texts("directory")
            .map(|d| d.iter().map(|d| normalize_dir(d)).collect::<Vec<_>>());
        let source = if let Some(p) = &paths {
            Source::exact(p.clone())
        } else if let Some(d) = &dirs {
            Source::dirs(d.clone())
        } else if !q.likes("path").is_empty() {
            Source::patterns(&q.likes("path"))?
        } else if !q.likes("directory").is_empty() {
            let mut found = Vec::new();
            for like in q.likes("directory") {
                found.extend(
                    Expand::new(Pattern::parse(&like)?)
                        .filter(|p| p.is_dir())
                        .map(|p| p.to_string_lossy().into_owned()),
                );
            }
            Source::dirs(found)
        } else {
            return Err(q.table.missing_required());
        };
        Ok(Selection {
            source,
            dirs,
            paths,
        })
    }

    /// The next path that satisfies every `=`/`IN` constraint.
    fn next(&mut self) -> Option<Found> {
        self.source.by_ref().find(|f| {
            self.dirs
                .as_ref()
                .is_none_or(|d| d.contains(&normalize_dir(&f.directory)))
                && self.paths.as_ref().is_none_or(|p| p.contains(&f.path))
        })
    }
}

fn secs(t: std::io::Result<std::time::SystemTime>) -> i64 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

fn type_name(m: &std::fs::Metadata) -> &'static str {
    let ft = m.file_type();
    if ft.is_file() {
        "regular"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_char_device() {
        "character"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

pub(crate) static FILE: Table = Table {
    name: "file",
    about: "Interactive filesystem attributes and metadata. Needs a path or a directory: `=`, `IN` or LIKE, where `%` matches within one path component and a final `/%%` everything below.",
    columns: &[
        text("path", "Absolute file path"),
        text("directory", "Directory of file(s)"),
        text("filename", "Name portion of file path"),
        bigint("inode", "Filesystem inode number"),
        bigint("uid", "Owning user ID"),
        bigint("gid", "Owning group ID"),
        text("mode", "Permission bits"),
        bigint("device", "Device ID (optional)"),
        bigint("size", "Size of file in bytes"),
        integer("block_size", "Block size of filesystem"),
        bigint("atime", "Last access time"),
        bigint("mtime", "Last modification time"),
        bigint("ctime", "Last status change time"),
        bigint("btime", "(B)irth or (cr)eate time"),
        integer("hard_links", "Number of hard links"),
        integer("symlink", "1 if the path is a symlink, otherwise 0"),
        text("type", "File status"),
    ],
    index: &["path", "directory"],
    required: &["path", "directory"],
    like: &["path", "directory"],
    generate: gen_file,
    example: "SELECT path, size, mtime FROM file WHERE path LIKE '/etc/%.conf'",
};

/// A file's row: symbolic links are followed (a dangling one describes the link itself).
fn file_row(f: Found) -> Option<Row> {
    let link = std::fs::symlink_metadata(&f.path).ok()?;
    let is_link = link.file_type().is_symlink();
    let m = if is_link {
        std::fs::metadata(&f.path).unwrap_or(link)
    } else {
        link
    };
    let filename = Path::new(&f.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| f.path.clone());
    Some(vec![
        t(f.path),
        t(f.directory),
        t(filename),
        u(m.ino()),
        i(m.uid()),
        i(m.gid()),
        t(format!("{:04o}", m.permissions().mode() & 0o7777)),
        u(m.rdev()),
        u(m.size()),
        u(m.blksize()),
        i(m.atime()),
        i(m.mtime()),
        i(m.ctime()),
        i(secs(m.created())),
        u(m.nlink()),
        i(is_link as i64),
        t(type_name(&m)),
    ])
}

fn gen_file(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut sel = Selection::new(q)?;
    Ok(Box::new(FnRows(move || loop {
        let Some(f) = sel.next() else {
            return Ok(None);
        };
        if let Some(row) = file_row(f) {
            return Ok(Some(row));
        }
    })))
}

pub(crate) static HASH: Table = Table {
    name: "hash",
    about: "Filesystem hash data. Needs a path or a directory, as the file table.",
    columns: &[
        text("path", "Must provide a path or directory"),
        text("directory", "Must provide a path or directory"),
        text("md5", "MD5 hash of provided filesystem data"),
        text("sha1", "SHA1 hash of provided filesystem data"),
        text("sha256", "SHA256 hash of provided filesystem data"),
    ],
    index: &["path", "directory"],
    required: &["path", "directory"],
    like: &["path", "directory"],
    generate: gen_hash,
    example: "SELECT path, sha256 FROM hash WHERE path = '/etc/passwd'",
};

const BLOCK: usize = 1 << 20;

/// Every requested digest of one file, in one read; `None` for what is not a readable
/// regular file. The budget is checked between blocks, so a huge file cannot overrun it.
fn digests(
    path: &str,
    set: HashSet,
    q: &Constraints,
) -> Result<Option<Vec<(HashAlgo, String)>>, String> {
    let Ok(m) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !m.is_file() {
        return Ok(None);
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let mut h = MultiHasher::new(set);
    let mut buf = vec![0u8; BLOCK];
    loop {
        q.check()?;
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(h.finish()))
}

fn gen_hash(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut sel = Selection::new(q)?;
    // Only the digests the statement reads are computed.
    let mut set = HashSet::default();
    for (col, algo) in [
        ("md5", HashAlgo::Md5),
        ("sha1", HashAlgo::Sha1),
        ("sha256", HashAlgo::Sha256),
    ] {
        if q.uses(col) {
            set.insert(algo);
        }
    }
    let budget = Constraints::all(q.table, q.budget.clone());
    Ok(Box::new(FnRows(move || loop {
        let Some(f) = sel.next() else {
            return Ok(None);
        };
        let Some(d) = digests(&f.path, set, &budget)? else {
            continue;
        };
        let get = |a: HashAlgo| {
            d.iter()
                .find(|(x, _)| *x == a)
                .map_or(String::new(), |(_, h)| h.clone())
        };
        return Ok(Some(vec![
            t(f.path),
            t(f.directory),
            t(get(HashAlgo::Md5)),
            t(get(HashAlgo::Sha1)),
            t(get(HashAlgo::Sha256)),
        ]));
    })))
}

/// Where osquery looks for set-user-ID binaries (and the helper directories under /usr).
const SUID_DIRS: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/libexec",
    "/usr/lib",
    "/opt",
    "/tmp",
    "/var/tmp",
    "/dev/shm",
];

pub(crate) static SUID_BIN: Table = Table {
    name: "suid_bin",
    about: "suid binaries in common locations (searched recursively, symbolic links not followed).",
    columns: &[
        text("path", "Binary path"),
        text("username", "Binary owner username"),
        text("groupname", "Binary owner group"),
        text("permissions", "Binary permissions"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_suid,
    example: "SELECT path, username, permissions FROM suid_bin WHERE username = 'root'",
};

fn gen_suid(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    // /bin may be a link to /usr/bin: walk each real directory once.
    let mut dirs: Vec<String> = Vec::new();
    for d in SUID_DIRS {
        let real = std::fs::canonicalize(d)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| d.to_string());
        if !dirs.contains(&real) && Path::new(&real).is_dir() {
            dirs.push(real);
        }
    }
    let patterns: Vec<String> = dirs
        .iter()
        .map(|d| format!("{}/%%", d.trim_end_matches('/')))
        .collect();
    let mut source = Source::patterns(&patterns)?;
    let names = users::user_names();
    let groups = users::group_names();
    let budget = Constraints::all(q.table, q.budget.clone());
    Ok(Box::new(FnRows(move || loop {
        budget.check()?;
        let Some(f) = source.next() else {
            return Ok(None);
        };
        let Ok(m) = std::fs::symlink_metadata(&f.path) else {
            continue;
        };
        let mode = m.permissions().mode();
        if !m.is_file() || mode & 0o6000 == 0 {
            continue;
        }
        let mut perms = String::new();
        if mode & 0o4000 != 0 {
            perms.push('S');
        }
        if mode & 0o2000 != 0 {
            perms.push('G');
        }
        return Ok(Some(vec![
            t(f.path),
            t(names
                .get(&m.uid())
                .cloned()
                .unwrap_or_else(|| m.uid().to_string())),
            t(groups
                .get(&m.gid())
                .cloned()
                .unwrap_or_else(|| m.gid().to_string())),
            t(perms),
        ]));
    })))
}
