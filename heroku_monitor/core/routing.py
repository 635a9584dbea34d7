"""Where a message goes (SPEC section 14): each monitor has an alert channel and a changes
channel, the same one unless set apart. Pure.

Incidents (crashes, dynos down, failed releases and builds, log alerts, monitoring trouble,
and everything said in their threads) stay in the alert channel; changes (deploys,
rollbacks, config vars, add-ons, maintenance) go to the changes channel. A reply or an edit
goes where the message it belongs to went.
"""

from __future__ import annotations

from heroku_monitor.core import detect

CHANGES = frozenset(
    {
        detect.DEPLOY,
        detect.ROLLBACK,
        detect.CONFIG_CHANGED,
        detect.ADDON_ADDED,
        detect.ADDON_REMOVED,
        detect.ADDON_CHANGED,
        detect.MAINTENANCE,
    }
)


def channel_for(kind: str, alert_channel: str, changes_channel: str | None) -> str:
    """The channel of a top-level message of `kind`: a change's goes to `changes_channel`
    (when set), anything else to `alert_channel`."""
    if kind in CHANGES and changes_channel:
        return changes_channel
    return alert_channel
