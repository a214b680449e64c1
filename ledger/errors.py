"""Errors raised by the ledger. Every rejection carries a reason a person can read."""


class LedgerError(Exception):
    """Base class for ledger errors."""


class DecodeError(LedgerError):
    """Level 1: the bytes are too large, not CBOR, or not canonically encoded."""


class SchemaError(LedgerError):
    """Level 2: the entry or its kind-specific body has the wrong shape."""


class SignatureError(LedgerError):
    """Level 3: the signature does not verify against the author's key."""


class ChainError(LedgerError):
    """Level 4: the entry does not extend its author's feed (wrong previous hash, time, ...)."""


class SemanticError(LedgerError):
    """Level 6: the kind's rules reject the entry (overdraft, wrong split, no such listing, ...)."""


class VoidedError(SemanticError):
    """Level 6, after a fork: the rules reject the entry only because a fork voided entries it
    relied on (a proposal that no longer passed once a forked voter's vote counted nothing). It
    was valid when written, so it is kept without effect, as on a replica that saw it first."""


class StorageError(LedgerError):
    """The store could not be written (for example a full disk); nothing was changed."""
