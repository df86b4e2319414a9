//! Run search on SQLite: a [`RunQuery`] becomes one SELECT over `runs`, with one EXISTS probe
//! per filter clause and one join per sort key.
//!
//! Why the shape: when the first sort key is a metric that the filter also constrains, the
//! metric is joined with an inner join and compared on the joined row, so SQLite can walk the
//! `metric_series(key, last_value)` index in sort order and stop after `LIMIT` matches instead of
//! sorting every run of the experiment.

use super::super::*;
use super::SqliteStore;
use rusqlite::Connection;
use rusqlite::types::Value;
use slipway_core::search::{Clause, Comparator, Entity, Literal};

struct Sql {
    joins: String,
    wheres: Vec<String>,
    orders: Vec<String>,
    args: Vec<Value>,
    /// Metric keys joined with an inner join, and their aliases.
    inner_metrics: Vec<(String, String)>,
}

impl Sql {
    fn arg(&mut self, value: impl Into<Value>) -> String {
        self.args.push(value.into());
        format!("?{}", self.args.len())
    }
}

impl SqliteStore {
    pub(super) fn search_runs_conn(
        &self,
        conn: &Connection,
        query: &RunQuery,
    ) -> MetaResult<Vec<String>> {
        let (text, args) = build(query);
        let mut stmt = conn.prepare_cached(&text).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }
}

fn build(query: &RunQuery) -> (String, Vec<Value>) {
    let mut sql = Sql {
        joins: String::new(),
        wheres: Vec::new(),
        orders: Vec::new(),
        args: Vec::new(),
        inner_metrics: Vec::new(),
    };
    let experiments = serde_json::to_string(&query.experiment_ids).expect("numbers serialize");
    let e = sql.arg(experiments);
    sql.wheres.push(format!(
        "r.experiment_id IN (SELECT value FROM json_each({e}))"
    ));
    match query.view {
        ViewType::ActiveOnly => sql.wheres.push("r.lifecycle = 'active'".into()),
        ViewType::DeletedOnly => sql.wheres.push("r.lifecycle = 'deleted'".into()),
        ViewType::All => {}
    }
    for (i, order) in query.order_by.iter().enumerate() {
        let alias = format!("o{i}");
        let dir = if order.ascending { "ASC" } else { "DESC" };
        match order.entity {
            Entity::Metric => {
                let constrained = query
                    .filter
                    .clauses
                    .iter()
                    .any(|c| c.entity == Entity::Metric && c.key == order.key);
                let k = sql.arg(order.key.clone());
                // A filter on the metric already excludes runs without it, so an inner join
                // changes nothing in the result and lets the index drive the sort.
                let join = if constrained { "JOIN" } else { "LEFT JOIN" };
                sql.joins.push_str(&format!(
                    " {join} metric_series {alias} ON {alias}.run_id = r.id AND {alias}.key = {k}"
                ));
                if constrained {
                    sql.inner_metrics.push((order.key.clone(), alias.clone()));
                } else {
                    sql.orders.push(format!("({alias}.last_value IS NULL)"));
                }
                sql.orders.push(format!("{alias}.last_value {dir}"));
            }
            Entity::Param | Entity::Tag => {
                let table = if order.entity == Entity::Param {
                    "params"
                } else {
                    "tags"
                };
                let k = sql.arg(order.key.clone());
                sql.joins.push_str(&format!(
                    " LEFT JOIN {table} {alias} ON {alias}.run_id = r.id AND {alias}.key = {k}"
                ));
                sql.orders.push(format!("({alias}.value IS NULL)"));
                sql.orders.push(format!("{alias}.value {dir}"));
            }
            Entity::Attribute | Entity::Dataset => {
                let column = attribute_column(&order.key);
                if order.key == "end_time" {
                    sql.orders.push(format!("({column} IS NULL)"));
                }
                sql.orders.push(format!("{column} {dir}"));
            }
        }
    }
    sql.orders.push("r.start_ms DESC".into());
    sql.orders.push("r.id ASC".into());
    for clause in &query.filter.clauses {
        let condition = clause_sql(&mut sql, clause);
        sql.wheres.push(condition);
    }
    let limit = sql.arg(query.limit.min(i64::MAX as u64) as i64);
    let offset = sql.arg(query.offset.min(i64::MAX as u64) as i64);
    let text = format!(
        "SELECT r.id FROM runs r{} WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        sql.joins,
        sql.wheres.join(" AND "),
        sql.orders.join(", ")
    );
    (text, sql.args)
}

/// The SQL expression of a run attribute (the vocabulary has already checked the name).
fn attribute_column(key: &str) -> &'static str {
    match key {
        "run_id" => "r.id",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_name",
        "start_time" => "r.start_ms",
        "end_time" => "r.end_ms",
        "lifecycle_stage" => "r.lifecycle",
        "origin" => "r.origin",
        "artifact_uri" => {
            "('mlflow-artifacts:/' || r.experiment_id || '/' || r.id || '/artifacts')"
        }
        _ => "NULL",
    }
}

fn clause_sql(sql: &mut Sql, clause: &Clause) -> String {
    match clause.entity {
        Entity::Metric => {
            if let Some((_, alias)) = sql
                .inner_metrics
                .iter()
                .find(|(k, _)| *k == clause.key)
                .cloned()
            {
                let cmp = compare(sql, &format!("{alias}.last_value"), clause);
                return format!("({alias}.last_is_nan = 0 AND {cmp})");
            }
            let k = sql.arg(clause.key.clone());
            let cmp = compare(sql, "m.last_value", clause);
            format!(
                "EXISTS (SELECT 1 FROM metric_series m WHERE m.run_id = r.id AND m.key = {k} AND m.last_is_nan = 0 AND {cmp})"
            )
        }
        Entity::Param | Entity::Tag => {
            let table = if clause.entity == Entity::Param {
                "params"
            } else {
                "tags"
            };
            let k = sql.arg(clause.key.clone());
            let cmp = compare(sql, "x.value", clause);
            format!(
                "EXISTS (SELECT 1 FROM {table} x WHERE x.run_id = r.id AND x.key = {k} AND {cmp})"
            )
        }
        Entity::Attribute => compare(sql, attribute_column(&clause.key), clause),
        Entity::Dataset => {
            let column = match clause.key.as_str() {
                "name" => "d.name",
                "digest" => "d.digest",
                _ => "json_extract(rd.tags, '$.\"mlflow.data.context\"')",
            };
            let cmp = compare(sql, column, clause);
            format!(
                "EXISTS (SELECT 1 FROM run_datasets rd JOIN datasets d ON d.id = rd.dataset_id WHERE rd.run_id = r.id AND {cmp})"
            )
        }
    }
}

fn compare(sql: &mut Sql, column: &str, clause: &Clause) -> String {
    match (&clause.value, clause.op) {
        (Literal::List(items), op) => {
            let list = sql.arg(serde_json::to_string(items).expect("strings serialize"));
            let not = if op == Comparator::NotIn { "NOT " } else { "" };
            format!("{column} {not}IN (SELECT value FROM json_each({list}))")
        }
        (Literal::Str(pattern), Comparator::Like) => {
            let p = sql.arg(like_to_glob(pattern));
            format!("{column} GLOB {p}")
        }
        (Literal::Str(pattern), Comparator::ILike) => {
            // SQLite's LIKE is case-insensitive (ASCII), which is what ILIKE means.
            let p = sql.arg(pattern.clone());
            format!("{column} LIKE {p}")
        }
        (Literal::Str(s), op) => {
            let v = sql.arg(s.clone());
            format!("{column} {} {v}", op.as_str())
        }
        (Literal::Num(n), op) => {
            let v = sql.arg(*n);
            format!("{column} {} {v}", op.as_str())
        }
    }
}

/// Turns a case-sensitive LIKE pattern into a GLOB pattern (GLOB is SQLite's case-sensitive
/// matcher): `%` → `*`, `_` → `?`, and GLOB's own wildcards are escaped as character classes.
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_translation_escapes_globs_own_wildcards() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?["), "[*][?][[]");
    }
}
