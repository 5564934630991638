//! magic: what files are by their content, through libmagic (the `file` command's library)
//! and the system's magic database, as osquery's table answers.

use super::super::row::table_row;
use super::super::schema::*;
use super::file_contents::files;
use mig_host::magic::Magic;
use std::path::Path;

/// Where the `file` package puts the compiled database (osquery's list).
const DEFAULT_DATABASES: &[&str] = &["/usr/share/file/magic.mgc", "/usr/share/misc/magic.mgc"];

table_row! {
    /// What libmagic says of one file.
    struct MagicRow {
        path: text = "Absolute path to target file",
        magic_db_files: text = "Colon(:) separated list of files where the magic db file can be found. By default one of the following is used: /usr/share/file/magic/magic, /usr/share/misc/magic or /usr/share/misc/magic.mgc",
        data: Option<text> = "Magic number data from libmagic",
        mime_type: Option<text> = "MIME type data from libmagic",
        mime_encoding: Option<text> = "MIME encoding data from libmagic",
    }
}

pub(crate) static MAGIC: Table = Table {
    name: "magic",
    about: "Magic number recognition library table: libmagic's description, MIME type and encoding of each file. Needs a path: `=`, `IN` or LIKE. `magic_db_files` (`=`) chooses the databases; by default the system's compiled one.",
    columns: MagicRow::COLUMNS,
    index: &["path", "magic_db_files"],
    required: &["path"],
    like: &["path"],
    generate: gen_magic,
    reach: Reach::Host,
    example: "SELECT path, data, mime_type FROM magic WHERE path = '/bin/ls'",
};

fn gen_magic(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let databases = match q.texts("magic_db_files") {
        Some(given) => given.join(":"),
        None => DEFAULT_DATABASES
            .iter()
            .filter(|p| Path::new(p).exists())
            .copied()
            .collect::<Vec<_>>()
            .join(":"),
    };
    if databases.is_empty() {
        return Err(format!(
            "magic: no magic database ({}): install the `file` package or name one in magic_db_files",
            DEFAULT_DATABASES.join(", ")
        ));
    }
    let magic = Magic::open(&databases).map_err(|e| format!("magic: {e}"))?;
    let mut rows = Vec::new();
    for found in files(q)? {
        q.check()?;
        let kind = magic.file(Path::new(&found.path));
        rows.push(MagicRow {
            path: found.path,
            magic_db_files: databases.clone(),
            data: kind.description,
            mime_type: kind.mime_type,
            mime_encoding: kind.mime_encoding,
        });
    }
    Ok(VecRows::boxed(rows))
}
