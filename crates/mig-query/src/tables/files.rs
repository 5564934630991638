//! file, hash and suid_bin: files found by path, by directory or by osquery's `%`/`%%`
//! patterns (see ../paths.rs), one at a time.

use super::super::paths::{normalize_dir, Expand, Found, Pattern, Source};
use super::super::row::{saturate, table_row};
use super::super::schema::*;
use base64::Engine;
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

table_row! {
    /// One extended attribute of a file.
    struct XattrRow {
        path: text = "Absolute file path",
        directory: text = "Directory of file(s)",
        key: text = "Name of the value generated from the extended attribute",
        value: text = "The parsed information from the attribute",
        base64: integer = "1 if the value is base64 encoded else 0",
    }
}

pub(crate) static EXTENDED_ATTRIBUTES: Table = Table {
    name: "extended_attributes",
    about: "Returns the extended attributes for files (similar to Windows ADS). Needs a path or a directory, as the file table; `security.capability` is given as its raw value, base64.",
    columns: XattrRow::COLUMNS,
    index: &["path", "directory"],
    required: &["path", "directory"],
    like: &["path", "directory"],
    generate: gen_xattrs,
    reach: Reach::Host,
    example: "SELECT path, key, value FROM extended_attributes WHERE directory = '/usr/bin'",
};

fn gen_xattrs(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut sel = Selection::new(q)?;
    let mut pending = Vec::new().into_iter();
    Ok(Box::new(FnRows(move || loop {
        if let Some(row) = pending.next() {
            return Ok(Some(row));
        }
        let Some(f) = sel.next() else {
            return Ok(None);
        };
        // A file that vanished or cannot be read has no attributes to show, as in osquery.
        let attrs = mig_host::xattr::xattrs(Path::new(&f.path)).unwrap_or_default();
        pending = attrs
            .into_iter()
            .map(|(key, value)| {
                let (value, base64) = xattr_value(&value);
                XattrRow {
                    path: f.path.clone(),
                    directory: f.directory.clone(),
                    key,
                    value,
                    base64,
                }
            })
            .collect::<Vec<_>>()
            .into_iter();
    })))
}

/// osquery's rule: a value is text when it ends with its NUL and all before is printable
/// ASCII; anything else (an empty value included) is base64.
fn xattr_value(raw: &[u8]) -> (String, i64) {
    match raw.split_last() {
        Some((0, text)) if text.iter().all(|b| (0x20..0x7f).contains(b)) => {
            (String::from_utf8_lossy(text).into_owned(), 0)
        }
        _ => (base64::engine::general_purpose::STANDARD.encode(raw), 1),
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

table_row! {
    /// One file.
    struct FileRow {
        path: text = "Absolute file path",
        directory: text = "Directory of file(s)",
        filename: text = "Name portion of file path",
        inode: bigint = "Filesystem inode number",
        uid: bigint = "Owning user ID",
        gid: bigint = "Owning group ID",
        mode: text = "Permission bits",
        device: bigint = "Device ID (optional)",
        size: bigint = "Size of file in bytes",
        block_size: integer = "Block size of filesystem",
        atime: bigint = "Last access time",
        mtime: bigint = "Last modification time",
        ctime: bigint = "Last status change time",
        btime: bigint = "(B)irth or (cr)eate time",
        hard_links: integer = "Number of hard links",
        symlink: integer = "1 if the path is a symlink, otherwise 0",
        r#type: text = "File status",
        symlink_target_path: text = "Full path of the file's target if it's a symlink",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
        attributes: text = "File attrib string. See: https://ss64.com/nt/attrib.html",
        volume_serial: text = "Volume serial number",
        file_id: text = "file ID",
        file_version: text = "File version",
        product_version: text = "File product version",
        original_filename: text = "(Executable files only) Original filename",
        shortcut_target_path: text = "Full path to the file the shortcut points to",
        shortcut_target_type: text = "Display name for the target type",
        shortcut_target_location: text = "Folder name where the shortcut target resides",
        shortcut_start_in: text = "Full path to the working directory to use when executing the shortcut target",
        shortcut_run: text = "Window mode the target of the shortcut should be run in",
        shortcut_comment: text = "Comment on the shortcut",
        bsd_flags: text = "The BSD file flags (chflags). Possible values: NODUMP, UF_IMMUTABLE, UF_APPEND, OPAQUE, HIDDEN, ARCHIVED, SF_IMMUTABLE, SF_APPEND",
    }
}

pub(crate) static FILE: Table = Table {
    name: "file",
    about: "Interactive filesystem attributes and metadata. Needs a path or a directory: `=`, `IN` or LIKE, where `%` matches within one path component and a final `/%%` everything below.",
    columns: FileRow::COLUMNS,
    index: &["path", "directory"],
    required: &["path", "directory"],
    like: &["path", "directory"],
    generate: gen_file,
    reach: Reach::Host,
    example: "SELECT path, size, mtime FROM file WHERE path LIKE '/etc/%.conf'",
};

/// A file's row: symbolic links are followed (a dangling one describes the link itself).
fn file_row(f: Found) -> Option<FileRow> {
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
    // Where a link leads, every link on the way resolved (osquery: its canonical path).
    let symlink_target_path = match is_link {
        true => std::fs::canonicalize(&f.path)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default(),
        false => String::new(),
    };
    Some(FileRow {
        path: f.path,
        directory: f.directory,
        filename,
        inode: saturate(m.ino()),
        uid: m.uid().into(),
        gid: m.gid().into(),
        mode: format!("{:04o}", m.permissions().mode() & 0o7777),
        device: saturate(m.rdev()),
        size: saturate(m.size()),
        block_size: saturate(m.blksize()),
        atime: m.atime(),
        mtime: m.mtime(),
        ctime: m.ctime(),
        btime: secs(m.created()),
        hard_links: saturate(m.nlink()),
        symlink: i64::from(is_link),
        r#type: type_name(&m).to_string(),
        symlink_target_path,
    })
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

table_row! {
    /// The digests of one file.
    struct HashRow {
        path: text = "Must provide a path or directory",
        directory: text = "Must provide a path or directory",
        md5: text = "MD5 hash of provided filesystem data",
        sha1: text = "SHA1 hash of provided filesystem data",
        sha256: text = "SHA256 hash of provided filesystem data",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
    }
}

pub(crate) static HASH: Table = Table {
    name: "hash",
    about: "Filesystem hash data. Needs a path or a directory, as the file table.",
    columns: HashRow::COLUMNS,
    index: &["path", "directory"],
    required: &["path", "directory"],
    like: &["path", "directory"],
    generate: gen_hash,
    reach: Reach::Host,
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
        return Ok(Some(HashRow {
            path: f.path,
            directory: f.directory,
            md5: get(HashAlgo::Md5),
            sha1: get(HashAlgo::Sha1),
            sha256: get(HashAlgo::Sha256),
        }));
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

table_row! {
    /// One set-user-ID or set-group-ID binary.
    struct SuidRow {
        path: text = "Binary path",
        username: text = "Binary owner username",
        groupname: text = "Binary owner group",
        permissions: text = "Binary permissions",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
    }
}

pub(crate) static SUID_BIN: Table = Table {
    name: "suid_bin",
    about: "suid binaries in common locations (searched recursively, symbolic links not followed).",
    columns: SuidRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_suid,
    reach: Reach::Host,
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
    let names = users::user_names().map_err(|e| e.to_string())?;
    let groups = users::group_names().map_err(|e| e.to_string())?;
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
        return Ok(Some(SuidRow {
            path: f.path,
            username: names
                .get(&m.uid())
                .cloned()
                .unwrap_or_else(|| m.uid().to_string()),
            groupname: groups
                .get(&m.gid())
                .cloned()
                .unwrap_or_else(|| m.gid().to_string()),
            permissions: perms,
        }));
    })))
}
