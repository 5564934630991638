//! Every table, by name. osquery's names, columns and types; see docs/modules/query.md.

mod accounts;
mod browsers;
mod chrome;
mod client_configs;
mod config_files;
mod cpuid;
mod curl;
mod curl_certificate;
mod devices;
mod disk_encryption;
mod docker;
mod events;
mod file_contents;
mod files;
mod firmware;
mod host_state;
mod iptables;
mod kernel_state;
mod language_packages;
mod logins;
mod lsm;
mod magic;
mod network;
mod packages;
mod processes;
mod self_info;
mod sockets;
mod system;
mod systemd;
mod user_files;
mod yara;

use super::schema::Table;

static ALL: &[&Table] = &[
    &processes::PROCESSES,
    &processes::PROCESS_OPEN_FILES,
    &processes::PROCESS_MEMORY_MAP,
    &sockets::PROCESS_OPEN_SOCKETS,
    &sockets::LISTENING_PORTS,
    &accounts::USERS,
    &accounts::GROUPS,
    &accounts::USER_GROUPS,
    &logins::LOGGED_IN_USERS,
    &logins::LAST,
    &user_files::SHELL_HISTORY,
    &user_files::AUTHORIZED_KEYS,
    &config_files::CRONTAB,
    &config_files::SUDOERS,
    &system::KERNEL_INFO,
    &system::KERNEL_MODULES,
    &system::OS_VERSION,
    &system::SYSTEM_INFO,
    &system::UPTIME,
    &system::MOUNTS,
    &network::INTERFACE_ADDRESSES,
    &network::INTERFACE_DETAILS,
    &network::ROUTES,
    &network::ARP_CACHE,
    &network::ETC_HOSTS,
    &network::DNS_RESOLVERS,
    &packages::DEB_PACKAGES,
    &packages::RPM_PACKAGES,
    &packages::APT_SOURCES,
    &systemd::SYSTEMD_UNITS,
    &files::FILE,
    &files::HASH,
    &files::SUID_BIN,
    &iptables::IPTABLES,
    &host_state::TIME,
    &host_state::LOAD_AVERAGE,
    &host_state::MEMORY_INFO,
    &host_state::SYSTEM_CONTROLS,
    &host_state::SHADOW,
    &host_state::PROCESS_ENVS,
    &language_packages::PYTHON_PACKAGES,
    &language_packages::NPM_PACKAGES,
    &file_contents::FILE_LINES,
    &file_contents::PARSE_JSON,
    &devices::BLOCK_DEVICES,
    &devices::PCI_DEVICES,
    &devices::USB_DEVICES,
    &self_info::OSQUERY_INFO,
    &self_info::OSQUERY_REGISTRY,
    &self_info::OSQUERY_EXTENSIONS,
    &client_configs::SSH_CONFIGS,
    &client_configs::YUM_SOURCES,
    &kernel_state::CPU_TIME,
    &kernel_state::KERNEL_KEYS,
    &kernel_state::INTERFACE_IPV6,
    &kernel_state::ULIMIT_INFO,
    &kernel_state::PROCESS_NAMESPACES,
    &kernel_state::ETC_PROTOCOLS,
    &kernel_state::ETC_SERVICES,
    &user_files::KNOWN_HOSTS,
    &user_files::USER_SSH_KEYS,
    &kernel_state::SHARED_MEMORY,
    &kernel_state::MEMORY_MAP,
    &packages::DEB_PACKAGE_FILES,
    &packages::PORTAGE_PACKAGES,
    &packages::PORTAGE_USE,
    &packages::PORTAGE_KEYWORDS,
    &packages::RPM_PACKAGE_FILES,
    &firmware::ACPI_TABLES,
    &firmware::SMBIOS_TABLES,
    &firmware::PLATFORM_INFO,
    &firmware::MEMORY_ARRAYS,
    &firmware::MEMORY_DEVICES,
    &firmware::MEMORY_ARRAY_MAPPED_ADDRESSES,
    &firmware::MEMORY_DEVICE_MAPPED_ADDRESSES,
    &firmware::MEMORY_ERROR_INFO,
    &firmware::CPU_INFO,
    &firmware::OEM_STRINGS,
    &firmware::SECUREBOOT,
    &firmware::MD_PERSONALITIES,
    &files::EXTENDED_ATTRIBUTES,
    &kernel_state::PROCESS_OPEN_PIPES,
    &systemd::STARTUP_ITEMS,
    &browsers::FIREFOX_ADDONS,
    &browsers::VSCODE_EXTENSIONS,
    &lsm::APPARMOR_PROFILES,
    &lsm::SELINUX_SETTINGS,
    &cpuid::CPUID,
    &chrome::CHROME_EXTENSIONS,
    &self_info::OSQUERY_FLAGS,
    &self_info::OSQUERY_SCHEDULE,
    &self_info::OSQUERY_PACKS,
    &self_info::OSQUERY_EVENTS,
    &events::PROCESS_EVENTS,
    &events::FILE_EVENTS,
    &events::SOCKET_EVENTS,
    &events::MIG_EVENT_BUFFERS,
    &magic::MAGIC,
    &disk_encryption::DISK_ENCRYPTION,
    &yara::YARA_FILE,
    &yara::YARA,
    &yara::YARA_PROCESS,
    &docker::DOCKER_CONTAINERS,
    &docker::DOCKER_CONTAINER_PROCESSES,
    &docker::DOCKER_CONTAINER_MOUNTS,
    &docker::DOCKER_CONTAINER_ENVS,
    &docker::DOCKER_CONTAINER_LABELS,
    &docker::DOCKER_IMAGES,
    &docker::DOCKER_IMAGE_HISTORY,
    &docker::DOCKER_IMAGE_LABELS,
    &docker::DOCKER_VERSION,
    &docker::DOCKER_INFO,
    &docker::DOCKER_NETWORKS,
    &docker::DOCKER_VOLUMES,
    &docker::DOCKER_CONTAINER_NETWORKS,
    &docker::DOCKER_CONTAINER_PORTS,
    &docker::DOCKER_NETWORK_LABELS,
    &docker::DOCKER_VOLUME_LABELS,
    &docker::DOCKER_CONTAINER_FS_CHANGES,
    &curl::CURL,
    &curl_certificate::CURL_CERTIFICATE,
    &chrome::CHROME_EXTENSION_CONTENT_SCRIPTS,
];

// Every table's index, required and like lists name its own columns, checked as the crate
// compiles: a misspelt name would otherwise be a constraint the generator silently ignores.
const _: () = {
    let mut n = 0;
    while n < ALL.len() {
        if let Some(column) = ALL[n].undeclared_column() {
            // The build stops here: a table's index, required or like list names `column`,
            // which the table does not declare.
            panic!("{}", column);
        }
        n += 1;
    }
};

/// Every table the engine registers.
pub fn all() -> &'static [&'static Table] {
    ALL
}

/// The table called `name`; `None` when there is none.
pub fn lookup(name: &str) -> Option<&'static Table> {
    ALL.iter().copied().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_table_has_unique_names_and_constrains_only_its_own_columns() {
        let mut tables = HashSet::new();
        for t in all() {
            assert!(tables.insert(t.name), "two tables are called {}", t.name);
            assert!(!t.columns.is_empty(), "{} has no columns", t.name);
            let mut columns = HashSet::new();
            for c in t.columns {
                assert!(
                    columns.insert(c.name),
                    "{}.{}: declared twice",
                    t.name,
                    c.name
                );
            }
            for (list, names) in [
                ("index", t.index),
                ("required", t.required),
                ("like", t.like),
            ] {
                for name in names {
                    assert!(
                        columns.contains(name),
                        "{}: {list} names {name}, which is not one of its columns",
                        t.name
                    );
                }
            }
            assert_eq!(lookup(t.name).map(|l| l.name), Some(t.name));
        }
    }
}
