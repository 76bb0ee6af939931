//! The groups of one window and their accumulators: DataFusion's `GroupValues` and
//! `GroupsAccumulator`s, and how a table turns into state columns (group keys, then each
//! aggregate's intermediate state) and back (`merge_batch`).

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::GroupsAccumulatorAdapter;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use super::super::StreamError;
use super::state;

/// Groups and accumulators of one window (or of one bucket of it).
pub(super) struct GroupTable {
    groups: Option<Box<dyn GroupValues>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    group_ids: Vec<usize>,
}

/// What the tables of one operator share: the key schema and the aggregates.
pub(super) struct Tables {
    key_schema: SchemaRef,
    keys: usize,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// Columns of each aggregate's intermediate state.
    widths: Vec<usize>,
}

impl Tables {
    /// Tables grouping by `keys` columns of `key_schema` (none: one group) for `aggregates`.
    pub fn try_new(
        key_schema: SchemaRef,
        keys: usize,
        aggregates: Vec<Arc<AggregateFunctionExpr>>,
    ) -> Result<Self, StreamError> {
        let widths = state::state_widths(&aggregates)?;
        Ok(Tables {
            key_schema,
            keys,
            aggregates,
            widths,
        })
    }

    /// Number of group-key columns (the first state columns).
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// An empty table.
    pub fn fresh(&self) -> Result<GroupTable, StreamError> {
        let groups = if self.keys == 0 {
            None
        } else {
            Some(new_group_values(
                self.key_schema.clone(),
                &GroupOrdering::None,
            )?)
        };
        let mut accumulators = Vec::with_capacity(self.aggregates.len());
        for aggregate in &self.aggregates {
            let accumulator: Box<dyn GroupsAccumulator> =
                if aggregate.groups_accumulator_supported() {
                    aggregate.create_groups_accumulator()?
                } else {
                    let factory = aggregate.clone();
                    Box::new(GroupsAccumulatorAdapter::new(move || {
                        factory.create_accumulator()
                    }))
                };
            accumulators.push(accumulator);
        }
        Ok(GroupTable {
            groups,
            accumulators,
            group_ids: Vec::new(),
        })
    }

    /// Merges state columns (written by [`GroupTable::take_state`]) of `rows` groups into
    /// `table`.
    pub fn merge(
        &self,
        table: &mut GroupTable,
        columns: &[ArrayRef],
        rows: usize,
    ) -> Result<(), StreamError> {
        state::check_width(columns, self.keys + self.widths.iter().sum::<usize>())?;
        let groups = table.intern(&columns[..self.keys], rows)?;
        let mut at = self.keys;
        for (accumulator, width) in table.accumulators.iter_mut().zip(&self.widths) {
            accumulator.merge_batch(&columns[at..at + *width], &table.group_ids, groups)?;
            at += width;
        }
        Ok(())
    }
}

impl GroupTable {
    /// Group ids of `rows` rows with key columns `keys` (all group 0 without keys); returns the
    /// number of groups.
    fn intern(&mut self, keys: &[ArrayRef], rows: usize) -> Result<usize, StreamError> {
        match self.groups.as_mut() {
            Some(groups) => {
                groups.intern(keys, &mut self.group_ids)?;
                Ok(groups.len())
            }
            None => {
                self.group_ids.clear();
                self.group_ids.resize(rows, 0);
                Ok(1)
            }
        }
    }

    /// Adds rows: their key columns and each aggregate's argument columns.
    pub fn update(
        &mut self,
        keys: &[ArrayRef],
        inputs: &[Vec<ArrayRef>],
        rows: usize,
    ) -> Result<(), StreamError> {
        let groups = self.intern(keys, rows)?;
        for (accumulator, values) in self.accumulators.iter_mut().zip(inputs) {
            accumulator.update_batch(values, &self.group_ids, None, groups)?;
        }
        Ok(())
    }

    /// Bytes the table holds.
    pub fn size(&self) -> usize {
        self.groups.as_ref().map_or(0, |g| g.size())
            + self.accumulators.iter().map(|a| a.size()).sum::<usize>()
            + self.group_ids.capacity() * std::mem::size_of::<usize>()
    }

    /// The table as state columns (group keys, then each aggregate's intermediate state);
    /// empties it.
    pub fn take_state(&mut self) -> Result<Vec<ArrayRef>, StreamError> {
        let mut columns = match self.groups.as_mut() {
            Some(groups) => groups.emit(EmitTo::All)?,
            None => Vec::new(),
        };
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        Ok(columns)
    }

    /// The final results: group-key columns, aggregate columns, and the number of rows.
    pub fn evaluate(mut self) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>, usize), StreamError> {
        let keys = match self.groups.as_mut() {
            Some(groups) => groups.emit(EmitTo::All)?,
            None => Vec::new(),
        };
        let mut aggregates = Vec::with_capacity(self.accumulators.len());
        for accumulator in &mut self.accumulators {
            aggregates.push(accumulator.evaluate(EmitTo::All)?);
        }
        let rows = aggregates
            .first()
            .map(|a| a.len())
            .or_else(|| keys.first().map(|k| k.len()))
            .unwrap_or(1);
        Ok((keys, aggregates, rows))
    }
}
