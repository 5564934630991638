//! The machine: kernel_info, kernel_modules, os_version, system_info, uptime, mounts.

use super::super::row::{saturate, table_row};
use super::super::schema::*;
use mig_host::{mounts, system};

table_row! {
    /// The running kernel.
    struct KernelInfoRow {
        version: text = "Kernel version",
        arguments: text = "Kernel arguments",
        path: text = "Kernel path",
        device: text = "Kernel device identifier",
    }
}

pub(crate) static KERNEL_INFO: Table = Table {
    name: "kernel_info",
    about: "Basic active kernel information.",
    columns: KernelInfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_kernel_info,
    reach: Reach::Host,
    example: "SELECT version, path FROM kernel_info",
};

fn gen_kernel_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let cmdline = system::read_trimmed("/proc/cmdline").map_err(|e| e.to_string())?;
    let param = |name: &str| {
        cmdline
            .split_whitespace()
            .find_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    // The image and root device have their own columns; the rest are the arguments.
    let arguments: Vec<&str> = cmdline
        .split_whitespace()
        .filter(|a| !a.starts_with("BOOT_IMAGE=") && !a.starts_with("root="))
        .collect();
    Ok(VecRows::boxed(vec![KernelInfoRow {
        version: system::uname().release,
        arguments: arguments.join(" "),
        path: param("BOOT_IMAGE"),
        device: param("root"),
    }]))
}

table_row! {
    /// One loaded kernel module.
    struct KernelModuleRow {
        name: text = "Module name",
        size: bigint = "Size of module content",
        used_by: text = "Module reverse dependencies",
        status: text = "Kernel module status",
        address: text = "Kernel module address",
    }
}

pub(crate) static KERNEL_MODULES: Table = Table {
    name: "kernel_modules",
    about: "Linux kernel modules loaded (from /proc/modules).",
    columns: KernelModuleRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_kernel_modules,
    reach: Reach::Host,
    example: "SELECT name, size, used_by FROM kernel_modules WHERE status = 'Live'",
};

/// /proc/modules lines: name, size, use count, users (`-` or `a,b,`), state, address.
fn parse_modules(text: &str) -> Vec<KernelModuleRow> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            Some(KernelModuleRow {
                name: f[0].to_string(),
                size: f[1].parse().ok()?,
                used_by: f[3].to_string(),
                status: f[4].to_string(),
                address: f[5].to_string(),
            })
        })
        .collect()
}

fn gen_kernel_modules(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    // A kernel built without module support has no /proc/modules: no modules.
    let text =
        mig_host::read_table(std::path::Path::new("/proc/modules")).map_err(|e| e.to_string())?;
    Ok(VecRows::boxed(parse_modules(&text)))
}

table_row! {
    /// The operating system.
    struct OsVersionRow {
        name: text = "Distribution or product name",
        version: text = "Pretty, suitable for presentation, OS version",
        major: integer = "Major release version",
        minor: integer = "Minor release version",
        patch: integer = "Optional patch release",
        build: text = "Optional build-specific or variant string",
        platform: text = "OS Platform or ID",
        platform_like: text = "Closely related platforms",
        codename: text = "OS version codename",
        arch: text = "OS Architecture",
    }
    absent {
        pid_with_namespace: integer = "Pids that contain a namespace",
        mount_namespace_id: text = "Mount namespace id",
        extra: text = "Optional extra release specification",
        install_date: bigint = "The install date of the OS.",
        revision: integer = "Update Build Revision, refers to the specific revision number of a Windows update",
    }
}

pub(crate) static OS_VERSION: Table = Table {
    name: "os_version",
    about: "A single row containing the operating system name and version.",
    columns: OsVersionRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_os_version,
    reach: Reach::Host,
    example: "SELECT name, version, codename FROM os_version",
};

fn gen_os_version(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let r = system::os_release().map_err(|e| e.to_string())?;
    let get = |k: &str| r.get(k).cloned().unwrap_or_default();
    let mut nums = get("VERSION_ID")
        .split(['.', '-'])
        .map(|n| n.parse::<i64>().unwrap_or(0))
        .chain(std::iter::repeat(0))
        .take(3)
        .collect::<Vec<_>>()
        .into_iter();
    let mut next = || nums.next().unwrap_or(0);
    let (major, minor, patch) = (next(), next(), next());
    Ok(VecRows::boxed(vec![OsVersionRow {
        name: get("NAME"),
        version: if r.contains_key("VERSION") {
            get("VERSION")
        } else {
            get("VERSION_ID")
        },
        major,
        minor,
        patch,
        build: get("BUILD_ID"),
        platform: get("ID"),
        platform_like: get("ID_LIKE"),
        codename: get("VERSION_CODENAME"),
        arch: system::uname().machine,
    }]))
}

table_row! {
    /// The machine.
    struct SystemInfoRow {
        hostname: text = "Network hostname including domain",
        uuid: text = "Unique ID provided by the system",
        cpu_type: text = "CPU type",
        cpu_subtype: text = "CPU subtype",
        cpu_brand: text = "CPU brand string, contains vendor and model",
        cpu_physical_cores: integer = "Number of physical CPU cores in to the system",
        cpu_logical_cores: integer = "Number of logical CPU cores available to the system",
        cpu_sockets: integer = "Number of processor sockets in the system",
        cpu_microcode: text = "Microcode version",
        physical_memory: bigint = "Total physical memory in bytes",
        hardware_vendor: text = "Hardware vendor",
        hardware_model: text = "Hardware model",
        hardware_version: text = "Hardware version",
        hardware_serial: text = "Device serial number",
        board_vendor: text = "Board vendor",
        board_model: text = "Board model",
        board_version: text = "Board version",
        board_serial: text = "Board serial number",
        computer_name: text = "Friendly computer name (optional)",
        local_hostname: text = "Local hostname (optional)",
        emulated_cpu_type: text = "Emulated CPU type",
    }
}

pub(crate) static SYSTEM_INFO: Table = Table {
    name: "system_info",
    about: "System information for identification.",
    columns: SystemInfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_system_info,
    reach: Reach::Host,
    example: "SELECT hostname, cpu_brand, physical_memory FROM system_info",
};

fn gen_system_info(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let un = system::uname();
    let cpu = system::cpu().map_err(|e| e.to_string())?;
    // Serial numbers and the UUID are root's to read: they are read only when asked for, so
    // that an agent running as another user can still answer for the other columns.
    let dmi = |column: &str, field: &str| -> Result<String, String> {
        if !q.uses(column) {
            return Ok(String::new());
        }
        // A machine without DMI (many ARM boards, some virtual machines): empty.
        Ok(system::dmi(field)
            .map_err(|e| e.to_string())?
            .unwrap_or_default())
    };
    Ok(VecRows::boxed(vec![SystemInfoRow {
        hostname: system::hostname().map_err(|e| e.to_string())?,
        uuid: dmi("uuid", "product_uuid")?.to_ascii_uppercase(),
        cpu_type: un.machine,
        cpu_subtype: cpu.model,
        cpu_brand: cpu.brand,
        cpu_physical_cores: cpu.physical as i64,
        cpu_logical_cores: cpu.logical as i64,
        cpu_sockets: cpu.sockets as i64,
        cpu_microcode: cpu.microcode,
        physical_memory: saturate(system::physical_memory().map_err(|e| e.to_string())?),
        hardware_vendor: dmi("hardware_vendor", "sys_vendor")?,
        hardware_model: dmi("hardware_model", "product_name")?,
        hardware_version: dmi("hardware_version", "product_version")?,
        hardware_serial: dmi("hardware_serial", "product_serial")?,
        board_vendor: dmi("board_vendor", "board_vendor")?,
        board_model: dmi("board_model", "board_name")?,
        board_version: dmi("board_version", "board_version")?,
        board_serial: dmi("board_serial", "board_serial")?,
        computer_name: un.nodename.clone(),
        local_hostname: un.nodename,
        emulated_cpu_type: String::new(),
    }]))
}

table_row! {
    /// Time since boot.
    struct UptimeRow {
        days: integer = "Days of uptime",
        hours: integer = "Hours of uptime",
        minutes: integer = "Minutes of uptime",
        seconds: integer = "Seconds of uptime",
        total_seconds: bigint = "Total uptime seconds",
    }
}

pub(crate) static UPTIME: Table = Table {
    name: "uptime",
    about: "Track time passed since last boot.",
    columns: UptimeRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_uptime,
    reach: Reach::Host,
    example: "SELECT days, hours, total_seconds FROM uptime",
};

fn gen_uptime(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let s = system::uptime_seconds().map_err(|e| e.to_string())?;
    Ok(VecRows::boxed(vec![UptimeRow {
        days: saturate(s / 86_400),
        hours: saturate(s / 3_600 % 24),
        minutes: saturate(s / 60 % 60),
        seconds: saturate(s % 60),
        total_seconds: saturate(s),
    }]))
}

table_row! {
    /// One mounted filesystem.
    struct MountRow {
        device: text = "Mounted device",
        device_alias: text = "Mounted device alias",
        path: text = "Mounted device path",
        r#type: text = "Mounted device type",
        blocks_size: bigint = "Block size in bytes",
        blocks: bigint = "Mounted device used blocks",
        blocks_free: bigint = "Mounted device blocks available to root users, a superset of blocks_available",
        blocks_available: bigint = "Mounted device blocks available to non-root users",
        inodes: bigint = "Mounted device used inodes",
        inodes_free: bigint = "Mounted device free inodes",
        flags: text = "Mounted device flags",
    }
}

pub(crate) static MOUNTS: Table = Table {
    name: "mounts",
    about: "System mounted devices and filesystems (not process specific), with their usage (osquery's equivalent of df).",
    columns: MountRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_mounts,
    reach: Reach::Host,
    example: "SELECT path, type, blocks_size * blocks_available AS bytes_free FROM mounts WHERE type = 'ext4'",
};

fn gen_mounts(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let want_usage = [
        "blocks_size",
        "blocks",
        "blocks_free",
        "blocks_available",
        "inodes",
        "inodes_free",
    ]
    .iter()
    .any(|c| q.uses(c));
    let mut list = mounts::mounts()?.into_iter();
    // statvfs may wait on a slow network filesystem: one mount at a time, under the budget.
    Ok(Box::new(FnRows(move || {
        let Some(m) = list.next() else {
            return Ok(None);
        };
        let alias = if m.device.starts_with('/') {
            std::fs::canonicalize(&m.device)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| m.device.clone())
        } else {
            m.device.clone()
        };
        let usage = if want_usage {
            mounts::usage(&m.path).unwrap_or_default()
        } else {
            mounts::Usage::default()
        };
        Ok(Some(MountRow {
            device: m.device,
            device_alias: alias,
            path: m.path,
            r#type: m.fstype,
            blocks_size: saturate(usage.block_size),
            blocks: saturate(usage.blocks),
            blocks_free: saturate(usage.blocks_free),
            blocks_available: saturate(usage.blocks_available),
            inodes: saturate(usage.inodes),
            inodes_free: saturate(usage.inodes_free),
            flags: m.options,
        }))
    })))
}
