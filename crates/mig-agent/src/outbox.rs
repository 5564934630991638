//! Results waiting for the server's acknowledgement, on disk: a result survives a lost
//! connection, a relay restart or an agent restart, and is sent until acknowledged. Bounded:
//! beyond `max_bytes` the oldest results are dropped (and logged); a result larger than the
//! relay takes is refused (it could never leave, and would be retried on every connection).

use std::path::{Path, PathBuf};

pub struct Outbox {
    dir: PathBuf,
    max_bytes: u64,
    /// The largest result the relay takes.
    max_message: usize,
}

impl Outbox {
    /// The commands' results: `<state_dir>/outbox`.
    pub fn open(state_dir: &Path, max_bytes: u64, max_message: usize) -> std::io::Result<Outbox> {
        Outbox::open_in(state_dir.join("outbox"), max_bytes, max_message)
    }

    /// An outbox in `dir` (the schedules' runs have their own, `<state_dir>/runs`).
    pub fn open_in(dir: PathBuf, max_bytes: u64, max_message: usize) -> std::io::Result<Outbox> {
        std::fs::create_dir_all(&dir)?;
        let outbox = Outbox {
            dir,
            max_bytes,
            max_message,
        };
        // Kept by an agent with a larger cap, or before the cap existed: they would never go.
        for id in outbox.ids() {
            let size = std::fs::metadata(outbox.path(id)).map_or(0, |m| m.len());
            if size > max_message as u64 {
                tracing::warn!(
                    "{}: message {id} ({size} bytes) is more than the relay takes: dropped",
                    outbox.dir.display()
                );
                outbox.remove(id);
            }
        }
        Ok(outbox)
    }

    fn path(&self, command_id: u64) -> PathBuf {
        self.dir.join(format!("{command_id}.json"))
    }

    /// Keeps a result (a command JSON with its results) until acknowledged.
    pub fn put(&self, command_id: u64, json: &str) -> Result<(), String> {
        if json.len() > self.max_message {
            return Err(format!(
                "outbox: the result of command {command_id} is {} bytes, more than the {} the relay takes: refused",
                json.len(),
                self.max_message
            ));
        }
        let tmp = self.dir.join(format!("{command_id}.tmp"));
        let ok =
            std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, self.path(command_id)));
        if let Err(e) = ok {
            tracing::error!("cannot keep the result of command {command_id}: {e}");
        }
        self.enforce_bound();
        Ok(())
    }

    pub fn get(&self, command_id: u64) -> Option<String> {
        std::fs::read_to_string(self.path(command_id)).ok()
    }

    pub fn remove(&self, command_id: u64) {
        let _ = std::fs::remove_file(self.path(command_id));
    }

    /// Every unacknowledged result, oldest command first.
    pub fn all(&self) -> Vec<(u64, String)> {
        let mut ids = self.ids();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|id| self.get(id).map(|j| (id, j)))
            .collect()
    }

    fn ids(&self) -> Vec<u64> {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn enforce_bound(&self) {
        let mut ids = self.ids();
        ids.sort_unstable();
        let size = |id: &u64| {
            std::fs::metadata(self.path(*id))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        let mut total: u64 = ids.iter().map(size).sum();
        for id in ids {
            if total <= self.max_bytes {
                break;
            }
            total -= size(&id);
            tracing::warn!(
                "outbox over {} bytes: dropping the unsent result of command {id}",
                self.max_bytes
            );
            self.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_until_removed_and_stays_bounded() {
        let d = tempfile::tempdir().unwrap();
        let o = Outbox::open(d.path(), 25, 12).unwrap();
        o.put(2, "0123456789").unwrap();
        o.put(1, "0123456789").unwrap();
        assert_eq!(
            o.all().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2]
        );
        o.put(3, "0123456789").unwrap();
        // More than the relay takes: refused, never kept.
        let err = o.put(4, "0123456789abc").unwrap_err();
        assert!(err.contains("13 bytes, more than the 12"), "{err}");
        assert!(o.get(4).is_none());
        // 30 bytes > 25: the oldest command's result goes.
        assert_eq!(
            o.all().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![2, 3]
        );
        o.remove(2);
        assert!(o.get(2).is_none());
        assert!(o.get(3).is_some());
    }
}
