//! Reading one named section of an ELF64 little-endian file (x86_64, aarch64) without loading
//! or running it: what agentdestroy needs to learn another agent binary's version.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Section contents larger than this are not read (a version is a few bytes).
const MAX_SECTION: u64 = 4096;
/// More section headers than this is not a binary we built.
const MAX_SECTIONS: u64 = 4096;

/// The bytes of section `name`, None when the file has no such section. Errors say why the
/// file is not an ELF64 little-endian file, or is a malformed one.
pub fn section(file: &File, name: &str) -> Result<Option<Vec<u8>>, String> {
    let mut header = [0u8; 64];
    let mut got = 0;
    while got < header.len() {
        match file.read_at(&mut header[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("cannot read its ELF header: {e}")),
        }
    }
    if got < 4 || &header[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if got < header.len() {
        return Err("its ELF header is cut short".into());
    }
    if header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at =
        |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64;
    let u64_at = |b: &[u8], o: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(v)
    };
    let shoff = u64_at(&header, 0x28);
    let shentsize = u16_at(&header, 0x3A);
    let shnum = u16_at(&header, 0x3C);
    let shstrndx = u16_at(&header, 0x3E);
    if shentsize < 64 || shnum > MAX_SECTIONS || shstrndx >= shnum {
        return Err("malformed ELF section table".into());
    }
    let read_header = |index: u64| -> Result<[u8; 64], String> {
        let mut h = [0u8; 64];
        let at = index
            .checked_mul(shentsize)
            .and_then(|o| o.checked_add(shoff))
            .ok_or("malformed ELF section table")?;
        file.read_exact_at(&mut h, at)
            .map_err(|e| format!("cannot read ELF section {index}: {e}"))?;
        Ok(h)
    };
    let read_bytes = |offset: u64, size: u64| -> Result<Vec<u8>, String> {
        let mut bytes = vec![0u8; size as usize];
        file.read_exact_at(&mut bytes, offset)
            .map_err(|e| format!("cannot read an ELF section: {e}"))?;
        Ok(bytes)
    };
    let strtab = read_header(shstrndx)?;
    let (str_offset, str_size) = (u64_at(&strtab, 0x18), u64_at(&strtab, 0x20));
    if str_size > 1 << 20 {
        return Err("malformed ELF section name table".into());
    }
    let names = read_bytes(str_offset, str_size)?;
    for index in 0..shnum {
        let h = read_header(index)?;
        let name_at = u32_at(&h, 0) as usize;
        let Some(rest) = names.get(name_at..) else {
            continue;
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        if &rest[..end] != name.as_bytes() {
            continue;
        }
        let (offset, size) = (u64_at(&h, 0x18), u64_at(&h, 0x20));
        if size > MAX_SECTION {
            return Err(format!("section {name} is larger than {MAX_SECTION} bytes"));
        }
        return read_bytes(offset, size).map(Some);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_named_section_of_a_real_binary_and_refuses_what_is_not_elf() {
        let exe = File::open(std::env::current_exe().unwrap()).unwrap();
        // .text is larger than MAX_SECTION: an error naming it, which proves it was found.
        let err = section(&exe, ".text").unwrap_err();
        assert!(err.contains("section .text is larger"), "{err}");
        assert!(section(&exe, ".no_such_section").unwrap().is_none());
        let comment = section(&exe, ".comment");
        assert!(comment.is_ok(), "{comment:?}");

        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("mig-agent");
        std::fs::write(&script, "#!/bin/sh\necho mig-agent 9.9.9\n").unwrap();
        let err = section(&File::open(&script).unwrap(), ".mig_agent_version").unwrap_err();
        assert!(err.contains("not an ELF file"), "{err}");
        std::fs::write(&script, b"\x7fELF\x02\x01\x01").unwrap();
        let err = section(&File::open(&script).unwrap(), ".x").unwrap_err();
        assert!(err.contains("ELF header is cut short"), "{err}");
    }
}
