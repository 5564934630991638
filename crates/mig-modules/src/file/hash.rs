//! The file module's hash checks: which algorithm a check means, by its kind and length. The
//! hashing itself is mig-host's.

use super::params::CheckKind;
pub(crate) use mig_host::hash::{hex, HashAlgo, HashSet, MultiHasher};

/// The variant a check means, from its kind and its length in hex digits.
pub(crate) fn algo_for_check(kind: CheckKind, hex_len: usize) -> Option<HashAlgo> {
    Some(match (kind, hex_len) {
        (CheckKind::Md5, 32) => HashAlgo::Md5,
        (CheckKind::Sha1, 40) => HashAlgo::Sha1,
        (CheckKind::Sha2, 64) => HashAlgo::Sha256,
        (CheckKind::Sha2, 96) => HashAlgo::Sha384,
        (CheckKind::Sha2, 128) => HashAlgo::Sha512,
        (CheckKind::Sha3, 56) => HashAlgo::Sha3_224,
        (CheckKind::Sha3, 64) => HashAlgo::Sha3_256,
        (CheckKind::Sha3, 96) => HashAlgo::Sha3_384,
        (CheckKind::Sha3, 128) => HashAlgo::Sha3_512,
        _ => return None,
    })
}

/// The lengths a kind accepts, for error messages.
pub(crate) fn lengths(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Md5 => "32",
        CheckKind::Sha1 => "40",
        CheckKind::Sha2 => "64, 96 or 128",
        CheckKind::Sha3 => "56, 64, 96 or 128",
        _ => "no",
    }
}
