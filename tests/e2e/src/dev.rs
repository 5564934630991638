//! `mig-server dev` as README runs it: the one-command platform, started in a folder and read
//! up to the moment it says what to type next.

use crate::{bin, free_port};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `mig-server dev`.
pub struct Dev {
    child: Child,
    /// What it printed up to "Stop with Ctrl-C".
    pub said: String,
    /// Its API and relay ports.
    pub ports: (u16, u16),
}

impl Dev {
    /// `mig-server dev --data-dir DIR` on fresh ports, with `extra` arguments. A port can be
    /// taken between picking it and binding it (other tests run alongside): then dev exits at
    /// once, and it is started again on other ports.
    pub fn start(dir: &Path, extra: &[&str]) -> Dev {
        Dev::start_from(&bin("mig-server"), dir, extra)
    }

    /// The same with another `mig-server` binary: an installed one (tests/packages.rs).
    pub fn start_from(server: &Path, dir: &Path, extra: &[&str]) -> Dev {
        for _ in 0..2 {
            if let Ok(dev) = Dev::try_start(server, dir, (free_port(), free_port()), extra) {
                return dev;
            }
        }
        Dev::retry_start(server, dir, (free_port(), free_port()), extra)
    }

    /// The same on given ports (a restart keeps the agents' and clients' configurations).
    /// The ports were free a moment ago but a test running alongside may hold one briefly:
    /// a start that fails is tried again, a few times, before the test fails with what dev
    /// said.
    pub fn start_on(dir: &Path, ports: (u16, u16), extra: &[&str]) -> Dev {
        Dev::retry_start(&bin("mig-server"), dir, ports, extra)
    }

    fn retry_start(server: &Path, dir: &Path, ports: (u16, u16), extra: &[&str]) -> Dev {
        let mut said = String::new();
        for _ in 0..5 {
            match Dev::try_start(server, dir, ports, extra) {
                Ok(dev) => return dev,
                Err(why) => said = why,
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("dev exited early: {said}")
    }

    fn try_start(
        server: &Path,
        dir: &Path,
        ports: (u16, u16),
        extra: &[&str],
    ) -> Result<Dev, String> {
        let mut child = Command::new(server)
            .args(["dev", "--data-dir"])
            .arg(dir)
            .args(["--api-listen", &format!("127.0.0.1:{}", ports.0)])
            .args(["--relay-listen", &format!("127.0.0.1:{}", ports.1)])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mig-server dev");
        // What it says on stderr (its logs, the reason it stopped), kept for the failure
        // message and drained so that it never blocks on a full pipe.
        let stderr = child.stderr.take().expect("dev's stderr");
        let errors = std::thread::spawn(move || {
            let mut kept = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if kept.len() < 64 << 10 {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            kept
        });
        let mut out = BufReader::new(child.stdout.take().expect("dev's stdout"));
        let mut said = String::new();
        while !said.contains("Stop with Ctrl-C") {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                let errors = errors.join().unwrap_or_default();
                return Err(format!("{said}\n{errors}"));
            }
            said.push_str(&line);
        }
        // Keep reading (and dropping) what it says, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        Ok(Dev { child, said, ports })
    }

    /// Stops it as a service manager would (SIGTERM), and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
