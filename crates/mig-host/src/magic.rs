//! libmagic (the `file` command's library), loaded at run time: what a file is, from its
//! content, by the system's magic database. Loaded with dlopen rather than linked so that
//! building needs no C library and an agent on a host without libmagic still starts (the
//! magic table then says what is missing).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

/// The shared library's names, newest ABI first.
const LIBRARY_NAMES: &[&str] = &["libmagic.so.1", "libmagic.so"];

/// `MAGIC_NONE`: a textual description.
const MAGIC_NONE: c_int = 0x000000;
/// `MAGIC_MIME_TYPE`: the MIME type.
const MAGIC_MIME_TYPE: c_int = 0x000010;
/// `MAGIC_MIME_ENCODING`: the MIME encoding.
const MAGIC_MIME_ENCODING: c_int = 0x000400;

type OpenFn = unsafe extern "C" fn(c_int) -> *mut c_void;
type CloseFn = unsafe extern "C" fn(*mut c_void);
type LoadFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type FileFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *const c_char;
type SetFlagsFn = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type ErrorFn = unsafe extern "C" fn(*mut c_void) -> *const c_char;

/// The library's entry points this module calls.
struct Library {
    open: OpenFn,
    close: CloseFn,
    load: LoadFn,
    file: FileFn,
    set_flags: SetFlagsFn,
    error: ErrorFn,
}

fn symbol(handle: *mut c_void, name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: `handle` came from a successful dlopen and `name` is NUL-terminated.
    let f = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if f.is_null() {
        return Err(format!("libmagic has no {}", name.to_string_lossy()));
    }
    Ok(f)
}

impl Library {
    fn load() -> Result<Library, String> {
        let mut handle = std::ptr::null_mut();
        for name in LIBRARY_NAMES {
            let c = CString::new(*name).map_err(|e| e.to_string())?;
            // SAFETY: a NUL-terminated library name; the handle is never closed, so the
            // function pointers taken from it stay valid for the process's life.
            handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if !handle.is_null() {
                break;
            }
        }
        if handle.is_null() {
            return Err(
                "libmagic is not installed (Debian: libmagic1; RPM: file-libs)".to_string(),
            );
        }
        // SAFETY: each symbol is libmagic's public function of that name, whose C
        // signature the function pointer type spells (magic.h).
        unsafe {
            Ok(Library {
                open: std::mem::transmute::<*mut c_void, OpenFn>(symbol(handle, c"magic_open")?),
                close: std::mem::transmute::<*mut c_void, CloseFn>(symbol(handle, c"magic_close")?),
                load: std::mem::transmute::<*mut c_void, LoadFn>(symbol(handle, c"magic_load")?),
                file: std::mem::transmute::<*mut c_void, FileFn>(symbol(handle, c"magic_file")?),
                set_flags: std::mem::transmute::<*mut c_void, SetFlagsFn>(symbol(
                    handle,
                    c"magic_setflags",
                )?),
                error: std::mem::transmute::<*mut c_void, ErrorFn>(symbol(handle, c"magic_error")?),
            })
        }
    }
}

fn library() -> Result<&'static Library, String> {
    static LIBRARY: std::sync::OnceLock<Result<Library, String>> = std::sync::OnceLock::new();
    LIBRARY
        .get_or_init(Library::load)
        .as_ref()
        .map_err(Clone::clone)
}

/// What libmagic says of one file; `None` where it had no answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileType {
    /// The description (`file`'s output: "ELF 64-bit LSB pie executable, …").
    pub description: Option<String>,
    /// The MIME type (`file --mime-type`).
    pub mime_type: Option<String>,
    /// The MIME encoding (`file --mime-encoding`).
    pub mime_encoding: Option<String>,
}

/// A loaded magic database (one libmagic cookie). Not shared between threads.
pub struct Magic {
    lib: &'static Library,
    cookie: *mut c_void,
}

impl Magic {
    /// Opens libmagic with the databases `db_files` (colon-separated, as libmagic takes them).
    pub fn open(db_files: &str) -> Result<Magic, String> {
        let lib = library()?;
        // SAFETY: magic_open takes flags and returns a cookie or NULL.
        let cookie = unsafe { (lib.open)(MAGIC_NONE) };
        if cookie.is_null() {
            return Err("libmagic could not start (magic_open failed)".into());
        }
        let magic = Magic { lib, cookie };
        let files = CString::new(db_files)
            .map_err(|_| format!("the magic database {db_files:?} has a NUL byte"))?;
        // SAFETY: a live cookie and a NUL-terminated path list.
        if unsafe { (lib.load)(cookie, files.as_ptr()) } != 0 {
            return Err(format!(
                "cannot load the magic database {db_files}: {}",
                magic.last_error()
            ));
        }
        Ok(magic)
    }

    fn last_error(&self) -> String {
        // SAFETY: a live cookie; the error string, if any, is owned by it.
        let e = unsafe { (self.lib.error)(self.cookie) };
        if e.is_null() {
            return "unknown error".into();
        }
        // SAFETY: libmagic returns a NUL-terminated string that lives until the next call.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }

    fn ask(&self, flags: c_int, path: &CStr) -> Option<String> {
        // SAFETY: a live cookie and a NUL-terminated path; the answer, owned by the cookie,
        // is copied before the next call.
        unsafe {
            (self.lib.set_flags)(self.cookie, flags);
            let answer = (self.lib.file)(self.cookie, path.as_ptr());
            (!answer.is_null()).then(|| CStr::from_ptr(answer).to_string_lossy().into_owned())
        }
    }

    /// What `path` is: description, MIME type and MIME encoding.
    pub fn file(&self, path: &Path) -> FileType {
        use std::os::unix::ffi::OsStrExt;
        let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
            return FileType::default();
        };
        FileType {
            description: self.ask(MAGIC_NONE, &path),
            mime_type: self.ask(MAGIC_MIME_TYPE, &path),
            mime_encoding: self.ask(MAGIC_MIME_ENCODING, &path),
        }
    }
}

impl Drop for Magic {
    fn drop(&mut self) {
        // SAFETY: the cookie is live and closed once.
        unsafe { (self.lib.close)(self.cookie) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The system's default database, where the `file` package puts it.
    fn system_db() -> Option<&'static str> {
        ["/usr/share/misc/magic.mgc", "/usr/share/file/magic.mgc"]
            .into_iter()
            .find(|p| Path::new(p).exists())
    }

    #[test]
    fn agrees_with_the_file_command() {
        let (Some(db), Ok(_)) = (system_db(), library()) else {
            eprintln!("skipped: no libmagic or magic database here");
            return;
        };
        let magic = Magic::open(db).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("x");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        for path in [Path::new("/bin/sh"), &script, Path::new("/etc/passwd")] {
            let t = magic.file(path);
            let file = |flags: &[&str]| {
                let out = std::process::Command::new("file")
                    .arg("-b")
                    .args(flags)
                    .arg(path)
                    .output()
                    .expect("the file command");
                String::from_utf8(out.stdout)
                    .unwrap()
                    .trim_end()
                    .to_string()
            };
            assert_eq!(
                t.mime_type.as_deref(),
                Some(file(&["--mime-type"]).as_str())
            );
            assert_eq!(
                t.mime_encoding.as_deref(),
                Some(file(&["--mime-encoding"]).as_str())
            );
            assert_eq!(t.description.as_deref(), Some(file(&[]).as_str()));
        }
        assert!(Magic::open("/nonexistent/magic.mgc")
            .err()
            .unwrap()
            .contains("/nonexistent/magic.mgc"));
    }
}
