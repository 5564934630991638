//! Hashes of file contents: every requested algorithm computed in one read pass.

use sha2::digest::DynDigest;

/// A digest algorithm the file module can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// MD5 (128 bits).
    Md5,
    /// SHA-1 (160 bits).
    Sha1,
    /// SHA-256, of the SHA-2 family.
    Sha256,
    /// SHA-384, of the SHA-2 family.
    Sha384,
    /// SHA-512, of the SHA-2 family.
    Sha512,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
}

impl HashAlgo {
    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    fn hasher(self) -> Box<dyn DynDigest + Send> {
        match self {
            HashAlgo::Md5 => Box::new(md5::Md5::default()),
            HashAlgo::Sha1 => Box::new(sha1::Sha1::default()),
            HashAlgo::Sha256 => Box::new(sha2::Sha256::default()),
            HashAlgo::Sha384 => Box::new(sha2::Sha384::default()),
            HashAlgo::Sha512 => Box::new(sha2::Sha512::default()),
            HashAlgo::Sha3_224 => Box::new(sha3::Sha3_224::default()),
            HashAlgo::Sha3_256 => Box::new(sha3::Sha3_256::default()),
            HashAlgo::Sha3_384 => Box::new(sha3::Sha3_384::default()),
            HashAlgo::Sha3_512 => Box::new(sha3::Sha3_512::default()),
        }
    }
}

/// A set of algorithms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashSet(u16);

impl HashSet {
    /// Adds an algorithm to the set.
    pub fn insert(&mut self, a: HashAlgo) {
        self.0 |= a.bit();
    }
    /// True when no algorithm is in the set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// True when the algorithm is in the set.
    pub fn contains(&self, a: HashAlgo) -> bool {
        self.0 & a.bit() != 0
    }
    /// How many algorithms the set holds.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }
}

const ALL: [HashAlgo; 9] = [
    HashAlgo::Md5,
    HashAlgo::Sha1,
    HashAlgo::Sha256,
    HashAlgo::Sha384,
    HashAlgo::Sha512,
    HashAlgo::Sha3_224,
    HashAlgo::Sha3_256,
    HashAlgo::Sha3_384,
    HashAlgo::Sha3_512,
];

/// Feeds the same bytes to several hashers.
pub struct MultiHasher {
    hashers: Vec<(HashAlgo, Box<dyn DynDigest + Send>)>,
}

impl MultiHasher {
    /// A hasher for each algorithm in the set, none of them fed yet.
    pub fn new(set: HashSet) -> MultiHasher {
        MultiHasher {
            hashers: ALL
                .iter()
                .filter(|a| set.contains(**a))
                .map(|a| (*a, a.hasher()))
                .collect(),
        }
    }

    /// Feeds the next bytes of the content to every hasher.
    pub fn update(&mut self, data: &[u8]) {
        for (_, h) in &mut self.hashers {
            h.update(data);
        }
    }

    /// Lower-case hex digests, by algorithm.
    pub fn finish(self) -> Vec<(HashAlgo, String)> {
        self.hashers
            .into_iter()
            .map(|(a, h)| (a, hex(&h.finalize())))
            .collect()
    }
}

/// The bytes as lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_in_one_pass() {
        let mut set = HashSet::default();
        for a in ALL {
            set.insert(a);
        }
        let mut h = MultiHasher::new(set);
        h.update(b"a");
        h.update(b"bc");
        let out: std::collections::HashMap<_, _> = h.finish().into_iter().collect();
        assert_eq!(out[&HashAlgo::Md5], "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            out[&HashAlgo::Sha1],
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            out[&HashAlgo::Sha256],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            out[&HashAlgo::Sha3_256],
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert_eq!(out[&HashAlgo::Sha3_224].len(), 56);
    }
}
