//! Every table, by name. osquery's names, columns and types; see docs/modules/query.md.

mod accounts;
mod config_files;
mod files;
mod iptables;
mod logins;
mod network;
mod packages;
mod processes;
mod sockets;
mod system;
mod systemd;
mod user_files;

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
];

/// Every table the engine registers.
pub fn all() -> &'static [&'static Table] {
    ALL
}

/// The table called `name`; `None` when there is none.
pub fn lookup(name: &str) -> Option<&'static Table> {
    ALL.iter().copied().find(|t| t.name == name)
}
