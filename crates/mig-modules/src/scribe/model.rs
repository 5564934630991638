//! Checks a document and builds what runs: regexes compiled, variables expanded, names
//! resolved to indexes, import chains and test dependencies checked for cycles.
//!
//! scribe found many of these mistakes only while running (an unknown object, a bad EVR
//! operator, a test id used twice) or never (a misspelt variable left `${root}` in a path, so
//! the check quietly tested nothing). Here each is a validation error that names the field,
//! so `mig scribe -path doc.json` refuses the document before it reaches any agent.

use super::document::{self as doc, Document};
use super::expr::{self, Expr};
use regex::Regex;
use std::collections::HashMap;

/// The variable an import chain sets: the directory (with a trailing `/`) of the file that
/// fired it.
pub(crate) const CHAIN_ROOT: &str = "chain_root";
const REGEX_SIZE_LIMIT: usize = 10 << 20;

pub(crate) struct Model {
    pub objects: Vec<Object>,
    pub tests: Vec<Test>,
    /// Test indexes, each after the tests it depends on.
    pub order: Vec<usize>,
}

pub(crate) struct Object {
    pub name: String,
    pub source: Source,
    /// Its path uses `${chain_root}`: it runs only from another object's import chain.
    pub is_chain: bool,
}

pub(crate) enum Source {
    FileContent(FileContent),
    FileName {
        path: String,
        file: Regex,
    },
    HasLine {
        path: String,
        file: Regex,
        expression: Regex,
    },
    Package {
        name: String,
        collect: Option<Regex>,
        newest: bool,
    },
    Raw(Vec<(String, String)>),
}

pub(crate) struct FileContent {
    /// With the document's variables expanded; may still hold `${chain_root}`.
    pub path: String,
    pub file: Regex,
    pub expression: Regex,
    pub concat: Option<String>,
    /// Indexes of the chain objects to run for each matching file.
    pub chain: Vec<usize>,
}

pub(crate) struct Test {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<doc::Tag>,
    pub kind: TestKind,
    /// `if`: tests that must all be true.
    pub deps: Vec<usize>,
}

pub(crate) enum TestKind {
    Object { object: usize, evaluator: Evaluator },
    Expression(Expr<usize>),
}

pub(crate) enum Evaluator {
    /// No criteria: true for every value the object found.
    Noop,
    Regexp(Regex),
    ExactMatch(String),
    Evr(EvrOp, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvrOp {
    Less,
    Greater,
    Equal,
}

pub(crate) fn regex(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pattern:?}: {e}"))
}

/// `scribedoc.objects[2] ("shadow")`: where an error is.
fn place(list: &str, i: usize, name: &str) -> String {
    if name.is_empty() {
        format!("scribedoc.{list}[{i}]")
    } else {
        format!("scribedoc.{list}[{i}] ({name:?})")
    }
}

/// Replaces `${key}` by each variable's value, in the document's order; a `${…}` left over
/// is an unknown variable (except `${chain_root}` where `chain` allows it).
pub(crate) fn expand(vars: &[doc::Variable], s: &str, chain: bool) -> Result<String, String> {
    let mut out = s.to_string();
    for v in vars {
        out = out.replace(&format!("${{{}}}", v.key), &v.value);
    }
    let mut rest = out.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !(chain && name == CHAIN_ROOT) {
            return Err(format!("unknown variable ${{{name}}}"));
        }
        rest = &after[end + 1..];
    }
    Ok(out)
}

fn required(value: &str, field: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{field} must be set"))
    } else {
        Ok(())
    }
}

fn check_variables(vars: &[doc::Variable]) -> Result<(), String> {
    let mut seen = HashMap::new();
    for (i, v) in vars.iter().enumerate() {
        let at = format!("scribedoc.variables[{i}]");
        if v.key.is_empty() {
            return Err(format!("{at}: key must be set"));
        }
        if v.key.contains('}') || v.key.contains("${") {
            return Err(format!(
                "{at}: key {:?} cannot contain \"}}\" or \"${{\"",
                v.key
            ));
        }
        if v.key == CHAIN_ROOT {
            return Err(format!(
                "{at}: key {CHAIN_ROOT:?} is reserved: import chains set it"
            ));
        }
        if seen.insert(v.key.as_str(), i).is_some() {
            return Err(format!("{at}: key {:?} is defined twice", v.key));
        }
    }
    Ok(())
}

/// Which kinds an object sets; Go writes unset ones as `{}`, which count as absent.
fn kinds(o: &doc::Object) -> Vec<&'static str> {
    let mut k = Vec::new();
    if o.filecontent
        .as_ref()
        .is_some_and(|x| *x != Default::default())
    {
        k.push("filecontent");
    }
    if o.filename
        .as_ref()
        .is_some_and(|x| *x != Default::default())
    {
        k.push("filename");
    }
    if o.package.as_ref().is_some_and(|x| *x != Default::default()) {
        k.push("package");
    }
    if o.raw.as_ref().is_some_and(|x| *x != Default::default()) {
        k.push("raw");
    }
    if o.hasline.as_ref().is_some_and(|x| *x != Default::default()) {
        k.push("hasline");
    }
    k
}

/// An object's source, with the document's variables expanded; chain names are resolved
/// later, once every object is known.
fn source(o: &doc::Object, vars: &[doc::Variable]) -> Result<(Source, bool), String> {
    let ks = kinds(o);
    match ks.len() {
        0 => {
            return Err(
                "no object kind: expected one of filecontent, filename, package, raw, hasline"
                    .into(),
            )
        }
        1 => {}
        _ => {
            return Err(format!(
                "more than one kind ({}): expected exactly one",
                ks.join(", ")
            ))
        }
    }
    let field = |kind: &str, f: &str| format!("{kind}.{f}");
    let path = |kind: &str, p: &str, chain: bool| -> Result<String, String> {
        required(p, &field(kind, "path"))?;
        expand(vars, p, chain).map_err(|e| format!("{}: {e}", field(kind, "path")))
    };
    // File-name regexes take variables; content expressions do not (as in scribe).
    let pattern = |kind: &str, f: &str, p: &str| -> Result<Regex, String> {
        required(p, &field(kind, f))?;
        let p = if f == "file" {
            expand(vars, p, false).map_err(|e| format!("{}: {e}", field(kind, f)))?
        } else {
            p.to_string()
        };
        regex(&p).map_err(|e| format!("{}: {e}", field(kind, f)))
    };
    let chain_var = format!("${{{CHAIN_ROOT}}}");
    Ok(match ks[0] {
        "filecontent" => {
            let fc = o.filecontent.clone().unwrap_or_default();
            let p = path("filecontent", &fc.path, true)?;
            let is_chain = p.contains(&chain_var);
            let s = Source::FileContent(FileContent {
                path: p,
                file: pattern("filecontent", "file", &fc.file)?,
                expression: pattern("filecontent", "expression", &fc.expression)?,
                concat: (!fc.concat.is_empty()).then_some(fc.concat),
                chain: Vec::new(),
            });
            (s, is_chain)
        }
        "filename" => {
            let f = o.filename.clone().unwrap_or_default();
            let s = Source::FileName {
                path: path("filename", &f.path, false)?,
                file: pattern("filename", "file", &f.file)?,
            };
            (s, false)
        }
        "hasline" => {
            let h = o.hasline.clone().unwrap_or_default();
            let s = Source::HasLine {
                path: path("hasline", &h.path, false)?,
                file: pattern("hasline", "file", &h.file)?,
                expression: pattern("hasline", "expression", &h.expression)?,
            };
            (s, false)
        }
        "package" => {
            let p = o.package.clone().unwrap_or_default();
            required(&p.name, "package.name")?;
            let name = expand(vars, &p.name, false).map_err(|e| format!("package.name: {e}"))?;
            let collect = if p.collectmatch.is_empty() {
                None
            } else {
                Some(regex(&p.collectmatch).map_err(|e| format!("package.collectmatch: {e}"))?)
            };
            let s = Source::Package {
                name,
                collect,
                newest: p.onlynewest,
            };
            (s, false)
        }
        _ => {
            let r = o.raw.clone().unwrap_or_default();
            let mut values = Vec::new();
            for (i, x) in r.identifiers.iter().enumerate() {
                if x.identifier.is_empty() || x.value.is_empty() {
                    return Err(format!(
                        "raw.identifiers[{i}]: identifier and value must both be set"
                    ));
                }
                values.push((x.identifier.clone(), x.value.clone()));
            }
            (Source::Raw(values), false)
        }
    })
}

/// The nodes of a graph of `n` nodes, each after the ones it points to; or a cycle, as the
/// list of nodes around it.
fn order(n: usize, edges: impl Fn(usize) -> Vec<usize>) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; n];
    let mut sorted = Vec::with_capacity(n);
    for start in 0..n {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: a hostile document cannot overflow the stack.
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(start, edges(start), 0)];
        mark[start] = Mark::Open;
        while let Some((node, next, i)) = stack.last_mut() {
            if *i == next.len() {
                mark[*node] = Mark::Done;
                sorted.push(*node);
                stack.pop();
                continue;
            }
            let to = next[*i];
            *i += 1;
            match mark[to] {
                Mark::Open => {
                    let from = stack.iter().position(|(m, _, _)| *m == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|(m, _, _)| *m).collect();
                    cycle.push(to);
                    return Err(cycle);
                }
                Mark::New => {
                    mark[to] = Mark::Open;
                    let e = edges(to);
                    stack.push((to, e, 0));
                }
                Mark::Done => {}
            }
        }
    }
    Ok(sorted)
}

fn check_tags(tags: &[doc::Tag]) -> Result<(), String> {
    for (i, t) in tags.iter().enumerate() {
        if t.key.contains('"') || t.value.contains('"') {
            return Err(format!(
                "tags[{i}]: a tag key or value cannot contain a quote"
            ));
        }
    }
    Ok(())
}

fn evaluator(t: &doc::Test) -> Result<Option<Evaluator>, String> {
    let evr = t.evr.clone().filter(|e| *e != Default::default());
    let re = t.regexp.clone().filter(|e| *e != Default::default());
    let exact = t.exactmatch.clone().filter(|e| *e != Default::default());
    let set: Vec<&str> = [
        evr.is_some().then_some("evr"),
        re.is_some().then_some("regexp"),
        exact.is_some().then_some("exactmatch"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if set.len() > 1 {
        return Err(format!(
            "more than one evaluator ({}): expected at most one",
            set.join(", ")
        ));
    }
    if let Some(e) = evr {
        let op = match e.operation.as_str() {
            "<" => EvrOp::Less,
            ">" => EvrOp::Greater,
            "=" => EvrOp::Equal,
            other => {
                return Err(format!(
                    "evr.operation: expected \"<\", \">\" or \"=\", got {other:?}"
                ))
            }
        };
        required(&e.value, "evr.value")?;
        return Ok(Some(Evaluator::Evr(op, e.value)));
    }
    if let Some(r) = re {
        return Ok(Some(Evaluator::Regexp(
            regex(&r.value).map_err(|e| format!("regexp.value: {e}"))?,
        )));
    }
    Ok(exact.map(|x| Evaluator::ExactMatch(x.value)))
}

/// Validates `d` and builds the model; the error names the element and field at fault.
pub(crate) fn build(d: &Document) -> Result<Model, String> {
    check_variables(&d.variables)?;
    let mut objects = Vec::with_capacity(d.objects.len());
    let mut object_index: HashMap<&str, usize> = HashMap::new();
    for (i, o) in d.objects.iter().enumerate() {
        let at = place("objects", i, &o.object);
        if o.object.is_empty() {
            return Err(format!("{at}: object must be set (the object's name)"));
        }
        if object_index.insert(o.object.as_str(), i).is_some() {
            return Err(format!("{at}: object name {:?} is used twice", o.object));
        }
        let (source, is_chain) = source(o, &d.variables).map_err(|e| format!("{at}: {e}"))?;
        objects.push(Object {
            name: o.object.clone(),
            source,
            is_chain,
        });
    }
    // Import chains, once every object is known.
    for (i, o) in d.objects.iter().enumerate() {
        let names = o
            .filecontent
            .as_ref()
            .map(|f| f.import_chain.clone())
            .unwrap_or_default();
        if names.is_empty() {
            continue;
        }
        let at = format!(
            "{}: filecontent.import-chain",
            place("objects", i, &o.object)
        );
        let mut chain = Vec::new();
        for name in &names {
            let Some(&j) = object_index.get(name.as_str()) else {
                return Err(format!("{at}: unknown object {name:?}"));
            };
            if !objects[j].is_chain {
                return Err(format!(
                    "{at}: object {name:?} is not an import-chain object: it must be a filecontent whose path uses ${{{CHAIN_ROOT}}}"
                ));
            }
            chain.push(j);
        }
        if let Source::FileContent(fc) = &mut objects[i].source {
            fc.chain = chain;
        }
    }
    let chains_of = |i: usize| match &objects[i].source {
        Source::FileContent(fc) => fc.chain.clone(),
        _ => Vec::new(),
    };
    if let Err(cycle) = order(objects.len(), chains_of) {
        let names: Vec<&str> = cycle.iter().map(|&i| objects[i].name.as_str()).collect();
        return Err(format!(
            "{}: filecontent.import-chain: circular import chain: {}",
            place("objects", cycle[0], &objects[cycle[0]].name),
            names.join(" -> ")
        ));
    }

    if d.tests.is_empty() {
        return Err("scribedoc.tests: expected at least one test".into());
    }
    let mut test_index: HashMap<&str, usize> = HashMap::new();
    for (i, t) in d.tests.iter().enumerate() {
        let at = place("tests", i, &t.test);
        if t.test.is_empty() {
            return Err(format!("{at}: test must be set (the test's id)"));
        }
        if test_index.insert(t.test.as_str(), i).is_some() {
            return Err(format!("{at}: test id {:?} is used twice", t.test));
        }
    }
    let mut tests = Vec::with_capacity(d.tests.len());
    for (i, t) in d.tests.iter().enumerate() {
        let at = place("tests", i, &t.test);
        tests.push(
            test(t, i, &object_index, &objects, &test_index).map_err(|e| format!("{at}: {e}"))?,
        );
    }
    let refs = |i: usize| -> Vec<usize> {
        let t: &Test = &tests[i];
        let mut v = t.deps.clone();
        if let TestKind::Expression(e) = &t.kind {
            v.extend(e.tests().into_iter().copied());
        }
        v
    };
    let order = order(tests.len(), refs).map_err(|cycle| {
        let names: Vec<&str> = cycle.iter().map(|&i| tests[i].id.as_str()).collect();
        format!(
            "{}: circular dependency between tests: {}",
            place("tests", cycle[0], &tests[cycle[0]].id),
            names.join(" -> ")
        )
    })?;
    Ok(Model {
        objects,
        tests,
        order,
    })
}

fn test(
    t: &doc::Test,
    i: usize,
    object_index: &HashMap<&str, usize>,
    objects: &[Object],
    test_index: &HashMap<&str, usize>,
) -> Result<Test, String> {
    check_tags(&t.tags)?;
    let resolve = |name: &str, field: &str| -> Result<usize, String> {
        match test_index.get(name) {
            None => Err(format!("{field}: unknown test {name:?}")),
            Some(&j) if j == i => Err(format!("{field}: a test cannot reference itself")),
            Some(&j) => Ok(j),
        }
    };
    let deps = t
        .if_
        .iter()
        .map(|n| resolve(n, "if"))
        .collect::<Result<Vec<_>, _>>()?;
    let evaluator = evaluator(t)?;
    let kind = match (t.object.is_empty(), t.expression.is_empty()) {
        (false, false) => {
            return Err("object and expression cannot both be set: a test checks an object's values, or combines other tests".into())
        }
        (true, true) => {
            return Err(
                "needs an object (whose values it checks) or an expression (combining other tests)"
                    .into(),
            )
        }
        (false, true) => {
            let Some(&object) = object_index.get(t.object.as_str()) else {
                return Err(format!("object: unknown object {:?}", t.object));
            };
            if objects[object].is_chain {
                return Err(format!(
                    "object: {:?} is an import-chain object (its path uses ${{{CHAIN_ROOT}}}): it only runs from another object's import-chain",
                    t.object
                ));
            }
            TestKind::Object {
                object,
                evaluator: evaluator.unwrap_or(Evaluator::Noop),
            }
        }
        (true, false) => {
            if evaluator.is_some() {
                return Err("evr, regexp and exactmatch check an object's values: an expression test has none".into());
            }
            let parsed = expr::parse(&t.expression).map_err(|e| format!("expression: {e}"))?;
            TestKind::Expression(parsed.try_map(&mut |name: String| resolve(&name, "expression"))?)
        }
    };
    Ok(Test {
        id: t.test.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        tags: t.tags.clone(),
        kind,
        deps,
    })
}
