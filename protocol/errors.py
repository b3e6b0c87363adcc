"""Errors raised where wire input enters; each message says what was wrong and where."""


class ProtocolError(ValueError):
    """A topic or payload that does not follow the v1 contract."""


class TopicError(ProtocolError):
    """A topic that is not one of ours, or carries an invalid segment."""


class PayloadError(ProtocolError):
    """A payload that is not valid JSON or does not match its schema."""


class EnvelopeError(ProtocolError):
    """A signed command envelope that is malformed, forged or stale."""
