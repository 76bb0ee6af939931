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
}

impl StateOp {
    /// Bytes this change writes (keys and values), for the checkpoint size shown in the jobs
    /// table.
    pub fn size(&self) -> usize {
        match self {
            StateOp::Put(key, value) => key.len() + value.len(),
            StateOp::Delete(key) | StateOp::DeletePrefix(key) => key.len(),
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
