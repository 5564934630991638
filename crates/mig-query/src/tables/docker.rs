//! The Docker family: containers, their processes, mounts, networks, ports, environment and
//! labels; images, their history and labels; the daemon's version and info; networks and
//! volumes and their labels. Read from
//! the Docker Engine API over the daemon's socket with GET requests only, as osquery reads
//! them; with no daemon every table is empty.
//!
//! Talking to the daemon is what the sandbox and the ACL guard: these tables run only where
//! the ACL names them (`query:docker_containers`…), see docs/acl.md.

use super::super::row::table_row;
use super::super::schema::*;
use mig_host::docker::{self, DockerError};
use serde_json::Value as Json;
use std::path::Path;
use std::time::Duration;

/// How long one request to the daemon may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `ps` columns for a container's processes (osquery's list, in its order).
const PS_COLUMNS: &str = "pid,state,uid,gid,euid,egid,suid,sgid,rss,vsz,etime,ppid,pgrp,nlwp,nice,user,time,pcpu,pmem,comm,cmd";

/// The daemon's answer to `GET uri` as JSON; `None` when no daemon runs, or when it answers
/// one of the `absent` statuses (404: the object is gone; 409: the container is not running).
fn api_or(q: &Constraints, uri: &str, absent: &[u16]) -> Result<Option<Json>, String> {
    q.check()?;
    let table = q.table.name;
    match docker::get(Path::new(docker::DEFAULT_SOCKET), uri, REQUEST_TIMEOUT) {
        Ok(body) => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| format!("{table}: the Docker daemon's answer to {uri} is not JSON: {e}")),
        Err(DockerError::NotRunning) => Ok(None),
        Err(DockerError::Refused(status, _)) if absent.contains(&status) => Ok(None),
        Err(e) => Err(format!("{table}: {e}")),
    }
}

fn api(q: &Constraints, uri: &str) -> Result<Option<Json>, String> {
    api_or(q, uri, &[])
}

/// An identifier the way osquery gives one: without the `sha256:` prefix.
fn short_id(v: &Json) -> String {
    let id = v.as_str().unwrap_or_default();
    id.strip_prefix("sha256:").unwrap_or(id).to_string()
}

/// The `id` constraint, if any: Docker's IDs may be given by prefix, and a row then carries the
/// prefix it was asked by (as osquery does) so that SQLite's own `id = …` keeps it. Values that
/// are not hex (at most 64 digits) match nothing.
struct Ids(Option<Vec<String>>);

impl Ids {
    fn new(q: &Constraints) -> Ids {
        Ids(q.texts("id").map(|ids| {
            ids.into_iter()
                .filter(|i| i.len() <= 64 && i.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        }))
    }

    /// The id a row of the object `full` shows; `None` when the constraint excludes it.
    fn admit(&self, full: &str) -> Option<String> {
        match &self.0 {
            None => Some(full.to_string()),
            Some(asked) => asked.iter().find(|p| full.starts_with(p.as_str())).cloned(),
        }
    }
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Json) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn flag(v: &Json) -> i64 {
    i64::from(v.as_bool().unwrap_or(false))
}

fn joined(v: &Json, separator: &str) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(separator))
        .unwrap_or_default()
}

/// Every container (stopped ones too) with the id it is shown by.
fn containers(q: &Constraints) -> Result<Vec<(String, Json)>, String> {
    let ids = Ids::new(q);
    let Some(Json::Array(list)) = api(q, "/containers/json?all=1")? else {
        return Ok(Vec::new());
    };
    Ok(list
        .into_iter()
        .filter_map(|c| Some((ids.admit(&short_id(&c["Id"]))?, c)))
        .collect())
}

/// `docker inspect` of one container; `Null` when it is gone meanwhile.
fn inspect(q: &Constraints, id: &str) -> Result<Json, String> {
    Ok(api_or(q, &format!("/containers/{id}/json"), &[404])?.unwrap_or(Json::Null))
}

/// Every image, by its ID without `sha256:`.
fn images(q: &Constraints) -> Result<Vec<Json>, String> {
    match api(q, "/images/json")? {
        Some(Json::Array(list)) => Ok(list),
        _ => Ok(Vec::new()),
    }
}

table_row! {
    /// One container.
    struct ContainerRow {
        id: text = "Container ID",
        name: text = "Container name",
        image: text = "Docker image (name) used to launch this container",
        image_id: text = "Docker image ID",
        command: text = "Command with arguments",
        created: bigint = "Time of creation as UNIX time",
        state: text = "Container state (created, restarting, running, removing, paused, exited, dead)",
        status: text = "Container status information",
        pid: bigint = "Identifier of the initial process",
        path: text = "Container path",
        config_entrypoint: text = "Container entrypoint(s)",
        started_at: text = "Container start time as string",
        finished_at: text = "Container finish time as string",
        privileged: integer = "Is the container privileged",
        security_options: text = "List of container security options",
        env_variables: text = "Container environmental variables",
        readonly_rootfs: integer = "Is the root filesystem mounted as read only",
        cgroup_namespace: text = "cgroup namespace",
        ipc_namespace: text = "IPC namespace",
        mnt_namespace: text = "Mount namespace",
        net_namespace: text = "Network namespace",
        pid_namespace: text = "PID namespace",
        user_namespace: text = "User namespace",
        uts_namespace: text = "UTS namespace",
    }
}

pub(crate) static DOCKER_CONTAINERS: Table = Table {
    name: "docker_containers",
    about: "Docker containers information: every container, stopped ones included, with what `docker inspect` adds and its process's namespaces.",
    columns: ContainerRow::COLUMNS,
    index: &["id", "name"],
    required: &[],
    like: &[],
    generate: gen_containers,
    reach: Reach::DockerDaemon,
    example: "SELECT id, name, image, state, privileged FROM docker_containers",
};

fn gen_containers(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let names = q.texts("name");
    let mut rows = Vec::new();
    for (id, c) in containers(q)? {
        let name = c["Names"]
            .as_array()
            .and_then(|n| n.first())
            .map(text)
            .unwrap_or_default();
        // Docker's names start with `/` (`/web-1`), as osquery shows them.
        if names.as_ref().is_some_and(|n| !n.contains(&name)) {
            continue;
        }
        let details = inspect(q, &id)?;
        let state = text(&c["State"]);
        let pid = details["State"]["Pid"].as_i64().unwrap_or(-1);
        let ns = |kind: &str| {
            u32::try_from(pid)
                .ok()
                .filter(|p| *p > 0)
                .and_then(|p| mig_host::process::namespace(p, kind).ok().flatten())
                .unwrap_or_default()
        };
        rows.push(ContainerRow {
            id,
            name,
            image: text(&c["Image"]),
            image_id: short_id(&c["ImageID"]),
            command: text(&c["Command"]),
            created: int(&c["Created"]),
            status: text(&c["Status"]),
            pid,
            path: text(&details["Path"]),
            config_entrypoint: joined(&details["Config"]["Entrypoint"], ", "),
            started_at: text(&details["State"]["StartedAt"]),
            finished_at: if state == "running" {
                String::new()
            } else {
                text(&details["State"]["FinishedAt"])
            },
            state,
            privileged: flag(&details["HostConfig"]["Privileged"]),
            security_options: joined(&details["HostConfig"]["SecurityOpt"], ", "),
            env_variables: joined(&details["Config"]["Env"], ", "),
            readonly_rootfs: flag(&details["HostConfig"]["ReadonlyRootfs"]),
            cgroup_namespace: ns("cgroup"),
            ipc_namespace: ns("ipc"),
            mnt_namespace: ns("mnt"),
            net_namespace: ns("net"),
            pid_namespace: ns("pid"),
            user_namespace: ns("user"),
            uts_namespace: ns("uts"),
        });
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One process of a container, as the daemon's `top` lists it.
    struct ContainerProcessRow {
        id: text = "Container ID",
        pid: bigint = "Process ID",
        name: text = "The process path or shorthand argv[0]",
        cmdline: text = "Complete argv",
        state: text = "Process state",
        uid: bigint = "User ID",
        gid: bigint = "Group ID",
        euid: bigint = "Effective user ID",
        egid: bigint = "Effective group ID",
        suid: bigint = "Saved user ID",
        sgid: bigint = "Saved group ID",
        wired_size: bigint = "Bytes of unpageable memory used by process",
        resident_size: bigint = "Bytes of private memory used by process",
        total_size: bigint = "Total virtual memory size",
        start_time: bigint = "Process start in seconds since boot (non-sleeping)",
        parent: bigint = "Process parent's PID",
        pgroup: bigint = "Process group",
        threads: integer = "Number of threads used by process",
        nice: integer = "Process nice level (-20 to 20, default 0)",
        user: text = "User name",
        time: text = "Cumulative CPU time. [DD-]HH:MM:SS format",
        cpu: double = "CPU utilization as percentage",
        mem: double = "Memory utilization as percentage",
    }
}

pub(crate) static DOCKER_CONTAINER_PROCESSES: Table = Table {
    name: "docker_container_processes",
    about: "Docker container processes: what `docker top` lists for each container named in `id` (`=` or `IN`, full ID or prefix), with ps's columns.",
    columns: ContainerProcessRow::COLUMNS,
    index: &["id", "pid"],
    required: &["id"],
    like: &[],
    generate: gen_container_processes,
    reach: Reach::DockerDaemon,
    example: "SELECT c.name, p.pid, p.user, p.cmdline FROM docker_containers c JOIN docker_container_processes p USING (id) WHERE c.state = 'running'",
};

fn gen_container_processes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q).0.ok_or_else(|| q.table.missing_required())?;
    let mut rows = Vec::new();
    for id in ids {
        let uri = format!("/containers/{id}/top?ps_args=axwwo%20{PS_COLUMNS}");
        // No daemon, no such container, or not running: no processes.
        let Some(top) = api_or(q, &uri, &[404, 409])? else {
            continue;
        };
        for p in top["Processes"].as_array().into_iter().flatten() {
            let Some(f) = p.as_array().filter(|f| f.len() == 21) else {
                continue;
            };
            let f: Vec<String> = f.iter().map(text).collect();
            let n = |i: usize| f[i].trim().parse::<i64>().unwrap_or(-1);
            // ps gives sizes in KiB.
            let kib = |i: usize| f[i].trim().parse::<i64>().map_or(-1, |k| k * 1000);
            let real = |i: usize| f[i].trim().parse::<f64>().unwrap_or(0.0);
            rows.push(ContainerProcessRow {
                id: id.clone(),
                pid: n(0),
                state: f[1].clone(),
                uid: n(2),
                gid: n(3),
                euid: n(4),
                egid: n(5),
                suid: n(6),
                sgid: n(7),
                wired_size: 0,
                resident_size: kib(8),
                total_size: kib(9),
                start_time: parse_elapsed(&f[10]),
                parent: n(11),
                pgroup: n(12),
                threads: n(13),
                nice: n(14),
                user: f[15].clone(),
                time: f[16].clone(),
                cpu: real(17),
                mem: real(18),
                name: f[19].clone(),
                cmdline: f[20].clone(),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One path a container changed in its filesystem.
    struct FsChangeRow {
        id: text = "Container ID",
        path: text = "FIle or directory path relative to rootfs",
        change_type: text = "Type of change: C:Modified, A:Added, D:Deleted",
    }
}

pub(crate) static DOCKER_CONTAINER_FS_CHANGES: Table = Table {
    name: "docker_container_fs_changes",
    about: "Changes to files or directories on container's filesystem: what `docker diff` lists for each container named in `id` (`=` or `IN`, full ID or prefix).",
    columns: FsChangeRow::COLUMNS,
    index: &["id"],
    required: &["id"],
    like: &[],
    generate: gen_container_fs_changes,
    reach: Reach::DockerDaemon,
    example: "SELECT c.name, f.path, f.change_type FROM docker_containers c JOIN docker_container_fs_changes f USING (id)",
};

fn gen_container_fs_changes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q).0.ok_or_else(|| q.table.missing_required())?;
    let mut rows = Vec::new();
    for id in ids {
        // No daemon, or no such container: no changes.
        let Some(Json::Array(changes)) = api_or(q, &format!("/containers/{id}/changes"), &[404])?
        else {
            continue;
        };
        for c in changes {
            // Docker's kinds: 0 modified, 1 added, 2 deleted.
            let kind = match c["Kind"].as_i64() {
                Some(0) => "C",
                Some(1) => "A",
                Some(2) => "D",
                _ => continue,
            };
            rows.push(FsChangeRow {
                id: id.clone(),
                path: text(&c["Path"]),
                change_type: kind.into(),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

/// ps's `etime` (`[[DD-]HH:]MM:SS`) in seconds; -1 when it is not one.
fn parse_elapsed(etime: &str) -> i64 {
    let (days, rest) = match etime.trim().split_once('-') {
        Some((d, r)) => (d.parse::<i64>().unwrap_or(-1), r),
        None => (0, etime.trim()),
    };
    let parts: Vec<i64> = rest.split(':').map(|p| p.parse().unwrap_or(-1)).collect();
    if days < 0 || parts.iter().any(|p| *p < 0) || parts.is_empty() || parts.len() > 3 {
        return -1;
    }
    days * 86_400 + parts.iter().fold(0, |acc, p| acc * 60 + p)
}

table_row! {
    /// One mount of a container.
    struct MountRow {
        id: text = "Container ID",
        r#type: text = "Type of mount (bind, volume)",
        name: text = "Optional mount name",
        source: text = "Source path on host",
        destination: text = "Destination path inside container",
        driver: text = "Driver providing the mount",
        mode: text = "Mount options (rw, ro)",
        rw: integer = "1 if read/write. 0 otherwise",
        propagation: text = "Mount propagation",
    }
}

pub(crate) static DOCKER_CONTAINER_MOUNTS: Table = Table {
    name: "docker_container_mounts",
    about: "Docker container mounts: bind mounts and volumes of every container.",
    columns: MountRow::COLUMNS,
    index: &["id", "name"],
    required: &[],
    like: &[],
    generate: gen_container_mounts,
    reach: Reach::DockerDaemon,
    example: "SELECT id, source, destination, rw FROM docker_container_mounts WHERE type = 'bind'",
};

fn gen_container_mounts(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for (id, c) in containers(q)? {
        for m in c["Mounts"].as_array().into_iter().flatten() {
            rows.push(MountRow {
                id: id.clone(),
                r#type: text(&m["Type"]),
                name: text(&m["Name"]),
                source: text(&m["Source"]),
                destination: text(&m["Destination"]),
                driver: text(&m["Driver"]),
                mode: text(&m["Mode"]),
                rw: flag(&m["RW"]),
                propagation: text(&m["Propagation"]),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One variable of a container's environment.
    struct EnvRow {
        id: text = "Container ID",
        key: text = "Environment variable name",
        value: text = "Environment variable value",
    }
}

pub(crate) static DOCKER_CONTAINER_ENVS: Table = Table {
    name: "docker_container_envs",
    about: "Docker container environment variables (from `docker inspect`).",
    columns: EnvRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_container_envs,
    reach: Reach::DockerDaemon,
    example:
        "SELECT id, key FROM docker_container_envs WHERE key LIKE '%TOKEN%' OR key LIKE '%SECRET%'",
};

fn gen_container_envs(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for (id, _) in containers(q)? {
        for var in inspect(q, &id)?["Config"]["Env"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let var = text(var);
            let (key, value) = var.split_once('=').unwrap_or((&var, ""));
            rows.push(EnvRow {
                id: id.clone(),
                key: key.into(),
                value: value.into(),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One label of a container.
    struct ContainerLabelRow {
        id: text = "Container ID",
        key: text = "Label key",
        value: text = "Optional label value",
    }
}

pub(crate) static DOCKER_CONTAINER_LABELS: Table = Table {
    name: "docker_container_labels",
    about: "Docker container labels.",
    columns: ContainerLabelRow::COLUMNS,
    index: &["id", "key"],
    required: &[],
    like: &[],
    generate: gen_container_labels,
    reach: Reach::DockerDaemon,
    example: "SELECT id, key, value FROM docker_container_labels",
};

fn labels(v: &Json) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

fn gen_container_labels(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for (id, c) in containers(q)? {
        for (key, value) in labels(&c["Labels"]) {
            rows.push(ContainerLabelRow {
                id: id.clone(),
                key,
                value,
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One network a container is attached to.
    struct ContainerNetworkRow {
        id: text = "Container ID",
        name: text = "Network name",
        network_id: text = "Network ID",
        endpoint_id: text = "Endpoint ID",
        gateway: text = "Gateway",
        ip_address: text = "IP address",
        ip_prefix_len: integer = "IP subnet prefix length",
        ipv6_gateway: text = "IPv6 gateway",
        ipv6_address: text = "IPv6 address",
        ipv6_prefix_len: integer = "IPv6 subnet prefix length",
        mac_address: text = "MAC address",
    }
}

pub(crate) static DOCKER_CONTAINER_NETWORKS: Table = Table {
    name: "docker_container_networks",
    about: "Docker container networks: each network every container is attached to, with its addresses.",
    columns: ContainerNetworkRow::COLUMNS,
    index: &["id", "name"],
    required: &[],
    like: &[],
    generate: gen_container_networks,
    reach: Reach::DockerDaemon,
    example: "SELECT id, name, ip_address, gateway FROM docker_container_networks",
};

fn gen_container_networks(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for (id, c) in containers(q)? {
        let networks = c["NetworkSettings"]["Networks"].as_object().cloned();
        for (name, n) in networks.into_iter().flatten() {
            rows.push(ContainerNetworkRow {
                id: id.clone(),
                name,
                network_id: text(&n["NetworkID"]),
                endpoint_id: text(&n["EndpointID"]),
                gateway: text(&n["Gateway"]),
                ip_address: text(&n["IPAddress"]),
                ip_prefix_len: int(&n["IPPrefixLen"]),
                ipv6_gateway: text(&n["IPv6Gateway"]),
                ipv6_address: text(&n["GlobalIPv6Address"]),
                ipv6_prefix_len: int(&n["GlobalIPv6PrefixLen"]),
                mac_address: text(&n["MacAddress"]),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One published port of a container.
    struct ContainerPortRow {
        id: text = "Container ID",
        r#type: text = "Protocol (tcp, udp)",
        port: integer = "Port inside the container",
        host_ip: text = "Host IP address on which public port is listening",
        host_port: integer = "Host port",
    }
}

pub(crate) static DOCKER_CONTAINER_PORTS: Table = Table {
    name: "docker_container_ports",
    about: "Docker container ports: each exposed port of every container, and where the host publishes it.",
    columns: ContainerPortRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_container_ports,
    reach: Reach::DockerDaemon,
    example: "SELECT id, type, port, host_ip, host_port FROM docker_container_ports WHERE host_port != 0",
};

fn gen_container_ports(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for (id, c) in containers(q)? {
        for p in c["Ports"].as_array().into_iter().flatten() {
            rows.push(ContainerPortRow {
                id: id.clone(),
                r#type: text(&p["Type"]),
                port: int(&p["PrivatePort"]),
                host_ip: text(&p["IP"]),
                host_port: int(&p["PublicPort"]),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One image.
    struct ImageRow {
        id: text = "Image ID",
        created: bigint = "Time of creation as UNIX time",
        size_bytes: bigint = "Size of image in bytes",
        tags: text = "Comma-separated list of repository tags",
    }
}

pub(crate) static DOCKER_IMAGES: Table = Table {
    name: "docker_images",
    about: "Docker images information.",
    columns: ImageRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_images,
    reach: Reach::DockerDaemon,
    example: "SELECT id, tags, size_bytes FROM docker_images ORDER BY created DESC",
};

fn gen_images(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    Ok(VecRows::boxed(
        images(q)?
            .iter()
            .map(|i| ImageRow {
                id: short_id(&i["Id"]),
                created: int(&i["Created"]),
                size_bytes: int(&i["Size"]),
                tags: joined(&i["RepoTags"], ","),
            })
            .collect(),
    ))
}

table_row! {
    /// One layer of an image's history.
    struct HistoryRow {
        id: text = "Image ID",
        created: bigint = "Time of creation as UNIX time",
        size: bigint = "Size of instruction in bytes",
        created_by: text = "Created by instruction",
        tags: text = "Comma-separated list of tags",
        comment: text = "Instruction comment",
    }
}

pub(crate) static DOCKER_IMAGE_HISTORY: Table = Table {
    name: "docker_image_history",
    about: "Docker image history information: the instruction that made each layer of each image (those named in `id`, by full ID or prefix, or all).",
    columns: HistoryRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_image_history,
    reach: Reach::DockerDaemon,
    example: "SELECT id, created_by, size FROM docker_image_history",
};

fn gen_image_history(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q);
    let mut rows = Vec::new();
    for image in images(q)? {
        let Some(id) = ids.admit(&short_id(&image["Id"])) else {
            continue;
        };
        let full = short_id(&image["Id"]);
        // An image removed meanwhile has no history.
        let Some(Json::Array(layers)) = api_or(q, &format!("/images/{full}/history"), &[404])?
        else {
            continue;
        };
        for layer in layers {
            rows.push(HistoryRow {
                id: id.clone(),
                created: int(&layer["Created"]),
                size: int(&layer["Size"]),
                created_by: text(&layer["CreatedBy"]),
                tags: joined(&layer["Tags"], ","),
                comment: text(&layer["Comment"]),
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One label of an image.
    struct ImageLabelRow {
        id: text = "Image ID",
        key: text = "Label key",
        value: text = "Optional label value",
    }
}

pub(crate) static DOCKER_IMAGE_LABELS: Table = Table {
    name: "docker_image_labels",
    about: "Docker image labels.",
    columns: ImageLabelRow::COLUMNS,
    index: &["id", "key"],
    required: &[],
    like: &[],
    generate: gen_image_labels,
    reach: Reach::DockerDaemon,
    example: "SELECT id, key, value FROM docker_image_labels",
};

fn gen_image_labels(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q);
    let mut rows = Vec::new();
    for image in images(q)? {
        let Some(id) = ids.admit(&short_id(&image["Id"])) else {
            continue;
        };
        for (key, value) in labels(&image["Labels"]) {
            rows.push(ImageLabelRow {
                id: id.clone(),
                key,
                value,
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// The daemon's version.
    struct VersionRow {
        version: text = "Docker version",
        api_version: text = "API version",
        min_api_version: text = "Minimum API version supported",
        git_commit: text = "Docker build git commit",
        go_version: text = "Go version",
        os: text = "Operating system",
        arch: text = "Hardware architecture",
        kernel_version: text = "Kernel version",
        build_time: text = "Build time",
    }
}

pub(crate) static DOCKER_VERSION: Table = Table {
    name: "docker_version",
    about: "Docker version information: one row when a daemon runs.",
    columns: VersionRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_version,
    reach: Reach::DockerDaemon,
    example: "SELECT version, api_version FROM docker_version",
};

fn gen_version(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows = api(q, "/version")?
        .map(|v| VersionRow {
            version: text(&v["Version"]),
            api_version: text(&v["ApiVersion"]),
            min_api_version: text(&v["MinAPIVersion"]),
            git_commit: text(&v["GitCommit"]),
            go_version: text(&v["GoVersion"]),
            os: text(&v["Os"]),
            arch: text(&v["Arch"]),
            kernel_version: text(&v["KernelVersion"]),
            build_time: text(&v["BuildTime"]),
        })
        .into_iter()
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// The daemon's host and settings.
    struct InfoRow {
        id: text = "Docker system ID",
        containers: integer = "Total number of containers",
        containers_running: integer = "Number of containers currently running",
        containers_paused: integer = "Number of containers in paused state",
        containers_stopped: integer = "Number of containers in stopped state",
        images: integer = "Number of images",
        storage_driver: text = "Storage driver",
        memory_limit: integer = "1 if memory limit support is enabled. 0 otherwise",
        swap_limit: integer = "1 if swap limit support is enabled. 0 otherwise",
        kernel_memory: integer = "1 if kernel memory limit support is enabled. 0 otherwise",
        cpu_cfs_period: integer = "1 if CPU Completely Fair Scheduler (CFS) period support is enabled. 0 otherwise",
        cpu_cfs_quota: integer = "1 if CPU Completely Fair Scheduler (CFS) quota support is enabled. 0 otherwise",
        cpu_shares: integer = "1 if CPU share weighting support is enabled. 0 otherwise",
        cpu_set: integer = "1 if CPU set selection support is enabled. 0 otherwise",
        ipv4_forwarding: integer = "1 if IPv4 forwarding is enabled. 0 otherwise",
        bridge_nf_iptables: integer = "1 if bridge netfilter iptables is enabled. 0 otherwise",
        bridge_nf_ip6tables: integer = "1 if bridge netfilter ip6tables is enabled. 0 otherwise",
        oom_kill_disable: integer = "1 if Out-of-memory kill is disabled. 0 otherwise",
        logging_driver: text = "Logging driver",
        cgroup_driver: text = "Control groups driver",
        kernel_version: text = "Kernel version",
        os: text = "Operating system",
        os_type: text = "Operating system type",
        architecture: text = "Hardware architecture",
        cpus: integer = "Number of CPUs",
        memory: bigint = "Total memory",
        http_proxy: text = "HTTP proxy",
        https_proxy: text = "HTTPS proxy",
        no_proxy: text = "Comma-separated list of domain extensions proxy should not be used for",
        name: text = "Name of the docker host",
        server_version: text = "Server version",
        root_dir: text = "Docker root directory",
    }
}

pub(crate) static DOCKER_INFO: Table = Table {
    name: "docker_info",
    about: "Docker system information: one row when a daemon runs.",
    columns: InfoRow::COLUMNS,
    index: &[],
    required: &[],
    like: &[],
    generate: gen_info,
    reach: Reach::DockerDaemon,
    example: "SELECT server_version, containers_running, storage_driver, root_dir FROM docker_info",
};

fn gen_info(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows = api(q, "/info")?
        .map(|v| InfoRow {
            id: text(&v["ID"]),
            containers: int(&v["Containers"]),
            containers_running: int(&v["ContainersRunning"]),
            containers_paused: int(&v["ContainersPaused"]),
            containers_stopped: int(&v["ContainersStopped"]),
            images: int(&v["Images"]),
            storage_driver: text(&v["Driver"]),
            memory_limit: flag(&v["MemoryLimit"]),
            swap_limit: flag(&v["SwapLimit"]),
            kernel_memory: flag(&v["KernelMemory"]),
            cpu_cfs_period: flag(&v["CpuCfsPeriod"]),
            cpu_cfs_quota: flag(&v["CpuCfsQuota"]),
            cpu_shares: flag(&v["CPUShares"]),
            cpu_set: flag(&v["CPUSet"]),
            ipv4_forwarding: flag(&v["IPv4Forwarding"]),
            bridge_nf_iptables: flag(&v["BridgeNfIptables"]),
            bridge_nf_ip6tables: flag(&v["BridgeNfIp6tables"]),
            oom_kill_disable: flag(&v["OomKillDisable"]),
            logging_driver: text(&v["LoggingDriver"]),
            cgroup_driver: text(&v["CgroupDriver"]),
            kernel_version: text(&v["KernelVersion"]),
            os: text(&v["OperatingSystem"]),
            os_type: text(&v["OSType"]),
            architecture: text(&v["Architecture"]),
            cpus: int(&v["NCPU"]),
            memory: int(&v["MemTotal"]),
            http_proxy: text(&v["HttpProxy"]),
            https_proxy: text(&v["HttpsProxy"]),
            no_proxy: text(&v["NoProxy"]),
            name: text(&v["Name"]),
            server_version: text(&v["ServerVersion"]),
            root_dir: text(&v["DockerRootDir"]),
        })
        .into_iter()
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One network.
    struct NetworkRow {
        id: text = "Network ID",
        name: text = "Network name",
        driver: text = "Network driver",
        created: bigint = "Time of creation as UNIX time",
        enable_ipv6: integer = "1 if IPv6 is enabled on this network. 0 otherwise",
        subnet: text = "Network subnet",
        gateway: text = "Network gateway",
    }
}

pub(crate) static DOCKER_NETWORKS: Table = Table {
    name: "docker_networks",
    about:
        "Docker networks information (the subnet and gateway of each network's first IPAM range).",
    columns: NetworkRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_networks,
    reach: Reach::DockerDaemon,
    example: "SELECT name, driver, subnet FROM docker_networks",
};

/// Docker's RFC 3339 times (`2026-12-07T17:22:21.35Z`) as UNIX time; 0 when not one.
fn unix_time(v: &Json) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn gen_networks(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q);
    let Some(Json::Array(list)) = api(q, "/networks")? else {
        return Ok(VecRows::boxed(Vec::<NetworkRow>::new()));
    };
    let rows = list
        .iter()
        .filter_map(|n| {
            let id = ids.admit(&short_id(&n["Id"]))?;
            let ipam = &n["IPAM"]["Config"][0];
            Some(NetworkRow {
                id,
                name: text(&n["Name"]),
                driver: text(&n["Driver"]),
                created: unix_time(&n["Created"]),
                enable_ipv6: flag(&n["EnableIPv6"]),
                subnet: text(&ipam["Subnet"]),
                gateway: text(&ipam["Gateway"]),
            })
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One label of a network.
    struct NetworkLabelRow {
        id: text = "Network ID",
        key: text = "Label key",
        value: text = "Optional label value",
    }
}

pub(crate) static DOCKER_NETWORK_LABELS: Table = Table {
    name: "docker_network_labels",
    about: "Docker network labels.",
    columns: NetworkLabelRow::COLUMNS,
    index: &["id"],
    required: &[],
    like: &[],
    generate: gen_network_labels,
    reach: Reach::DockerDaemon,
    example: "SELECT id, key, value FROM docker_network_labels",
};

fn gen_network_labels(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let ids = Ids::new(q);
    let Some(Json::Array(list)) = api(q, "/networks")? else {
        return Ok(VecRows::boxed(Vec::<NetworkLabelRow>::new()));
    };
    let mut rows = Vec::new();
    for n in &list {
        let Some(id) = ids.admit(&short_id(&n["Id"])) else {
            continue;
        };
        for (key, value) in labels(&n["Labels"]) {
            rows.push(NetworkLabelRow {
                id: id.clone(),
                key,
                value,
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

table_row! {
    /// One label of a volume.
    struct VolumeLabelRow {
        name: text = "Volume name",
        key: text = "Label key",
        value: text = "Optional label value",
    }
}

pub(crate) static DOCKER_VOLUME_LABELS: Table = Table {
    name: "docker_volume_labels",
    about: "Docker volume labels.",
    columns: VolumeLabelRow::COLUMNS,
    index: &["name", "key"],
    required: &[],
    like: &[],
    generate: gen_volume_labels,
    reach: Reach::DockerDaemon,
    example: "SELECT name, key, value FROM docker_volume_labels",
};

fn gen_volume_labels(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for v in volumes(q)? {
        for (key, value) in labels(&v["Labels"]) {
            rows.push(VolumeLabelRow {
                name: text(&v["Name"]),
                key,
                value,
            });
        }
    }
    Ok(VecRows::boxed(rows))
}

/// Every volume the daemon knows.
fn volumes(q: &Constraints) -> Result<Vec<Json>, String> {
    Ok(api(q, "/volumes")?
        .and_then(|mut doc| match doc["Volumes"].take() {
            Json::Array(list) => Some(list),
            _ => None,
        })
        .unwrap_or_default())
}

table_row! {
    /// One volume.
    struct VolumeRow {
        name: text = "Volume name",
        driver: text = "Volume driver",
        mount_point: text = "Mount point",
        r#type: text = "Volume type",
    }
}

pub(crate) static DOCKER_VOLUMES: Table = Table {
    name: "docker_volumes",
    about: "Docker volumes information.",
    columns: VolumeRow::COLUMNS,
    index: &["name"],
    required: &[],
    like: &[],
    generate: gen_volumes,
    reach: Reach::DockerDaemon,
    example: "SELECT name, driver, mount_point FROM docker_volumes",
};

fn gen_volumes(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let rows = volumes(q)?
        .iter()
        .map(|v| VolumeRow {
            name: text(&v["Name"]),
            driver: text(&v["Driver"]),
            mount_point: text(&v["Mountpoint"]),
            r#type: text(&v["Options"]["type"]),
        })
        .collect();
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_as_ps_writes_them() {
        assert_eq!(parse_elapsed("05"), 5);
        assert_eq!(parse_elapsed("01:05"), 65);
        assert_eq!(parse_elapsed("02:01:05"), 7265);
        assert_eq!(parse_elapsed("3-02:01:05"), 3 * 86_400 + 7265);
        assert_eq!(parse_elapsed("x"), -1);
    }

    #[test]
    fn ids_by_prefix_are_shown_as_asked() {
        let ids = Ids(Some(vec!["e42c".into(), "ffff".into()]));
        assert_eq!(ids.admit("e42c16a595a7"), Some("e42c".into()));
        assert_eq!(ids.admit("0000"), None);
        assert_eq!(Ids(None).admit("abc"), Some("abc".into()));
    }
}
