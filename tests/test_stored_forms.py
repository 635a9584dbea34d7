"""Rows kept by earlier versions read back as today's values: a snapshot whose Heroku times
were text, and a log alert whose text and count were in `reason` and `failures`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from heroku_monitor.core.incidents import Incident
from heroku_monitor.store import snapshots
from heroku_monitor.store.incidents import incident_from_json, incident_to_json
from tests.support.builders import T0

OLD_SNAPSHOT = {
    "app": "my-app",
    "taken_at": "2026-11-27T12:00:00+00:00",
    "maintenance": False,
    "app_updated_at": "2026-11-27T10:00:00Z",
    "web_url": "",
    "dynos": [
        {
            "name": "web.1",
            "type": "web",
            "state": "up",
            "updated_at": "2026-11-27T11:00:00Z",
            "size": "",
            "unrecovered": False,
        }
    ],
    "releases": [
        {
            "version": 3,
            "status": "succeeded",
            "description": "Deploy 3",
            "user": "dev@example.com",
            "created_at": "2026-11-27T11:00:00Z",
            "slug_id": "slug-3",
            "current": True,
        }
    ],
    "addons": [],
    "config": {},
    "config_key_id": "",
    "released_at": "",
    "details_at": "2026-11-27T11:50:00+00:00",
}


def test_a_snapshot_kept_with_heroku_times_as_text_reads_back_as_datetimes():
    snapshot = snapshots.from_json(json.dumps(OLD_SNAPSHOT))
    assert snapshot.dynos[0].updated_at == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert snapshot.releases[0].created_at == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert snapshot.app_updated_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert snapshot.released_at is None
    assert snapshot.details_at == datetime(2026, 11, 27, 11, 50, tzinfo=UTC)


def test_a_snapshot_is_kept_in_the_form_earlier_versions_kept():
    snapshot = snapshots.from_json(json.dumps(OLD_SNAPSHOT))
    assert json.loads(snapshots.to_json(snapshot)) == OLD_SNAPSHOT
    assert snapshots.from_json(snapshots.to_json(snapshot)) == snapshot


def test_a_log_alert_kept_with_its_text_in_reason_reads_back_as_its_summary():
    event = {
        "kind": "log_router_error",
        "app": "my-app",
        "key": "my-app:log:H12:2026-11-27T12:00",
        "reason": "H12 Request timeout: 10 lines in 12:00–12:05 UTC",
        "failures": 10,
    }
    incident = Incident("i1", "my-app", "log_router_error", T0, T0, ())
    data = json.loads(incident_to_json(incident))
    data["opening"] = [event]
    (opening,) = incident_from_json(json.dumps(data)).opening
    assert (opening.summary, opening.lines) == (event["reason"], 10)
    assert (opening.reason, opening.failures) == ("", 0)
