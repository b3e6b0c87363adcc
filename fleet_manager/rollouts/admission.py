"""Which kiosks a rollout admits, as the one number the channel's nudge carries.

The state machine (:mod:`fleet_manager.rollouts.plan`) orders kiosks by ``rank_key`` and opens
waves; kiosks learn that their wave is open from the retained nudge, whose ``cutoff`` admits
every kiosk whose bucket (:func:`protocol.content_delivery.bucket`, the first 64 bits of the
same hash) is below it. The cutoff sits halfway between the last admitted kiosk and the first
one still waiting, so a kiosk that enrols later is admitted exactly when the wave its rank
puts it in is open.
"""

from __future__ import annotations

from fleet_manager.rollouts.plan import Rollout
from protocol.content_delivery import bucket


def cutoff(rollout: Rollout) -> float:
    """1.0 once completed; 0.0 before any wave opens; otherwise between the waves."""
    if rollout.state == "completed":
        return 1.0
    if rollout.open_waves == 0:
        return 0.0
    inside = [
        bucket(rollout.seed, k.device_id) for k in rollout.kiosks if k.wave < rollout.open_waves
    ]
    outside = [
        bucket(rollout.seed, k.device_id) for k in rollout.kiosks if k.wave >= rollout.open_waves
    ]
    if not outside:
        return 1.0
    low = max(inside, default=0.0)
    high = min(outside)
    if high <= low:  # two hashes equal in 64 bits: admit the lower rank only
        return low
    return (low + high) / 2
