//! Running the tests, as scribe does: each value of the test's object is evaluated (regexp,
//! exactmatch, evr, or no criteria); a test "has true results" when at least one value is
//! true, and its master result is that, and every `if` dependency's master result, and (our
//! extension) the value of its boolean expression over other tests.

use super::model::{Evaluator, EvrOp, Model, TestKind};
use super::objects::Criterion;
use super::result::{SubResult, TestResult};
use crate::query::version::{compare, Flavor};
use std::cmp::Ordering;

/// scribe's EVR comparison of a found version (`actual`) with the test's value. RPM's
/// algorithm for every kind of version, as in scribe.
pub(crate) fn evr(op: EvrOp, actual: &str, check: &str) -> Result<bool, String> {
    if actual.is_empty() {
        return Err(format!("evr: no version to compare with {check:?}"));
    }
    let o = compare(actual, check, Flavor::Rhel);
    Ok(match op {
        EvrOp::Less => o == Ordering::Less,
        EvrOp::Greater => o == Ordering::Greater,
        EvrOp::Equal => o == Ordering::Equal,
    })
}

fn evaluate(e: &Evaluator, value: &str) -> Result<bool, String> {
    Ok(match e {
        Evaluator::Noop => true,
        Evaluator::Regexp(re) => re.is_match(value),
        Evaluator::ExactMatch(x) => value == x,
        Evaluator::Evr(op, check) => evr(*op, value, check)?,
    })
}

/// Every test's result, in document order. `values` are the prepared objects' values;
/// `max_results` caps the sub-results across all tests.
pub(crate) fn run(
    model: &Model,
    values: &[Result<Vec<Criterion>, String>],
    max_results: usize,
) -> Vec<TestResult> {
    let mut out: Vec<Option<TestResult>> = vec![None; model.tests.len()];
    let mut budget = max_results;
    // Dependencies come first in `order`, so their results are known when needed.
    for &i in &model.order {
        let t = &model.tests[i];
        let mut r = TestResult {
            testid: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            tags: t.tags.clone(),
            ..Default::default()
        };
        let done = |j: usize| out[j].as_ref();
        let mut refs = t.deps.clone();
        if let TestKind::Expression(e) = &t.kind {
            refs.extend(e.tests().into_iter().copied());
        }
        let failed_dep = refs
            .iter()
            .find(|&&j| done(j).is_none_or(|d| d.iserror))
            .map(|&j| model.tests[j].id.clone());
        let outcome = match failed_dep {
            Some(dep) => Err(format!("a test dependency failed (\"{dep}\")")),
            None => match &t.kind {
                TestKind::Object { object, evaluator } => match &values[*object] {
                    Err(e) => Err(e.clone()),
                    Ok(criteria) => criteria
                        .iter()
                        .map(|c| {
                            evaluate(evaluator, &c.value).map(|result| SubResult {
                                result,
                                identifier: c.identifier.clone(),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(|subs| (subs, None)),
                },
                TestKind::Expression(e) => {
                    let master = |j: &usize| done(*j).is_some_and(|d| d.masterresult);
                    let subs = e
                        .tests()
                        .into_iter()
                        .map(|j| SubResult {
                            result: master(j),
                            identifier: model.tests[*j].id.clone(),
                        })
                        .collect();
                    Ok((subs, Some(e.eval(&master))))
                }
            },
        };
        let outcome = outcome.and_then(|o| {
            if o.0.len() > budget {
                Err(format!(
                    "more than {max_results} results across the document's tests: over the agent's result limit"
                ))
            } else {
                budget -= o.0.len();
                Ok(o)
            }
        });
        match outcome {
            Err(e) => {
                r.iserror = true;
                r.error = e;
            }
            Ok((subs, expression)) => {
                r.hastrueresults = subs.iter().any(|s| s.result);
                let deps_true = t
                    .deps
                    .iter()
                    .all(|&j| done(j).is_some_and(|d| d.masterresult));
                r.masterresult = expression.unwrap_or(r.hastrueresults) && deps_true;
                r.results = subs;
            }
        }
        out[i] = Some(r);
    }
    out.into_iter().flatten().collect()
}
