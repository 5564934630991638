//! This build's version. It lives in an ELF section of its own (`mig-agent <version>`,
//! padded to a fixed size) so that another agent can read it from this binary without
//! running it (agentdestroy, and the upgrade checking a downloaded binary), and it is read
//! back from that section at run time: heartbeats and `--version` report exactly what the
//! section says, whatever a build or a test wrote there.
//!
//! The version is the crate's, unless `MIG_AGENT_VERSION` is set when building.

use mig_modules::agent_binary::{version_from_section, VERSION_SECTION_LEN};

const BUILD_VERSION: &str = match option_env!("MIG_AGENT_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[used]
#[link_section = ".mig_agent_version"]
static VERSION_SECTION: [u8; VERSION_SECTION_LEN] = section_bytes(BUILD_VERSION);

/// `mig-agent <version>` followed by NULs; a version too long for the section fails the build.
const fn section_bytes(version: &str) -> [u8; VERSION_SECTION_LEN] {
    let prefix = b"mig-agent ";
    let v = version.as_bytes();
    assert!(
        prefix.len() + v.len() < VERSION_SECTION_LEN,
        "MIG_AGENT_VERSION is too long"
    );
    let mut out = [0u8; VERSION_SECTION_LEN];
    let mut i = 0;
    while i < prefix.len() {
        out[i] = prefix[i];
        i += 1;
    }
    let mut j = 0;
    while j < v.len() {
        out[i + j] = v[j];
        j += 1;
    }
    out
}

/// This agent's version, as its version section says.
pub fn current() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        // A volatile read: the compiler may not fold the section's build-time contents
        // into this function, so a binary whose section was rewritten reports the new text.
        // SAFETY: reading a static byte array through a valid reference.
        let bytes = unsafe { std::ptr::read_volatile(&VERSION_SECTION) };
        version_from_section(&bytes).unwrap_or_else(|| BUILD_VERSION.to_string())
    })
}
