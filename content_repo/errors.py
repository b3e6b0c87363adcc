"""What can go wrong with the content repository, as types with messages an operator can act on.

All are ValueError subclasses, so a command line catches one type and prints the message.
"""

from __future__ import annotations


class ContentRepoError(ValueError):
    """Base of every refusal by :mod:`content_repo.repository`."""


class NotARepositoryError(ContentRepoError):
    """The directory holds no (readable, valid) repository."""


class RepositoryExistsError(ContentRepoError):
    """``init`` refuses a directory that already holds metadata."""


class WrongKeyError(ContentRepoError):
    """A signer whose key the repository's root does not trust for that role."""


class VersionConflictError(ContentRepoError):
    """A bundle version already published with other bytes."""


class UnknownVersionError(ContentRepoError):
    """A channel moved to a version that was never published."""
