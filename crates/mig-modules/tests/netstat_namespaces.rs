//! netstat's `-namespaces`: a socket listening inside another network namespace (a container's,
//! here one made with `unshare --net`) is found with the flag, with that namespace named, and
//! not without it.

use mig_modules::{lookup, Context};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A process listening on `port` in a network namespace of its own; killed on drop.
struct Contained(Child);

impl Contained {
    fn listen(port: u16) -> Contained {
        let script = format!(
            "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', {port}))\ns.listen()\n\
             print('ready', flush=True)\ntime.sleep(120)\n"
        );
        let mut child = Command::new("unshare")
            .args(["--net", "python3", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare (util-linux) and python3 must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the contained listener did not start");
        Contained(child)
    }

    fn namespace(&self) -> String {
        std::fs::read_link(format!("/proc/{}/ns/net", self.0.id()))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listening(port: u16, namespaces: bool) -> Vec<Value> {
    let r = lookup("netstat").unwrap().run_json(
        &json!({"listeningport": [port.to_string()], "namespaces": namespaces}),
        &Context::default(),
    );
    assert!(r.success, "{:?}", r.errors);
    r.elements["listeningport"][port.to_string()]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn listeners_in_other_network_namespaces_are_found_with_the_flag() {
    // A port nothing listens on here: taken, then let go.
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let contained = Contained::listen(port);
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(
        contained.namespace(),
        own.to_string_lossy(),
        "unshare --net gave no namespace of its own"
    );

    assert!(
        listening(port, false).is_empty(),
        "found without -namespaces: {:?}",
        listening(port, false)
    );
    let found = listening(port, true);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["localport"], port as f64);
    assert_eq!(found[0]["namespace"], contained.namespace(), "{found:#?}");
}
