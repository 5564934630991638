//! Facts about the operating system, read from the kernel and the system's own databases.
//! Shared by the modules and the query module's tables.

pub mod elf;
pub mod mounts;
pub mod net;
pub mod netlink;
pub mod packages;
pub mod process;
pub mod procmem;
pub mod system;
pub mod unix;
pub mod users;
pub mod utmp;
