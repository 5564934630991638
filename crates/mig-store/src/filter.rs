//! The listings' WHERE clauses, one bound condition at a time. Actions, agents and commands
//! are narrowed by some of the same things (a status, a name pattern, a time range) and paged
//! the same way; only the columns differ.

use crate::agents::bind_all;
use crate::render::{Binder, Param};
use crate::{Dialect, Result, Store};
use mig_core::target::Target;
use sqlx::any::AnyRow;
use sqlx::AssertSqlSafe;

/// A listing's conditions and their bound parameters, being built. Only the SQL's structure
/// is dynamic: every value is a parameter.
#[derive(Debug, Default)]
pub(crate) struct Where {
    conditions: Vec<String>,
    binder: Binder,
}

/// A finished listing query's pieces: ` WHERE …` (or nothing), `LIMIT $n OFFSET $m`, and the
/// parameters they bind.
pub(crate) struct Clauses {
    pub(crate) filter: String,
    pub(crate) page: String,
    pub(crate) params: Vec<Param>,
}

/// One page of a listing: what to select and from where, how it is narrowed and ordered.
pub(crate) struct Listing<'a> {
    /// `columns FROM tables`.
    pub(crate) select: &'a str,
    /// The conditions.
    pub(crate) filter: Where,
    /// The `ORDER BY` list.
    pub(crate) order_by: &'a str,
    /// The page asked for, and the largest page allowed.
    pub(crate) limit: i64,
    pub(crate) offset: i64,
    pub(crate) max_limit: i64,
}

impl Store {
    /// The rows of one page of a listing.
    pub(crate) async fn listing_rows(&self, l: Listing<'_>) -> Result<Vec<AnyRow>> {
        let Clauses {
            filter,
            page,
            params,
        } = l.filter.finish(l.limit, l.offset, l.max_limit);
        // Dynamic only in structure: every value is a bound parameter.
        let sql = format!("SELECT {}{filter} ORDER BY {} {page}", l.select, l.order_by);
        Ok(bind_all(sqlx::query(AssertSqlSafe(sql)), &params)
            .fetch_all(&self.pool)
            .await?)
    }
}

impl Where {
    /// `make(placeholder)` with `value` bound; nothing when there is no value.
    pub(crate) fn param(&mut self, value: Option<Param>, make: impl FnOnce(&str) -> String) {
        if let Some(v) = value {
            let ph = self.binder.bind(v);
            self.conditions.push(make(&ph));
        }
    }

    /// `column = value` on text.
    pub(crate) fn equals(&mut self, column: &str, value: Option<&str>) {
        self.param(value.map(|v| Param::Text(v.to_string())), |ph| {
            format!("{column} = {ph}")
        });
    }

    /// `column = value` on an ID.
    pub(crate) fn id(&mut self, column: &str, value: Option<u64>) {
        self.param(value.map(|v| Param::Int(v as i64)), |ph| {
            format!("{column} = {ph}")
        });
    }

    /// A case-insensitive LIKE pattern on `column`.
    pub(crate) fn like(&mut self, column: &str, pattern: Option<&str>) {
        self.param(pattern.map(|p| Param::Text(p.to_lowercase())), |ph| {
            format!("lower({column}) LIKE {ph}")
        });
    }

    /// `column` strictly between `after` and `before` (Unix ms), either bound optional.
    pub(crate) fn between(&mut self, column: &str, after: Option<i64>, before: Option<i64>) {
        self.param(after.map(Param::Int), |ph| format!("{column} > {ph}"));
        self.param(before.map(Param::Int), |ph| format!("{column} < {ph}"));
    }

    /// A condition without parameters.
    pub(crate) fn raw(&mut self, condition: &str) {
        self.conditions.push(condition.to_string());
    }

    /// The agents a target selects (`agents` table columns).
    pub(crate) fn target(&mut self, target: &Target, dialect: Dialect, now_ms: i64) {
        let sql = self.binder.append_target(target, dialect, now_ms);
        self.conditions.push(sql);
    }

    /// The clauses, with the page's limit clamped to `1..=max_limit`.
    pub(crate) fn finish(mut self, limit: i64, offset: i64, max_limit: i64) -> Clauses {
        let limit = self.binder.bind(Param::Int(limit.clamp(1, max_limit)));
        let offset = self.binder.bind(Param::Int(offset.max(0)));
        let filter = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        Clauses {
            filter,
            page: format!("LIMIT {limit} OFFSET {offset}"),
            params: self.binder.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_bind_their_values_in_order_and_pages_are_clamped() {
        let mut w = Where::default();
        w.equals("status", Some("online"));
        w.like("name", Some("Web%"));
        w.between("t", Some(5), None);
        w.id("agentid", None);
        w.raw("found = 1");
        let c = w.finish(0, -3, 100);
        assert_eq!(
            c.filter,
            " WHERE status = $1 AND lower(name) LIKE $2 AND t > $3 AND found = 1"
        );
        assert_eq!(c.page, "LIMIT $4 OFFSET $5");
        assert_eq!(
            c.params,
            vec![
                Param::Text("online".into()),
                Param::Text("web%".into()),
                Param::Int(5),
                Param::Int(1),
                Param::Int(0)
            ]
        );
        let c = Where::default().finish(1_000_000, 7, 100);
        assert_eq!(c.filter, "");
        assert_eq!(c.params, vec![Param::Int(100), Param::Int(7)]);
    }
}
