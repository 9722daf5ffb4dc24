//! The states of a transactional producer and which moves between them are legal, as in
//! Java's `TransactionManager.State`.
//!
//! Owns: [`TxnState`] and [`TxnState::can_move_to`]. Must not: do I/O or keep data (the
//! manager holds the producer id, partitions and the error).

/// Where a transactional producer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// Created; `init_transactions` not called yet.
    Uninitialized,
    /// `init_transactions` is getting the producer id and epoch.
    Initializing,
    /// No transaction open; `begin_transaction` may be called.
    Ready,
    /// A transaction is open: records and offsets may be sent.
    InTransaction,
    /// `commit_transaction` is flushing and ending the transaction.
    Committing,
    /// `abort_transaction` is dropping unsent batches and ending the transaction.
    Aborting,
    /// Something failed in the transaction; only `abort_transaction` is allowed.
    AbortableError,
    /// The producer cannot continue (fenced, unauthorized, ...); only closing is left.
    FatalError,
}

impl TxnState {
    /// Whether the producer may move from `self` to `to`.
    pub fn can_move_to(self, to: TxnState) -> bool {
        use TxnState::*;
        match to {
            Uninitialized => false,
            Initializing => matches!(self, Uninitialized | Initializing),
            Ready => matches!(self, Initializing | Committing | Aborting),
            InTransaction => self == Ready,
            Committing => self == InTransaction,
            Aborting => matches!(self, InTransaction | AbortableError),
            AbortableError => matches!(
                self,
                InTransaction | Committing | AbortableError | Initializing
            ),
            FatalError => true,
        }
    }

    /// Whether records and offsets may be added to a transaction now.
    pub fn accepts_sends(self) -> bool {
        self == TxnState::InTransaction
    }

    /// Whether the state is one of the two error states.
    pub fn is_error(self) -> bool {
        matches!(self, TxnState::AbortableError | TxnState::FatalError)
    }
}

#[cfg(test)]
mod tests {
    use super::TxnState::{self, *};

    const ALL: [TxnState; 8] = [
        Uninitialized,
        Initializing,
        Ready,
        InTransaction,
        Committing,
        Aborting,
        AbortableError,
        FatalError,
    ];

    #[test]
    fn the_happy_paths_are_legal() {
        let commit = [
            Uninitialized,
            Initializing,
            Ready,
            InTransaction,
            Committing,
            Ready,
        ];
        for w in commit.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        let abort = [Ready, InTransaction, Aborting, Ready];
        for w in abort.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        let failed = [InTransaction, AbortableError, Aborting, Ready];
        for w in failed.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        // a failed commit (a batch failed while flushing) is abortable
        assert!(Committing.can_move_to(AbortableError));
    }

    #[test]
    fn illegal_moves_are_refused() {
        assert!(
            !Uninitialized.can_move_to(InTransaction),
            "begin before init"
        );
        assert!(!Ready.can_move_to(Committing), "commit without begin");
        assert!(!Ready.can_move_to(Aborting), "abort without begin");
        assert!(!InTransaction.can_move_to(InTransaction), "nested begin");
        assert!(
            !AbortableError.can_move_to(Committing),
            "commit after an error"
        );
        assert!(!AbortableError.can_move_to(InTransaction));
        assert!(!Ready.can_move_to(Initializing), "init twice");
        for s in ALL {
            assert!(
                !FatalError.can_move_to(s) || s == FatalError,
                "out of fatal to {s:?}"
            );
            assert!(s.can_move_to(FatalError), "{s:?} -> fatal");
            assert!(!s.can_move_to(Uninitialized));
        }
    }

    #[test]
    fn only_an_open_transaction_accepts_sends() {
        for s in ALL {
            assert_eq!(s.accepts_sends(), s == InTransaction, "{s:?}");
        }
        assert!(AbortableError.is_error() && FatalError.is_error() && !Ready.is_error());
    }
}
