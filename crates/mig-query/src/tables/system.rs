//! The machine: kernel_info, kernel_modules, os_version, system_info, uptime, mounts.

use super::super::schema::*;
use mig_host::{mounts, system};

pub(crate) static KERNEL_INFO: Table = Table {
    name: "kernel_info",
    about: "Basic active kernel information.",
    columns: &[
        text("version", "Kernel version"),
        text("arguments", "Kernel arguments"),
        text("path", "Kernel path"),
        text("device", "Kernel device identifier"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_kernel_info,
    example: "SELECT version, path FROM kernel_info",
};

fn gen_kernel_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let cmdline = system::read_trimmed("/proc/cmdline");
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
    Ok(VecRows::boxed(vec![vec![
        t(system::uname().release),
        t(arguments.join(" ")),
        t(param("BOOT_IMAGE")),
        t(param("root")),
    ]]))
}

pub(crate) static KERNEL_MODULES: Table = Table {
    name: "kernel_modules",
    about: "Linux kernel modules loaded (from /proc/modules).",
    columns: &[
        text("name", "Module name"),
        bigint("size", "Size of module content"),
        text("used_by", "Module reverse dependencies"),
        text("status", "Kernel module status"),
        text("address", "Kernel module address"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_kernel_modules,
    example: "SELECT name, size, used_by FROM kernel_modules WHERE status = 'Live'",
};

/// /proc/modules lines: name, size, use count, users (`-` or `a,b,`), state, address.
pub(crate) fn parse_modules(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            Some(vec![
                t(f[0]),
                i(f[1].parse::<i64>().ok()?),
                t(f[3]),
                t(f[4]),
                t(f[5]),
            ])
        })
        .collect()
}

fn gen_kernel_modules(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    // A kernel built without module support has no /proc/modules: no modules.
    Ok(VecRows::boxed(parse_modules(
        &std::fs::read_to_string("/proc/modules").unwrap_or_default(),
    )))
}

pub(crate) static OS_VERSION: Table = Table {
    name: "os_version",
    about: "A single row containing the operating system name and version.",
    columns: &[
        text("name", "Distribution or product name"),
        text("version", "Pretty, suitable for presentation, OS version"),
        integer("major", "Major release version"),
        integer("minor", "Minor release version"),
        integer("patch", "Optional patch release"),
        text("build", "Optional build-specific or variant string"),
        text("platform", "OS Platform or ID"),
        text("platform_like", "Closely related platforms"),
        text("codename", "OS version codename"),
        text("arch", "OS Architecture"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_os_version,
    example: "SELECT name, version, codename FROM os_version",
};

fn gen_os_version(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let r = system::os_release()?;
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
    Ok(VecRows::boxed(vec![vec![
        t(get("NAME")),
        t(if r.contains_key("VERSION") {
            get("VERSION")
        } else {
            get("VERSION_ID")
        }),
        i(major),
        i(minor),
        i(patch),
        t(get("BUILD_ID")),
        t(get("ID")),
        t(get("ID_LIKE")),
        t(get("VERSION_CODENAME")),
        t(system::uname().machine),
    ]]))
}

pub(crate) static SYSTEM_INFO: Table = Table {
    name: "system_info",
    about: "System information for identification.",
    columns: &[
        text("hostname", "Network hostname including domain"),
        text("uuid", "Unique ID provided by the system"),
        text("cpu_type", "CPU type"),
        text("cpu_subtype", "CPU subtype"),
        text("cpu_brand", "CPU brand string, contains vendor and model"),
        integer(
            "cpu_physical_cores",
            "Number of physical CPU cores in to the system",
        ),
        integer(
            "cpu_logical_cores",
            "Number of logical CPU cores available to the system",
        ),
        integer("cpu_sockets", "Number of processor sockets in the system"),
        text("cpu_microcode", "Microcode version"),
        bigint("physical_memory", "Total physical memory in bytes"),
        text("hardware_vendor", "Hardware vendor"),
        text("hardware_model", "Hardware model"),
        text("hardware_version", "Hardware version"),
        text("hardware_serial", "Device serial number"),
        text("board_vendor", "Board vendor"),
        text("board_model", "Board model"),
        text("board_version", "Board version"),
        text("board_serial", "Board serial number"),
        text("computer_name", "Friendly computer name (optional)"),
        text("local_hostname", "Local hostname (optional)"),
        text("emulated_cpu_type", "Emulated CPU type"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_system_info,
    example: "SELECT hostname, cpu_brand, physical_memory FROM system_info",
};

fn gen_system_info(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let un = system::uname();
    let cpu = system::cpu();
    let dmi = system::dmi;
    Ok(VecRows::boxed(vec![vec![
        t(system::hostname()),
        t(dmi("product_uuid").to_ascii_uppercase()),
        t(un.machine.clone()),
        t(cpu.model),
        t(cpu.brand),
        i(cpu.physical as i64),
        i(cpu.logical as i64),
        i(cpu.sockets as i64),
        t(cpu.microcode),
        u(system::physical_memory()),
        t(dmi("sys_vendor")),
        t(dmi("product_name")),
        t(dmi("product_version")),
        t(dmi("product_serial")),
        t(dmi("board_vendor")),
        t(dmi("board_name")),
        t(dmi("board_version")),
        t(dmi("board_serial")),
        t(un.nodename.clone()),
        t(un.nodename),
        t(""),
    ]]))
}

pub(crate) static UPTIME: Table = Table {
    name: "uptime",
    about: "Track time passed since last boot.",
    columns: &[
        integer("days", "Days of uptime"),
        integer("hours", "Hours of uptime"),
        integer("minutes", "Minutes of uptime"),
        integer("seconds", "Seconds of uptime"),
        bigint("total_seconds", "Total uptime seconds"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_uptime,
    example: "SELECT days, hours, total_seconds FROM uptime",
};

fn gen_uptime(_: &Constraints) -> Result<Box<dyn Rows>, String> {
    let s = system::uptime_seconds()?;
    Ok(VecRows::boxed(vec![vec![
        u(s / 86_400),
        u(s / 3_600 % 24),
        u(s / 60 % 60),
        u(s % 60),
        u(s),
    ]]))
}

pub(crate) static MOUNTS: Table = Table {
    name: "mounts",
    about: "System mounted devices and filesystems (not process specific), with their usage (osquery's equivalent of df).",
    columns: &[
        text("device", "Mounted device"),
        text("device_alias", "Mounted device alias"),
        text("path", "Mounted device path"),
        text("type", "Mounted device type"),
        bigint("blocks_size", "Block size in bytes"),
        bigint("blocks", "Mounted device used blocks"),
        bigint("blocks_free", "Mounted device blocks available to root users, a superset of blocks_available"),
        bigint("blocks_available", "Mounted device blocks available to non-root users"),
        bigint("inodes", "Mounted device used inodes"),
        bigint("inodes_free", "Mounted device free inodes"),
        text("flags", "Mounted device flags"),
    ],
    index: &[],
    required: &[],
    like: &[],
    generate: gen_mounts,
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
        Ok(Some(vec![
            t(m.device),
            t(alias),
            t(m.path),
            t(m.fstype),
            u(usage.block_size),
            u(usage.blocks),
            u(usage.blocks_free),
            u(usage.blocks_available),
            u(usage.inodes),
            u(usage.inodes_free),
            t(m.options),
        ]))
    })))
}
