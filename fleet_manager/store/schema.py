"""Tables of the fleet manager's store (SQLAlchemy Core), portable across SQLite and PostgreSQL.

Times are epoch seconds as double precision; structured details are JSON. The Alembic
migrations in ``migrations/versions`` create exactly these tables; a test keeps the two equal.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Time = sa.Float(precision=53)

facilities = sa.Table(
    "facilities",
    metadata,
    sa.Column("facility_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("region", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", Time, nullable=False),
    # New kiosks of this facility wait as "pending" until someone approves them.
    sa.Column("require_approval", sa.Boolean, nullable=False, server_default=sa.false()),
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("location_id", sa.String(64), primary_key=True),
    sa.Column(
        "facility_id",
        sa.String(64),
        sa.ForeignKey("facilities.facility_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("qr_token", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("floor", sa.String(32), nullable=True),
    sa.Column("room", sa.String(64), nullable=True),
)

# Every QR token a location has had. ``locations.qr_token`` is the current one (retired_at is
# NULL here); a rotated-out token keeps resolving until valid_until, so stickers already on the
# wall keep working while new ones are printed (see registry.token_status).
location_tokens = sa.Table(
    "location_tokens",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column(
        "location_id",
        sa.String(64),
        sa.ForeignKey("locations.location_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("retired_at", Time, nullable=True),
    sa.Column("valid_until", Time, nullable=True),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column(
        "location_id",
        sa.String(64),
        sa.ForeignKey("locations.location_id"),
        nullable=True,
        index=True,
    ),
    sa.Column("registered", sa.Boolean, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("session", sa.String(64), nullable=True),
    sa.Column("status_at", Time, nullable=True),
    sa.Column("last_heartbeat_at", Time, nullable=True),
    sa.Column("heartbeat_seq", sa.Integer, nullable=True),
    sa.Column("outbox_pending", sa.Integer, nullable=True),
    sa.Column("app_version", sa.String(64), nullable=True),
    sa.Column("content_version", sa.String(64), nullable=True),
    sa.Column("created_at", Time, nullable=False),
    # active | revoked | decommissioned (see fleet_manager.enrolment.lifecycle)
    sa.Column("lifecycle", sa.String(16), nullable=False, server_default="active"),
    # The location the kiosk said it serves at its last birth; differs from location_id after
    # a move until the kiosk has applied the "relocate" command.
    sa.Column("reported_location", sa.String(64), nullable=True),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.String(36), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("reported_location", sa.String(64), nullable=False),
    sa.Column("alert_ts", Time, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(36), nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("drill", sa.Boolean, nullable=False),
    sa.Column("region", sa.String(64), nullable=False, index=True),
    sa.Column("facility_id", sa.String(64), nullable=True, index=True),
    sa.Column("location_id", sa.String(64), nullable=False),
    sa.Column("location_name", sa.String(200), nullable=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("alert_ts", Time, nullable=False),
    sa.Column("opened_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("chain", sa.JSON, nullable=False),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    sa.Column("escalation_team", sa.String(64), nullable=False),
    sa.Column("notified", sa.JSON, nullable=False),
    sa.Column("next_escalation_at", Time, nullable=True, index=True),
    sa.Column("exhausted", sa.Boolean, nullable=False),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("resolved_by", sa.String(64), nullable=True),
    # How many entries the encrypted report behind a "report" incident has (migration 0007).
    sa.Column("report_entries", sa.Integer, nullable=False, server_default="0"),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "incident_id",
        sa.String(64),
        sa.ForeignKey("incidents.incident_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", Time, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

# Single-use enrolment tokens. Only a hash is stored: the token is a bearer secret that can
# claim a location, so a copy of the database must not be enough to enrol a kiosk.
enrolment_tokens = sa.Table(
    "enrolment_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "location_id",
        sa.String(64),
        sa.ForeignKey("locations.location_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("used_at", Time, nullable=True),
    sa.Column("enrolment_id", sa.String(64), nullable=True),
)

# One row per accepted CSR: pending (waiting for approval), issued or rejected.
enrolments = sa.Table(
    "enrolments",
    metadata,
    sa.Column("enrolment_id", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "location_id",
        sa.String(64),
        sa.ForeignKey("locations.location_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("csr_pem", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("decided_at", Time, nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
)

# Every certificate issued to a kiosk, so revocation can list them all in the CRL.
certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("serial", sa.String(40), primary_key=True),  # hex
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("issued_at", Time, nullable=False),
    sa.Column("not_after", Time, nullable=False),
    sa.Column("via", sa.String(16), nullable=False),  # enrol | renew
    sa.Column("revoked_at", Time, nullable=True),
)

# Append-only and hash-chained: each entry's hash covers the previous hash, and prev_hash is
# unique, so two writers racing cannot fork the chain (one of them retries).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Time, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Staged content rollouts: the pure state machine's record (fleet_manager.rollouts.plan) as
# JSON, plus what the shell needs to find and guard it. ``revision`` makes concurrent writers
# (several fleet managers, an operator's CLI) apply each change once.
rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("rollout_id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False, index=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("baseline", sa.String(32), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("scope", sa.JSON, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

# Console and API accounts (fleet_manager.accounts). Usernames are lower-case ids, so the
# primary key makes them unique without case games. Only Argon2 hashes of passwords are kept.
users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("password_changed_at", Time, nullable=False),
    sa.Column("last_login_at", Time, nullable=True),
)

# A user's roles with their scope: facility_id for facility_admin, region for responder,
# neither for ops and auditor (fleet_manager.accounts.policy.grant_problem is the rule).
role_grants = sa.Table(
    "role_grants",
    metadata,
    sa.Column("grant_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "username", sa.String(64), sa.ForeignKey("users.username"), nullable=False, index=True
    ),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("facility_id", sa.String(64), sa.ForeignKey("facilities.facility_id"), nullable=True),
    sa.Column("region", sa.String(64), nullable=True),
    sa.Column("created_at", Time, nullable=False),
)

# Console logins. The key is the SHA-256 of the cookie's session id, never the id itself.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "username", sa.String(64), sa.ForeignKey("users.username"), nullable=False, index=True
    ),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_seen_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=True),
)

# API tokens for automation: only the SHA-256 of the secret; the first characters for display.
# ``grants`` is a JSON list of {role, facility_id, region}, as role_grants.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("display_prefix", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(64), sa.ForeignKey("users.username"), nullable=True),
    sa.Column("grants", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=True),
    sa.Column("revoked_at", Time, nullable=True),
    sa.Column("last_used_at", Time, nullable=True),
)

# Login throttling state (fleet_manager.accounts.throttle), one row per key:
# "user:<username>" or "addr:<client address>".
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", Time, nullable=True),
    sa.Column("locked_until", Time, nullable=True),
)

# What the console and the API ask the fleet manager to do: acknowledge, resolve or annotate an
# incident, identify a kiosk or send it a drill. The API process has no MQTT link of its own;
# the fleet manager's worker claims each request (state queued → done | refused), applies it
# exactly as it applies a responder's action, and publishes. Durable: a request made while no
# fleet manager runs is applied when one starts.
console_requests = sa.Table(
    "console_requests",
    metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # ack | resolve | note | identify | drill
    sa.Column("target", sa.String(64), nullable=False),  # incident id or device id
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # queued | done | refused
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("done_at", Time, nullable=True),
    sa.Column("outcome", sa.String(200), nullable=True),
)

# A kiosk's timeline for the console: online/offline, alerts, content applied, commands sent
# and their results, supervision findings. Small rows; never anything personal.
device_events = sa.Table(
    "device_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_device_events_device_at", "device_id", "at"),
)

# Each fleet manager instance's counters and alert-latency histogram, written with its
# heartbeat flush, so the API process can serve /metrics for the whole fleet.
metric_snapshots = sa.Table(
    "metric_snapshots",
    metadata,
    sa.Column("instance", sa.String(64), primary_key=True),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("counters", sa.JSON, nullable=False),
    sa.Column("histograms", sa.JSON, nullable=False),
)

# Engagement as aggregate counts only (help presses, QR scans) per day, location and language:
# no row ever says who, or exactly when.
engagement_daily = sa.Table(
    "engagement_daily",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    sa.Column("location_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # help | qr_scan
    sa.Column("language", sa.String(16), primary_key=True),  # BCP 47, or "und"
    sa.Column("count", sa.Integer, nullable=False),
)

# The routing and escalation policy as edited in the console: every saved version is kept
# (who, when), the highest version is in force. Without any row, the policy file named in the
# fleet config is in force (and is what the first console edit starts from).
routing_policies = sa.Table(
    "routing_policies",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("policy_yaml", sa.Text, nullable=False),
    sa.Column("saved_by", sa.String(64), nullable=False),
    sa.Column("saved_at", Time, nullable=False),
)

# Lists and the live feed read incidents by time.
sa.Index("ix_incidents_opened_at", incidents.c.opened_at)
sa.Index("ix_incidents_updated_at", incidents.c.updated_at)
# The fleet page's live feed reads kiosks whose status changed since its cursor.
sa.Index("ix_devices_status_at", devices.c.status_at)

# Reports from the landing page (migration 0007). Only ciphertext: each entry is sealed on
# arrival to the public key of its location's region (fleet_manager/reports/sealing.py); the
# private keys are held by that region's responders, never here.
report_keys = sa.Table(
    "report_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("region", sa.String(64), nullable=False, index=True),
    sa.Column("public_key", sa.Text, nullable=False),  # PEM, X25519
    sa.Column("added_at", Time, nullable=False),
    sa.Column("added_by", sa.String(64), nullable=False),
    sa.Column("retired_at", Time, nullable=True),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("report_id", sa.String(36), primary_key=True),
    # SHA-256 of the case code (to find the case) and the passphrase's Argon2 hash.
    sa.Column("case_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("passphrase_hash", sa.String(200), nullable=False),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("facility_id", sa.String(64), nullable=True),
    sa.Column("location_id", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
)

report_entries = sa.Table(
    "report_entries",
    metadata,
    sa.Column("report_id", sa.String(36), sa.ForeignKey("reports.report_id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    # When a fleet manager put it on the incident (applying it twice is harmless).
    sa.Column("delivered_at", Time, nullable=True),
)
sa.Index("ix_report_entries_delivered_at", report_entries.c.delivered_at)

# Staff training (migration 0008). Records are kept at least six years; only the documented
# retention job (`beacon training retention`) deletes any.
staff_profiles = sa.Table(
    "staff_profiles",
    metadata,
    sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), primary_key=True),
    sa.Column(
        "facility_id",
        sa.String(64),
        sa.ForeignKey("facilities.facility_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("profession", sa.String(64), nullable=True),
    sa.Column("licence_state", sa.String(2), nullable=True),
    sa.Column("licence_renewal", sa.String(10), nullable=True),  # YYYY-MM-DD
    sa.Column("joined_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

staff_invites = sa.Table(
    "staff_invites",
    metadata,
    sa.Column("invite_id", sa.String(16), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 of the link's
    sa.Column(
        "facility_id", sa.String(64), sa.ForeignKey("facilities.facility_id"), nullable=False
    ),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("accepted_at", Time, nullable=True),
    sa.Column("accepted_by", sa.String(64), nullable=True),
)

training_progress = sa.Table(
    "training_progress",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("module_id", sa.String(64), primary_key=True),
    sa.Column("section_id", sa.String(64), primary_key=True),
    sa.Column("done_at", Time, nullable=False),
)

quiz_attempts = sa.Table(
    "quiz_attempts",
    metadata,
    sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("module_id", sa.String(64), nullable=False),
    sa.Column("module_version", sa.String(32), nullable=False),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("correct", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("at", Time, nullable=False),
)

training_records = sa.Table(
    "training_records",
    metadata,
    sa.Column("record_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # module | self_certification
    sa.Column("module_id", sa.String(64), nullable=True),
    sa.Column("module_version", sa.String(32), nullable=True),
    sa.Column("hours", sa.Float, nullable=False),
    sa.Column("completed_on", sa.String(10), nullable=False),  # YYYY-MM-DD
    sa.Column("recorded_at", Time, nullable=False),
    sa.Column("certificate_id", sa.String(32), nullable=True, unique=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

training_reminders = sa.Table(
    "training_reminders",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("due_date", sa.String(10), primary_key=True),
    sa.Column("sent_at", Time, nullable=False),
)
