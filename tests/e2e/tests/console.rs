//! `mig console` driven through a real pseudo-terminal (tmux), as a person would use it.

use mig_e2e::{acl, bin, wait_for, Platform};
use std::process::Command;
use std::time::Duration;

/// A tmux session on a tmux server of its own (its own socket): one session's server shutting
/// down never races the next session's start.
struct Tmux {
    session: String,
}

static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Tmux {
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.session]);
        c
    }

    fn start(command: &str) -> Tmux {
        let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Tmux {
            session: format!("mig-console-{}-{n}", std::process::id()),
        };
        let ok = t
            .tmux()
            .args([
                "new-session",
                "-d",
                "-s",
                &t.session,
                "-x",
                "220",
                "-y",
                "60",
                command,
            ])
            .status()
            .expect("tmux must be installed (apt install tmux)");
        assert!(ok.success());
        t
    }

    fn send(&self, keys: &[&str]) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-S", "-300", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, text: &str) {
        let start = std::time::Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {text:?} on the console:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// Waits until `n` lines of the screen satisfy `line`.
    /// Waits until the console shows an empty prompt as its last line: typing earlier could
    /// be dropped when the line editor takes the terminal back.
    fn wait_prompt(&self) {
        let start = std::time::Instant::now();
        loop {
            let screen = self.screen();
            let last = screen
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            if last.starts_with("mig") && last.trim_end().ends_with('>') {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for a prompt on the console:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_lines(&self, what: &str, n: usize, line: impl Fn(&str) -> bool) {
        let start = std::time::Instant::now();
        while self.screen().lines().filter(|l| line(l)).count() < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {n} × {what} on the console:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

#[test]
fn console_through_a_pseudo_terminal() {
    let p = Platform::start();
    let _a = p.agent("desk", &[&p.admin], acl(1, &[&p.admin]), "");
    p.wait_online("desk");
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "env HOME={} MIG_CONFIG={} {} console; echo console exited $?; sleep 30",
        home.path().display(),
        p.client_config(&p.admin).display(),
        bin("mig").display()
    );

    let t = Tmux::start(&command);
    t.wait("mig>");
    // The platform at a glance, as a table (not raw JSON).
    t.line("status");
    t.wait("WHAT");
    t.wait_lines("status rows", 1, |l| {
        l.starts_with("agents") && l.contains("online") && l.trim_end().ends_with('1')
    });
    t.wait_lines("relay row", 1, |l| {
        l.starts_with("relay connections") && l.trim_end().ends_with('1')
    });
    t.line("search agent where status=online and name=desk");
    t.wait("1 result(s)");
    // Completion: "sea<Tab>" becomes "search ".
    t.send(&["-l", "sea"]);
    t.send(&["Tab"]);
    t.send(&["-l", "investigator"]);
    t.send(&["Enter"]);
    t.wait(&p.admin.name);
    t.line("create action");
    t.wait("mig create>");
    t.line("add file -path /etc -name ^hostname$");
    t.wait("1 operation(s)");
    t.line("preview");
    t.wait("matches 1 agent(s)");
    t.line("launch");
    t.wait("desk /etc/hostname [lastmodified:");
    t.wait("completed");
    t.line("results found");
    t.wait("1 command(s)");
    t.line("counters");
    t.wait("success 1");
    t.line("json");
    t.wait("\"syntaxversion\"");
    // A finished action cannot be cancelled, and the console says why.
    t.line("cancel");
    t.wait("is already completed");
    // Copy it into a new draft and launch that at once: a second action, run again (the
    // same operations signed twice within a second are still two actions to the agent).
    t.line("copy");
    t.wait("new action from");
    t.line("launch");
    t.wait_lines("results", 2, |l| {
        l.starts_with("desk /etc/hostname [lastmodified:")
    });
    // Type on only once it has finished (typed-ahead lines are dropped when the line
    // editor takes the terminal back).
    t.wait_lines("finished actions", 2, |l| {
        l.starts_with("action ") && l.ends_with(" completed")
    });
    t.wait_prompt();
    t.line("back");
    t.wait_prompt();
    t.line("history");
    // The history listing's own line (the commands typed earlier are on the screen already).
    t.wait_lines("history's own entry", 1, |l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() == 2 && words[0].parse::<u32>().is_ok() && words[1] == "history"
    });
    t.wait_prompt();
    t.line("exit");
    t.wait("console exited 0");
    wait_for(
        "the console to exit and save its history",
        Duration::from_secs(10),
        || {
            let h = std::fs::read_to_string(home.path().join(".mig_history")).ok()?;
            h.contains("exit").then_some(())
        },
    );
    drop(t);

    // History survives a restart: the up arrow brings back the last command.
    let t = Tmux::start(&command);
    t.wait("mig>");
    t.send(&["Up"]);
    t.wait("mig> exit");
}
