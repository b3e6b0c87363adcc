"""How an incident reads on a responder's terminal (pure)."""

from __future__ import annotations

from protocol.messages import IncidentMessage


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def format_incident(incident: IncidentMessage, now: float) -> str:
    """One line: what, where, how old, who is on it. Drills are marked first, always."""
    drill = "[DRILL] " if incident.drill else ""
    where = incident.location_name or incident.location
    facility = f" · {incident.facility}" if incident.facility else ""
    esc = incident.escalation
    if incident.state == "acknowledged":
        who = f"acknowledged by {incident.acknowledged_by}"
    elif incident.state == "resolved":
        who = f"resolved by {incident.resolved_by}"
    elif esc.exhausted:
        who = f"UNANSWERED after notifying {', '.join(esc.notified)}"
    else:
        who = f"team {esc.team} (level {esc.level})"
    # A report's content is never here: say how many entries wait to be decrypted.
    entries = (
        f"  {incident.report_entries} report entr{'y' if incident.report_entries == 1 else 'ies'}"
        " (beacon responder decrypt)"
        if incident.kind == "report"
        else ""
    )
    return (
        f"{drill}{incident.state.upper():<12} {incident.incident_id}  {incident.kind} at {where}"
        f"{facility} [{incident.region}]  age {age_text(now - incident.alert_ts)}  {who}{entries}"
    )
