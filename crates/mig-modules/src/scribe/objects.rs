//! Preparing objects: collecting each object's values ("criteria" in scribe), as
//! `(identifier, value)` pairs: a file and a captured group, a package and its version, a
//! raw identifier and its value.
//!
//! An object that cannot be prepared fully carries an error instead of values, and every test
//! on it reports that error. scribe skipped unreadable files silently, which turns "could not
//! read /etc/shadow" into "root's password is not hashed"; a compliance answer must not be
//! built on data that was not read.

use super::lines::each_line;
use super::locate::{dir_of, Locator};
use super::model::{FileContent, Model, Source, CHAIN_ROOT};
use crate::os::packages::{self, Package};
use crate::query::version::{compare, Flavor};
use crate::Context;
use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Criterion {
    pub identifier: String,
    pub value: String,
}

/// Where package objects find the installed packages.
pub(crate) enum Packages {
    /// dpkg, RPM and apk databases (`os::packages::installed`).
    System,
    /// A fixed list, so that documents can be tested without depending on the host.
    #[cfg(test)]
    Fixed(Vec<Package>),
}

/// What preparing objects needs, shared by every object of a run.
pub(crate) struct Env<'a> {
    pub ctx: &'a Context,
    packages: Packages,
    installed: OnceCell<Result<Vec<Package>, String>>,
    locator: Locator,
    /// Values still allowed across all objects (`ctx.limits.max_elements`).
    budget: Cell<usize>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(ctx: &'a Context, packages: Packages) -> Env<'a> {
        Env {
            ctx,
            packages,
            installed: OnceCell::new(),
            locator: Locator::new(),
            budget: Cell::new(ctx.limits.max_elements),
        }
    }

    fn take(&self, n: usize) -> Result<(), String> {
        let left = self.budget.get();
        if n > left {
            self.budget.set(0);
            return Err(format!(
                "more than {} values across the document's objects: over the agent's result limit",
                self.ctx.limits.max_elements
            ));
        }
        self.budget.set(left - n);
        Ok(())
    }

    /// The installed packages, read once per run and only if an object asks.
    fn installed(&self) -> Result<&[Package], String> {
        let list = self.installed.get_or_init(|| match &self.packages {
            #[cfg(test)]
            Packages::Fixed(list) => Ok(list.clone()),
            Packages::System => {
                let (list, errors) = packages::installed();
                // A database that could not be read would make "not installed" a false answer.
                if errors.is_empty() {
                    Ok(list)
                } else {
                    Err(errors.join("; "))
                }
            }
        });
        list.as_deref().map_err(Clone::clone)
    }

    fn locate(&self, path: &str, file: &regex::Regex) -> Result<Vec<PathBuf>, String> {
        self.locator.locate(path, file, self.ctx, self.budget.get())
    }
}

/// Every object's values, by object index. Chain objects only run from import chains: their
/// slot stays empty.
pub(crate) fn prepare_all(model: &Model, env: &Env) -> Vec<Result<Vec<Criterion>, String>> {
    model
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if o.is_chain {
                return Ok(Vec::new());
            }
            env.ctx.check().map_err(|stop| stop.to_string())?;
            prepare(model, i, None, env)
        })
        .collect()
}

/// One object's values; `chain_root` is set when an import chain runs it.
fn prepare(
    model: &Model,
    i: usize,
    chain_root: Option<&str>,
    env: &Env,
) -> Result<Vec<Criterion>, String> {
    let values = match &model.objects[i].source {
        // It counts its own values against the limit (its chains count theirs).
        Source::FileContent(fc) => return file_content(model, fc, chain_root, env),
        Source::FileName { path, file } => {
            let mut out = Vec::new();
            for f in env.locate(path, file)? {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // scribe keeps the first capture group; a regex without one finds nothing.
                if let Some(c) = file.captures(&name).filter(|c| c.len() >= 2) {
                    out.push(Criterion {
                        identifier: f.to_string_lossy().into_owned(),
                        value: c.get(1).map_or("", |m| m.as_str()).to_string(),
                    });
                }
            }
            out
        }
        Source::HasLine {
            path,
            file,
            expression,
        } => {
            let mut out = Vec::new();
            for f in env.locate(path, file)? {
                let mut found = false;
                each_line(&f, env.ctx, |line| {
                    found = expression.is_match(line);
                    !found
                })?;
                out.push(Criterion {
                    identifier: f.to_string_lossy().into_owned(),
                    value: found.to_string(),
                });
            }
            out
        }
        Source::Package {
            name,
            collect,
            newest,
        } => {
            let installed = env.installed()?;
            let mut found: Vec<&Package> = installed
                .iter()
                .filter(|p| match collect {
                    Some(re) => re.is_match(&p.name),
                    None => p.name == *name,
                })
                .collect();
            if *newest {
                // The first of equal versions wins, as in scribe.
                let best = found.iter().copied().reduce(|best, p| {
                    if compare(&best.version, &p.version, Flavor::Rhel).is_lt() {
                        p
                    } else {
                        best
                    }
                });
                found = best.into_iter().collect();
            }
            found
                .into_iter()
                .map(|p| Criterion {
                    identifier: p.name.clone(),
                    value: p.version.clone(),
                })
                .collect()
        }
        Source::Raw(values) => values
            .iter()
            .map(|(identifier, value)| Criterion {
                identifier: identifier.clone(),
                value: value.clone(),
            })
            .collect(),
    };
    env.take(values.len())?;
    Ok(values)
}

fn file_content(
    model: &Model,
    fc: &FileContent,
    chain_root: Option<&str>,
    env: &Env,
) -> Result<Vec<Criterion>, String> {
    let path = match chain_root {
        Some(root) => fc.path.replace(&format!("${{{CHAIN_ROOT}}}"), root),
        None => fc.path.clone(),
    };
    let mut values = Vec::new();
    let mut matched: Vec<PathBuf> = Vec::new();
    let limit = env.budget.get();
    for f in env.locate(&path, &fc.file)? {
        let identifier = f.to_string_lossy().into_owned();
        let mut any = false;
        each_line(&f, env.ctx, |line| {
            if let Some(caps) = fc.expression.captures(line) {
                any = true;
                // Every capture group is a value; a group that did not take part is "".
                for g in caps.iter().skip(1) {
                    values.push(Criterion {
                        identifier: identifier.clone(),
                        value: g.map_or("", |m| m.as_str()).to_string(),
                    });
                }
            }
            // Stop reading once over the limit; `take` below reports it.
            values.len() <= limit
        })?;
        if values.len() > limit {
            env.take(values.len())?;
        }
        if any {
            matched.push(f);
        }
    }
    env.take(values.len())?;
    // Import chains: each chain object runs once per file that matched, with ${chain_root}
    // set to that file's directory; its values count as that file's.
    for f in &matched {
        let root = dir_of(f);
        let identifier = f.to_string_lossy().into_owned();
        for &c in &fc.chain {
            for v in prepare(model, c, Some(&root), env)? {
                values.push(Criterion {
                    identifier: identifier.clone(),
                    value: v.value,
                });
            }
        }
    }
    Ok(match &fc.concat {
        Some(sep) => concat(values, sep),
        None => values,
    })
}

/// scribe's `concat`: the values of each identifier joined with `sep`, in the order found
/// (scribe's order came from a Go map, so it varied from run to run).
pub(crate) fn concat(values: Vec<Criterion>, sep: &str) -> Vec<Criterion> {
    let mut out: Vec<Criterion> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for c in values {
        match index.get(&c.identifier) {
            Some(&i) => {
                let v = &mut out[i].value;
                // As in scribe, an empty value so far takes the next one without a separator.
                if !v.is_empty() {
                    v.push_str(sep);
                }
                v.push_str(&c.value);
            }
            None => {
                index.insert(c.identifier.clone(), out.len());
                out.push(c);
            }
        }
    }
    out
}
