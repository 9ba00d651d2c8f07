//! Which gated cell a network and its kernel run.

/// Which gated cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Long short-term memory: 4 gate blocks, hidden and cell state.
    Lstm,
    /// Gated recurrent unit: 3 gate blocks, hidden state.
    Gru,
}

impl Cell {
    /// Gate blocks per unit: 4 for LSTM, 3 for GRU.
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}
