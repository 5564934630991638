//! Just enough DER, PEM and SSH wire format to look inside key files: DER elements and
//! sequences, the PEM block a file starts with, SSH strings. Every read is bounds-checked: malformed input gives `None`,
//! never a panic.

use base64::Engine;

/// A DER element at `off`: (tag, contents, offset after it).
pub fn tlv(buf: &[u8], off: usize) -> Option<(u8, &[u8], usize)> {
    let tag = *buf.get(off)?;
    let first = *buf.get(off + 1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, off + 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *buf.get(off + 2 + i)? as usize;
        }
        (len, off + 2 + n)
    };
    let end = start.checked_add(len)?;
    Some((tag, buf.get(start..end)?, end))
}

/// The elements (tag, contents) inside the SEQUENCE `buf` starts with.
pub fn sequence(buf: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let (tag, body, _) = tlv(buf, 0)?;
    if tag != 0x30 {
        return None;
    }
    let mut items = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let (t, v, next) = tlv(body, off)?;
        items.push((t, v));
        off = next;
    }
    Some(items)
}

/// An SSH wire-format string at `off` (a 32-bit big-endian length, then the bytes): (bytes,
/// offset after).
pub fn ssh_string(buf: &[u8], off: usize) -> Option<(&[u8], usize)> {
    let len = u32::from_be_bytes(buf.get(off..off + 4)?.try_into().ok()?) as usize;
    let end = (off + 4).checked_add(len)?;
    Some((buf.get(off + 4..end)?, end))
}

/// The significant bits of a DER INTEGER's contents (a key's modulus, say).
pub fn integer_bits(int: &[u8]) -> u32 {
    let trimmed: &[u8] = match int.iter().position(|b| *b != 0) {
        Some(i) => &int[i..],
        None => return 0,
    };
    (trimmed.len() as u32 - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

/// A PEM block's decoded body, and whether its headers say it is encrypted.
pub struct PemBlock {
    /// The base64 body, decoded.
    pub body: Vec<u8>,
    /// `Proc-Type: 4,ENCRYPTED` (or another header naming encryption) was there.
    pub encrypted: bool,
}

/// The PEM block of `label` that `text` starts with.
pub fn pem_block(text: &str, label: &str) -> Option<PemBlock> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.strip_prefix(&begin).map(|_| begin.len())?;
    let stop = text[start..].find(&end)? + start;
    let inner = &text[start..stop];
    let mut encrypted = false;
    let mut b64 = String::new();
    for line in inner.lines() {
        let line = line.trim();
        if line.contains(':') {
            // PEM headers: "Proc-Type: 4,ENCRYPTED", "DEK-Info: …".
            encrypted |= line.contains("ENCRYPTED");
            continue;
        }
        b64.push_str(line);
    }
    let body = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(PemBlock { body, encrypted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_bits_and_garbage() {
        // SEQUENCE { INTEGER 0x00ff01, INTEGER 5 }
        let der = [0x30, 0x08, 0x02, 0x03, 0x00, 0xff, 0x01, 0x02, 0x01, 0x05];
        let items = sequence(&der).unwrap();
        assert_eq!(
            items,
            [(0x02, &[0x00, 0xff, 0x01][..]), (0x02, &[0x05][..])]
        );
        assert_eq!(integer_bits(items[0].1), 16);
        assert_eq!(integer_bits(items[1].1), 3);
        assert!(sequence(&der[..5]).is_none());
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1], 0).is_none());
        let pem = pem_block(
            "-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\nAAEC\n-----END X-----\n",
            "X",
        )
        .unwrap();
        assert_eq!(
            (pem.body.as_slice(), pem.encrypted),
            (&[0u8, 1, 2][..], true)
        );
    }
}
