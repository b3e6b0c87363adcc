"""The enrolment contract between a new kiosk and the fleet manager's HTTPS API, and the
certificate renewal messages that travel over the kiosk's mTLS MQTT connection.

    POST /api/v1/enrolments         EnrolRequest  -> 201 IdentityBundle
                                                  -> 202 PendingEnrolment (facility approval)
                                                  -> 4xx Refusal
    GET  /api/v1/enrolments/{id}                  -> 200 IdentityBundle | 202 PendingEnrolment
                                                  -> 403 Refusal (rejected) | 404 Refusal

    beacon/v1/dev/{id}/cert/renew    kiosk -> fleet  RenewRequest
    beacon/v1/dev/{id}/cert/issued   fleet -> kiosk  RenewResponse

Both sides import these models, so the contract has one home.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from protocol.messages import WireModel

ENROL_PATH = "/api/v1/enrolments"
MAX_TOKEN_CHARS = 64
MAX_CSR_CHARS = 16 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrolRequest(_Strict):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    csr: str = Field(min_length=1, max_length=MAX_CSR_CHARS)  # PEM, subject empty


class BrokerEndpoint(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)


class IdentityBundle(_Strict):
    """Everything a kiosk needs to run, except its private key (which never left it)."""

    status: str = "issued"
    device_id: str
    region: str
    facility: str
    location: str
    location_name: str
    channel: str
    certificate: str  # PEM: the kiosk's certificate, then the issuing CA's
    not_after: float  # epoch seconds
    trust_anchor: str  # PEM: the fleet root CA, for the broker and this API
    broker: BrokerEndpoint
    command_key: str  # base64 raw Ed25519 public key of the fleet's command signer
    tuf_root: str | None = None  # the content repository's root.json: trust for content
    content_url: str | None = None  # the fleet API serving the content repository (/tuf)
    location_token: str
    qr_origin: str
    allowed_origins: tuple[str, ...]


class PendingEnrolment(_Strict):
    status: str = "pending"
    enrolment_id: str
    poll_after_s: float


class Refusal(_Strict):
    error: str  # a short code: token_used, subject_not_empty, rejected …
    message: str


class _RenewMessage(WireModel):
    # Room for a PEM chain; everything else as on every other MQTT message.
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=MAX_CSR_CHARS)


class RenewRequest(_RenewMessage):
    request_id: str = Field(min_length=1, max_length=64)
    csr: str = Field(min_length=1, max_length=MAX_CSR_CHARS)


class RenewResponse(_RenewMessage):
    request_id: str
    certificate: str | None = None  # PEM chain, when issued
    not_after: float | None = None
    error: str | None = None
    message: str | None = None
