//! The JSON lines exporter: one event per line, appended to a file that Filebeat, Vector or
//! Logstash tail, rotated by size (`file` → `file.1` → … → `file.<keep>`, the oldest dropped).
//! A batch counts as delivered once it is written and synced to disk.

use super::event::Event;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct JsonLines {
    path: PathBuf,
    rotate_bytes: u64,
    keep: usize,
}

/// `file.<n>`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl JsonLines {
    pub fn new(path: PathBuf, rotate_bytes: u64, keep: usize) -> JsonLines {
        JsonLines {
            path,
            rotate_bytes,
            keep,
        }
    }

    /// Moves `file` to `file.1` (and so on down) when it reached its size.
    fn rotate_if_full(&self) -> std::io::Result<()> {
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size < self.rotate_bytes {
            return Ok(());
        }
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(numbered(&self.path, self.keep));
        for n in (1..self.keep).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))
    }

    pub async fn deliver(&mut self, events: &[Event]) -> Result<(), String> {
        let mut text = String::new();
        for e in events {
            text.push_str(&e.body.to_string());
            text.push('\n');
        }
        let (path, rotate_bytes, keep) = (self.path.clone(), self.rotate_bytes, self.keep);
        let sink = JsonLines {
            path,
            rotate_bytes,
            keep,
        };
        tokio::task::spawn_blocking(move || {
            sink.rotate_if_full()?;
            if let Some(dir) = sink.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&sink.path)?;
            file.write_all(text.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn lines_are_appended_and_rotated_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        let mut sink = JsonLines::new(path.clone(), 20, 2);
        let event = |n: u32| Event {
            id: n.to_string(),
            host: "h".into(),
            time: String::new(),
            body: json!({"n": n, "pad": "xxxxxxxxxx"}),
        };
        for n in 0..4 {
            sink.deliver(&[event(n)]).await.unwrap();
        }
        // Each line is 27 bytes, more than the 20 a file may reach: each starts a new file.
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        assert!(read(&path).contains(r#""n":3"#));
        assert!(read(&numbered(&path, 1)).contains(r#""n":2"#));
        assert!(read(&numbered(&path, 2)).contains(r#""n":1"#));
        assert!(!numbered(&path, 3).exists(), "only `keep` old files");
    }
}
