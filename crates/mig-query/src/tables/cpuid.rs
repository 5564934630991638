//! cpuid: what the CPUID instruction says about the processor, as osquery lists it (its
//! vendor, brand and serial strings, family, and a fixed set of feature bits). Empty where
//! there is no CPUID (not x86_64).

use super::super::row::table_row;
use super::super::schema::*;

table_row! {
    /// One CPUID fact.
    struct CpuidRow {
        feature: text = "Present feature flags",
        value: text = "Bit value or string",
        output_register: text = "Register used to for feature value",
        output_bit: integer = "Bit in register value for feature value",
        input_eax: text = "Value of EAX used",
    }
}

pub(crate) static CPUID: Table = Table {
    name: "cpuid",
    about: "Useful CPU features from the cpuid ASM call (x86_64; no rows elsewhere).",
    columns: CpuidRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_cpuid,
    reach: Reach::Host,
    example: "SELECT feature, value FROM cpuid WHERE feature IN ('vendor', 'avx2', 'hypervisor')",
};

/// A feature: its name, the register holding it, its bit.
type FeatureBit = (&'static str, &'static str, u32);

/// osquery's feature bits, by CPUID leaf.
const FEATURES: &[(u32, &[FeatureBit])] = &[
    (
        1,
        &[
            ("pae", "edx", 6),
            ("msr", "edx", 5),
            ("sep", "edx", 11),
            ("mtrr", "edx", 12),
            ("pge", "edx", 13),
            ("mca", "edx", 14),
            ("pat", "edx", 16),
            ("clfsh", "edx", 19),
            ("acpi", "edx", 22),
            ("mmz", "edx", 23),
            ("sse", "edx", 25),
            ("sse2", "edx", 26),
            ("ss", "edx", 27),
            ("htt", "edx", 28),
            ("ia64", "edx", 30),
            ("sse3", "ecx", 0),
            ("vmx", "ecx", 5),
            ("smx", "ecx", 6),
            ("ssse3", "ecx", 9),
            ("sdbg", "ecx", 11),
            ("pdcm", "ecx", 15),
            ("pcid", "ecx", 17),
            ("dca", "ecx", 18),
            ("sse4.1", "ecx", 19),
            ("sse4.2", "ecx", 20),
            ("aes", "ecx", 25),
            ("avx", "ecx", 28),
            ("hypervisor", "ecx", 31),
        ],
    ),
    (
        7,
        &[
            ("sgx", "ebx", 2),
            ("hle", "ebx", 4),
            ("avx2", "ebx", 5),
            ("smep", "ebx", 7),
            ("bmi2", "ebx", 8),
            ("erms", "ebx", 9),
            ("invpcid", "ebx", 10),
            ("rtm", "ebx", 11),
            ("pqm", "ebx", 12),
            ("mpx", "ebx", 14),
            ("pqe", "ebx", 15),
            ("avx512f", "ebx", 16),
            ("avx512dq", "ebx", 17),
            ("rdseed", "ebx", 18),
            ("adx", "ebx", 19),
            ("smap", "ebx", 20),
            ("intel_pt", "ebx", 25),
            ("sha", "ebx", 29),
            ("umip", "ecx", 2),
            ("pku", "ecx", 3),
            ("ospke", "ecx", 4),
            ("gfni", "ecx", 8),
            ("vaes", "ecx", 9),
            ("sgx_lc", "ecx", 30),
            ("spec_ctrl", "edx", 26),
        ],
    ),
    (
        0x8000_0001,
        &[
            ("lahfsahf", "ecx", 0),
            ("svm", "ecx", 2),
            ("3dnowprefetch", "ecx", 8),
            ("ibs", "ecx", 10),
            ("skinit", "ecx", 12),
            ("lwp", "ecx", 15),
            ("nx", "edx", 20),
            ("page1gb", "edx", 26),
            ("lm", "edx", 29),
        ],
    ),
];

/// (eax, ebx, ecx, edx) of CPUID leaf `eax`, subleaf `ecx`.
#[cfg(target_arch = "x86_64")]
fn cpuid(eax: u32, ecx: u32) -> Option<[u32; 4]> {
    // CPUID exists on every x86_64 processor and only reads identification data.
    let r = std::arch::x86_64::__cpuid_count(eax, ecx);
    Some([r.eax, r.ebx, r.ecx, r.edx])
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid(_: u32, _: u32) -> Option<[u32; 4]> {
    None
}

fn gen_cpuid(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(cpuid_rows(cpuid)))
}

/// Registers as text, each four bytes in memory order (the vendor is in EBX, EDX, ECX).
fn ascii(regs: &[u32]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_le_bytes()).collect();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\0')
        .to_string()
}

fn hex_words(regs: &[u32]) -> String {
    regs.iter().map(|r| format!("{r:08x}")).collect()
}

/// osquery's rows, from a CPUID implementation (the processor's, or a test's).
fn cpuid_rows(cpuid: impl Fn(u32, u32) -> Option<[u32; 4]>) -> Vec<CpuidRow> {
    let Some(leaf0) = cpuid(0, 0).filter(|r| r[0] >= 1) else {
        return Vec::new();
    };
    let row = |feature: &str, value: String, register: &str, bit: i64, eax: &str| CpuidRow {
        feature: feature.into(),
        value,
        output_register: register.into(),
        output_bit: bit,
        input_eax: eax.into(),
    };
    let leaf = |eax: u32, ecx: u32| cpuid(eax, ecx).unwrap_or([0; 4]);
    let mut rows = vec![row(
        "vendor",
        ascii(&[leaf0[1], leaf0[3], leaf0[2]]),
        "ebx,edx,ecx",
        0,
        "0",
    )];
    let brand: Vec<u32> = (0..3).flat_map(|i| leaf(0x8000_0002 + i, 0)).collect();
    rows.push(row(
        "product_name",
        ascii(&brand),
        "eax,ebx,ecx,edx",
        0,
        "0x80000002",
    ));
    let hv = leaf(0x4000_0000, 0);
    if hv[0] != 0 {
        rows.push(row(
            "hypervisor_id",
            hex_words(&hv[..3]),
            "ebx,ecx,edx",
            0,
            "0x40000000",
        ));
    }
    let (one, three) = (leaf(1, 0), leaf(3, 0));
    rows.push(row(
        "serial",
        hex_words(&[one[0], three[0], three[3]]),
        "eax,eax,ecx",
        0,
        "1,3",
    ));
    rows.push(row(
        "family",
        format!("{:04x}", one[0] & 0xf00),
        "eax",
        0,
        "1",
    ));
    for (eax, features) in FEATURES {
        let regs = leaf(*eax, 0);
        for (name, register, bit) in *features {
            let value = match *register {
                "ebx" => regs[1],
                "ecx" => regs[2],
                "edx" => regs[3],
                _ => regs[0],
            };
            rows.push(row(
                name,
                ((value >> bit) & 1).to_string(),
                register,
                i64::from(*bit),
                &eax.to_string(),
            ));
        }
    }
    for subleaf in 0..2 {
        rows.push(row(
            &format!("sgx{subleaf}"),
            hex_words(&leaf(0x12, subleaf)),
            "eax,ebx,ecx,edx",
            0,
            &0x12.to_string(),
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_a_known_processor() {
        // "GenuineIntel", AVX2 and SHA in leaf 7, SSE2 in leaf 1.
        let fake = |eax: u32, _: u32| {
            Some(match eax {
                0 => [0x16, 0x756e_6547, 0x6c65_746e, 0x4965_6e69],
                1 => [0x0009_06ea, 0, 1 << 31, 1 << 26],
                7 => [0, (1 << 5) | (1 << 29), 0, 0],
                _ => [0; 4],
            })
        };
        let rows = cpuid_rows(fake);
        let get = |f: &str| {
            rows.iter()
                .find(|r| r.feature == f)
                .map(|r| r.value.clone())
        };
        assert_eq!(get("vendor").as_deref(), Some("GenuineIntel"));
        assert_eq!(get("sse2").as_deref(), Some("1"));
        assert_eq!(get("sse").as_deref(), Some("0"));
        assert_eq!(get("avx2").as_deref(), Some("1"));
        assert_eq!(get("sha").as_deref(), Some("1"));
        assert_eq!(get("hypervisor").as_deref(), Some("1"));
        assert_eq!(get("family").as_deref(), Some("0600"));
        assert!(get("hypervisor_id").is_none());
        assert!(cpuid_rows(|_, _| None).is_empty());
    }
}
