//! Which paths the `file` and `hash` tables visit, from the WHERE clause: exact paths,
//! directories (their entries, one level), or osquery's LIKE patterns, where `%` matches
//! within one path component and a trailing `%%` matches everything below (`/usr/lib/%%`, or
//! `/usr/lib%%`: /usr/lib, /usr/lib64 and all below them); a `%%` anywhere else is a `%`.
//!
//! Expansion streams: a recursive pattern over /usr yields its first path at once and never
//! holds the whole tree. Recursion never follows a symbolic link to a directory, so a link
//! loop cannot make it go round (and no depth cut-off is needed to stop it).

use std::collections::VecDeque;
use std::fs::ReadDir;
use std::path::{Path, PathBuf};

/// One component of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `%` (any run of characters) and `_` (one character), inside one component.
    Glob(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    base: PathBuf,
    parts: Vec<Part>,
    /// Ends with `/%%`: every entry below, at any depth.
    recursive: bool,
}

impl Pattern {
    pub(crate) fn parse(like: &str) -> Result<Pattern, String> {
        if !like.starts_with('/') {
            return Err(format!(
                "LIKE pattern {like:?}: a path pattern must be absolute (start with /)"
            ));
        }
        let comps: Vec<&str> = like.split('/').filter(|c| !c.is_empty()).collect();
        let mut base = PathBuf::from("/");
        let mut parts = Vec::new();
        let mut recursive = false;
        for (n, c) in comps.iter().enumerate() {
            let last = n + 1 == comps.len();
            // osquery's reading: a trailing `%%` recurses; anywhere else it is a `%`.
            let c = match c.strip_suffix("%%") {
                Some(head) if last => {
                    recursive = true;
                    if head.is_empty() {
                        continue;
                    }
                    format!("{}%", head.replace("%%", "%"))
                }
                _ => c.replace("%%", "%"),
            };
            let c = c.as_str();
            if c.contains(['%', '_']) {
                parts.push(Part::Glob(c.to_string()));
            } else if parts.is_empty() {
                base.push(c);
            } else {
                parts.push(Part::Literal(c.to_string()));
            }
        }
        Ok(Pattern {
            base,
            parts,
            recursive,
        })
    }
}

/// SQL LIKE on one component, ASCII case-insensitive like SQLite's (SQLite checks every row
/// again, so matching more here is harmless and matching less would lose rows). Greedy with
/// one backtrack point: linear-ish, whatever the number of `%`.
fn like_match(pattern: &[u8], name: &[u8]) -> bool {
    let char_len = |at: usize| {
        let mut k = at + 1;
        while k < name.len() && (name[k] & 0xC0) == 0x80 {
            k += 1;
        }
        k - at
    };
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < name.len() {
        match pattern.get(p) {
            Some(b'%') => {
                star = Some((p, s));
                p += 1;
            }
            Some(b'_') => {
                p += 1;
                s += char_len(s);
            }
            Some(c) if c.eq_ignore_ascii_case(&name[s]) => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    let next = ss + char_len(ss);
                    star = Some((sp, next));
                    p = sp + 1;
                    s = next;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'%')
}

enum Step {
    /// Continue matching `parts[k..]` below this path.
    Visit(PathBuf, usize),
    /// Entries of a directory being matched against `parts[k]` (`None`: every entry, recursively).
    Dir(PathBuf, ReadDir, Option<usize>),
}

/// Paths matching one pattern, found one at a time.
pub(crate) struct Expand {
    pattern: Pattern,
    steps: Vec<Step>,
}

impl Expand {
    pub(crate) fn new(pattern: Pattern) -> Expand {
        let base = pattern.base.clone();
        Expand {
            pattern,
            steps: vec![Step::Visit(base, 0)],
        }
    }

    fn open(&mut self, dir: PathBuf, k: Option<usize>) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            self.steps.push(Step::Dir(dir, entries, k));
        }
    }
}

impl Iterator for Expand {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            match self.steps.pop()? {
                Step::Visit(path, k) if k == self.pattern.parts.len() => {
                    if self.pattern.recursive {
                        self.open(path, None);
                    } else if std::fs::symlink_metadata(&path).is_ok() {
                        return Some(path);
                    }
                }
                Step::Visit(path, k) => match &self.pattern.parts[k] {
                    Part::Literal(name) => self.steps.push(Step::Visit(path.join(name), k + 1)),
                    Part::Glob(_) => self.open(path, Some(k)),
                },
                Step::Dir(dir, mut entries, k) => {
                    let Some(entry) = entries.next() else {
                        continue;
                    };
                    let Ok(entry) = entry else {
                        self.steps.push(Step::Dir(dir, entries, k));
                        continue;
                    };
                    let child = entry.path();
                    match k {
                        None => {
                            // Recursion: never into a symlink (file_type does not follow it).
                            let descend = entry.file_type().is_ok_and(|t| t.is_dir());
                            self.steps.push(Step::Dir(dir, entries, None));
                            if descend {
                                // Its entries come next, right after the directory itself.
                                self.open(child.clone(), None);
                            }
                            return Some(child);
                        }
                        Some(k) => {
                            let Part::Glob(glob) = &self.pattern.parts[k] else {
                                continue;
                            };
                            let matches =
                                like_match(glob.as_bytes(), entry.file_name().as_encoded_bytes());
                            self.steps.push(Step::Dir(dir, entries, Some(k)));
                            if matches {
                                let last = k + 1 == self.pattern.parts.len();
                                if last && !self.pattern.recursive {
                                    return Some(child);
                                }
                                // One level through a glob may follow a link: it cannot loop.
                                if child.is_dir() {
                                    self.steps.push(Step::Visit(child.clone(), k + 1));
                                }
                                // `/usr/lib%%`: /usr/lib64 itself matches, and what is below.
                                if last {
                                    return Some(child);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where the paths of a `file` or `hash` scan come from.
pub(crate) enum Source {
    /// `path = …` / `path IN (…)`: exactly these.
    Exact(VecDeque<String>),
    /// `directory = …`: the entries of each directory, one level.
    Dirs(VecDeque<String>, Option<(String, ReadDir)>),
    /// `path LIKE …`: each pattern's expansion.
    Patterns(VecDeque<Pattern>, Option<Expand>),
}

/// One path to report, with its directory as the row shows it.
pub(crate) struct Found {
    pub path: String,
    pub directory: String,
}

fn parent_of(path: &str) -> String {
    match Path::new(path).parent() {
        Some(p) if p.as_os_str().is_empty() => ".".into(),
        Some(p) => p.to_string_lossy().into_owned(),
        None => path.to_string(),
    }
}

/// The entries of `dir` that `keep` accepts, sorted; none when it cannot be read (a missing
/// or unreadable directory has nothing to list).
pub(crate) fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| keep(p)).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// `/etc/` and `/etc` are the same directory.
pub(crate) fn normalize_dir(d: &str) -> String {
    let t = d.trim_end_matches('/');
    if t.is_empty() && d.starts_with('/') {
        "/".into()
    } else {
        t.to_string()
    }
}

impl Source {
    pub(crate) fn exact(paths: Vec<String>) -> Source {
        Source::Exact(paths.into())
    }

    pub(crate) fn dirs(dirs: Vec<String>) -> Source {
        Source::Dirs(dirs.into_iter().map(|d| normalize_dir(&d)).collect(), None)
    }

    pub(crate) fn patterns(likes: &[String]) -> Result<Source, String> {
        let p = likes
            .iter()
            .map(|l| Pattern::parse(l))
            .collect::<Result<VecDeque<_>, _>>()?;
        Ok(Source::Patterns(p, None))
    }
}

impl Iterator for Source {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        match self {
            Source::Exact(paths) => {
                let path = paths.pop_front()?;
                Some(Found {
                    directory: parent_of(&path),
                    path,
                })
            }
            Source::Dirs(dirs, current) => loop {
                if let Some((dir, entries)) = current {
                    match entries.next() {
                        Some(Ok(e)) => {
                            return Some(Found {
                                path: Path::new(dir.as_str())
                                    .join(e.file_name())
                                    .to_string_lossy()
                                    .into_owned(),
                                directory: dir.clone(),
                            })
                        }
                        Some(Err(_)) => continue,
                        None => *current = None,
                    }
                }
                let dir = dirs.pop_front()?;
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    *current = Some((dir, entries));
                }
            },
            Source::Patterns(patterns, current) => loop {
                if let Some(found) = current.as_mut().and_then(Iterator::next) {
                    let path = found.to_string_lossy().into_owned();
                    return Some(Found {
                        directory: parent_of(&path),
                        path,
                    });
                }
                *current = Some(Expand::new(patterns.pop_front()?));
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn expand(p: &str) -> BTreeSet<String> {
        Expand::new(Pattern::parse(p).unwrap())
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn one_level_and_recursive_patterns() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_str().unwrap().to_string();
        std::fs::create_dir_all(d.path().join("a/b/c")).unwrap();
        std::fs::write(d.path().join("a/x.conf"), "").unwrap();
        std::fs::write(d.path().join("a/b/y.conf"), "").unwrap();
        std::fs::write(d.path().join("a/b/c/z.txt"), "").unwrap();
        // A loop: a/b/c/loop -> a. Recursion must not follow it, and must still list it.
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("a/b/c/loop")).unwrap();
        let one = expand(&format!("{root}/a/%"));
        assert_eq!(
            one,
            [format!("{root}/a/b"), format!("{root}/a/x.conf")]
                .into_iter()
                .collect()
        );
        let all = expand(&format!("{root}/a/%%"));
        assert_eq!(all.len(), 6, "{all:?}");
        assert!(all.contains(&format!("{root}/a/b/c/loop")));
        assert!(all.contains(&format!("{root}/a/b/c/z.txt")));
        let conf = expand(&format!("{root}/%/%.CONF"));
        assert_eq!(
            conf,
            [format!("{root}/a/x.conf")].into_iter().collect(),
            "case-insensitive like SQLite's LIKE"
        );
        let deep = expand(&format!("{root}/a/_/%/z.txt"));
        assert_eq!(deep, [format!("{root}/a/b/c/z.txt")].into_iter().collect());
        // osquery's `%%` elsewhere than at the end is a `%`; `b%%` recurses from what b%
        // matches, which is listed too (it matches the LIKE pattern itself).
        assert_eq!(
            expand(&format!("{root}/a/%%/y.conf")),
            expand(&format!("{root}/a/%/y.conf"))
        );
        let below_b = expand(&format!("{root}/a/b%%"));
        assert_eq!(below_b.len(), 5, "{below_b:?}");
        assert!(below_b.contains(&format!("{root}/a/b")));
        assert!(below_b.contains(&format!("{root}/a/b/c/z.txt")));
        assert!(expand(&format!("{root}/nope/%%")).is_empty());
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(Pattern::parse("etc/%").unwrap_err().contains("absolute"));
    }

    #[test]
    fn sources() {
        let found: Vec<(String, String)> = Source::exact(vec!["/etc/passwd".into()])
            .map(|f| (f.path, f.directory))
            .collect();
        assert_eq!(found, vec![("/etc/passwd".to_string(), "/etc".to_string())]);
        assert!(Source::dirs(vec!["/etc/".into()])
            .any(|f| f.path == "/etc/passwd" && f.directory == "/etc"));
        assert!(like_match(b"%", b""));
        assert!(like_match("_é".as_bytes(), "xé".as_bytes()));
        assert!(!like_match(b"a_", b"a"));
    }
}
