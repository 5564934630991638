//! A file's extended attributes (`user.*`, `security.*`, `trusted.*` as the caller may see
//! them), through listxattr(2) and getxattr(2), following symbolic links.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Attribute values are at most this large (the kernel's XATTR_SIZE_MAX).
const MAX_VALUE: usize = 64 * 1024;

/// Every attribute of `path` with its value, in the order the filesystem lists them.
pub fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    let names = list(&c_path)?;
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let c_name = CString::new(name).map_err(|_| io::ErrorKind::InvalidData)?;
        // An attribute removed between the two calls is simply not there.
        match get(&c_path, &c_name) {
            Ok(value) => out.push((String::from_utf8_lossy(name).into_owned(), value)),
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The NUL-separated names.
fn list(path: &CString) -> io::Result<Vec<u8>> {
    // SAFETY: a null buffer of size 0 asks for the size only.
    let size = unsafe { libc::listxattr(path.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; size as usize];
    if buf.is_empty() {
        return Ok(buf);
    }
    // SAFETY: the buffer is `buf.len()` bytes long and ours; the kernel writes at most that.
    let n = unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

fn get(path: &CString, name: &CString) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_VALUE];
    // SAFETY: the buffer is `buf.len()` bytes long and ours; the kernel writes at most that.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}
