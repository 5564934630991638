//! Hardware: block_devices, pci_devices, usb_devices. Read from sysfs directly: osquery asks
//! udev, whose properties for these devices are the same sysfs attributes (and, for names,
//! udev's hardware database, built from pci.ids and usb.ids).

use super::super::row::table_row;
use super::super::schema::*;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A sysfs attribute, without surrounding spaces, tabs and newlines; empty when it is absent
/// or unreadable.
fn attr(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_matches(['\n', '\t', ' '])
                .to_string()
        })
        .unwrap_or_default()
}

/// A device's `uevent` file: its `KEY=value` lines, which udev takes as properties.
fn uevent(dir: &Path) -> HashMap<String, String> {
    attr(&dir.join("uevent"))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The names in a directory, sorted; none when it cannot be read.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The last component of a path, as text.
fn base(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Calls `f` with each line of the file at `path` (invalid UTF-8 replaced), one at a time;
/// false when the file cannot be opened.
fn for_each_line(path: &Path, mut f: impl FnMut(&str)) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => f(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r'])),
        }
    }
}

/// udev's `\xNN` escapes (in /dev/disk link names and `*_ENC` properties) decoded.
fn unhex(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let byte = (b[i] == b'\\' && b.get(i + 1) == Some(&b'x'))
            .then(|| s.get(i + 2..i + 4))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match byte {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

table_row! {
    /// One block device: a disk, a partition, a loop, RAM or device-mapper device.
    struct BlockDeviceRow {
        name: text = "Block device name",
        parent: text = "Block device parent name",
        vendor: text = "Block device vendor string",
        model: text = "Block device model string identifier",
        serial: text = "Disk serial number",
        size: Option<bigint> = "Block device size in blocks",
        block_size: Option<integer> = "Block size in bytes",
        uuid: text = "Block device Universally Unique Identifier",
        r#type: text = "Block device type string",
        label: text = "Block device label string",
    }
}

pub(crate) static BLOCK_DEVICES: Table = Table {
    name: "block_devices",
    about: "Block (buffered access) device file nodes: disks, ramdisks, and DMG containers (from /sys/class/block; filesystem UUID, label and type from udev's database, /dev/disk/by-uuid and by-label, and the mounted filesystems).",
    columns: BlockDeviceRow::COLUMNS,
    index: &["name"],
    required: &[],
    like: &[],
    generate: gen_block_devices,
    reach: Reach::Host,
    example: "SELECT name, parent, model, size, block_size, type, uuid FROM block_devices",
};

/// Where block devices are read from: the system's, or a test's fixture.
pub(super) struct BlockSources {
    /// sysfs's `class/block`: one symbolic link per block device.
    pub(super) class_block: PathBuf,
    /// udev's database (`b<major>:<minor>` files with `E:ID_FS_*=` lines).
    pub(super) udev_data: PathBuf,
    /// `/dev/disk`, with its `by-uuid` and `by-label` links.
    pub(super) dev_disk: PathBuf,
    /// The mounted filesystems, /proc/mounts' format.
    pub(super) mounts: PathBuf,
    /// The swap areas in use, /proc/swaps' format.
    pub(super) swaps: PathBuf,
}

impl BlockSources {
    pub(super) fn system() -> BlockSources {
        BlockSources {
            class_block: "/sys/class/block".into(),
            udev_data: "/run/udev/data".into(),
            dev_disk: "/dev/disk".into(),
            mounts: "/proc/self/mounts".into(),
            swaps: "/proc/swaps".into(),
        }
    }
}

/// A block device as sysfs describes it, before its filesystem is looked at.
struct BlockDevice {
    parent: String,
    vendor: String,
    model: String,
    serial: String,
    size: Option<i64>,
    block_size: Option<i64>,
    /// `major:minor`, the key of udev's database.
    dev: String,
}

/// A filesystem's identity, as blkid finds it.
#[derive(Default)]
struct FsInfo {
    uuid: String,
    kind: String,
    label: String,
}

/// osquery's algorithm: every link of `class/block` whose device has a `uevent`; the parent is
/// the device's sysfs parent directory (a partition's disk), or for a top-level device the
/// first of its `slaves` (device-mapper, md); vendor, model and serial are inherited from the
/// parent.
fn scan_block_devices(class_block: &Path) -> BTreeMap<String, BlockDevice> {
    let mut devices = BTreeMap::new();
    for entry in entries(class_block) {
        let link = class_block.join(&entry);
        let is_link = link
            .symlink_metadata()
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        let Ok(path) = std::fs::canonicalize(&link) else {
            continue;
        };
        if !is_link || !path.join("uevent").exists() {
            continue;
        }
        let mut parent = path.parent().map(base).unwrap_or_default();
        if parent == "block" {
            parent = entries(&path.join("slaves"))
                .into_iter()
                .next()
                .unwrap_or_default();
        }
        if !parent.is_empty() {
            parent = format!("/dev/{parent}");
        }
        let first = |files: &[&str]| {
            files
                .iter()
                .map(|f| attr(&path.join(f)))
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        devices.insert(
            format!("/dev/{}", base(&path)),
            BlockDevice {
                parent,
                vendor: first(&["device/vendor", "device/device/vendor"]),
                model: attr(&path.join("device/model")),
                serial: first(&["device/wwid", "device/serial"]),
                size: attr(&path.join("size")).parse().ok(),
                block_size: attr(&path.join("queue/logical_block_size")).parse().ok(),
                dev: attr(&path.join("dev")),
            },
        );
    }
    // Parents first, so that a partition of a device-mapper device inherits what the
    // device-mapper device inherited.
    let depth = |name: &str| {
        let mut n = 0;
        let mut current = name;
        while let Some(d) = devices
            .get(current)
            .filter(|d| devices.contains_key(&d.parent))
        {
            current = &d.parent;
            n += 1;
            if n > 16 {
                break;
            }
        }
        n
    };
    let mut order: Vec<(usize, String)> = devices.keys().map(|n| (depth(n), n.clone())).collect();
    order.sort();
    for (_, name) in order {
        let inherited = devices
            .get(&name)
            .and_then(|d| devices.get(&d.parent))
            .map(|p| (p.vendor.clone(), p.model.clone(), p.serial.clone()));
        if let (Some((vendor, model, serial)), Some(d)) = (inherited, devices.get_mut(&name)) {
            d.vendor = vendor;
            d.model = model;
            d.serial = serial;
        }
    }
    devices
}

/// The filesystem udev's database records for a device (udev probes it with blkid, as
/// osquery does).
fn udev_fs(udev_data: &Path, dev: &str) -> FsInfo {
    let mut fs = FsInfo::default();
    if dev.is_empty() {
        return fs;
    }
    let (mut label, mut label_enc) = (String::new(), String::new());
    for_each_line(&udev_data.join(format!("b{dev}")), |line| {
        let Some((key, value)) = line.strip_prefix("E:").and_then(|p| p.split_once('=')) else {
            return;
        };
        match key {
            "ID_FS_UUID" => fs.uuid = value.to_string(),
            "ID_FS_TYPE" => fs.kind = value.to_string(),
            "ID_FS_LABEL" => label = value.to_string(),
            "ID_FS_LABEL_ENC" => label_enc = unhex(value),
            _ => {}
        }
    });
    fs.label = if label_enc.is_empty() {
        label
    } else {
        label_enc
    };
    fs
}

/// The device a link or device path names, as `/dev/<name>`: the link's resolved target,
/// else the last component of what it points to.
fn device_name(path: &Path) -> String {
    match std::fs::canonicalize(path) {
        Ok(p) if p.starts_with("/dev") => p.to_string_lossy().into_owned(),
        _ => {
            let target = std::fs::read_link(path).unwrap_or_else(|_| path.to_path_buf());
            format!("/dev/{}", base(&target))
        }
    }
}

/// A `/dev/disk/by-*` directory: device → its (decoded) link name; the first by name when a
/// device has several.
fn disk_links(dir: &Path) -> HashMap<String, String> {
    let mut links = HashMap::new();
    for entry in entries(dir) {
        links
            .entry(device_name(&dir.join(&entry)))
            .or_insert_with(|| unhex(&entry));
    }
    links
}

/// Filesystem types the kernel is using: mounted devices (their mount's type) and swap
/// partitions (`swap`). FUSE's `fuseblk` says nothing of the filesystem and is left out.
fn mounted_types(mounts: &Path, swaps: &Path) -> HashMap<String, String> {
    let mut types = HashMap::new();
    for_each_line(mounts, |line| {
        let mut f = line.split_whitespace();
        let (Some(device), Some(_), Some(fstype)) = (f.next(), f.next(), f.next()) else {
            return;
        };
        if device.starts_with('/') && fstype != "fuseblk" {
            types
                .entry(device_name(Path::new(&mig_host::mounts::unescape(device))))
                .or_insert_with(|| fstype.to_string());
        }
    });
    for_each_line(swaps, |line| {
        let mut f = line.split_whitespace();
        if let (Some(file), Some("partition")) = (f.next(), f.next()) {
            types
                .entry(device_name(Path::new(&mig_host::mounts::unescape(file))))
                .or_insert_with(|| "swap".to_string());
        }
    });
    types
}

/// The rows, sorted by name as osquery's are; only the devices in `names` when given.
fn block_device_rows(src: &BlockSources, names: Option<&[String]>) -> Vec<BlockDeviceRow> {
    let devices = scan_block_devices(&src.class_block);
    let by_uuid = disk_links(&src.dev_disk.join("by-uuid"));
    let by_label = disk_links(&src.dev_disk.join("by-label"));
    let types = mounted_types(&src.mounts, &src.swaps);
    devices
        .into_iter()
        .filter(|(name, _)| names.is_none_or(|n| n.contains(name)))
        .map(|(name, d)| {
            let mut fs = udev_fs(&src.udev_data, &d.dev);
            let or = |v: &mut String, from: &HashMap<String, String>| {
                if v.is_empty() {
                    *v = from.get(&name).cloned().unwrap_or_default();
                }
            };
            or(&mut fs.uuid, &by_uuid);
            or(&mut fs.label, &by_label);
            or(&mut fs.kind, &types);
            BlockDeviceRow {
                name: name.clone(),
                parent: d.parent,
                vendor: d.vendor,
                model: d.model,
                serial: d.serial,
                size: d.size,
                block_size: d.block_size,
                uuid: fs.uuid,
                r#type: fs.kind,
                label: fs.label,
            }
        })
        .collect()
}

/// A block device's name (`/dev/sda1`), parent and filesystem UUID, as block_devices gives
/// them: what tables about disks (disk_encryption) start from.
pub(super) struct BlockIdentity {
    pub(super) name: String,
    pub(super) parent: String,
    pub(super) uuid: String,
}

/// [`BlockIdentity`] of every block device (or of those in `names`), sorted by name.
pub(super) fn block_identities(src: &BlockSources, names: Option<&[String]>) -> Vec<BlockIdentity> {
    block_device_rows(src, names)
        .into_iter()
        .map(|r| BlockIdentity {
            name: r.name,
            parent: r.parent,
            uuid: r.uuid,
        })
        .collect()
}

fn gen_block_devices(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let names = q.texts("name");
    Ok(VecRows::boxed(block_device_rows(
        &BlockSources::system(),
        names.as_deref(),
    )))
}

/// Names from an ID database (pci.ids, usb.ids, udev's hwdb): only those asked for are kept,
/// so the file is read one line at a time and never held whole. IDs are lowercase hex.
#[derive(Default)]
struct IdNames {
    vendors: HashMap<String, String>,
    devices: HashMap<(String, String), String>,
    /// (vendor, device, `"subvendor subdevice"`) → the subsystem's name.
    subsystems: HashMap<(String, String, String), String>,
    classes: HashMap<String, String>,
    subclasses: HashMap<(String, String), String>,
}

impl IdNames {
    fn vendor(&self, v: &str) -> String {
        self.vendors.get(v).cloned().unwrap_or_default()
    }

    fn device(&self, v: &str, d: &str) -> String {
        self.devices
            .get(&(v.to_string(), d.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

/// The IDs whose names are wanted: an [`IdNames`] whose values are ignored.
type Wanted = IdNames;

fn want<K: std::hash::Hash + Eq>(map: &mut HashMap<K, String>, key: K) {
    map.insert(key, String::new());
}

/// Where a pci.ids or usb.ids line is, for the lines indented under it.
enum Section {
    Other,
    Vendor(String),
    Device(String, String),
    Class(String),
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads the names `wanted` asks for from a pci.ids or usb.ids file into `names` (names
/// already there are kept: the first source wins). Parsed as osquery parses pci.ids: a
/// comment runs from `#` to the end of the line, and vendor `ffff` (which osquery drops)
/// has no name. False when there is no such file.
fn read_ids(path: &Path, wanted: &Wanted, names: &mut IdNames) -> bool {
    let mut section = Section::Other;
    for_each_line(path, |line| {
        let line = line.split('#').next().unwrap_or("").trim_end();
        if line.is_empty() {
            return;
        }
        let id_name = |rest: &str, len: usize| {
            let id = rest
                .get(..len)
                .filter(|id| is_hex(id))?
                .to_ascii_lowercase();
            let name = rest.get(len..)?;
            name.starts_with([' ', '\t'])
                .then(|| (id, name.trim().to_string()))
        };
        if let Some(rest) = line.strip_prefix("\t\t") {
            // A subsystem (pci.ids) under a device: `sssss dddd  name`. Under a class: a
            // programming interface, not used.
            if let Section::Device(v, d) = &section {
                if let (Some(key), Some(name)) = (rest.get(..9), rest.get(9..)) {
                    let k = (v.clone(), d.clone(), key.to_ascii_lowercase());
                    if wanted.subsystems.contains_key(&k) {
                        names
                            .subsystems
                            .entry(k)
                            .or_insert_with(|| name.trim().to_string());
                    }
                }
            }
        } else if let Some(rest) = line.strip_prefix('\t') {
            match &section {
                Section::Vendor(v) | Section::Device(v, _) => {
                    let v = v.clone();
                    if let Some((d, name)) = id_name(rest, 4) {
                        let k = (v.clone(), d.clone());
                        if wanted.devices.contains_key(&k) {
                            names.devices.entry(k).or_insert(name);
                        }
                        section = Section::Device(v, d);
                    }
                }
                Section::Class(c) => {
                    if let Some((s, name)) = id_name(rest, 2) {
                        let k = (c.clone(), s);
                        if wanted.subclasses.contains_key(&k) {
                            names.subclasses.entry(k).or_insert(name);
                        }
                    }
                }
                Section::Other => {}
            }
        } else if let Some(rest) = line.strip_prefix("C ") {
            section = match id_name(rest, 2) {
                Some((c, name)) => {
                    if wanted.classes.contains_key(&c) {
                        names.classes.entry(c.clone()).or_insert(name);
                    }
                    Section::Class(c)
                }
                None => Section::Other,
            };
        } else {
            section = match id_name(line, 4) {
                Some((v, _)) if v == "ffff" => Section::Other,
                Some((v, name)) => {
                    if wanted.vendors.contains_key(&v) {
                        names.vendors.entry(v.clone()).or_insert(name);
                    }
                    Section::Vendor(v)
                }
                // usb.ids' other lists (AT, HID, R, BIAS, PHY, HUT, L, HCC, VT).
                None => Section::Other,
            };
        }
    })
}

/// Reads vendor and model names from udev's hardware database source for USB
/// (`20-usb-vendor-model.hwdb`: `usb:v1D6Bp0002*` then ` ID_MODEL_FROM_DATABASE=…`), where
/// osquery's names come from. False when there is no such file.
fn read_usb_hwdb(path: &Path, wanted: &Wanted, names: &mut IdNames) -> bool {
    let mut key: Option<(String, Option<String>)> = None;
    for_each_line(path, |line| {
        if let Some(m) = line.strip_prefix("usb:v").and_then(|m| m.strip_suffix('*')) {
            let m = m.to_ascii_lowercase();
            key = match m.split_once('p') {
                Some((v, p)) if is_hex(v) && is_hex(p) => Some((v.into(), Some(p.into()))),
                None if is_hex(&m) => Some((m, None)),
                _ => None,
            };
        } else if let Some(name) = line.trim_start().strip_prefix("ID_VENDOR_FROM_DATABASE=") {
            if let Some((v, None)) = &key {
                if wanted.vendors.contains_key(v) {
                    names
                        .vendors
                        .entry(v.clone())
                        .or_insert_with(|| name.to_string());
                }
            }
        } else if let Some(name) = line.trim_start().strip_prefix("ID_MODEL_FROM_DATABASE=") {
            if let Some((v, Some(p))) = &key {
                let k = (v.clone(), p.clone());
                if wanted.devices.contains_key(&k) {
                    names.devices.entry(k).or_insert_with(|| name.to_string());
                }
            }
        } else if line.trim().is_empty() {
            key = None;
        }
    })
}

/// osquery's list of places for pci.ids, in its order.
const PCI_IDS: &[&str] = &[
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/usr/share/pci.ids",
];

table_row! {
    /// One PCI device.
    struct PciDeviceRow {
        pci_slot: text = "PCI Device used slot",
        pci_class: text = "PCI Device class",
        driver: text = "PCI Device used driver",
        vendor: text = "PCI Device vendor",
        vendor_id: text = "Hex encoded PCI Device vendor identifier",
        model: text = "PCI Device model",
        model_id: text = "Hex encoded PCI Device model identifier",
        pci_class_id: text = "PCI Device class ID in hex format",
        pci_subclass_id: text = "PCI Device  subclass in hex format",
        pci_subclass: text = "PCI Device subclass",
        subsystem_vendor_id: text = "Vendor ID of PCI device subsystem",
        subsystem_vendor: text = "Vendor of PCI device subsystem",
        subsystem_model_id: text = "Model ID of PCI device subsystem",
        subsystem_model: text = "Device description of PCI device subsystem",
    }
}

pub(crate) static PCI_DEVICES: Table = Table {
    name: "pci_devices",
    about: "PCI devices active on the host system (from /sys/bus/pci/devices; names from pci.ids).",
    columns: PciDeviceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_pci_devices,
    reach: Reach::Host,
    example:
        "SELECT pci_slot, pci_class, driver, vendor, model, vendor_id, model_id FROM pci_devices",
};

/// A `PCI_ID` or `PCI_SUBSYS_ID` value (`8086:0D57`) as lowercase (vendor, model), checked as
/// osquery checks it: exactly one colon, something after it.
fn split_ids(attr: &str) -> Option<(String, String)> {
    let attr = attr.to_ascii_lowercase();
    let (v, m) = attr.split_once(':')?;
    (!m.is_empty() && !m.contains(':')).then(|| (v.to_string(), m.to_string()))
}

/// A `PCI_CLASS` value (`60400`, `FFFF00`: class, subclass, programming interface, without
/// the class's leading zero) as lowercase (class, subclass), two hex digits each.
fn class_ids(attr: &str) -> Option<(String, String)> {
    let attr = attr.to_ascii_lowercase();
    match attr.len() {
        5 => Some((format!("0{}", attr.get(..1)?), attr.get(1..3)?.to_string())),
        6 => Some((attr.get(..2)?.to_string(), attr.get(2..4)?.to_string())),
        _ => None,
    }
}

/// One PCI device's IDs, from its uevent.
struct PciDevice {
    slot: String,
    driver: String,
    ids: Option<(String, String)>,
    subsystem: Option<(String, String)>,
    class: Option<(String, String)>,
}

/// Every device of `devices_dir` (sysfs's `bus/pci/devices`), sorted by slot; names from
/// the first of `ids_files` there is, when `with_names`.
fn pci_device_rows(devices_dir: &Path, ids_files: &[&str], with_names: bool) -> Vec<PciDeviceRow> {
    let devices: Vec<PciDevice> = entries(devices_dir)
        .into_iter()
        .map(|entry| {
            let dir = devices_dir.join(&entry);
            let mut u = uevent(&dir);
            let mut take = |k: &str| u.remove(k).unwrap_or_default();
            let slot = take("PCI_SLOT_NAME");
            let driver = take("DRIVER");
            let (ids, subsystem, class) =
                (take("PCI_ID"), take("PCI_SUBSYS_ID"), take("PCI_CLASS"));
            PciDevice {
                slot: if slot.is_empty() { entry } else { slot },
                driver: if driver.is_empty() {
                    std::fs::read_link(dir.join("driver"))
                        .map(|p| base(&p))
                        .unwrap_or_default()
                } else {
                    driver
                },
                ids: split_ids(&ids),
                subsystem: split_ids(&subsystem),
                class: class_ids(&class),
            }
        })
        .collect();

    let mut names = IdNames::default();
    if with_names {
        let mut wanted = Wanted::default();
        for d in &devices {
            if let Some((v, m)) = &d.ids {
                want(&mut wanted.vendors, v.clone());
                want(&mut wanted.devices, (v.clone(), m.clone()));
                if let Some((sv, sm)) = &d.subsystem {
                    want(&mut wanted.vendors, sv.clone());
                    want(
                        &mut wanted.subsystems,
                        (v.clone(), m.clone(), format!("{sv} {sm}")),
                    );
                }
            }
            if let Some((c, s)) = &d.class {
                want(&mut wanted.classes, c.clone());
                want(&mut wanted.subclasses, (c.clone(), s.clone()));
            }
        }
        ids_files
            .iter()
            .any(|f| read_ids(Path::new(f), &wanted, &mut names));
    }

    devices
        .into_iter()
        .map(|d| {
            let hex = |id: &str| format!("0x{id}");
            let (class_id, subclass_id) = d.class.clone().unwrap_or_default();
            let known = |s: &str| if s.is_empty() { String::new() } else { hex(s) };
            let mut row = PciDeviceRow {
                pci_slot: d.slot,
                pci_class: names.classes.get(&class_id).cloned().unwrap_or_default(),
                driver: d.driver,
                // osquery's value when the IDs cannot be read.
                vendor: String::new(),
                vendor_id: "0".into(),
                model: String::new(),
                model_id: "0".into(),
                pci_class_id: known(&class_id),
                pci_subclass_id: known(&subclass_id),
                pci_subclass: names
                    .subclasses
                    .get(&(class_id.clone(), subclass_id.clone()))
                    .cloned()
                    .unwrap_or_default(),
                subsystem_vendor_id: String::new(),
                subsystem_vendor: String::new(),
                subsystem_model_id: String::new(),
                subsystem_model: String::new(),
            };
            if let Some((v, m)) = &d.ids {
                row.vendor = names.vendor(v);
                row.vendor_id = hex(v);
                row.model = names.device(v, m);
                row.model_id = hex(m);
                if let Some((sv, sm)) = &d.subsystem {
                    row.subsystem_vendor = names.vendor(sv);
                    row.subsystem_vendor_id = hex(sv);
                    row.subsystem_model = names
                        .subsystems
                        .get(&(v.clone(), m.clone(), format!("{sv} {sm}")))
                        .cloned()
                        .unwrap_or_default();
                    row.subsystem_model_id = hex(sm);
                }
            }
            row
        })
        .collect()
}

fn gen_pci_devices(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let with_names = [
        "pci_class",
        "vendor",
        "model",
        "pci_subclass",
        "subsystem_vendor",
        "subsystem_model",
    ]
    .iter()
    .any(|c| q.uses(c));
    Ok(VecRows::boxed(pci_device_rows(
        Path::new("/sys/bus/pci/devices"),
        PCI_IDS,
        with_names,
    )))
}

/// udev's hardware database sources for USB names (what osquery's names come from), then
/// usb.ids.
const USB_NAME_FILES: &[(&str, bool)] = &[
    ("/etc/udev/hwdb.d/20-usb-vendor-model.hwdb", true),
    ("/usr/lib/udev/hwdb.d/20-usb-vendor-model.hwdb", true),
    ("/lib/udev/hwdb.d/20-usb-vendor-model.hwdb", true),
    ("/usr/share/misc/usb.ids", false),
    ("/usr/share/hwdata/usb.ids", false),
    ("/var/lib/usbutils/usb.ids", false),
    ("/usr/share/usb.ids", false),
];

table_row! {
    /// One USB device (hubs included; its interfaces are not devices).
    struct UsbDeviceRow {
        usb_address: integer = "USB Device used address",
        usb_port: integer = "USB Device used port",
        vendor: text = "USB Device vendor string",
        vendor_id: text = "Hex encoded USB Device vendor identifier",
        version: text = "USB Device version number",
        model: text = "USB Device model string",
        model_id: text = "Hex encoded USB Device model identifier",
        serial: text = "USB Device serial connection",
        class: text = "USB Device class",
        subclass: text = "USB Device subclass",
        protocol: text = "USB Device protocol",
        removable: integer = "1 If USB device is removable else 0",
    }
}

pub(crate) static USB_DEVICES: Table = Table {
    name: "usb_devices",
    about: "USB devices that are actively plugged into the host system (from /sys/bus/usb/devices; names from udev's hwdb or usb.ids, else the device's own strings).",
    columns: UsbDeviceRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_usb_devices,
    reach: Reach::Host,
    example: "SELECT usb_address, usb_port, vendor_id, model_id, vendor, model FROM usb_devices WHERE class != '9'",
};

/// A string as udev's `ID_SERIAL_SHORT` gives it: outer white space removed, inner runs of
/// it one `_`, and characters udev does not allow in a property also `_`.
fn udev_safe(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) || !c.is_ascii() {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One USB device, from sysfs.
struct UsbDevice {
    bus: i64,
    devnum: i64,
    vendor_id: String,
    model_id: String,
    version: String,
    manufacturer: String,
    product: String,
    serial: String,
    /// `TYPE`: class/subclass/protocol, in decimal.
    kind: Vec<String>,
    removable: i64,
}

/// Every USB device of `devices_dir` (sysfs's `bus/usb/devices`: devices have a bus and a
/// device number, interfaces do not), names from the first of `name_files` that has them
/// (`true`: a hwdb source, `false`: usb.ids) when `with_names`.
fn usb_device_rows(
    devices_dir: &Path,
    name_files: &[(&str, bool)],
    with_names: bool,
) -> Vec<UsbDeviceRow> {
    let devices: Vec<UsbDevice> = entries(devices_dir)
        .into_iter()
        .filter_map(|entry| {
            let dir = devices_dir.join(entry);
            let u = uevent(&dir);
            let num = |k: &str| u.get(k).and_then(|n| n.trim().parse::<i64>().ok());
            let a = |f: &str| attr(&dir.join(f));
            Some(UsbDevice {
                bus: num("BUSNUM")?,
                devnum: num("DEVNUM")?,
                vendor_id: a("idVendor").to_ascii_lowercase(),
                model_id: a("idProduct").to_ascii_lowercase(),
                version: a("bcdDevice"),
                manufacturer: a("manufacturer"),
                product: a("product"),
                serial: udev_safe(&a("serial")),
                kind: u
                    .get("TYPE")
                    .map(|t| t.split('/').map(str::to_string).collect())
                    .unwrap_or_default(),
                removable: match a("removable").as_str() {
                    "removable" => 1,
                    "fixed" => 0,
                    _ => -1,
                },
            })
        })
        .collect();

    let mut names = IdNames::default();
    if with_names && !devices.is_empty() {
        let mut wanted = Wanted::default();
        for d in &devices {
            want(&mut wanted.vendors, d.vendor_id.clone());
            want(
                &mut wanted.devices,
                (d.vendor_id.clone(), d.model_id.clone()),
            );
        }
        for (file, hwdb) in name_files {
            if *hwdb {
                read_usb_hwdb(Path::new(file), &wanted, &mut names);
            } else {
                read_ids(Path::new(file), &wanted, &mut names);
            }
        }
    }

    devices
        .into_iter()
        .map(|d| {
            let or = |name: String, own: String| if name.is_empty() { own } else { name };
            let (class, subclass, protocol) = match d.kind.as_slice() {
                [c, s, p] => (c.clone(), s.clone(), p.clone()),
                _ => Default::default(),
            };
            UsbDeviceRow {
                usb_address: d.bus,
                usb_port: d.devnum,
                vendor: or(names.vendor(&d.vendor_id), d.manufacturer),
                model: or(names.device(&d.vendor_id, &d.model_id), d.product),
                vendor_id: d.vendor_id,
                version: d.version,
                model_id: d.model_id,
                serial: d.serial,
                class,
                subclass,
                protocol,
                removable: d.removable,
            }
        })
        .collect()
}

fn gen_usb_devices(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let with_names = q.uses("vendor") || q.uses("model");
    Ok(VecRows::boxed(usb_device_rows(
        Path::new("/sys/bus/usb/devices"),
        USB_NAME_FILES,
        with_names,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// Writes `text` to `root/rel`, making the directories.
    fn put(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn escapes_and_attributes() {
        assert_eq!(unhex(r"My\x20Disk"), "My Disk");
        assert_eq!(unhex(r"a\xZZb\x"), r"a\xZZb\x");
        assert_eq!(
            mig_host::mounts::unescape(r"/mnt/my\040disk"),
            "/mnt/my disk"
        );
        assert_eq!(mig_host::mounts::unescape(r"a\9b"), r"a\9b");
        assert_eq!(udev_safe("  AB 12\t34 x/y "), "AB_12_34_x_y");
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "a", "  ATA \n");
        put(
            d.path(),
            "uevent",
            "DEVTYPE=usb_device\nBUSNUM=001\nNOVALUE\n",
        );
        assert_eq!(attr(&d.path().join("a")), "ATA");
        assert_eq!(attr(&d.path().join("missing")), "");
        let u = uevent(d.path());
        assert_eq!(u["BUSNUM"], "001");
        assert_eq!(u.len(), 2);
        assert!(uevent(&d.path().join("missing")).is_empty());
    }

    #[test]
    fn pci_ids_are_formatted_as_osquery_does() {
        assert_eq!(split_ids("8086:0D57"), Some(("8086".into(), "0d57".into())));
        assert_eq!(split_ids("8086"), None);
        assert_eq!(split_ids("8086:"), None);
        assert_eq!(split_ids("1:2:3"), None);
        assert_eq!(class_ids("60400"), Some(("06".into(), "04".into())));
        assert_eq!(class_ids("FFFF00"), Some(("ff".into(), "ff".into())));
        assert_eq!(class_ids("123"), None);
        assert_eq!(class_ids(""), None);
    }

    const PCI_IDS_SAMPLE: &str = "\
# comment
0000  Gammagraphx, Inc. (or missing ID)
1af4  Red Hat, Inc.
\t1041  Virtio 1.0 network device
\t1042  Virtio 1.0 block device # a trailing comment
\t\t1af4 1100  QEMU Virtual Machine
8086  Intel Corporation
\t0d57  Some bridge
ffff  Illegal Vendor ID

# List of known device classes
C 01  Mass storage controller
\t80  Mass storage controller
C 06  Bridge
\t00  Host bridge
\t\t00  Normal decode
C ff  Unassigned class
";

    #[test]
    fn an_ids_file_gives_only_the_names_asked_for() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "pci.ids", PCI_IDS_SAMPLE);
        let mut wanted = Wanted::default();
        for v in ["1af4", "8086", "ffff", "dead"] {
            want(&mut wanted.vendors, v.to_string());
        }
        want(&mut wanted.devices, ("1af4".into(), "1042".into()));
        want(
            &mut wanted.subsystems,
            ("1af4".into(), "1042".into(), "1af4 1100".into()),
        );
        want(&mut wanted.classes, "06".into());
        want(&mut wanted.classes, "ff".into());
        want(&mut wanted.subclasses, ("06".into(), "00".into()));
        let mut names = IdNames::default();
        assert!(read_ids(&d.path().join("pci.ids"), &wanted, &mut names));
        assert!(!read_ids(&d.path().join("none"), &wanted, &mut names));
        assert_eq!(names.vendor("1af4"), "Red Hat, Inc.");
        assert_eq!(names.vendor("8086"), "Intel Corporation");
        // Not asked for, and osquery's parser drops vendor ffff.
        assert_eq!(names.vendor("0000"), "");
        assert_eq!(names.vendor("ffff"), "");
        assert_eq!(names.vendors.len(), 2);
        assert_eq!(names.device("1af4", "1042"), "Virtio 1.0 block device");
        assert_eq!(names.device("1af4", "1041"), "");
        assert_eq!(
            names.subsystems[&("1af4".into(), "1042".into(), "1af4 1100".into())],
            "QEMU Virtual Machine"
        );
        assert_eq!(names.classes["06"], "Bridge");
        assert_eq!(names.classes["ff"], "Unassigned class");
        assert_eq!(names.subclasses[&("06".into(), "00".into())], "Host bridge");
    }

    #[test]
    fn usb_names_come_from_the_hwdb_then_usb_ids() {
        let d = tempfile::tempdir().unwrap();
        put(
            d.path(),
            "20-usb-vendor-model.hwdb",
            "# generated\n\nusb:v1D6B*\n ID_VENDOR_FROM_DATABASE=Linux Foundation\n\n\
             usb:v1D6Bp0002*\n ID_MODEL_FROM_DATABASE=2.0 root hub\n\n\
             usb:v1D6Bp0003*\n ID_MODEL_FROM_DATABASE=3.0 root hub\n",
        );
        put(
            d.path(),
            "usb.ids",
            "1d6b  Other Name\n\t0002  Other hub\n046d  Logitech, Inc.\n\t c52b  bad\n\tc52b  Unifying Receiver\n\t\t00  interface\nC 09  Hub\n\t00  Unused\nHID 22  Report\nL 0001  Afrikaans\n",
        );
        let mut wanted = Wanted::default();
        for (v, p) in [("1d6b", "0002"), ("046d", "c52b")] {
            want(&mut wanted.vendors, v.to_string());
            want(&mut wanted.devices, (v.to_string(), p.to_string()));
        }
        let mut names = IdNames::default();
        assert!(read_usb_hwdb(
            &d.path().join("20-usb-vendor-model.hwdb"),
            &wanted,
            &mut names
        ));
        assert!(read_ids(&d.path().join("usb.ids"), &wanted, &mut names));
        assert_eq!(names.vendor("1d6b"), "Linux Foundation");
        assert_eq!(names.device("1d6b", "0002"), "2.0 root hub");
        assert_eq!(names.device("1d6b", "0003"), "");
        assert_eq!(names.vendor("046d"), "Logitech, Inc.");
        assert_eq!(names.device("046d", "c52b"), "Unifying Receiver");
    }

    /// A sysfs device directory `dir` with the given attribute files, linked from
    /// `class/block/<name>` as sysfs links it.
    fn block(root: &Path, dir: &str, files: &[(&str, &str)]) {
        put(root, &format!("{dir}/uevent"), "");
        for (f, text) in files {
            put(root, &format!("{dir}/{f}"), text);
        }
        fs::create_dir_all(root.join("class/block")).unwrap();
        let name = Path::new(dir).file_name().unwrap();
        symlink(root.join(dir), root.join("class/block").join(name)).unwrap();
    }

    #[test]
    fn block_devices_follow_osquerys_tree_and_inheritance() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let disk = "devices/pci0000:00/0000:00:02.0/host0/block/sda";
        block(
            r,
            disk,
            &[
                ("dev", "8:0\n"),
                ("size", "2097152\n"),
                ("queue/logical_block_size", "512\n"),
                ("device/model", "QEMU HARDDISK   \n"),
                ("device/vendor", "ATA     \n"),
                ("device/wwid", "t10.ATA QEMU HARDDISK\n"),
                ("device/serial", "ignored\n"),
            ],
        );
        block(
            r,
            &format!("{disk}/sda1"),
            &[("dev", "8:1\n"), ("size", "2048\n")],
        );
        block(
            r,
            &format!("{disk}/sda2"),
            &[("dev", "8:2\n"), ("size", "4096\n")],
        );
        block(
            r,
            "devices/virtual/block/dm-0",
            &[
                ("dev", "254:0\n"),
                ("size", "4000\n"),
                ("queue/logical_block_size", "4096"),
            ],
        );
        fs::create_dir_all(r.join("devices/virtual/block/dm-0/slaves/sda2")).unwrap();
        // nvme namespaces sit under their controller, which osquery reports as the parent.
        block(
            r,
            "devices/pci0000:00/nvme/nvme0/nvme0n1",
            &[
                ("size", "100"),
                ("device/model", "NVMe disk"),
                ("device/device/vendor", "0x144d"),
            ],
        );
        // Not a device (no uevent) and not a link: both left out.
        fs::create_dir_all(r.join("devices/virtual/block/ghost")).unwrap();
        symlink(
            r.join("devices/virtual/block/ghost"),
            r.join("class/block/ghost"),
        )
        .unwrap();
        put(r, "class/block/plainfile", "");

        put(
            r,
            "udev/b8:1",
            "S:disk/by-uuid/1111\nE:ID_FS_UUID=1111-2222\nE:ID_FS_TYPE=vfat\nE:ID_FS_LABEL=EFI_SYS\nE:ID_FS_LABEL_ENC=EFI\\x20SYS\n",
        );
        fs::create_dir_all(r.join("disk/by-uuid")).unwrap();
        fs::create_dir_all(r.join("disk/by-label")).unwrap();
        symlink("../../sda2", r.join("disk/by-uuid/abcd-ef")).unwrap();
        symlink("../../sda1", r.join("disk/by-uuid/not-used")).unwrap();
        symlink("../../sda2", r.join("disk/by-label/root\\x20fs")).unwrap();
        put(
            r,
            "mounts",
            "/dev/sda2 / ext4 rw 0 0\n/dev/sda1 /boot/efi ext4 rw 0 0\nproc /proc proc rw 0 0\n",
        );
        put(
            r,
            "swaps",
            "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-0 partition 100 0 -2\n/swapfile file 100 0 -3\n",
        );
        let src = BlockSources {
            class_block: r.join("class/block"),
            udev_data: r.join("udev"),
            dev_disk: r.join("disk"),
            mounts: r.join("mounts"),
            swaps: r.join("swaps"),
        };
        let rows: Vec<Row> = block_device_rows(&src, None)
            .into_iter()
            .map(Row::from)
            .collect();
        let text = |v: &rusqlite::types::Value| match v {
            rusqlite::types::Value::Text(s) => s.clone(),
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Null => "NULL".into(),
            other => format!("{other:?}"),
        };
        let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(text).collect()).collect();
        let expect = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            [
                expect(&[
                    "/dev/dm-0",
                    "/dev/sda2",
                    "ATA",
                    "QEMU HARDDISK",
                    "t10.ATA QEMU HARDDISK",
                    "4000",
                    "4096",
                    "",
                    "swap",
                    "",
                ]),
                expect(&[
                    "/dev/nvme0n1",
                    "/dev/nvme0",
                    "0x144d",
                    "NVMe disk",
                    "",
                    "100",
                    "NULL",
                    "",
                    "",
                    "",
                ]),
                expect(&[
                    "/dev/sda",
                    "",
                    "ATA",
                    "QEMU HARDDISK",
                    "t10.ATA QEMU HARDDISK",
                    "2097152",
                    "512",
                    "",
                    "",
                    "",
                ]),
                // udev's database first: the mount's type does not override it.
                expect(&[
                    "/dev/sda1",
                    "/dev/sda",
                    "ATA",
                    "QEMU HARDDISK",
                    "t10.ATA QEMU HARDDISK",
                    "2048",
                    "NULL",
                    "1111-2222",
                    "vfat",
                    "EFI SYS",
                ]),
                expect(&[
                    "/dev/sda2",
                    "/dev/sda",
                    "ATA",
                    "QEMU HARDDISK",
                    "t10.ATA QEMU HARDDISK",
                    "4096",
                    "NULL",
                    "abcd-ef",
                    "ext4",
                    "root fs",
                ]),
            ]
        );
        let only = block_device_rows(&src, Some(&["/dev/sda1".to_string()]));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].model, "QEMU HARDDISK");
        // Nothing there at all: no rows, no panic.
        let none = BlockSources {
            class_block: r.join("nothing"),
            udev_data: r.join("nothing"),
            dev_disk: r.join("nothing"),
            mounts: r.join("nothing"),
            swaps: r.join("nothing"),
        };
        assert!(block_device_rows(&none, None).is_empty());
    }

    #[test]
    fn pci_devices_from_uevents_and_pci_ids() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        put(r, "pci.ids", PCI_IDS_SAMPLE);
        put(
            r,
            "devices/0000:00:00.0/uevent",
            "PCI_CLASS=60000\nPCI_ID=8086:0D57\nPCI_SUBSYS_ID=0000:0000\nPCI_SLOT_NAME=0000:00:00.0\n",
        );
        put(
            r,
            "devices/0000:00:02.0/uevent",
            "PCI_CLASS=18000\nPCI_ID=1AF4:1042\nPCI_SUBSYS_ID=1AF4:1100\nPCI_SLOT_NAME=0000:00:02.0\n",
        );
        // No DRIVER in the uevent: the driver link's name.
        fs::create_dir_all(r.join("drivers/virtio-pci")).unwrap();
        symlink(
            r.join("drivers/virtio-pci"),
            r.join("devices/0000:00:02.0/driver"),
        )
        .unwrap();
        // Unreadable IDs: osquery's "0".
        put(
            r,
            "devices/0000:00:05.0/uevent",
            "PCI_CLASS=FFFF00\nPCI_ID=junk\nDRIVER=x\n",
        );
        let rows = pci_device_rows(
            &r.join("devices"),
            &[
                r.join("absent.ids").to_str().unwrap(),
                r.join("pci.ids").to_str().unwrap(),
            ],
            true,
        );
        let cols = |row: &PciDeviceRow| {
            [
                row.pci_slot.as_str(),
                &row.pci_class,
                &row.driver,
                &row.vendor,
                &row.vendor_id,
                &row.model,
                &row.model_id,
                &row.pci_class_id,
                &row.pci_subclass_id,
                &row.pci_subclass,
                &row.subsystem_vendor_id,
                &row.subsystem_vendor,
                &row.subsystem_model_id,
                &row.subsystem_model,
            ]
            .map(str::to_string)
        };
        assert_eq!(
            cols(&rows[0]),
            [
                "0000:00:00.0",
                "Bridge",
                "",
                "Intel Corporation",
                "0x8086",
                "Some bridge",
                "0x0d57",
                "0x06",
                "0x00",
                "Host bridge",
                "0x0000",
                "Gammagraphx, Inc. (or missing ID)",
                "0x0000",
                "",
            ]
        );
        assert_eq!(
            cols(&rows[1]),
            [
                "0000:00:02.0",
                "Mass storage controller",
                "virtio-pci",
                "Red Hat, Inc.",
                "0x1af4",
                "Virtio 1.0 block device",
                "0x1042",
                "0x01",
                "0x80",
                "Mass storage controller",
                "0x1af4",
                "Red Hat, Inc.",
                "0x1100",
                "QEMU Virtual Machine",
            ]
        );
        assert_eq!(
            cols(&rows[2]),
            [
                "0000:00:05.0",
                "Unassigned class",
                "x",
                "",
                "0",
                "",
                "0",
                "0xff",
                "0xff",
                "",
                "",
                "",
                "",
                "",
            ]
        );
        // Without names (no pci.ids, or no name column read): the IDs alone.
        let bare = pci_device_rows(&r.join("devices"), &[], true);
        assert_eq!(bare[1].vendor, "");
        assert_eq!(bare[1].vendor_id, "0x1af4");
        assert!(pci_device_rows(&r.join("nothing"), PCI_IDS, true).is_empty());
    }

    #[test]
    fn usb_devices_are_the_entries_with_a_bus_and_device_number() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        put(
            r,
            "usb.ids",
            "1d6b  Linux Foundation\n\t0002  2.0 root hub\n",
        );
        let dev = |name: &str, uevent: &str, files: &[(&str, &str)]| {
            put(r, &format!("devices/{name}/uevent"), uevent);
            for (f, t) in files {
                put(r, &format!("devices/{name}/{f}"), t);
            }
        };
        dev(
            "usb1",
            "DEVTYPE=usb_device\nDRIVER=usb\nPRODUCT=1d6b/2/606\nTYPE=9/0/1\nBUSNUM=001\nDEVNUM=001\n",
            &[
                ("idVendor", "1d6b\n"),
                ("idProduct", "0002\n"),
                ("bcdDevice", "0606\n"),
                ("manufacturer", "Linux 6.6 xhci-hcd\n"),
                ("product", "xHCI Host Controller\n"),
                ("serial", "0000:00:14.0\n"),
                ("removable", "unknown\n"),
            ],
        );
        dev(
            "1-0:1.0",
            "DEVTYPE=usb_interface\nDRIVER=hub\nTYPE=9/0/1\nINTERFACE=9/0/0\n",
            &[],
        );
        dev(
            "1-2",
            "DEVTYPE=usb_device\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM=010\n",
            &[
                ("idVendor", "0781\n"),
                ("idProduct", "5567\n"),
                ("bcdDevice", "0100\n"),
                ("manufacturer", " SanDisk\n"),
                ("product", "Cruzer Blade\n"),
                ("serial", "4C5300 011\n"),
                ("removable", "removable\n"),
            ],
        );
        dev("2-1", "BUSNUM=002\nDEVNUM=003\n", &[("removable", "fixed")]);
        let files = [(r.join("usb.ids"), false)];
        let files: Vec<(&str, bool)> = files
            .iter()
            .map(|(p, h)| (p.to_str().unwrap(), *h))
            .collect();
        let rows = usb_device_rows(&r.join("devices"), &files, true);
        let cols = |u: &UsbDeviceRow| {
            [
                u.usb_address.to_string(),
                u.usb_port.to_string(),
                u.vendor.clone(),
                u.vendor_id.clone(),
                u.version.clone(),
                u.model.clone(),
                u.model_id.clone(),
                u.serial.clone(),
                u.class.clone(),
                u.subclass.clone(),
                u.protocol.clone(),
                u.removable.to_string(),
            ]
        };
        assert_eq!(rows.len(), 3);
        assert_eq!(
            cols(&rows[0]),
            [
                "1",
                "10",
                "SanDisk",
                "0781",
                "0100",
                "Cruzer Blade",
                "5567",
                "4C5300_011",
                "0",
                "0",
                "0",
                "1"
            ]
        );
        assert_eq!(
            cols(&rows[1]),
            ["2", "3", "", "", "", "", "", "", "", "", "", "0"]
        );
        assert_eq!(
            cols(&rows[2]),
            [
                "1",
                "1",
                "Linux Foundation",
                "1d6b",
                "0606",
                "2.0 root hub",
                "0002",
                "0000:00:14.0",
                "9",
                "0",
                "1",
                "-1"
            ]
        );
        // Without the name files: the device's own strings.
        let own = usb_device_rows(&r.join("devices"), &[], true);
        assert_eq!(own[2].vendor, "Linux 6.6 xhci-hcd");
        assert_eq!(own[2].model, "xHCI Host Controller");
        assert!(usb_device_rows(&r.join("nothing"), USB_NAME_FILES, true).is_empty());
    }
}
