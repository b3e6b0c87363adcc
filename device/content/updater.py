"""ContentUpdater: from a nudge or a start-up check to a verified bundle on screen, or a report.

The agent owns the threads and the MQTT client; this class owns the decisions and the disk.
Every public method returns the events to publish on ``beacon/v1/dev/{id}/event``, as
``(name, detail)`` pairs named by :data:`protocol.content_delivery.ContentEvent`:

    content_applied         {version}                   switched; health window running
    content_healthy         {version}                   the UI showed it; now the last good
    content_failed          {version, stage, reason}    refused or failed; current content kept
                                                        (version "" if the channel pointer failed)
    content_rolled_back     {version, to, reason}       unhealthy; back to the last good
    content_metadata_stale  {stage, reason}             no fresh verified TUF metadata

``stage`` is one of ``metadata``, ``download``, ``channel``, ``unpack``, ``bundle``, ``qr``,
``switch``, ``health``. ``content_metadata_stale`` is a state report: it is returned when the
kiosk becomes stale (or the reason changes), not on every retry; a failed ``apply`` always
returns its ``content_failed`` as well, so a rollout sees the kiosk did not move.

Order of an apply: fresh TUF metadata → verified download → checked unpack into staging →
:func:`content.bundle.load_bundle` → the bundle's version is the one asked for → every QR
target the kiosk will show is on an allowed origin → switch (atomic) → health window. A kiosk
without fresh metadata installs nothing and keeps showing what it has.

Threads: ``apply`` (slow: network) is serialised on its own lock and touches shared state only
to switch; ``confirm_healthy``, ``check_health`` and ``current_bundle_dir`` take a short lock,
so the UI thread may call them while a download runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from content.bundle import BundleError, ContentBundle, load_bundle
from content.qr import check_origin, landing_url
from device.agent.identity import DeviceProfile
from device.content import health
from device.content.fetch import (
    ContentFetchError,
    MetadataRejected,
    MetadataStale,
    RepositoryUnreachable,
    TargetMissing,
    TufClient,
)
from device.content.store import ContentStore, StoreError
from device.content.unpack import UnpackError, extract
from protocol.content_delivery import ContentEvent, ContentNudge, admitted, bundle_target
from transport.log import get_logger

log = get_logger("device.content")

Event = tuple[ContentEvent, dict[str, str]]
MAX_REASON = 500
_STALE = (RepositoryUnreachable, MetadataStale, MetadataRejected)


def qr_target_problems(bundle: ContentBundle, profile: DeviceProfile) -> list[str]:
    """Every QR target the kiosk would show with ``bundle`` that is not on an allowed origin.

    A help slide's QR code points at ``https://{profile.qr_origin}/r/{token}?l={lang}`` for each
    of the bundle's languages (see :mod:`content.qr`); a kiosk provisioned without a location
    token or origin shows no QR code, so it has no target to check.
    """
    if not bundle.help_slides() or not (profile.qr_origin and profile.location_token):
        return []
    problems = []
    for lang in bundle.languages:
        try:
            check_origin(
                landing_url(profile.qr_origin, profile.location_token, lang),
                profile.allowed_origins,
            )
        except ValueError as exc:  # QrTargetError included
            problems.append(f"language {lang}: {exc}")
    return problems


def _failed(version: str, stage: str, reason: str) -> Event:
    return "content_failed", {"version": version, "stage": stage, "reason": reason[:MAX_REASON]}


class _Refused(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


class ContentUpdater:
    def __init__(
        self,
        state_dir: Path,
        profile: DeviceProfile,
        client: TufClient,
        clock: Callable[[], float] = time.monotonic,
        *,
        health_window_s: float = health.DEFAULT_WINDOW_S,
        max_starts: int = health.DEFAULT_MAX_STARTS,
    ) -> None:
        self._profile = profile
        self._client = client
        self._clock = clock
        self._window_s = health_window_s
        self._max_starts = max_starts
        self._store = ContentStore(state_dir)
        self._apply_lock = threading.Lock()
        self._lock = threading.RLock()
        self._stale_reason: str | None = None
        self._store.recover()
        self._health = self._resume_health()

    def _resume_health(self) -> health.HealthState | None:
        """A health check that a restart interrupted goes on, with one more start counted."""
        pending = self._store.pending_health()
        if pending is None:
            return None
        version, starts = pending
        if version != self._store.current_version():  # a power cut before the switch
            self._store.clear_pending_health()
            return None
        state = health.restarted(
            health.HealthState(
                version, 0.0, self._window_s, starts=starts, max_starts=self._max_starts
            ),
            self._clock(),
        )
        self._store.set_pending_health(version, state.starts)
        log.info("content_health_resumed", version=version, starts=state.starts)
        return state

    # -- for the UI ----------------------------------------------------------------------------

    def current_bundle_dir(self) -> Path | None:
        """The folder of the bundle to show (``content.bundle.load_bundle``), None if none yet."""
        with self._lock:
            return self._store.current_dir()

    def current_version(self) -> str | None:
        with self._lock:
            return self._store.current_version()

    # -- triggers --------------------------------------------------------------------------------

    def on_nudge(self, nudge: ContentNudge) -> list[Event]:
        """A (verified) nudge on our channel: install its version if the rollout admits us; a
        kiosk with no content that is not admitted yet installs the baseline."""
        p = self._profile
        if nudge.channel != p.channel:
            log.warning("content_nudge_other_channel", channel=nudge.channel)
            return []
        current = self.current_version()
        if admitted(nudge, p.device_id, p.region, p.facility):
            if nudge.version == current:
                return []
            if nudge.version in self._store.refused():
                log.info("content_nudge_refused_version", version=nudge.version)
                return []
            return self.apply(nudge.version)
        if current is None and nudge.baseline is not None:
            return self.apply(nudge.baseline)
        return []

    def ensure_channel_content(self) -> list[Event]:
        """At start and now and then: refresh metadata; a kiosk with no content installs the
        version its channel points at (a kiosk enrolled later gets the channel's content)."""
        with self._apply_lock:
            try:
                self._client.refresh()
            except ContentFetchError as exc:
                return self._stale(exc)
            self._fresh()
            if self.current_version() is not None:
                return []
            try:
                pointer = self._client.channel_pointer(self._profile.channel)
            except TargetMissing:
                log.info("content_channel_empty", channel=self._profile.channel)
                return []
            except ContentFetchError as exc:
                events = self._stale(exc) if isinstance(exc, _STALE) else []
                return [*events, _failed("", exc.stage, exc.reason)]
            return self._install(pointer.version)

    def apply(self, version: str) -> list[Event]:
        """Fetch, verify, unpack, check and switch to ``version``; on any failure keep the
        current content and report ``content_failed``."""
        try:
            bundle_target(version)
        except ValueError as exc:
            return [_failed(version, "download", str(exc))]
        with self._apply_lock:
            if version == self.current_version():
                return []
            try:
                self._client.refresh()
            except ContentFetchError as exc:
                return [*self._stale(exc), _failed(version, exc.stage, exc.reason)]
            self._fresh()
            return self._install(version)

    # -- health ----------------------------------------------------------------------------------

    def confirm_healthy(self, version: str) -> list[Event]:
        """The UI loaded and showed ``version``. Confirms it if its health check is running."""
        with self._lock:
            state = self._health
            if state is None or state.version != version:
                return []
            state = health.confirmed(state, self._clock())
            self._health = state
            return self._judge(state, state.confirmed_at or 0.0)

    def check_health(self, now: float | None = None) -> list[Event]:
        """Call now and then (``now`` from the same clock): rolls back a switch the UI has not
        confirmed within the window."""
        with self._lock:
            if self._health is None:
                return []
            return self._judge(self._health, self._clock() if now is None else now)

    def _judge(self, state: health.HealthState, now: float) -> list[Event]:
        verdict = health.decide(state, now)
        if verdict == "keep":
            return []
        self._health = None
        self._store.clear_pending_health()
        if verdict == "confirmed":
            self._store.mark_good(state.version)
            self._prune()
            log.info("content_healthy", version=state.version)
            return [("content_healthy", {"version": state.version})]
        reason = health.rollback_reason(state)
        good = self._store.last_good()
        if good is None or good == state.version:
            log.warning("content_unhealthy_kept", version=state.version, last_good=good)
            why = "no last good content" if good is None else "it is the last good content"
            return [_failed(state.version, "health", f"{reason}; {why}, so it stays")]
        try:
            to = self._store.rollback()
        except (StoreError, OSError) as exc:
            log.error("content_rollback_failed", version=state.version, error=str(exc))
            return [_failed(state.version, "health", f"{reason}; cannot roll back: {exc}")]
        self._store.refuse(state.version)
        self._prune()
        log.warning("content_rolled_back", version=state.version, to=to)
        return [("content_rolled_back", {"version": state.version, "to": to, "reason": reason})]

    # -- the work --------------------------------------------------------------------------------

    def _stale(self, exc: ContentFetchError) -> list[Event]:
        log.warning("content_metadata_stale", stage=exc.stage, reason=exc.reason)
        if exc.reason == self._stale_reason:
            return []
        self._stale_reason = exc.reason
        return [("content_metadata_stale", {"stage": exc.stage, "reason": exc.reason})]

    def _prune(self) -> None:
        """Old versions go; a failure only costs disk space, so it does not fail the caller."""
        try:
            removed = self._store.prune()
        except OSError as exc:
            log.warning("content_prune_failed", error=str(exc))
            return
        if removed:
            log.info("content_pruned", versions=removed)

    def _fresh(self) -> None:
        if self._stale_reason is not None:
            log.info("content_metadata_fresh")
        self._stale_reason = None

    def _install(self, version: str) -> list[Event]:
        """Fetch and switch to ``version``, metadata being fresh; the apply lock is held."""
        try:
            self._prepare(version)
            with self._lock:
                # Pending first: a power cut after the switch still has its health check.
                self._store.set_pending_health(version, 0)
                self._store.switch(version)
                self._health = health.switched(
                    version, self._clock(), self._window_s, self._max_starts
                )
        except _Refused as exc:
            log.warning("content_failed", version=version, stage=exc.stage, reason=exc.reason)
            return [_failed(version, exc.stage, exc.reason)]
        except ContentFetchError as exc:
            log.warning("content_failed", version=version, stage=exc.stage, reason=exc.reason)
            events = self._stale(exc) if isinstance(exc, _STALE) else []
            return [*events, _failed(version, exc.stage, exc.reason)]
        except (StoreError, OSError) as exc:
            with self._lock:  # the switch did not happen: a running check (if any) goes on
                if self._health is None:
                    self._store.clear_pending_health()
                else:
                    self._store.set_pending_health(self._health.version, self._health.starts)
            log.error("content_switch_failed", version=version, error=str(exc))
            return [_failed(version, "switch", str(exc))]
        finally:
            self._store.discard_stage(version)
        with self._lock:
            self._prune()
        log.info("content_applied", version=version)
        return [("content_applied", {"version": version})]

    def _prepare(self, version: str) -> None:
        """Download, unpack and check ``version`` into its staging folder, or raise."""
        archive = self._client.fetch_bundle(version)
        try:
            staged = self._store.stage(version)
            extract(archive, staged)
        except UnpackError as exc:
            raise _Refused("unpack", str(exc)) from None
        except OSError as exc:
            raise _Refused("unpack", f"cannot write the bundle: {exc}") from None
        finally:
            archive.unlink(missing_ok=True)
        try:
            bundle = load_bundle(staged)
        except BundleError as exc:
            problems = [p.replace(f"{staged}/", "") for p in exc.problems]
            raise _Refused("bundle", "; ".join(problems)) from None
        if bundle.version != version:
            raise _Refused("bundle", f"manifest.toml says version {bundle.version}, not {version}")
        problems = qr_target_problems(bundle, self._profile)
        if problems:
            raise _Refused("qr", "; ".join(problems))
