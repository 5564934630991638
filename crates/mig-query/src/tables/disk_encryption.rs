//! disk_encryption: which block devices are dm-crypt (LUKS1, LUKS2, plain) devices, or sit on
//! one, and with which cipher. osquery asks libcryptsetup; this reads what libcryptsetup reads:
//! the device-mapper UUID in sysfs (`CRYPT-<type>-…` for a crypt target) and the LUKS header
//! on the encrypted device below it.

use super::super::row::table_row;
use super::super::schema::*;
use super::devices::{block_identities, BlockSources};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

const ENCRYPTED: &str = "encrypted";
const NOT_ENCRYPTED: &str = "not encrypted";

/// LUKS's magic, at the start of the header.
const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";
/// The largest LUKS2 header (binary part and JSON area) read.
const MAX_LUKS2_HEADER: u64 = 4 << 20;
/// Where LUKS2's JSON area starts: after the 4 KiB binary header.
const LUKS2_JSON_OFFSET: usize = 4096;

table_row! {
    /// One block device's encryption.
    struct DiskEncryptionRow {
        name: text = "Disk name",
        uuid: text = "Disk Universally Unique Identifier",
        encrypted: integer = "1 If encrypted: true (disk is encrypted), else 0",
        r#type: text = "Description of cipher type and mode if available",
        encryption_status: text = "Disk encryption status with one of following values: encrypted | not encrypted | undefined",
    }
    absent {
        uid: text = "Currently authenticated user if available",
        user_uuid: text = "UUID of authenticated user if available",
        filevault_status: text = "FileVault status with one of following values: on | off | unknown",
    }
}

pub(crate) static DISK_ENCRYPTION: Table = Table {
    name: "disk_encryption",
    about: "Disk encryption status and information: every block device, encrypted when it is a dm-crypt device or sits on one (a partition of it, an LVM volume inside it); `type` is the crypt type with the cipher and mode from the LUKS header (e.g. LUKS2-aes-xts-plain64).",
    columns: DiskEncryptionRow::COLUMNS,
    index: &["name"],
    required: &[],
    like: &[],
    generate: gen_disk_encryption,
    reach: Reach::Host,
    example: "SELECT name, encrypted, type FROM disk_encryption WHERE encrypted = 1",
};

fn gen_disk_encryption(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let names = q.texts("name");
    Ok(VecRows::boxed(rows(
        &BlockSources::system(),
        Path::new("/dev"),
        names.as_deref(),
    )))
}

/// What a device's own crypt target says: its type, cipher and mode as `type` shows them.
fn crypt_type(class_block: &Path, dev: &Path, name: &str) -> Option<String> {
    let dir = class_block.join(name);
    let dm_uuid = std::fs::read_to_string(dir.join("dm/uuid")).ok()?;
    let kind = dm_uuid.trim().strip_prefix("CRYPT-")?.split('-').next()?;
    let mut items = vec![kind.to_string()];
    // The header is on the device below the crypt target (its one slave).
    let slave = std::fs::read_dir(dir.join("slaves"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name());
    if let Some((cipher, mode)) = slave.and_then(|s| luks_cipher(&dev.join(s))) {
        items.push(cipher);
        items.extend(mode);
    }
    Some(items.join("-"))
}

/// The cipher and mode a LUKS header names (`aes`, `xts-plain64`); `None` for a device with
/// no readable LUKS header (plain dm-crypt has none).
fn luks_cipher(device: &Path) -> Option<(String, Option<String>)> {
    let mut f = std::fs::File::open(device).ok()?;
    let mut head = vec![0u8; LUKS2_JSON_OFFSET];
    f.read_exact(&mut head).ok()?;
    if !head.starts_with(LUKS_MAGIC) {
        return None;
    }
    match u16::from_be_bytes([head[6], head[7]]) {
        1 => {
            let field = |at: usize| {
                let raw = &head[at..at + 32];
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            };
            Some((field(8), Some(field(40)).filter(|m| !m.is_empty())))
        }
        2 => {
            let size = u64::from_be_bytes(head[8..16].try_into().ok()?).min(MAX_LUKS2_HEADER);
            let mut json = Vec::new();
            f.take(size.saturating_sub(LUKS2_JSON_OFFSET as u64))
                .read_to_end(&mut json)
                .ok()?;
            let end = json.iter().position(|b| *b == 0).unwrap_or(json.len());
            let doc: Json = serde_json::from_slice(&json[..end]).ok()?;
            let segments = doc["segments"].as_object()?;
            let spec =
                segments.get("0").or_else(|| segments.values().next())?["encryption"].as_str()?;
            // libcryptsetup splits "aes-xts-plain64" into the cipher and the rest.
            Some(match spec.split_once('-') {
                Some((cipher, mode)) => (cipher.to_string(), Some(mode.to_string())),
                None => (spec.to_string(), None),
            })
        }
        _ => None,
    }
}

/// Every block device's status: its own crypt target's, else its parent's (a partition's
/// disk, a device-mapper device's first slave), as osquery inherits it.
fn rows(src: &BlockSources, dev: &Path, names: Option<&[String]>) -> Vec<DiskEncryptionRow> {
    let devices = block_identities(src, None);
    let parents: HashMap<&str, &str> = devices
        .iter()
        .map(|d| (d.name.as_str(), d.parent.as_str()))
        .collect();
    let own = |name: &str| {
        crypt_type(
            &src.class_block,
            dev,
            name.strip_prefix("/dev/").unwrap_or(name),
        )
    };
    devices
        .iter()
        .filter(|d| names.is_none_or(|n| n.contains(&d.name)))
        .map(|d| {
            // Up the parents (a bounded walk: sysfs could loop), to the first crypt target.
            let mut current = d.name.as_str();
            let mut kind = own(current);
            for _ in 0..16 {
                if kind.is_some() {
                    break;
                }
                match parents.get(current) {
                    Some(p) if !p.is_empty() => {
                        current = p;
                        kind = own(current);
                    }
                    _ => break,
                }
            }
            DiskEncryptionRow {
                name: d.name.clone(),
                uuid: d.uuid.clone(),
                encrypted: i64::from(kind.is_some()),
                encryption_status: if kind.is_some() {
                    ENCRYPTED
                } else {
                    NOT_ENCRYPTED
                }
                .into(),
                r#type: kind.unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn put(root: &Path, rel: &str, text: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn block(root: &Path, dir: &str) {
        put(root, &format!("{dir}/uevent"), b"");
        std::fs::create_dir_all(root.join("class/block")).unwrap();
        let name = Path::new(dir).file_name().unwrap();
        symlink(root.join(dir), root.join("class/block").join(name)).unwrap();
    }

    fn luks1_header(cipher: &str, mode: &str) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..6].copy_from_slice(LUKS_MAGIC);
        h[7] = 1;
        h[8..8 + cipher.len()].copy_from_slice(cipher.as_bytes());
        h[40..40 + mode.len()].copy_from_slice(mode.as_bytes());
        h
    }

    #[test]
    fn crypt_targets_and_what_sits_on_them() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        // sda1 holds a LUKS1 volume opened as dm-0; dm-1 is an LVM volume inside it; sda2 is
        // plain; dm-2 is a plain dm-crypt mapping (no header) on sda2.
        block(r, "devices/pci0/block/sda");
        block(r, "devices/pci0/block/sda/sda1");
        block(r, "devices/pci0/block/sda/sda2");
        for (dm, uuid, slave) in [
            ("dm-0", "CRYPT-LUKS1-0123abcd-luks-root", "sda1"),
            ("dm-1", "LVM-xyz", "dm-0"),
            ("dm-2", "CRYPT-PLAIN-swap", "sda2"),
        ] {
            block(r, &format!("devices/virtual/block/{dm}"));
            put(
                r,
                &format!("devices/virtual/block/{dm}/dm/uuid"),
                uuid.as_bytes(),
            );
            put(
                r,
                &format!("devices/virtual/block/{dm}/slaves/{slave}"),
                b"",
            );
        }
        let dev = r.join("dev");
        put(&dev, "sda1", &luks1_header("aes", "xts-plain64"));
        let src = BlockSources {
            class_block: r.join("class/block"),
            udev_data: r.join("udev"),
            dev_disk: r.join("disk"),
            mounts: r.join("mounts"),
            swaps: r.join("swaps"),
        };
        let got: Vec<(String, i64, String, String)> = rows(&src, &dev, None)
            .into_iter()
            .map(|r| (r.name, r.encrypted, r.r#type, r.encryption_status))
            .collect();
        let row = |n: &str, e: i64, t: &str| {
            (
                n.to_string(),
                e,
                t.to_string(),
                if e == 1 { ENCRYPTED } else { NOT_ENCRYPTED }.to_string(),
            )
        };
        assert_eq!(
            got,
            [
                row("/dev/dm-0", 1, "LUKS1-aes-xts-plain64"),
                row("/dev/dm-1", 1, "LUKS1-aes-xts-plain64"),
                row("/dev/dm-2", 1, "PLAIN"),
                row("/dev/sda", 0, ""),
                row("/dev/sda1", 0, ""),
                row("/dev/sda2", 0, ""),
            ]
        );
        let only = rows(&src, &dev, Some(&["/dev/dm-1".to_string()]));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].encrypted, 1);
    }

    /// Headers written by the real cryptsetup, read back as `cryptsetup luksDump` reads them.
    #[test]
    fn luks_headers_made_by_cryptsetup() {
        if std::process::Command::new("cryptsetup")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: cryptsetup is not installed");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("key");
        std::fs::write(&key, "correct horse battery staple").unwrap();
        for (format, cipher, expected) in [
            ("luks1", "aes-cbc-essiv:sha256", ("aes", "cbc-essiv:sha256")),
            ("luks2", "aes-cbc-essiv:sha256", ("aes", "cbc-essiv:sha256")),
            ("luks2", "aes-xts-plain64", ("aes", "xts-plain64")),
        ] {
            let image = d.path().join(format!("{format}-{cipher}.img"));
            std::fs::File::create(&image)
                .unwrap()
                .set_len(32 << 20)
                .unwrap();
            let out = std::process::Command::new("cryptsetup")
                .args(["luksFormat", "--batch-mode", "--type", format])
                .args(["--cipher", cipher, "--key-size", "256"])
                .args(["--pbkdf-force-iterations", "1000", "--pbkdf", "pbkdf2"])
                .arg("--key-file")
                .arg(&key)
                .arg(&image)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (c, m) = luks_cipher(&image).expect("a LUKS header");
            assert_eq!((c.as_str(), m.as_deref()), (expected.0, Some(expected.1)));
            let dump = std::process::Command::new("cryptsetup")
                .arg("luksDump")
                .arg(&image)
                .output()
                .unwrap();
            let dump = String::from_utf8_lossy(&dump.stdout);
            assert!(dump.contains(expected.1), "{dump}");
        }
        assert!(luks_cipher(Path::new("/etc/passwd")).is_none());
    }
}
