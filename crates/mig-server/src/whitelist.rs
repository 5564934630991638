//! The agent whitelist: exact queuelocs, or `re:<regex>` patterns.

/// A whitelist regex, size-limited.
pub fn compile(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(pattern).map_err(|e| e.to_string())
}

pub struct Whitelist {
    exact: std::collections::HashSet<String>,
    patterns: Vec<regex_lite::Regex>,
}

impl Whitelist {
    pub fn new(entries: &[String]) -> Result<Whitelist, String> {
        let mut w = Whitelist {
            exact: Default::default(),
            patterns: Vec::new(),
        };
        for e in entries {
            match e.strip_prefix("re:") {
                Some(re) => w.patterns.push(compile(re)?),
                None => {
                    w.exact.insert(e.clone());
                }
            }
        }
        Ok(w)
    }

    pub fn allows(&self, queueloc: &str) -> bool {
        self.exact.contains(queueloc) || self.patterns.iter().any(|p| p.is_match(queueloc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_patterns() {
        let w = Whitelist::new(&["linux.a.1".into(), "re:^darwin\\.".into()]).unwrap();
        assert!(w.allows("linux.a.1"));
        assert!(!w.allows("linux.a.2"));
        assert!(w.allows("darwin.mac.9"));
        assert!(Whitelist::new(&["re:(".into()]).is_err());
    }
}
