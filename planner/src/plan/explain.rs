//! EXPLAIN: the physical plan as PostgreSQL prints it — one node per line, children under
//! `->  `, details (`Filter:`, `Hash Cond:`, `Sort Key:` …) indented beneath their node,
//! `(cost=… rows=… width=…)` estimates unless `COSTS OFF`, and with ANALYZE the measured
//! `(actual time=… rows=… loops=…)` (`TIMING OFF` drops the times) and the summary lines.
//!
//! The optimised logical plan says *what* each node computes (column names, predicates) and
//! the compiled [`PhysPlan`] says *how* (hash join, nested loop, index lookup); both trees
//! have the same shape (compilation maps node to node), so EXPLAIN walks them side by side.
//! Node names follow PostgreSQL's: `Seq Scan on t`, `Index Scan using i on t`, `Hash Join`
//! over a `Hash` of its build side, `Nested Loop`, `HashAggregate`/`Aggregate`, `Sort`,
//! `Limit`, `Append`, `HashSetOp`, `WindowAgg`, `Values Scan`, `Result`, `Recursive Union`,
//! `CTE Scan`. Row estimates come from `optimizer::stats` (statistics from ANALYZE, else
//! defaults); the cost figures are simply cumulative row counts scaled by 0.01 — our planner
//! has no cost model beyond estimated rows, and the numbers only keep PostgreSQL's format.
//! Projections print no node of their own (as in PostgreSQL), except `Result` for a SELECT
//! without FROM.

use super::{Access, ColumnId, Expr, JoinKind, Plan, SetOpKind, SubqueryKind};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::instrument::{Instrument, NodeStats};
use crate::exec::PhysPlan;
use crate::optimizer::stats;
use crate::scalar::BinaryOp;
use std::collections::{HashMap, HashSet};

/// EXPLAIN's options, PostgreSQL's defaults.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    pub analyze: bool,
    pub costs: bool,
    pub timing: bool,
    pub summary: bool,
    pub verbose: bool,
}

impl ExplainOptions {
    /// From `EXPLAIN ANALYZE` / `EXPLAIN (option [value], …)`.
    pub fn parse(
        analyze: bool,
        verbose: bool,
        options: Option<&[sqlparser::ast::UtilityOption]>,
    ) -> Result<Self> {
        let mut analyze = analyze;
        let mut verbose = verbose;
        let (mut costs, mut timing, mut summary) = (None, None, None);
        for o in options.unwrap_or_default() {
            let name = o.name.value.to_lowercase();
            let arg = o.arg.as_ref().map(|a| a.to_string().to_lowercase());
            let on = match arg.as_deref() {
                None | Some("true") | Some("on") | Some("1") => true,
                Some("false") | Some("off") | Some("0") => false,
                Some(v) if name == "format" => {
                    if v != "text" {
                        return Err(Error::new(
                            ErrorKind::FeatureNotSupported,
                            format!("EXPLAIN format \"{v}\" is not supported"),
                        ));
                    }
                    continue;
                }
                Some(v) => {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        format!("{name} requires a Boolean value"),
                    )
                    .with_detail(format!("got \"{v}\"")))
                }
            };
            match name.as_str() {
                "analyze" => analyze = on,
                "verbose" => verbose = on,
                "costs" => costs = Some(on),
                "timing" => timing = Some(on),
                "summary" => summary = Some(on),
                "buffers" | "settings" | "wal" => {}
                _ => {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        format!("unrecognized EXPLAIN option \"{name}\""),
                    ))
                }
            }
        }
        if timing == Some(true) && !analyze {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                "EXPLAIN option TIMING requires ANALYZE",
            ));
        }
        Ok(ExplainOptions {
            analyze,
            costs: costs.unwrap_or(true),
            timing: timing.unwrap_or(analyze),
            summary: summary.unwrap_or(analyze),
            verbose,
        })
    }
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            analyze: false,
            costs: true,
            timing: false,
            summary: false,
            verbose: false,
        }
    }
}

/// The plan as EXPLAIN lines, with default options (estimates only).
pub fn explain(plan: &Plan) -> Vec<String> {
    let phys = crate::exec::compile_plan(plan, &[]).ok();
    render(None, plan, phys.as_ref(), &ExplainOptions::default(), None)
}

/// Renders a plan; `header` is a node above it (`Insert on t` …), `phys` its compiled form,
/// `instrument` what an EXPLAIN ANALYZE execution measured.
pub fn render(
    header: Option<&str>,
    plan: &Plan,
    phys: Option<&PhysPlan>,
    opts: &ExplainOptions,
    instrument: Option<&Instrument>,
) -> Vec<String> {
    let mut names = HashMap::new();
    let qualify = count_relations(plan) > 1;
    collect_names(plan, &mut names, qualify);
    let cx = Cx {
        names,
        opts,
        instrument,
        ctes: ctes(plan),
    };
    let mut root = cx.build(plan, phys);
    if let Some(h) = header {
        let (rows, cost) = (root.rows, root.cost);
        root = Node {
            name: h.to_string(),
            rows: 0.0,
            width: 0,
            cost: (cost.1, cost.1),
            actual: None,
            analyzed: false,
            details: vec![],
            inits: vec![],
            children: vec![root],
        };
        let _ = rows;
    }
    let mut out = vec![];
    cx.print(&root, 0, false, &mut out);
    out
}

/// A prepared EXPLAIN: its lines right away, or (ANALYZE) a plan to run at execution.
pub enum Explained {
    Lines(Vec<String>),
    Analyze(Box<Analyze>),
}

/// EXPLAIN ANALYZE of a query: run at execute time, then rendered with what was measured.
#[derive(Debug)]
pub struct Analyze {
    plan: Plan,
    phys: std::sync::Arc<PhysPlan>,
    opts: ExplainOptions,
    planning: std::time::Duration,
}

/// Plans a bound statement for EXPLAIN; `started` is when planning began (for ANALYZE's
/// `Planning Time`).
pub fn prepare(
    bound: crate::binder::Bound,
    opts: ExplainOptions,
    started: std::time::Instant,
) -> Result<Explained> {
    use crate::binder::Bound;
    use crate::optimizer::optimize;
    let (header, plan) = match bound {
        Bound::Query { plan, .. } => (None, optimize(plan)?),
        Bound::Insert(i) => (
            Some(format!("Insert on {}", i.table.name)),
            optimize(i.source)?,
        ),
        Bound::Update(u) => (
            Some(format!("Update on {}", u.table.name)),
            optimize(u.scan)?,
        ),
        Bound::Delete(d) => (
            Some(format!("Delete on {}", d.table.name)),
            optimize(d.scan)?,
        ),
        _ => {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "EXPLAIN of this statement is not supported",
            ))
        }
    };
    let phys = crate::exec::compile_plan(&plan, &[])?;
    if opts.analyze {
        if header.is_some() {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "EXPLAIN ANALYZE of INSERT, UPDATE and DELETE is not supported",
            ));
        }
        return Ok(Explained::Analyze(Box::new(Analyze {
            plan,
            phys: std::sync::Arc::new(phys),
            opts,
            planning: started.elapsed(),
        })));
    }
    Ok(Explained::Lines(render(
        header.as_deref(),
        &plan,
        Some(&phys),
        &opts,
        None,
    )))
}

/// Runs an EXPLAIN ANALYZE: executes the query to the end (discarding its rows) with every
/// operator instrumented, then renders the plan with the measurements.
pub fn run_analyze(a: &Analyze, ctx: &crate::exec::ExecCtx) -> Result<Vec<String>> {
    let started = std::time::Instant::now();
    let instrument = std::sync::Arc::new(Instrument::default());
    let mut run = ctx.with_outer(vec![]);
    run.outer.pop();
    run.instrument = Some(instrument.clone());
    let run = std::sync::Arc::new(run);
    {
        let mut op = crate::exec::open(&a.phys, &run)?;
        let mut n = 0usize;
        while op.next()?.is_some() {
            n += 1;
            if n.is_multiple_of(crate::exec::CANCEL_CHECK_INTERVAL) {
                run.check_cancel()?;
            }
        }
    }
    let execution = started.elapsed();
    let mut lines = render(None, &a.plan, Some(&a.phys), &a.opts, Some(&instrument));
    if a.opts.summary {
        lines.push(format!(
            "Planning Time: {:.3} ms",
            a.planning.as_secs_f64() * 1000.0
        ));
        lines.push(format!(
            "Execution Time: {:.3} ms",
            execution.as_secs_f64() * 1000.0
        ));
    }
    Ok(lines)
}

/// One line of the tree and what hangs below it.
struct Node {
    name: String,
    rows: f64,
    width: usize,
    /// (startup, total).
    cost: (f64, f64),
    actual: Option<NodeStats>,
    /// Whether `actual` is meaningful (an ANALYZE run that reached this node's operator).
    analyzed: bool,
    details: Vec<String>,
    /// Init plans (CTEs) printed between the details and the children, with their label.
    inits: Vec<(String, Node)>,
    children: Vec<Node>,
}

struct Cx<'a> {
    names: HashMap<ColumnId, String>,
    opts: &'a ExplainOptions,
    instrument: Option<&'a Instrument>,
    /// Work table ids that are materialised CTEs (the others are WITH RECURSIVE rounds).
    ctes: HashSet<usize>,
}

fn ctes(plan: &Plan) -> HashSet<usize> {
    let mut out = HashSet::new();
    fn walk(p: &Plan, out: &mut HashSet<usize>) {
        if let Plan::WithCte { id, .. } = p {
            out.insert(*id);
        }
        crate::optimizer::for_each_child(p, &mut |c| walk(c, out));
    }
    walk(plan, &mut out);
    out
}

fn count_relations(plan: &Plan) -> usize {
    let mut n = matches!(
        plan,
        Plan::Scan { .. }
            | Plan::Values { .. }
            | Plan::WorkTable { .. }
            | Plan::FunctionScan { .. }
    ) as usize;
    crate::optimizer::for_each_child(plan, &mut |p| n += count_relations(p));
    n
}

/// Column display names: `t.c` (just `c` when the query reads one relation, as PostgreSQL
/// prints them) for table columns, the rendered expression for computed ones.
fn collect_names(plan: &Plan, names: &mut HashMap<ColumnId, String>, qualify: bool) {
    crate::optimizer::for_each_child(plan, &mut |p| collect_names(p, names, qualify));
    match plan {
        Plan::Scan { table, cols, .. } => {
            for (id, c) in cols.iter().zip(&table.columns) {
                let name = if qualify {
                    format!("{}.{}", table.name, c.name)
                } else {
                    c.name.clone()
                };
                names.insert(*id, name);
            }
        }
        Plan::Values { cols, .. } => {
            for (i, (id, _)) in cols.iter().enumerate() {
                let name = if qualify {
                    format!("\"*VALUES*\".column{}", i + 1)
                } else {
                    format!("column{}", i + 1)
                };
                names.insert(*id, name);
            }
        }
        Plan::Project { exprs, cols, .. } => {
            for (id, e) in cols.iter().zip(exprs) {
                let text = expr(e, names);
                let text = match e {
                    Expr::Column(..) => text,
                    _ if text.starts_with('(') => text,
                    _ => format!("({text})"),
                };
                names.insert(*id, text);
            }
        }
        Plan::Aggregate {
            group,
            group_cols,
            aggs,
            agg_cols,
            ..
        } => {
            for (id, e) in group_cols.iter().zip(group) {
                let text = expr(e, names);
                names.insert(*id, text);
            }
            for (id, a) in agg_cols.iter().zip(aggs) {
                let args = if a.args.is_empty() {
                    "*".to_string()
                } else {
                    a.args
                        .iter()
                        .map(|e| expr(e, names))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let d = if a.distinct { "DISTINCT " } else { "" };
                names.insert(*id, format!("{}({d}{args})", a.name));
            }
        }
        Plan::Window { calls, cols, .. } => {
            for (id, c) in cols.iter().zip(calls) {
                let f = match &c.func {
                    super::window::WinFunc::Agg(..) => "agg".to_string(),
                    other => format!("{other:?}"),
                };
                names.insert(*id, format!("{f}() OVER (?)"));
            }
        }
        _ => {}
    }
}

fn join_all(v: &[Expr], names: &HashMap<ColumnId, String>, sep: &str) -> String {
    v.iter()
        .map(|e| expr(e, names))
        .collect::<Vec<_>>()
        .join(sep)
}

/// A conjunction as PostgreSQL prints it: one predicate bare, several in parentheses.
fn conj(v: &[Expr], names: &HashMap<ColumnId, String>) -> String {
    if v.len() == 1 {
        expr(&v[0], names)
    } else {
        format!("({})", join_all(v, names, " AND "))
    }
}

impl Cx<'_> {
    fn name(&self, id: &ColumnId) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    fn names(&self) -> HashMap<ColumnId, String> {
        self.names.clone()
    }

    fn node(&self, name: String, plan: &Plan, phys: Option<&PhysPlan>) -> Node {
        let actual = match (self.instrument, phys) {
            (Some(i), Some(p)) => i.get(p),
            _ => None,
        };
        Node {
            name,
            rows: stats::estimate(plan),
            width: stats::width(plan),
            cost: (0.0, 0.0),
            actual,
            analyzed: self.instrument.is_some() && phys.is_some(),
            details: vec![],
            inits: vec![],
            children: vec![],
        }
    }

    fn build(&self, plan: &Plan, phys: Option<&PhysPlan>) -> Node {
        let mut n = self.build_inner(plan, phys);
        // Costs: cumulative estimated rows (times 0.01); blocking nodes start after their
        // inputs are consumed.
        let children: f64 = n.children.iter().map(|c| c.cost.1).sum::<f64>()
            + n.inits.iter().map(|(_, c)| c.cost.1).sum::<f64>();
        let own = n.rows * 0.01
            + match plan {
                Plan::Scan { table, .. } => {
                    stats::table_stats(table.id).map_or(stats::DEFAULT_ROWS, |s| s.rows) * 0.01
                }
                _ => 0.0,
            };
        if n.cost == (0.0, 0.0) {
            let blocking = matches!(
                n.name.as_str(),
                "Sort" | "HashAggregate" | "Aggregate" | "Hash" | "HashSetOp Intersect"
            );
            n.cost = (if blocking { children } else { 0.0 }, children + own);
        }
        n
    }

    fn build_inner(&self, plan: &Plan, phys: Option<&PhysPlan>) -> Node {
        let names = self.names();
        match plan {
            Plan::Scan {
                table,
                filter,
                access,
                cols,
            } => {
                let name = match access {
                    Access::Full => format!("Seq Scan on {}", table.name),
                    Access::Range { index, .. } | Access::InList { index, .. } => format!(
                        "Index Scan using {} on {}",
                        index_name(table, *index),
                        table.name
                    ),
                };
                let mut n = self.node(name, plan, phys);
                // A scan's own conditions name its columns bare, as PostgreSQL prints them.
                let mut names = names;
                for (id, c) in cols.iter().zip(&table.columns) {
                    names.insert(*id, c.name.clone());
                }
                let conds = index_conds(table, access, &names);
                if !conds.is_empty() {
                    let text = if conds.len() == 1 {
                        conds[0].clone()
                    } else {
                        format!("({})", conds.join(" AND "))
                    };
                    n.details.push(format!("Index Cond: {text}"));
                }
                // Conjuncts the key bounds already express are not repeated as a filter (they
                // stay in the executor's filter, where they cost little).
                let rest: Vec<Expr> = filter
                    .iter()
                    .filter(|f| !conds.contains(&expr(f, &names)))
                    .cloned()
                    .collect();
                if !rest.is_empty() {
                    n.details.push(format!("Filter: {}", conj(&rest, &names)));
                }
                n
            }
            Plan::Values { cols, rows } => {
                let name = if cols.is_empty() || rows.len() == 1 {
                    "Result".to_string()
                } else {
                    "Values Scan on \"*VALUES*\"".to_string()
                };
                self.node(name, plan, phys)
            }
            Plan::Filter { input, predicate } => {
                let mut n = self.build(input, one(&phys));
                let own = self.node(String::new(), plan, phys);
                n.rows = own.rows;
                let removed = n.actual.as_ref().map_or(0, |a| a.removed);
                n.actual = own.actual.map(|mut a| {
                    a.removed += removed;
                    a
                });
                n.analyzed = own.analyzed;
                let text = expr(predicate, &names);
                let label = if matches!(**input, Plan::Join { .. }) {
                    "Join Filter"
                } else {
                    "Filter"
                };
                match n
                    .details
                    .iter_mut()
                    .find(|d| d.starts_with(&format!("{label}: ")))
                {
                    Some(d) => {
                        let prev = d[label.len() + 2..].to_string();
                        *d = format!("{label}: ({prev} AND {text})");
                    }
                    None => n.details.push(format!("{label}: {text}")),
                }
                n
            }
            Plan::Project { input, .. } => {
                let mut n = self.build(input, one(&phys));
                if n.name == "Result" {
                    // SELECT without FROM: the projection is the Result node.
                    n.width = stats::width(plan);
                }
                n
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
            } => {
                let (lp, rp) = two(&phys);
                let lids = left.output_ids();
                let rids = right.output_ids();
                let side = |e: &Expr, ids: &[ColumnId]| {
                    let c = e.column_set();
                    !c.is_empty() && c.iter().all(|x| ids.contains(x))
                };
                let (keys, rest): (Vec<&Expr>, Vec<&Expr>) = on.iter().partition(|e| {
                    matches!(e, Expr::Call(_, a, Some(BinaryOp::Eq)) if a.len() == 2
                        && ((side(&a[0], &lids) && side(&a[1], &rids))
                            || (side(&a[0], &rids) && side(&a[1], &lids))))
                });
                let k = match kind {
                    JoinKind::Inner => "",
                    JoinKind::Left => " Left",
                    JoinKind::Full => " Full",
                };
                let algo = match phys {
                    Some(PhysPlan::HashJoin { .. }) => "hash",
                    Some(PhysPlan::LookupJoin { .. }) => "lookup",
                    Some(PhysPlan::NestedLoop { .. }) => "loop",
                    _ if !keys.is_empty() => "hash",
                    _ => "loop",
                };
                let cloned = |v: &[&Expr]| v.iter().map(|e| (*e).clone()).collect::<Vec<_>>();
                let left_node = self.build(left, lp);
                let right_node = self.build(right, rp);
                if algo == "hash" {
                    let mut n = self.node(format!("Hash{k} Join"), plan, phys);
                    n.details
                        .push(format!("Hash Cond: {}", conj(&cloned(&keys), &names)));
                    if !rest.is_empty() {
                        n.details
                            .push(format!("Join Filter: {}", conj(&cloned(&rest), &names)));
                    }
                    let mut hash = Node {
                        name: "Hash".into(),
                        rows: right_node.rows,
                        width: right_node.width,
                        cost: (0.0, 0.0),
                        actual: right_node.actual.clone(),
                        analyzed: right_node.analyzed,
                        details: vec![],
                        inits: vec![],
                        children: vec![],
                    };
                    let c = right_node.cost.1;
                    hash.cost = (c, c);
                    hash.children.push(right_node);
                    n.children = vec![left_node, hash];
                    n
                } else {
                    let name = if k.is_empty() {
                        "Nested Loop".to_string()
                    } else {
                        format!("Nested Loop{k} Join")
                    };
                    let mut n = self.node(name, plan, phys);
                    // A lookup join's conditions are the inner index scan's key bounds.
                    if !on.is_empty() {
                        n.details.push(format!("Join Filter: {}", conj(on, &names)));
                    }
                    n.children = vec![left_node, right_node];
                    n
                }
            }
            Plan::Aggregate { input, group, .. } => {
                let name = if group.is_empty() {
                    "Aggregate"
                } else {
                    "HashAggregate"
                };
                let mut n = self.node(name.into(), plan, phys);
                if !group.is_empty() {
                    n.details
                        .push(format!("Group Key: {}", join_all(group, &names, ", ")));
                }
                n.children.push(self.build(input, one(&phys)));
                n
            }
            Plan::Sort { input, keys } => {
                let mut n = self.node("Sort".into(), plan, phys);
                n.details.push(format!(
                    "Sort Key: {}",
                    keys.iter()
                        .map(|k| {
                            let mut s = expr(&k.expr, &names);
                            if k.desc {
                                s.push_str(" DESC");
                            }
                            // NULLS LAST is the default for ASC, NULLS FIRST for DESC.
                            if k.nulls_first != k.desc {
                                s.push_str(if k.nulls_first {
                                    " NULLS FIRST"
                                } else {
                                    " NULLS LAST"
                                });
                            }
                            s
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                n.children.push(self.build(input, one(&phys)));
                n
            }
            Plan::Limit { input, .. } => {
                let mut n = self.node("Limit".into(), plan, phys);
                n.children.push(self.build(input, one(&phys)));
                n
            }
            Plan::Distinct { input } => {
                let mut n = self.node("HashAggregate".into(), plan, phys);
                let keys: Vec<String> = input.output_ids().iter().map(|c| self.name(c)).collect();
                n.details.push(format!("Group Key: {}", keys.join(", ")));
                n.children.push(self.build(input, one(&phys)));
                n
            }
            Plan::SetOp {
                kind,
                all,
                left,
                right,
                ..
            } => {
                let (lp, rp) = two(&phys);
                let mut append = self.node("Append".into(), plan, None);
                append.children = vec![self.build(left, lp), self.build(right, rp)];
                append.rows = append.children.iter().map(|c| c.rows).sum();
                append.actual = None;
                match (kind, all) {
                    (SetOpKind::Union, true) => {
                        let mut n = append;
                        n.actual = self.instrument.and_then(|i| phys.and_then(|p| i.get(p)));
                        n.analyzed = self.instrument.is_some() && phys.is_some();
                        n
                    }
                    _ => {
                        append.analyzed = false;
                        let name = match kind {
                            SetOpKind::Union => "HashAggregate",
                            SetOpKind::Intersect if *all => "HashSetOp Intersect All",
                            SetOpKind::Intersect => "HashSetOp Intersect",
                            SetOpKind::Except if *all => "HashSetOp Except All",
                            SetOpKind::Except => "HashSetOp Except",
                        };
                        let mut n = self.node(name.into(), plan, phys);
                        if *kind == SetOpKind::Union {
                            let keys: Vec<String> =
                                left.output_ids().iter().map(|c| self.name(c)).collect();
                            n.details.push(format!("Group Key: {}", keys.join(", ")));
                        }
                        let c = self.cost_of(&append);
                        append.cost = (0.0, c);
                        n.children.push(append);
                        n
                    }
                }
            }
            Plan::RecursiveUnion {
                anchor, recursive, ..
            } => {
                let (ap, rp) = two(&phys);
                let mut n = self.node("Recursive Union".into(), plan, phys);
                n.children = vec![self.build(anchor, ap), self.build(recursive, rp)];
                n
            }
            Plan::FunctionScan { func, .. } => {
                let name = format!("Function Scan on {}", func.name());
                self.node(name, plan, phys)
            }
            Plan::WorkTable { id, .. } => {
                let name = if self.ctes.contains(id) {
                    format!("CTE Scan on cte{id}")
                } else {
                    format!("WorkTable Scan on cte{id}")
                };
                self.node(name, plan, phys)
            }
            Plan::WithCte { id, cte, input } => {
                let (cp, ip) = two(&phys);
                let mut n = self.build(input, ip);
                n.inits
                    .insert(0, (format!("CTE cte{id}"), self.build(cte, cp)));
                n
            }
            Plan::Window { input, .. } => {
                let mut n = self.node("WindowAgg".into(), plan, phys);
                n.children.push(self.build(input, one(&phys)));
                n
            }
        }
    }

    fn cost_of(&self, n: &Node) -> f64 {
        n.children.iter().map(|c| c.cost.1).sum::<f64>() + n.rows * 0.01
    }

    fn print(&self, n: &Node, indent: usize, child: bool, out: &mut Vec<String>) {
        let mut text = n.name.clone();
        if self.opts.costs {
            text.push_str(&format!(
                "  (cost={:.2}..{:.2} rows={} width={})",
                n.cost.0, n.cost.1, n.rows as u64, n.width
            ));
        }
        if self.opts.analyze && n.analyzed {
            match &n.actual {
                Some(a) if a.loops > 0 => {
                    let loops = a.loops as f64;
                    let rows = (a.rows as f64 / loops).round() as u64;
                    if self.opts.timing {
                        text.push_str(&format!(
                            " (actual time={:.3}..{:.3} rows={rows} loops={})",
                            a.startup.as_secs_f64() * 1000.0 / loops,
                            a.total.as_secs_f64() * 1000.0 / loops,
                            a.loops
                        ));
                    } else {
                        text.push_str(&format!(" (actual rows={rows} loops={})", a.loops));
                    }
                }
                _ => text.push_str(" (never executed)"),
            }
        }
        let detail_indent = if child { indent + 6 } else { 2 };
        if child {
            out.push(format!("{}->  {text}", " ".repeat(indent)));
        } else {
            out.push(format!("{}{text}", " ".repeat(indent)));
        }
        for d in &n.details {
            out.push(format!("{}{d}", " ".repeat(detail_indent)));
            if let (true, true, Some(a)) = (
                self.opts.analyze,
                d.starts_with("Filter: ") || d.starts_with("Join Filter: "),
                &n.actual,
            ) {
                if a.loops > 0 {
                    let label = if d.starts_with("Join") {
                        "Rows Removed by Join Filter"
                    } else {
                        "Rows Removed by Filter"
                    };
                    out.push(format!(
                        "{}{label}: {}",
                        " ".repeat(detail_indent),
                        (a.removed as f64 / a.loops as f64).round() as u64
                    ));
                }
            }
        }
        for (label, init) in &n.inits {
            out.push(format!("{}{label}", " ".repeat(detail_indent)));
            self.print(init, detail_indent + 2, true, out);
        }
        for c in &n.children {
            self.print(c, detail_indent, true, out);
        }
    }
}

/// The physical input of a one-input node.
fn one<'a>(p: &Option<&'a PhysPlan>) -> Option<&'a PhysPlan> {
    match p {
        Some(PhysPlan::Filter { input, .. })
        | Some(PhysPlan::Project { input, .. })
        | Some(PhysPlan::Aggregate { input, .. })
        | Some(PhysPlan::Sort { input, .. })
        | Some(PhysPlan::Limit { input, .. })
        | Some(PhysPlan::Distinct { input })
        | Some(PhysPlan::Window { input, .. }) => Some(&**input),
        _ => None,
    }
}

/// The physical inputs of a two-input node.
#[allow(clippy::type_complexity)]
fn two<'a>(p: &Option<&'a PhysPlan>) -> (Option<&'a PhysPlan>, Option<&'a PhysPlan>) {
    match p {
        Some(PhysPlan::HashJoin { left, right, .. })
        | Some(PhysPlan::NestedLoop { left, right, .. })
        | Some(PhysPlan::LookupJoin { left, right, .. })
        | Some(PhysPlan::SetOp { left, right, .. }) => (Some(&**left), Some(&**right)),
        Some(PhysPlan::RecursiveUnion {
            anchor, recursive, ..
        }) => (Some(&**anchor), Some(&**recursive)),
        Some(PhysPlan::WithCte { cte, input, .. }) => (Some(&**cte), Some(&**input)),
        _ => (None, None),
    }
}

/// The key bounds of an index or primary-key access, as `Index Cond`.
fn index_conds(
    table: &sledgres_storage::TableDef,
    access: &Access,
    names: &HashMap<ColumnId, String>,
) -> Vec<String> {
    let key: Vec<usize> = match access {
        Access::Full => return vec![],
        Access::Range { index: None, .. } | Access::InList { index: None, .. } => {
            table.primary_key.clone()
        }
        Access::Range {
            index: Some(id), ..
        }
        | Access::InList {
            index: Some(id), ..
        } => table
            .indexes
            .iter()
            .find(|i| i.id == *id)
            .map(|i| i.columns.clone())
            .unwrap_or_default(),
    };
    let col = |i: usize| -> String {
        key.get(i)
            .and_then(|c| table.columns.get(*c))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "?".into())
    };
    let mut conds = vec![];
    match access {
        Access::Full => {}
        Access::InList { values, .. } => conds.push(format!(
            "({} = ANY ('{{{}}}'::{}[]))",
            col(0),
            values
                .iter()
                .map(|v| expr(v, names).trim_matches('\'').to_string())
                .collect::<Vec<_>>()
                .join(","),
            key.first()
                .and_then(|c| table.columns.get(*c))
                .map(|c| c.data_type.pg_name())
                .unwrap_or_default()
        )),
        Access::Range { start, end, .. } => {
            let same = match (start, end) {
                (Some((s, true)), Some((e, true))) => {
                    s.len() == e.len()
                        && s.iter()
                            .zip(e)
                            .all(|(a, b)| format!("{a:?}") == format!("{b:?}"))
                }
                _ => false,
            };
            if same {
                if let Some((s, _)) = start {
                    for (i, v) in s.iter().enumerate() {
                        conds.push(format!("({} = {})", col(i), expr(v, names)));
                    }
                }
            } else {
                let bound =
                    |b: &Option<(Vec<Expr>, bool)>, lower: bool, conds: &mut Vec<String>| {
                        if let Some((v, inc)) = b {
                            let last = v.len().saturating_sub(1);
                            for (i, e) in v.iter().enumerate() {
                                let op = match (i == last, lower, inc) {
                                    (false, _, _) => "=",
                                    (true, true, true) => ">=",
                                    (true, true, false) => ">",
                                    (true, false, true) => "<=",
                                    (true, false, false) => "<",
                                };
                                let c = format!("({} {op} {})", col(i), expr(e, names));
                                if !conds.contains(&c) {
                                    conds.push(c);
                                }
                            }
                        }
                    };
                bound(start, true, &mut conds);
                bound(end, false, &mut conds);
            }
        }
    }
    conds
}

fn index_name(table: &sledgres_storage::TableDef, index: Option<u32>) -> String {
    match index {
        None => table
            .primary_key_name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", table.name)),
        Some(id) => table
            .indexes
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| "?".into()),
    }
}

/// A compact rendering of an expression.
fn expr(e: &Expr, names: &HashMap<ColumnId, String>) -> String {
    match e {
        Expr::Column(id, _) => names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
        Expr::Literal(v, _) if v.is_null() => "NULL".into(),
        Expr::Literal(v @ sledgres_storage::Value::Text(_), t) => format!(
            "'{}'::{}",
            crate::scalar::format_text(v, 1).replace('\'', "''"),
            t.pg_name()
        ),
        Expr::Literal(v, _) => crate::scalar::format_text(v, 1),
        Expr::Unknown(Some(s)) => format!("'{s}'"),
        Expr::Unknown(None) => "NULL".into(),
        Expr::Param(i, _) => format!("${}", i + 1),
        Expr::Call(_, args, Some(op)) if args.len() == 2 => {
            let o = match op {
                BinaryOp::Add => "+",
                BinaryOp::Subtract => "-",
                BinaryOp::Multiply => "*",
                BinaryOp::Divide => "/",
                BinaryOp::Modulo => "%",
                BinaryOp::Eq => "=",
                BinaryOp::NotEq => "<>",
                BinaryOp::Lt => "<",
                BinaryOp::LtEq => "<=",
                BinaryOp::Gt => ">",
                BinaryOp::GtEq => ">=",
                BinaryOp::Concat => "||",
                BinaryOp::Like => "~~",
                BinaryOp::NotLike => "!~~",
                _ => "op",
            };
            format!("({} {o} {})", expr(&args[0], names), expr(&args[1], names))
        }
        Expr::Call(_, args, _) => format!(
            "f({})",
            args.iter()
                .map(|a| expr(a, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Cast(e, t, _) => format!("{}::{}", expr(e, names), t.pg_name()),
        Expr::And(v) => format!("({})", join_all(v, names, " AND ")),
        Expr::Or(v) => format!(
            "({})",
            v.iter()
                .map(|e| expr(e, names))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
        Expr::Not(e) => format!("NOT {}", expr(e, names)),
        Expr::IsNull(e) => format!("{} IS NULL", expr(e, names)),
        Expr::IsNotNull(e) => format!("{} IS NOT NULL", expr(e, names)),
        Expr::InList {
            expr: e,
            list: l,
            negated,
            ..
        } => format!(
            "{} {}IN ({})",
            expr(e, names),
            if *negated { "NOT " } else { "" },
            l.iter()
                .map(|x| expr(x, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Subquery(s) => match &s.kind {
            SubqueryKind::Scalar(_) => format!("(SubPlan {})", s.id + 1),
            SubqueryKind::Exists { negated } => {
                format!(
                    "{}EXISTS(SubPlan {})",
                    if *negated { "NOT " } else { "" },
                    s.id + 1
                )
            }
            SubqueryKind::In { lhs, negated, .. } => format!(
                "{} {}IN (SubPlan {})",
                expr(lhs, names),
                if *negated { "NOT " } else { "" },
                s.id + 1
            ),
        },
        Expr::Case { .. } => "CASE … END".into(),
        Expr::Coalesce(v, _) => format!(
            "COALESCE({})",
            v.iter()
                .map(|e| expr(e, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "…".into(),
    }
}
