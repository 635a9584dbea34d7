"""What Slack sends and accepts, for the tests of the app's Slack side: the signing secret,
a button's press, and channels Slack takes."""

from __future__ import annotations

import json
from urllib.parse import urlencode

# The app's signing secret (SLACK_SIGNING_SECRET) in these tests.
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# Channel ids and names in any script, as Slack accepts them.
ACCEPTED_CHANNELS = [
    "C0123ABCD",
    "G0123ABCD",
    "C0123456789AB",
    "#alertes-équipe",
    "#運用_アラート",
    "#a",
    "#" + "a" * 80,
]


def pressed(button: str, incident_id: str) -> str:
    """The form body of a press of `button` of an incident's message (to be signed)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FAKE0001", "domain": "fake"},
        "user": {"id": "U0FAKEUSR1", "username": "ann", "team_id": "T0FAKE0001"},
        "api_app_id": "A0FAKEAPP1",
        "token": "deprecated-verification-token",
        "trigger_id": "1.2.3",
        "channel": {"id": "C0FAKE0001", "name": "alerts"},
        "actions": [
            {
                "type": "button",
                "action_id": button,
                "block_id": "incident",
                "value": incident_id,
                "action_ts": "1700000000.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})
