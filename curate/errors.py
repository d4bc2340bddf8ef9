"""The small exception hierarchy of curate. Every message says what to do about it."""


class CurateError(Exception):
    """Base class of every error curate raises on purpose."""


class ConfigError(CurateError):
    """A pipeline or mixture config is invalid: the message names the key, the value and what is allowed."""


class StorageError(CurateError):
    """A Delta table could not be read or written."""


class InputError(CurateError):
    """An input path or format cannot be used at all (per-record problems go to quarantine instead)."""


class InputUnavailable(CurateError):
    """An input file's bytes could not be read for a reason outside its content (permission denied,
    timeout, lost connection, a store's 5xx): its task fails so that Spark retries it; nothing is
    quarantined. The message names the file and the error."""


class DependencyError(CurateError):
    """An optional dependency or bundled model file is missing; the message says how to install it."""


class AuditError(CurateError):
    """`curate audit` found counts that do not reconcile; the message lists each mismatch."""


class RunLockedError(StorageError):
    """Another curate run holds the storage root's run lock: the message names it."""


class VerifyError(CurateError):
    """`curate verify` read published shards that do not match their manifests; the message lists each mismatch."""
