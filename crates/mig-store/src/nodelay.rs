//! TCP_NODELAY on PostgreSQL connections.
//!
//! sqlx 0.9.0 stopped setting it (sqlx issue #4335, fixed upstream by PR #4336, not released
//! yet), so a statement larger than the socket takes in one write — a batch insert of a few
//! hundred rows — leaves its tail to Nagle's algorithm, which waits for the server's delayed
//! acknowledgement: about 40 ms per statement, two seconds to queue the commands of an action
//! on 10,000 agents (BENCHMARKS.md, fan-out). sqlx gives no access to its socket, so once a
//! connection is open this asks PostgreSQL which client port it came from and sets the option
//! on this process's socket bound to that port. Remove once sqlx sets it again.

use sqlx::AnyConnection;

/// Sets TCP_NODELAY on `conn`'s socket; a connection over a Unix socket has nothing to set.
pub(crate) async fn set(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let port: Option<i32> = sqlx::query_scalar("SELECT inet_client_port()")
        .fetch_one(&mut *conn)
        .await?;
    if let Some(port) = port.and_then(|p| u16::try_from(p).ok()) {
        if let Err(e) = set_on_local_port(port) {
            tracing::debug!("cannot set TCP_NODELAY on the database connection: {e}");
        }
    }
    Ok(())
}

/// Sets TCP_NODELAY on this process's connected TCP socket whose local port is `port`.
#[cfg(target_os = "linux")]
fn set_on_local_port(port: u16) -> std::io::Result<()> {
    use std::os::fd::{BorrowedFd, RawFd};
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(fd) = entry?.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: the descriptor is only borrowed for the calls below, which fail harmlessly
        // (ENOTSOCK, EBADF) on a descriptor that is not a socket or was closed meanwhile.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let bound_here = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() == port);
        let connected_tcp =
            socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM) && socket.peer_addr().is_ok();
        if bound_here && connected_tcp {
            return socket.set_tcp_nodelay(true);
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_on_local_port(_port: u16) -> std::io::Result<()> {
    Ok(())
}
