//! What makes a file a mig-agent binary of some version: an ELF section holding the words
//! `mig-agent --version` prints. Read without running the file, by agentdestroy (another
//! agent's binary) and by the upgrade (a downloaded binary, before it is installed).

use std::fs::File;

/// The ELF section where a mig-agent binary carries its version.
pub const VERSION_SECTION: &str = ".mig_agent_version";

/// The section's fixed size: room for `mig-agent ` and a version of up to 53 bytes, padded
/// with NULs (a fixed size lets a test give a copy of the binary another version).
pub const VERSION_SECTION_LEN: usize = 64;

/// The version in a section's bytes (`mig-agent 1.2.3\0…` → `1.2.3`); None when the bytes
/// are not a mig-agent version text.
pub fn version_from_section(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let version = text.strip_prefix("mig-agent ")?.trim();
    (!version.is_empty() && !version.contains(char::is_whitespace)).then(|| version.to_string())
}

/// The version of the mig-agent binary open in `file`; the error says why it is not one.
pub fn version_of(file: &File) -> Result<String, String> {
    let bytes = crate::os::elf::section(file, VERSION_SECTION)?
        .ok_or_else(|| format!("it has no {VERSION_SECTION} section: not a mig-agent binary"))?;
    version_from_section(&bytes)
        .ok_or_else(|| format!("its {VERSION_SECTION} section holds no mig-agent version"))
}

/// Orders two versions the way release numbers go: dot- or dash-separated parts, numeric
/// parts as numbers (`0.10.0` > `0.9.1`), other parts as text; a version that is a prefix of
/// the other is older (`1.2` < `1.2.1`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<String> {
        v.split(['.', '-', '+', '~'])
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if order != std::cmp::Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_are_read_from_padded_section_text() {
        assert_eq!(
            version_from_section(b"mig-agent 0.1.0\0\0\0").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(version_from_section(b"mig-agent \0"), None);
        assert_eq!(version_from_section(b"other 0.1.0\0"), None);
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Greater);
        assert_eq!(compare_versions("1.2", "1.2.1"), Less);
        assert_eq!(compare_versions("1.2.3", "1.2.3"), Equal);
        assert_eq!(compare_versions("2.0.0-rc1", "2.0.0-rc2"), Less);
    }
}
