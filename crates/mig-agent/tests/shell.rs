//! `mig-agent shell` driven through a real pseudo-terminal (tmux), as a person uses it.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let session = format!("mig-shell-{}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .expect("tmux must be installed (apt install tmux)");
        assert!(ok.success());
        Tmux { session }
    }

    fn send(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn line(&self, text: &str) {
        // tmux reads an argument ending in ";" as a command separator: send that one escaped.
        match text.strip_suffix(';') {
            Some(body) => {
                self.send(&["-l", body]);
                self.send(&["\\;"]);
            }
            None => self.send(&["-l", text]),
        }
        self.send(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-S", "-300", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, text: &str) {
        let start = Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {text:?} in the shell:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
fn shell_through_a_pseudo_terminal() {
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "env HOME={} {} shell; echo shell exited $?; sleep 30",
        home.path().display(),
        env!("CARGO_BIN_EXE_mig-agent")
    );
    let t = Tmux::start(&command);
    t.wait("mig>");
    // An aligned table, a statement over two lines.
    t.line("SELECT pid, name FROM processes");
    t.wait("...>");
    t.line("WHERE pid = 1;");
    t.wait("| pid | name");
    t.line(".tables proc");
    t.wait("=> process_memory_map");
    t.line(".schema uptime");
    t.wait("CREATE TABLE \"uptime\"(\"days\" INTEGER");
    t.line(".mode line");
    t.line("SELECT 40 + 2 AS answer;");
    t.wait("answer = 42");
    t.line(".mode json");
    t.line("SELECT 'x' AS k;");
    t.wait("\"k\": \"x\"");
    t.line(".mode csv");
    t.line("SELECT 'a,b' AS v;");
    t.wait("\"a,b\"");
    t.line("SELECT * FROM nope;");
    t.wait("Error: sql: no such table: nope");
    // Completion: ".sch<Tab>" becomes ".schema".
    t.send(&["-l", ".sch"]);
    t.send(&["Tab"]);
    t.send(&["-l", " users"]);
    t.send(&["Enter"]);
    t.wait("CREATE TABLE \"users\"");
    t.line(".quit");
    t.wait("shell exited 0");
    let history = std::fs::read_to_string(home.path().join(".mig_agent_history")).unwrap();
    assert!(history.contains(".mode line"), "{history}");
    drop(t);

    // History survives a restart: the up arrow brings back the last entry.
    let t = Tmux::start(&command);
    t.wait("mig>");
    t.send(&["Up"]);
    t.wait("mig> .quit");
}
