//! What an operator writes at a barrier and reads back at recovery.
//!
//! Each operator instance owns a key space (its namespace, assigned by the job graph); it writes
//! the state that changed since the last barrier as puts and deletes of keys relative to that
//! namespace, and at recovery reads back every entry of it. The coordinator applies the writes
//! of every instance of one epoch in a single atomic store write.

/// One change to the durable state, with an absolute key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateOp {
    /// Stores (or replaces) a value.
    Put(Vec<u8>, Vec<u8>),
    /// Removes a key.
    Delete(Vec<u8>),
    /// Removes every key starting with this prefix.
    DeletePrefix(Vec<u8>),
    /// Removes every key in `[from, to)`.
    DeleteRange(Vec<u8>, Vec<u8>),
    /// Bytes the operator wrote to the store itself since the last barrier (state that does
    /// not fit in memory, see [`StateSpace`](super::StateSpace)); the epoch makes them durable.
    /// Counted in the checkpoint size only.
    Written(u64),
}

impl StateOp {
    /// Bytes this change writes (keys and values), for the checkpoint size shown in the jobs
    /// table.
    pub fn size(&self) -> usize {
        match self {
            StateOp::Put(key, value) => key.len() + value.len(),
            StateOp::Delete(key) | StateOp::DeletePrefix(key) => key.len(),
            StateOp::DeleteRange(from, to) => from.len() + to.len(),
            StateOp::Written(bytes) => *bytes as usize,
        }
    }
}

impl StateOp {
    /// Adds the change to a store write (the coordinator's write of an epoch).
    pub fn apply(self, write: &mut crate::storage::StoreWrite) {
        match self {
            StateOp::Put(key, value) => write.put_state(key, value),
            StateOp::Delete(key) => write.delete_state(key),
            StateOp::DeletePrefix(prefix) => write.delete_state_prefix(prefix),
            StateOp::DeleteRange(from, to) => write.delete_state_range(from, to),
            StateOp::Written(_) => {}
        }
    }
}

/// Collects the state changes of one operator instance for one epoch, under its namespace.
#[derive(Debug, Default)]
pub struct StateWriter {
    prefix: Vec<u8>,
    ops: Vec<StateOp>,
}

impl StateWriter {
    /// A writer whose keys are relative to `prefix`.
    pub fn new(prefix: Vec<u8>) -> Self {
        StateWriter {
            prefix,
            ops: Vec::new(),
        }
    }

    /// Stores `value` at `key` (relative to the namespace).
    pub fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.ops.push(StateOp::Put(self.absolute(key), value));
    }

    /// Removes `key` (relative to the namespace).
    pub fn delete(&mut self, key: &[u8]) {
        self.ops.push(StateOp::Delete(self.absolute(key)));
    }

    /// Removes every key of the namespace (an operator that rewrites its whole state).
    pub fn clear(&mut self) {
        self.ops.push(StateOp::DeletePrefix(self.prefix.clone()));
    }

    /// Removes the keys in `[from, to)`, absolute keys of the operator's [`StateSpace`]
    /// (super::StateSpace): state it wrote itself that this epoch no longer needs.
    pub fn delete_range_at(&mut self, from: Vec<u8>, to: Vec<u8>) {
        self.ops.push(StateOp::DeleteRange(from, to));
    }

    /// Counts `bytes` the operator wrote to its [`StateSpace`](super::StateSpace) for this
    /// epoch.
    pub fn wrote(&mut self, bytes: u64) {
        if bytes > 0 {
            self.ops.push(StateOp::Written(bytes));
        }
    }

    /// A writer for a part of this namespace (an operator of a chain), tagged by `part`.
    pub fn nested(&self, part: u8) -> StateWriter {
        let mut prefix = self.prefix.clone();
        prefix.push(part);
        StateWriter::new(prefix)
    }

    /// Takes over the changes of a nested writer.
    pub fn absorb(&mut self, nested: StateWriter) {
        self.ops.extend(nested.ops);
    }

    /// The changes, with absolute keys.
    pub fn into_ops(self) -> Vec<StateOp> {
        self.ops
    }

    fn absolute(&self, key: &[u8]) -> Vec<u8> {
        let mut absolute = Vec::with_capacity(self.prefix.len() + key.len());
        absolute.extend_from_slice(&self.prefix);
        absolute.extend_from_slice(key);
        absolute
    }
}

/// The durable entries of one operator instance's namespace, keys relative to it, in key
/// order.
#[derive(Debug, Clone, Default)]
pub struct StateEntries {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl StateEntries {
    /// Entries read from the store (keys already relative to the namespace).
    pub fn new(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        StateEntries { entries }
    }

    /// True when the namespace holds nothing (a fresh start).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries of part `part` of the namespace (see [`StateWriter::nested`]).
    pub fn nested(&self, part: u8) -> StateEntries {
        StateEntries {
            entries: self
                .entries
                .iter()
                .filter(|(key, _)| key.first() == Some(&part))
                .map(|(key, value)| (key[1..].to_vec(), value.clone()))
                .collect(),
        }
    }

    /// Every `(key, value)`, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_slice()))
    }
}
