//! Window function calls of a [`super::Plan::Window`] node.
//!
//! Each call carries its own window (PARTITION BY, ORDER BY, frame): the executor
//! (`exec/window.rs`) sorts the input once per call and computes the call's value for
//! every row. Named windows (`WINDOW w AS (…)`) are resolved by the binder, so calls never
//! refer to each other.

use super::{Expr, SortKey};
use crate::scalar::ResolvedAggregate;
use sledgres_storage::DataType;

#[derive(Clone)]
pub enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An ordinary aggregate over the frame, with its FILTER.
    Agg(ResolvedAggregate, Option<Expr>),
}

impl std::fmt::Debug for WinFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WinFunc::Agg(a, _) => write!(f, "Agg({})", a.result_type.pg_name()),
            other => write!(f, "{}", other.name()),
        }
    }
}

impl WinFunc {
    pub fn name(&self) -> &'static str {
        match self {
            WinFunc::RowNumber => "row_number",
            WinFunc::Rank => "rank",
            WinFunc::DenseRank => "dense_rank",
            WinFunc::PercentRank => "percent_rank",
            WinFunc::CumeDist => "cume_dist",
            WinFunc::Ntile => "ntile",
            WinFunc::Lag => "lag",
            WinFunc::Lead => "lead",
            WinFunc::FirstValue => "first_value",
            WinFunc::LastValue => "last_value",
            WinFunc::NthValue => "nth_value",
            WinFunc::Agg(..) => "aggregate",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMode {
    Rows,
    Range,
    Groups,
}

/// One end of a frame. For ROWS and GROUPS the expression is a row-independent offset
/// (bigint); for RANGE it is the bound's value computed from the current row's ORDER BY key.
#[derive(Clone, Debug)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

#[derive(Clone, Debug)]
pub struct WindowCall {
    pub func: WinFunc,
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub mode: FrameMode,
    pub start: FrameBound,
    pub end: FrameBound,
    pub ty: DataType,
}

impl WindowCall {
    /// Every expression of the call, for rewrites.
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        let mut v: Vec<&mut Expr> = self.args.iter_mut().collect();
        v.extend(self.partition.iter_mut());
        v.extend(self.order.iter_mut().map(|k| &mut k.expr));
        if let WinFunc::Agg(_, Some(f)) = &mut self.func {
            v.push(f);
        }
        for b in [&mut self.start, &mut self.end] {
            if let FrameBound::Preceding(e) | FrameBound::Following(e) = b {
                v.push(e);
            }
        }
        v
    }
}
