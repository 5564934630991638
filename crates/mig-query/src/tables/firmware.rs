//! Firmware and the kernel's view of it: acpi_tables, smbios_tables, platform_info,
//! memory_arrays, memory_devices, their mapped addresses, cpu_info, oem_strings, secureboot,
//! md_personalities.

use super::super::row::table_row;
use super::super::schema::*;
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

table_row! {
    /// One ACPI table.
    struct AcpiRow {
        name: text = "ACPI table name",
        size: integer = "Size of compiled table data",
        md5: text = "MD5 hash of table content",
    }
}

pub(crate) static ACPI_TABLES: Table = Table {
    name: "acpi_tables",
    about: "Firmware ACPI functional table common metadata and content (/sys/firmware/acpi/tables; root may read them).",
    columns: AcpiRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_acpi_tables,
    reach: Reach::Host,
    example: "SELECT name, size, md5 FROM acpi_tables",
};

const ACPI_TABLES_DIR: &str = "/sys/firmware/acpi/tables";

fn gen_acpi_tables(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut files = Vec::new();
    acpi_files(Path::new(ACPI_TABLES_DIR), &mut files);
    files.sort();
    let rows: Vec<AcpiRow> = files
        .into_iter()
        .map(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // An unreadable table (not root) has osquery's size -1 and no hash.
            match std::fs::read(&f) {
                Ok(content) => AcpiRow {
                    name,
                    size: content.len() as i64,
                    md5: md5_hex(&content),
                },
                Err(_) => AcpiRow {
                    name,
                    size: -1,
                    md5: String::new(),
                },
            }
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

/// The tables below `dir`, in its "category" subdirectories too (`dynamic/`, `data/`).
fn acpi_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => acpi_files(&e.path(), out),
            Ok(t) if t.is_file() => out.push(e.path()),
            _ => {}
        }
    }
}

table_row! {
    /// One SMBIOS structure.
    struct SmbiosRow {
        number: integer = "Table entry number",
        r#type: integer = "Table entry type",
        description: text = "Table entry description",
        handle: integer = "Table entry handle",
        header_size: integer = "Header size in bytes",
        size: integer = "Table entry size in bytes",
        md5: text = "MD5 hash of table entry",
    }
}

pub(crate) static SMBIOS_TABLES: Table = Table {
    name: "smbios_tables",
    about: "BIOS (DMI) structure common details and content (/sys/firmware/dmi/tables/DMI; root may read it).",
    columns: SmbiosRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_smbios_tables,
    reach: Reach::Host,
    example: "SELECT number, type, description, size FROM smbios_tables",
};

const DMI_TABLE: &str = "/sys/firmware/dmi/tables/DMI";

/// The DMI table, or nothing (no DMI, as on many ARM boards and some virtual machines; or
/// not root).
fn dmi_table() -> Vec<u8> {
    std::fs::read(DMI_TABLE).unwrap_or_default()
}

fn gen_smbios_tables(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let table = dmi_table();
    let rows: Vec<SmbiosRow> = structures(&table)
        .enumerate()
        .map(|(number, s)| SmbiosRow {
            number: number as i64,
            r#type: i64::from(s.kind),
            description: smbios_type_name(s.kind).into(),
            handle: i64::from(s.handle),
            header_size: i64::from(s.header_len),
            size: s.bytes.len() as i64,
            md5: md5_hex(s.bytes),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

/// One structure of an SMBIOS table: its formatted part, then its strings.
struct Structure<'t> {
    kind: u8,
    header_len: u8,
    handle: u16,
    /// The whole structure, strings and the double NUL included.
    bytes: &'t [u8],
}

impl Structure<'_> {
    /// String number `n` (1-based, as the formatted part refers to them).
    fn string(&self, n: u8) -> Option<String> {
        if n == 0 {
            return None;
        }
        let strings = &self.bytes[usize::from(self.header_len)..];
        strings
            .split(|b| *b == 0)
            .nth(usize::from(n) - 1)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }
}

/// The structures of an SMBIOS table, up to End-of-Table (type 127) or a structure that does
/// not fit (a damaged table stops there).
fn structures(table: &[u8]) -> impl Iterator<Item = Structure<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = table.get(at..at + 4)?;
        let (kind, header_len) = (header[0], header[1]);
        if header_len < 4 {
            return None;
        }
        let strings_at = at + usize::from(header_len);
        // The strings end with two NULs (a structure without strings has just the two).
        let rest = table.get(strings_at..)?;
        let end = rest.windows(2).position(|w| w == [0, 0])? + 2;
        let s = Structure {
            kind,
            header_len,
            handle: u16::from_le_bytes([header[2], header[3]]),
            bytes: &table[at..strings_at + end],
        };
        at = strings_at + end;
        if kind == 127 {
            // End-of-Table is listed, and is the last.
            at = table.len();
        }
        Some(s)
    })
}

/// osquery's names for the SMBIOS structure types.
fn smbios_type_name(kind: u8) -> &'static str {
    const NAMES: &[&str] = &[
        "BIOS Information",
        "System Information",
        "Base Board or Module Information",
        "System Enclosure or Chassis",
        "Processor Information",
        "Memory Controller Information",
        "Memory Module Information",
        "Cache Information",
        "Port Connector Information",
        "System Slots",
        "On Board Devices Information",
        "OEM Strings",
        "System Configuration Options",
        "BIOS Language Information",
        "Group Associations",
        "System Event Log",
        "Physical Memory Array",
        "Memory Device",
        "32-bit Memory Error Information",
        "Memory Array Mapped Address",
        "Memory Device Mapped Address",
        "Built-in Pointing Device",
        "Portable Battery",
        "System Reset",
        "Hardware Security",
        "System Power Controls",
        "Voltage Probe",
        "Cooling Device",
        "Temperature Probe",
        "Electrical Current Probe",
        "Out-of-Band Remote Access",
        "Boot Integrity Services",
        "System Boot Information",
        "64-bit Memory Error Information",
        "Management Device",
        "Management Device Component",
        "Management Device Threshold Data",
        "Memory Channel",
        "IPMI Device Information",
        "System Power Supply",
        "Additional Information",
        "Onboard Devices Extended Info",
    ];
    match kind {
        126 => "Inactive",
        127 => "End-of-Table",
        130 => "Memory SPD Data",
        k => NAMES.get(usize::from(k)).copied().unwrap_or("Unknown"),
    }
}

table_row! {
    /// The platform's firmware (SMBIOS type 0).
    struct PlatformRow {
        vendor: text = "Platform code vendor",
        version: text = "Platform code version",
        date: text = "Self-reported platform code update date",
        revision: text = "BIOS major and minor revision",
        extra: text = "Platform-specific additional information",
        firmware_type: text = "The type of firmware (uefi, bios, iboot, openfirmware, unknown).",
        address: text = "Relative address of firmware mapping",
        size: text = "Size in bytes of firmware",
        volume_size: integer = "(Optional) size of firmware volume",
    }
}

pub(crate) static PLATFORM_INFO: Table = Table {
    name: "platform_info",
    about:
        "Information about EFI/UEFI/ROM and platform/boot (the SMBIOS BIOS Information structure).",
    columns: PlatformRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_platform_info,
    reach: Reach::Host,
    example: "SELECT vendor, version, date, firmware_type FROM platform_info",
};

fn gen_platform_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let firmware = if Path::new("/sys/firmware/efi").is_dir() {
        "uefi"
    } else {
        "bios"
    };
    Ok(VecRows::boxed(platform_info(&dmi_table(), firmware)))
}

/// The BIOS Information structures, read as osquery reads them.
fn platform_info(table: &[u8], firmware_type: &str) -> Vec<PlatformRow> {
    structures(table)
        .filter(|s| s.kind == 0 && s.header_len > 0x15)
        .map(|s| {
            let b = |i: usize| s.bytes[i];
            let text = |i: usize| s.string(b(i)).unwrap_or_default();
            PlatformRow {
                vendor: text(0x04),
                version: text(0x05),
                date: text(0x08),
                revision: format!("{}.{}", b(0x14), b(0x15)),
                extra: String::new(),
                firmware_type: firmware_type.into(),
                // The load address as a WORD, the size as a count of 64 KiB blocks.
                address: format!("0x{:04x}", u16::from_le_bytes([b(0x06), b(0x07)])),
                size: ((usize::from(b(0x09)) + 1) * 64 * 1024).to_string(),
                volume_size: 0,
            }
        })
        .collect()
}

table_row! {
    /// One physical memory array (SMBIOS type 16).
    struct MemoryArrayRow {
        handle: text = "Handle, or instance number, associated with the array",
        location: text = "Physical location of the memory array",
        r#use: text = "Function for which the array is used",
        memory_error_correction: text = "Primary hardware error correction or detection method supported",
        max_capacity: integer = "Maximum capacity of array in gigabytes",
        memory_error_info_handle: text = "Handle, or instance number, associated with any error that was detected for the array",
        number_memory_devices: integer = "Number of memory devices on array",
    }
}

pub(crate) static MEMORY_ARRAYS: Table = Table {
    name: "memory_arrays",
    about: "Data associated for physical memory arrays present on a system (SMBIOS type 16).",
    columns: MemoryArrayRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_memory_arrays,
    reach: Reach::Host,
    example: "SELECT handle, max_capacity, number_memory_devices, memory_error_correction FROM memory_arrays",
};

fn gen_memory_arrays(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(memory_arrays(&dmi_table())))
}

fn memory_arrays(table: &[u8]) -> Vec<MemoryArrayRow> {
    const LOCATIONS: &[&str] = &[
        "",
        "Other",
        "Unknown",
        "System board or motherboard",
        "ISA add-on card",
        "EISA add-on card",
        "PCI add-on card",
        "MCA add-on card",
        "PCMCIA add-on card",
        "Proprietary add-on card",
        "NuBus",
    ];
    const PC98: &[&str] = &[
        "PC-98/C20 add-on card",
        "PC-98/C24 add-on card",
        "PC-98/E add-on card",
        "PC-98/Local bus add-on card",
    ];
    const USES: &[&str] = &[
        "",
        "Other",
        "Unknown",
        "System memory",
        "Video memory",
        "Flash memory",
        "Non-volatile RAM",
        "Cache memory",
    ];
    const ECC: &[&str] = &[
        "",
        "Other",
        "Unknown",
        "none",
        "Parity",
        "Single-bit ECC",
        "Multi-bit ECC",
        "CRC",
    ];
    structures(table)
        .filter(|s| s.kind == 16 && usize::from(s.header_len) >= 0x0F)
        .map(|s| {
            let b = &s.bytes;
            let word = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
            let name = |names: &[&str], i: u8| {
                names
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or_default()
                    .to_string()
            };
            let location = match b[0x04] {
                l @ 0xA0..=0xA3 => PC98[usize::from(l - 0xA0)].to_string(),
                l => name(LOCATIONS, l),
            };
            // In KiB, or (0x8000_0000) the extended capacity in bytes: as GiB.
            let cap = u32::from_le_bytes([b[7], b[8], b[9], b[10]]);
            let max_capacity = if cap >= 0x8000_0000 {
                b.get(0x0F..0x17)
                    .map(|q| u64::from_le_bytes(q.try_into().unwrap_or([0; 8])) / (1 << 30))
                    .unwrap_or(0) as i64
            } else {
                i64::from(cap / (1 << 20))
            };
            let err = word(0x0B);
            MemoryArrayRow {
                handle: format!("0x{:04x}", word(0x02)),
                location,
                r#use: name(USES, b[0x05]),
                memory_error_correction: name(ECC, b[0x06]),
                max_capacity,
                memory_error_info_handle: if err == 0xFFFE || err == 0xFFFF {
                    String::new()
                } else {
                    format!("0x{err:04x}")
                },
                number_memory_devices: i64::from(word(0x0D)),
            }
        })
        .collect()
}

table_row! {
    /// One memory device (SMBIOS type 17).
    struct MemoryDeviceRow {
        handle: text = "Handle, or instance number, associated with the structure in SMBIOS",
        array_handle: text = "The memory array that the device is attached to",
        form_factor: text = "Implementation form factor for this memory device",
        total_width: Option<integer> = "Total width, in bits, of this memory device, including any check or error-correction bits",
        data_width: Option<integer> = "Data width, in bits, of this memory device",
        size: Option<integer> = "Size of memory device in Megabyte",
        set: Option<integer> = "Identifies if memory device is one of a set of devices.  A value of 0 indicates no set affiliation.",
        device_locator: text = "String number of the string that identifies the physically-labeled socket or board position where the memory device is located",
        bank_locator: text = "String number of the string that identifies the physically-labeled bank where the memory device is located",
        memory_type: text = "Type of memory used",
        memory_type_details: text = "Additional details for memory device",
        max_speed: Option<integer> = "Max speed of memory device in megatransfers per second (MT/s)",
        configured_clock_speed: Option<integer> = "Configured speed of memory device in megatransfers per second (MT/s)",
        manufacturer: text = "Manufacturer ID string",
        serial_number: text = "Serial number of memory device",
        asset_tag: text = "Manufacturer specific asset tag of memory device",
        part_number: text = "Manufacturer specific serial number of memory device",
        min_voltage: Option<integer> = "Minimum operating voltage of device in millivolts",
        max_voltage: Option<integer> = "Maximum operating voltage of device in millivolts",
        configured_voltage: Option<integer> = "Configured operating voltage of device in millivolts",
    }
}

pub(crate) static MEMORY_DEVICES: Table = Table {
    name: "memory_devices",
    about: "Physical memory device (type 17) information retrieved from SMBIOS.",
    columns: MemoryDeviceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_memory_devices,
    reach: Reach::Host,
    example: "SELECT device_locator, size, memory_type, manufacturer FROM memory_devices",
};

fn gen_memory_devices(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(memory_devices(&dmi_table())))
}

/// osquery's names for SMBIOS memory form factors, types and type-detail bits.
const FORM_FACTORS: &[&str] = &[
    "",
    "Other",
    "Unknown",
    "SIMM",
    "SIP",
    "Chip",
    "DIP",
    "ZIP",
    "Proprietary Card",
    "DIMM",
    "TSOP",
    "Row of chips",
    "RIMM",
    "SODIMM",
    "SRIMM",
    "FB-DIMM",
];
const MEMORY_TYPES: &[&str] = &[
    "",
    "Other",
    "Unknown",
    "DRAM",
    "EDRAM",
    "VRAM",
    "SRAM",
    "RAM",
    "ROM",
    "FLASH",
    "EEPROM",
    "FEPROM",
    "EPROM",
    "CDRAM",
    "3DRAM",
    "SDRAM",
    "SGRAM",
    "RDRAM",
    "DDR",
    "DDR2",
    "DDR2 FB-DIMM",
    "RESERVED",
    "RESERVED",
    "RESERVED",
    "DDR3",
    "FBD2",
    "DDR4",
    "LPDDR",
    "LPDDR2",
    "LPDDR3",
    "LPDDR4",
];
const TYPE_DETAILS: &[&str] = &[
    "Reserved",
    "Other",
    "Unknown",
    "Fast-paged",
    "Static column",
    "Pseudo-static",
    "RAMBUS",
    "Synchronous",
    "CMOS",
    "EDO",
    "Window DRAM",
    "Cache DRAM",
    "Non-volatile",
    "Registered (Buffered)",
    "Unbuffered (Unregistered)",
    "LRDIMM",
];

fn memory_devices(table: &[u8]) -> Vec<MemoryDeviceRow> {
    structures(table)
        .filter(|s| s.kind == 17 && usize::from(s.header_len) >= 0x28)
        .map(|s| {
            let byte = |i: usize| s.bytes[i];
            let word = |i: usize| u16::from_le_bytes([s.bytes[i], s.bytes[i + 1]]);
            let dword = |i: usize| {
                u32::from_le_bytes([s.bytes[i], s.bytes[i + 1], s.bytes[i + 2], s.bytes[i + 3]])
            };
            let known = |w: u16, unknown: &[u16]| (!unknown.contains(&w)).then_some(i64::from(w));
            let name = |names: &[&str], i: u8| {
                names
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or_default()
                    .to_string()
            };
            let details = word(0x13);
            let size = match word(0x0C) {
                0xFFFF => None,
                // Larger than 32 GiB: the extended size, in MiB.
                0x7FFF => Some(i64::from(dword(0x1C))),
                w => Some(i64::from(w)),
            };
            MemoryDeviceRow {
                handle: format!("0x{:04x}", word(0x02)),
                array_handle: format!("0x{:04x}", word(0x04)),
                form_factor: name(FORM_FACTORS, byte(0x0E)),
                total_width: known(word(0x08), &[0xFFFF]),
                data_width: known(word(0x0A), &[0xFFFF]),
                size,
                set: (byte(0x0F) != 0xFF).then_some(i64::from(byte(0x0F))),
                device_locator: s.string(byte(0x10)).unwrap_or_default(),
                bank_locator: s.string(byte(0x11)).unwrap_or_default(),
                memory_type: name(MEMORY_TYPES, byte(0x12)),
                memory_type_details: TYPE_DETAILS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| details & (1 << i) != 0)
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>()
                    .join(" "),
                max_speed: known(word(0x15), &[0, 0xFFFF]),
                configured_clock_speed: known(word(0x20), &[0, 0xFFFF]),
                manufacturer: s.string(byte(0x17)).unwrap_or_default(),
                serial_number: s.string(byte(0x18)).unwrap_or_default(),
                asset_tag: s.string(byte(0x19)).unwrap_or_default(),
                part_number: s.string(byte(0x1A)).unwrap_or_default(),
                min_voltage: known(word(0x22), &[0]),
                max_voltage: known(word(0x24), &[0]),
                configured_voltage: known(word(0x26), &[0]),
            }
        })
        .collect()
}

table_row! {
    /// One processor (SMBIOS type 4).
    struct CpuInfoRow {
        device_id: text = "The DeviceID of the CPU.",
        model: text = "The model of the CPU.",
        manufacturer: text = "The manufacturer of the CPU.",
        processor_type: text = "The processor type, such as Central, Math, or Video.",
        cpu_status: integer = "The current operating status of the CPU.",
        number_of_cores: text = "The number of cores of the CPU.",
        logical_processors: integer = "The number of logical processors of the CPU.",
        address_width: text = "The width of the CPU address bus.",
        current_clock_speed: integer = "The current frequency of the CPU.",
        max_clock_speed: integer = "The maximum possible frequency of the CPU.",
        socket_designation: text = "The assigned socket on the board for the given CPU.",
    }
    absent {
        availability: text = "The availability and status of the CPU.",
        load_percentage: integer = "The current percentage of utilization of the CPU.",
        number_of_efficiency_cores: integer = "The number of efficiency cores of the CPU. Only available on Apple Silicon",
        number_of_performance_cores: integer = "The number of performance cores of the CPU. Only available on Apple Silicon",
    }
}

pub(crate) static CPU_INFO: Table = Table {
    name: "cpu_info",
    about: "Retrieve cpu hardware info of the machine: the SMBIOS processor structures (/sys/firmware/dmi/tables/DMI; root may read it), as osquery reads them on Linux.",
    columns: CpuInfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_cpu_info,
    reach: Reach::Host,
    example: "SELECT device_id, model, number_of_cores, logical_processors, max_clock_speed FROM cpu_info",
};

fn gen_cpu_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(cpu_info(&dmi_table())))
}

/// osquery's device name prefix per SMBIOS processor type (3: central, 4: math, 5: DSP,
/// 6: video).
fn processor_kind(kind: u8) -> Option<&'static str> {
    match kind {
        3 => Some("CPU"),
        4 => Some("MATH"),
        5 => Some("DSP"),
        6 => Some("GPU"),
        _ => None,
    }
}

fn cpu_info(table: &[u8]) -> Vec<CpuInfoRow> {
    let mut next_id = 0;
    structures(table)
        // osquery reads up to offset 0x2f: shorter structures are skipped.
        .filter(|s| s.kind == 4 && s.bytes.len() >= 0x30 && s.header_len >= 0x1a)
        .map(|s| {
            let byte = |i: usize| s.bytes[i];
            let word = |i: usize| u16::from_le_bytes([s.bytes[i], s.bytes[i + 1]]);
            // SMBIOS 2.5 added the core counts; older tables are told from this machine.
            let (cores, logical, width) = if s.header_len >= 0x28 {
                let wide = word(0x26) & (1 << 2) != 0;
                (
                    i64::from(byte(0x23)),
                    i64::from(byte(0x25)),
                    if wide { "64" } else { "32" },
                )
            } else {
                let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
                (
                    logical as i64,
                    logical as i64,
                    if cfg!(target_pointer_width = "64") {
                        "64"
                    } else {
                        "32"
                    },
                )
            };
            let device_id = match processor_kind(byte(0x05)) {
                Some(prefix) => {
                    next_id += 1;
                    format!("{prefix}{}", next_id - 1)
                }
                None => String::new(),
            };
            CpuInfoRow {
                device_id,
                model: s
                    .string(byte(0x10))
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
                manufacturer: s
                    .string(byte(0x07))
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
                processor_type: byte(0x05).to_string(),
                cpu_status: i64::from(byte(0x18)),
                number_of_cores: cores.to_string(),
                logical_processors: logical,
                address_width: width.into(),
                current_clock_speed: i64::from(word(0x16)),
                max_clock_speed: i64::from(word(0x14)),
                socket_designation: s
                    .string(byte(0x04))
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
            }
        })
        .collect()
}

table_row! {
    /// One range of addresses mapped to a memory array (SMBIOS type 19).
    struct ArrayMapRow {
        handle: text = "Handle, or instance number, associated with the structure",
        memory_array_handle: text = "Handle of the memory array associated with this structure",
        starting_address: text = "Physical stating address, in kilobytes, of a range of memory mapped to physical memory array",
        ending_address: text = "Physical ending address of last kilobyte of a range of memory mapped to physical memory array",
        partition_width: integer = "Number of memory devices that form a single row of memory for the address partition of this structure",
    }
}

pub(crate) static MEMORY_ARRAY_MAPPED_ADDRESSES: Table = Table {
    name: "memory_array_mapped_addresses",
    about: "Data associated for address mapping of physical memory arrays (SMBIOS type 19).",
    columns: ArrayMapRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_array_maps,
    reach: Reach::Host,
    example: "SELECT memory_array_handle, starting_address, ending_address FROM memory_array_mapped_addresses",
};

table_row! {
    /// One range of addresses mapped to a memory device (SMBIOS type 20).
    struct DeviceMapRow {
        handle: text = "Handle, or instance number, associated with the structure",
        memory_device_handle: text = "Handle of the memory device structure associated with this structure",
        memory_array_mapped_address_handle: text = "Handle of the memory array mapped address to which this device range is mapped to",
        starting_address: text = "Physical stating address, in kilobytes, of a range of memory mapped to physical memory array",
        ending_address: text = "Physical ending address of last kilobyte of a range of memory mapped to physical memory array",
        partition_row_position: integer = "Identifies the position of the referenced memory device in a row of the address partition",
        interleave_position: integer = "The position of the device in a interleave, i.e. 0 indicates non-interleave, 1 indicates 1st interleave, 2 indicates 2nd interleave, etc.",
        interleave_data_depth: integer = "The max number of consecutive rows from memory device that are accessed in a single interleave transfer; 0 indicates device is non-interleave",
    }
}

pub(crate) static MEMORY_DEVICE_MAPPED_ADDRESSES: Table = Table {
    name: "memory_device_mapped_addresses",
    about: "Data associated for address mapping of physical memory devices (SMBIOS type 20).",
    columns: DeviceMapRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_device_maps,
    reach: Reach::Host,
    example: "SELECT memory_device_handle, starting_address, ending_address FROM memory_device_mapped_addresses",
};

/// A mapped range: 32-bit KiB addresses, or (0xFFFFFFFF) the 64-bit extended ones at
/// `extended` and `extended + 8`, as osquery writes them (8 or 12 hex digits).
fn mapped_range(b: &[u8], extended: usize) -> (String, String) {
    let dword = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let qword = |i: usize| {
        b.get(i..i + 8)
            .and_then(|q| q.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
    };
    match dword(0x04) {
        0xFFFF_FFFF => (
            format!("0x{:012x}", qword(extended)),
            format!("0x{:012x}", qword(extended + 8)),
        ),
        start => (format!("0x{start:08x}"), format!("0x{:08x}", dword(0x08))),
    }
}

fn word_hex(b: &[u8], i: usize) -> String {
    format!("0x{:04x}", u16::from_le_bytes([b[i], b[i + 1]]))
}

fn gen_array_maps(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(array_maps(&dmi_table())))
}

fn array_maps(table: &[u8]) -> Vec<ArrayMapRow> {
    structures(table)
        .filter(|s| s.kind == 19 && usize::from(s.header_len) >= 0x0F)
        .map(|s| {
            let (starting_address, ending_address) = mapped_range(s.bytes, 0x0F);
            ArrayMapRow {
                handle: word_hex(s.bytes, 0x02),
                memory_array_handle: word_hex(s.bytes, 0x0C),
                starting_address,
                ending_address,
                partition_width: i64::from(s.bytes[0x0E]),
            }
        })
        .collect()
}

fn gen_device_maps(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(device_maps(&dmi_table())))
}

fn device_maps(table: &[u8]) -> Vec<DeviceMapRow> {
    structures(table)
        .filter(|s| s.kind == 20 && usize::from(s.header_len) >= 0x13)
        .map(|s| {
            let (starting_address, ending_address) = mapped_range(s.bytes, 0x13);
            DeviceMapRow {
                handle: word_hex(s.bytes, 0x02),
                memory_device_handle: word_hex(s.bytes, 0x0C),
                memory_array_mapped_address_handle: word_hex(s.bytes, 0x0E),
                starting_address,
                ending_address,
                partition_row_position: i64::from(s.bytes[0x10]),
                interleave_position: i64::from(s.bytes[0x11]),
                interleave_data_depth: i64::from(s.bytes[0x12]),
            }
        })
        .collect()
}

table_row! {
    /// The last error of a memory array or device (SMBIOS type 18).
    struct MemErrRow {
        handle: text = "Handle, or instance number, associated with the structure",
        error_type: text = "type of error associated with current error status for array or device",
        error_granularity: text = "Granularity to which the error can be resolved",
        error_operation: text = "Memory access operation that caused the error",
        vendor_syndrome: text = "Vendor specific ECC syndrome or CRC data associated with the erroneous access",
        memory_array_error_address: text = "32 bit physical address of the error based on the addressing of the bus to which the memory array is connected",
        device_error_address: text = "32 bit physical address of the error relative to the start of the failing memory address, in bytes",
        error_resolution: text = "Range, in bytes, within which this error can be determined, when an error address is given",
    }
}

pub(crate) static MEMORY_ERROR_INFO: Table = Table {
    name: "memory_error_info",
    about: "Data associated with errors of a physical memory array (SMBIOS type 18).",
    columns: MemErrRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_memory_errors,
    reach: Reach::Host,
    example:
        "SELECT handle, error_type, error_operation FROM memory_error_info WHERE error_type != 'OK'",
};

fn gen_memory_errors(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(memory_errors(&dmi_table())))
}

fn memory_errors(table: &[u8]) -> Vec<MemErrRow> {
    const TYPES: &[&str] = &[
        "",
        "Other",
        "Unknown",
        "OK",
        "Bad read",
        "Parity error",
        "Single-bit error",
        "Double-bit error",
        "Multi-bit error",
        "Nibble error",
        "Checksum error",
        "CRC error",
        "Corrected single-bit error",
        "Corrected error",
        "Uncorrectable error",
    ];
    const GRANULARITY: &[&str] = &[
        "",
        "Other",
        "Unknown",
        "Device level",
        "Memory partition level",
    ];
    const OPERATIONS: &[&str] = &["", "Other", "Unknown", "Read", "Write", "Partial write"];
    structures(table)
        .filter(|s| s.kind == 18 && usize::from(s.header_len) >= 0x17)
        .map(|s| {
            let b = s.bytes;
            let name = |names: &[&str], i: u8| {
                names
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or_default()
                    .to_string()
            };
            let dword = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            // A value the firmware marks as unknown is left empty.
            let hex = |i: usize, unknown: u32| match dword(i) {
                v if v == unknown => String::new(),
                v => format!("0x{v:08x}"),
            };
            MemErrRow {
                handle: word_hex(b, 0x02),
                error_type: name(TYPES, b[0x04]),
                error_granularity: name(GRANULARITY, b[0x05]),
                error_operation: name(OPERATIONS, b[0x06]),
                vendor_syndrome: hex(0x07, 0),
                memory_array_error_address: hex(0x0B, 0x8000_0000),
                device_error_address: hex(0x0F, 0x8000_0000),
                error_resolution: hex(0x13, 0x8000_0000),
            }
        })
        .collect()
}

table_row! {
    /// One OEM string (SMBIOS type 11).
    struct OemStringRow {
        handle: text = "Handle, or instance number, associated with the Type 11 structure",
        number: integer = "The string index of the structure",
        value: text = "The value of the OEM string",
    }
}

pub(crate) static OEM_STRINGS: Table = Table {
    name: "oem_strings",
    about: "OEM defined strings retrieved from SMBIOS (type 11 structures of /sys/firmware/dmi/tables/DMI).",
    columns: OemStringRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_oem_strings,
    reach: Reach::Host,
    example: "SELECT handle, number, value FROM oem_strings",
};

fn gen_oem_strings(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(oem_strings(&dmi_table())))
}

fn oem_strings(table: &[u8]) -> Vec<OemStringRow> {
    let mut rows = Vec::new();
    for s in structures(table).filter(|s| s.kind == 11) {
        // Byte 4 of the formatted part: how many strings.
        let count = s.bytes.get(4).copied().unwrap_or(0);
        for n in 1..=count {
            rows.push(OemStringRow {
                handle: format!("0x{:04X}", s.handle),
                number: i64::from(n),
                value: s.string(n).unwrap_or_default(),
            });
        }
    }
    rows
}

table_row! {
    /// Secure boot's state.
    struct SecureBootRow {
        secure_boot: integer = "Whether secure boot is enabled",
        setup_mode: integer = "Whether setup mode is enabled",
    }
    absent {
        secure_mode: integer = "(Intel) Secure mode: 0 disabled, 1 full security, 2 medium security",
        description: text = "(Apple Silicon) Human-readable description: 'Full Security', 'Reduced Security', or 'Permissive Security'",
        kernel_extensions: integer = "(Apple Silicon) Allow user management of kernel extensions from identified developers (1 if allowed)",
        mdm_operations: integer = "(Apple Silicon) Allow remote (MDM) management of kernel extensions and automatic software updates (1 if allowed)",
    }
}

pub(crate) static SECUREBOOT: Table = Table {
    name: "secureboot",
    about: "Secure Boot UEFI Settings (the SecureBoot and SetupMode EFI variables); no row on a machine that did not boot with UEFI.",
    columns: SecureBootRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_secureboot,
    reach: Reach::Host,
    example: "SELECT secure_boot, setup_mode FROM secureboot",
};

const EFI_VARS: &str = "/sys/firmware/efi/efivars";
const EFI_GLOBAL_GUID: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

fn gen_secureboot(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    if !Path::new("/sys/firmware/efi").is_dir() {
        return Ok(VecRows::boxed(Vec::<SecureBootRow>::new()));
    }
    let var = |name: &str| {
        efi_bool(&std::fs::read(format!("{EFI_VARS}/{name}-{EFI_GLOBAL_GUID}")).unwrap_or_default())
    };
    Ok(VecRows::boxed(vec![SecureBootRow {
        secure_boot: var("SecureBoot"),
        setup_mode: var("SetupMode"),
    }]))
}

/// A boolean EFI variable as efivarfs shows it: four bytes of attributes, then the value.
/// 0 or 1, and -1 when it is missing or holds something else (osquery's reading).
fn efi_bool(raw: &[u8]) -> i64 {
    match raw.get(4) {
        Some(0) if raw.len() == 5 => 0,
        Some(1) if raw.len() == 5 => 1,
        _ => -1,
    }
}

table_row! {
    /// One RAID personality the kernel supports.
    struct MdPersonalityRow {
        name: text = "Name of personality supported by kernel",
    }
}

pub(crate) static MD_PERSONALITIES: Table = Table {
    name: "md_personalities",
    about:
        "Software RAID setting supported by the kernel (the Personalities line of /proc/mdstat).",
    columns: MdPersonalityRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_md_personalities,
    reach: Reach::Host,
    example: "SELECT name FROM md_personalities",
};

fn gen_md_personalities(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let text = mig_host::optional("/proc/mdstat", |p| std::fs::read_to_string(p))
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    Ok(VecRows::boxed(md_personalities(&text)))
}

/// `Personalities : [raid1] [raid6]` → raid1, raid6.
fn md_personalities(text: &str) -> Vec<MdPersonalityRow> {
    let Some(line) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Personalities :"))
    else {
        return Vec::new();
    };
    line.split_whitespace()
        .filter(|p| p.len() > 2)
        .map(|p| MdPersonalityRow {
            name: p[1..p.len() - 1].to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A structure: type, formatted part (after the 4-byte header), strings.
    fn structure(kind: u8, handle: u16, formatted: &[u8], strings: &[&str]) -> Vec<u8> {
        let mut s = vec![kind, 4 + formatted.len() as u8];
        s.extend(handle.to_le_bytes());
        s.extend(formatted);
        for st in strings {
            s.extend(st.as_bytes());
            s.push(0);
        }
        if strings.is_empty() {
            s.push(0);
        }
        s.push(0);
        s
    }

    #[test]
    fn cpu_info_from_processor_structures() {
        // Type 4, SMBIOS 3.x layout (formatted part 0x30 long with the header).
        let mut f = vec![0u8; 0x30 - 4];
        let at = |f: &mut Vec<u8>, offset: usize, v: &[u8]| {
            f[offset - 4..offset - 4 + v.len()].copy_from_slice(v);
        };
        at(&mut f, 0x04, &[1]); // socket designation: string 1
        at(&mut f, 0x05, &[3]); // central processor
        at(&mut f, 0x07, &[2]); // manufacturer: string 2
        at(&mut f, 0x10, &[3]); // version (model): string 3
        at(&mut f, 0x14, &4000u16.to_le_bytes());
        at(&mut f, 0x16, &2400u16.to_le_bytes());
        at(&mut f, 0x18, &[0x41]); // populated, enabled
        at(&mut f, 0x23, &[8]);
        at(&mut f, 0x25, &[16]);
        at(&mut f, 0x26, &4u16.to_le_bytes()); // 64-bit capable
        let mut table = structure(
            4,
            0x0400,
            &f,
            &["CPU 0", "GenuineIntel", "Intel(R) Xeon(R)  "],
        );
        let mut other = f.clone();
        other[0x05 - 4] = 99; // not a known type: no device_id
        table.extend(structure(4, 0x0401, &other, &["CPU 1", "x", "y"]));
        table.extend(structure(127, 0xfeff, &[], &[]));
        let rows = cpu_info(&table);
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(
            (
                r.device_id.as_str(),
                r.model.as_str(),
                r.manufacturer.as_str()
            ),
            ("CPU0", "Intel(R) Xeon(R)", "GenuineIntel")
        );
        assert_eq!(
            (
                r.processor_type.as_str(),
                r.cpu_status,
                r.number_of_cores.as_str()
            ),
            ("3", 0x41, "8")
        );
        assert_eq!((r.logical_processors, r.address_width.as_str()), (16, "64"));
        assert_eq!((r.current_clock_speed, r.max_clock_speed), (2400, 4000));
        assert_eq!(r.socket_designation, "CPU 0");
        assert_eq!(rows[1].device_id, "");
    }

    #[test]
    fn smbios_structures_and_oem_strings() {
        let mut table = structure(0, 0, &[1, 2, 0, 0], &["Vendor", "1.0"]);
        table.extend(structure(11, 0x0b00, &[2], &["first", "second"]));
        table.extend(structure(127, 0xfeff, &[], &[]));
        table.extend([0xff; 8]); // past End-of-Table: not read
        let all: Vec<(u8, u16, usize)> = structures(&table)
            .map(|s| (s.kind, s.handle, s.bytes.len()))
            .collect();
        assert_eq!(
            all,
            [
                (0, 0, 8 + 7 + 4 + 1),
                (11, 0x0b00, 5 + 6 + 7 + 1),
                (127, 0xfeff, 6)
            ]
        );
        assert_eq!(smbios_type_name(0), "BIOS Information");
        assert_eq!(smbios_type_name(200), "Unknown");
        let oem = oem_strings(&table);
        let got: Vec<(&str, i64, &str)> = oem
            .iter()
            .map(|o| (o.handle.as_str(), o.number, o.value.as_str()))
            .collect();
        assert_eq!(got, [("0x0B00", 1, "first"), ("0x0B00", 2, "second")]);
        // A damaged table stops where it stops making sense.
        assert_eq!(structures(&table[..6]).count(), 0);
    }

    #[test]
    fn platform_info_from_bios_information() {
        // Type 0: vendor 1, version 2, segment 0xE800, release date 3, ROM size 0x0F (1 MiB),
        // characteristics…, BIOS release 2.7 at 0x14.
        let mut formatted = vec![1, 2, 0x00, 0xE8, 3, 0x0F];
        formatted.extend([0u8; 8]); // characteristics
        formatted.extend([0, 0, 2, 7, 0xff, 0xff]);
        let table = structure(0, 0, &formatted, &["SeaBIOS", "1.16.2", "04/01/2014"]);
        let p = platform_info(&table, "bios");
        assert_eq!(p.len(), 1);
        assert_eq!(
            (
                p[0].vendor.as_str(),
                p[0].version.as_str(),
                p[0].date.as_str()
            ),
            ("SeaBIOS", "1.16.2", "04/01/2014")
        );
        assert_eq!(
            (
                p[0].address.as_str(),
                p[0].size.as_str(),
                p[0].revision.as_str()
            ),
            ("0xe800", "1048576", "2.7")
        );
    }

    #[test]
    fn memory_error_fields() {
        let mut f = vec![0x03, 0x03, 0x03];
        f.extend(0u32.to_le_bytes());
        f.extend(0x8000_0000u32.to_le_bytes());
        f.extend(0x1234u32.to_le_bytes());
        f.extend(0x8000_0000u32.to_le_bytes());
        let e = memory_errors(&structure(18, 0x1800, &f, &[]));
        assert_eq!(
            (
                e[0].error_type.as_str(),
                e[0].error_granularity.as_str(),
                e[0].error_operation.as_str()
            ),
            ("OK", "Device level", "Read")
        );
        assert_eq!(
            (
                e[0].vendor_syndrome.as_str(),
                e[0].memory_array_error_address.as_str(),
                e[0].device_error_address.as_str()
            ),
            ("", "", "0x00001234")
        );
    }

    #[test]
    fn mapped_addresses() {
        // Type 19: 0..16 GiB (in KiB), array 0x1000, width 2.
        let mut f = Vec::new();
        f.extend(0u32.to_le_bytes());
        f.extend(0x00FF_FFFFu32.to_le_bytes());
        f.extend(0x1000u16.to_le_bytes());
        f.push(2);
        let a = array_maps(&structure(19, 0x1300, &f, &[]));
        assert_eq!(
            (a[0].starting_address.as_str(), a[0].ending_address.as_str()),
            ("0x00000000", "0x00ffffff")
        );
        assert_eq!(
            (a[0].memory_array_handle.as_str(), a[0].partition_width),
            ("0x1000", 2)
        );
        // Type 20 with the extended (64-bit) addresses.
        let mut f = Vec::new();
        f.extend(0xFFFF_FFFFu32.to_le_bytes());
        f.extend(0xFFFF_FFFFu32.to_le_bytes());
        f.extend(0x1100u16.to_le_bytes());
        f.extend(0x1300u16.to_le_bytes());
        f.extend([1, 0, 0]);
        f.extend((1u64 << 32).to_le_bytes());
        f.extend((1u64 << 33).to_le_bytes());
        let d = device_maps(&structure(20, 0x1400, &f, &[]));
        assert_eq!(
            (d[0].starting_address.as_str(), d[0].ending_address.as_str()),
            ("0x000100000000", "0x000200000000")
        );
        assert_eq!(
            (
                d[0].memory_device_handle.as_str(),
                d[0].memory_array_mapped_address_handle.as_str(),
                d[0].partition_row_position
            ),
            ("0x1100", "0x1300", 1)
        );
    }

    #[test]
    fn memory_array_fields() {
        // Location: motherboard, use: system memory, ECC: multi-bit, 256 GiB (in KiB),
        // no error handle, 8 devices.
        let mut f = vec![0x03, 0x03, 0x06];
        f.extend((256u32 << 20).to_le_bytes());
        f.extend(0xFFFEu16.to_le_bytes());
        f.extend(8u16.to_le_bytes());
        let a = memory_arrays(&structure(16, 0x1000, &f, &[]));
        assert_eq!(a.len(), 1);
        assert_eq!(
            (
                a[0].location.as_str(),
                a[0].r#use.as_str(),
                a[0].memory_error_correction.as_str()
            ),
            (
                "System board or motherboard",
                "System memory",
                "Multi-bit ECC"
            )
        );
        assert_eq!(
            (
                a[0].max_capacity,
                a[0].number_memory_devices,
                a[0].memory_error_info_handle.as_str()
            ),
            (256, 8, "")
        );
    }

    #[test]
    fn memory_device_fields() {
        // Type 17 formatted part, offsets 0x04..0x28.
        let mut f = vec![0u8; 0x28 - 4];
        let mut put =
            |off: usize, bytes: &[u8]| f[off - 4..off - 4 + bytes.len()].copy_from_slice(bytes);
        put(0x04, &0x1000u16.to_le_bytes()); // array handle
        put(0x08, &72u16.to_le_bytes()); // total width
        put(0x0A, &64u16.to_le_bytes()); // data width
        put(0x0C, &16384u16.to_le_bytes()); // 16 GiB
        put(0x0E, &[0x09, 0xFF, 1, 2, 0x1A]); // DIMM, no set, locators 1 and 2, DDR4
        put(0x13, &((1u16 << 7) | (1 << 13)).to_le_bytes()); // Synchronous, Registered
        put(0x15, &3200u16.to_le_bytes());
        put(0x17, &[3, 0, 0, 4]); // manufacturer, part number
        put(0x20, &2933u16.to_le_bytes());
        put(0x22, &1200u16.to_le_bytes());
        let table = structure(
            17,
            0x1100,
            &f,
            &["DIMM 0", "BANK 0", "Samsung", "M393A2K43"],
        );
        let d = memory_devices(&table);
        assert_eq!(d.len(), 1);
        let m = &d[0];
        assert_eq!(
            (m.handle.as_str(), m.array_handle.as_str()),
            ("0x1100", "0x1000")
        );
        assert_eq!(
            (m.form_factor.as_str(), m.memory_type.as_str()),
            ("DIMM", "DDR4")
        );
        assert_eq!(m.memory_type_details, "Synchronous Registered (Buffered)");
        assert_eq!(
            (m.total_width, m.data_width, m.size, m.set),
            (Some(72), Some(64), Some(16384), None)
        );
        assert_eq!(
            (
                m.max_speed,
                m.configured_clock_speed,
                m.min_voltage,
                m.max_voltage
            ),
            (Some(3200), Some(2933), Some(1200), None)
        );
        assert_eq!(
            (
                m.device_locator.as_str(),
                m.bank_locator.as_str(),
                m.manufacturer.as_str(),
                m.part_number.as_str()
            ),
            ("DIMM 0", "BANK 0", "Samsung", "M393A2K43")
        );
        assert_eq!(m.serial_number, "");
    }

    #[test]
    fn efi_variables_and_md_personalities() {
        assert_eq!(efi_bool(&[6, 0, 0, 0, 1]), 1);
        assert_eq!(efi_bool(&[6, 0, 0, 0, 0]), 0);
        assert_eq!(efi_bool(&[]), -1);
        let p = md_personalities(
            "Personalities : [raid1] [raid6] [raid5] \nmd0 : active raid1 sdb1[1] sda1[0]\n",
        );
        let names: Vec<&str> = p.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["raid1", "raid6", "raid5"]);
        assert!(md_personalities("").is_empty());
    }
}
