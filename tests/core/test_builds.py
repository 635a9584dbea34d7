"""The deploy pipeline's pure rules (SPEC §14): build output as the alert shows it, builds
as events, commits and their links, where each message goes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from heroku_monitor.core import builds, detect, incidents, routing
from heroku_monitor.core.releases import suspect_deploy
from heroku_monitor.core.snapshot import Build
from heroku_monitor.render import messages, threads
from heroku_monitor.render.blocks import MAX_SECTION, blocks_size, problems, size
from tests.support.builders import CRASHED, T0, release, snap

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
PREV = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
FAILED_BUILD_TEXT = (
    "💥 *Build Failed* 💥\nApp: my-app\nCommit: 1a2b3c4 Fix the checkout\n"
    "Built by: ann@example.com\n```\n"
)


def build(
    ident: str = "b1",
    status: str = "failed",
    *,
    minutes: int = 1,
    commit: str = SHA,
    output: tuple[str, ...] = ("-----> Python app detected", " !     Push failed"),
) -> Build:
    made = T0 + timedelta(minutes=minutes)
    return Build(
        id=ident,
        status=status,
        created_at=made,
        updated_at=made + timedelta(seconds=30),
        user="ann@example.com",
        commit=commit,
        commit_description="Fix the checkout\n\nThe total was rounded twice.",
        output=output if status == "failed" else (),
    )


def with_builds(*found: Build, minutes: int = 5, read: bool = True):
    taken = snap(minutes=minutes)
    return replace(taken, builds=found, builds_at=taken.taken_at if read else None)


# -- output ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[1;31m !     Push failed\x1b[0m", " !     Push failed"),
        ("\x1b[38;5;208mwarning\x1b[39m: x", "warning: x"),
        ("\x1b[2K\x1b[1Gprogress 40%", "progress 40%"),
        ("\x1b]0;title\x07text", "text"),
        ("\x9b31mred\x9b0m", "red"),
        ("tabs\tand <html> & `code` stay", "tabs\tand <html> & `code` stay"),
        ("ünïcödé and emoji 💥 stay", "ünïcödé and emoji 💥 stay"),
    ],
)
def test_only_ansi_escape_codes_are_stripped_from_build_output(raw: str, shown: str):
    assert builds.strip_ansi(raw) == shown


def test_the_output_tail_is_the_last_20_lines():
    text = "".join(f"\x1b[32mline {n}\x1b[0m\n" for n in range(1, 51))
    tail = builds.output_tail(text)
    assert tail == tuple(f"line {n}" for n in range(31, 51))


def test_a_tail_read_mid_stream_drops_its_cut_first_line_and_crlf_counts_once():
    assert builds.output_tail("ne 7\r\nline 8\r\nline 9\r\n", partial=True) == ("line 8", "line 9")
    assert builds.output_tail("", partial=True) == ()
    assert builds.output_tail("   \n\nend", lines=2) == ("", "end")  # blank lines are kept


def test_the_code_block_keeps_the_last_lines_that_fit_a_section():
    lines = tuple(f"{n:03d} " + "x" * 290 for n in range(20))
    block = messages.code_block(lines)
    assert size(block) <= MAX_SECTION - 200
    assert block.startswith("```\n… ") and block.endswith("019 " + "x" * 290 + "\n```")


def test_the_code_block_escapes_mentions_and_cannot_be_closed_early():
    block = messages.code_block(("<!channel> & <@U123>", "```", "done"))
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in block
    assert block.count("```") == 2 and block.endswith("done\n```")


def test_a_single_line_longer_than_the_room_is_cut_to_fit():
    block = messages.code_block(("word " * 2000,))
    assert size(block) <= MAX_SECTION - 200 and "…" in block


# -- polling's share ---------------------------------------------------------------------


def test_builds_are_read_once_in_20_rounds_of_each_app_at_most_005_requests_a_round():
    apps = [f"0000-app-{n}" for n in range(400)]
    per_round = [sum(builds.builds_due(a, r) for a in apps) for r in range(40)]
    assert sum(per_round) / (40 * len(apps)) == pytest.approx(0.05)
    assert max(per_round) <= 0.05 * len(apps) * 2.5  # spread over the rounds, no burst
    for app in apps[:20]:  # each app's turn comes once in any 20 of its rounds
        assert sum(builds.builds_due(app, r) for r in range(7, 27)) == 1


def test_an_apps_polling_rounds_are_counted_from_its_interval_with_no_counter_kept():
    start = builds.round_of(T0, 5)
    turns = [builds.round_of(T0 + timedelta(minutes=5 * n + 1), 5) for n in range(40)]
    assert turns == list(range(start, start + 40))
    assert sum(builds.builds_due("an-app-id", r) for r in turns) == 2  # 40 rounds, 2 reads


# -- builds as events ----------------------------------------------------------------------


def test_a_failed_build_since_the_last_read_is_one_event_keyed_by_the_build():
    before = with_builds(build("b0", "succeeded", minutes=-60))
    after = with_builds(build("b0", "succeeded", minutes=-60), build("b1"), minutes=10)
    events = [e for e in detect.diff(before, after) if e.kind == detect.BUILD_FAILED]
    assert [e.key for e in events] == ["my-app:build_failed:b1"]
    assert detect.diff(after, replace(after, taken_at=after.taken_at + timedelta(minutes=1))) == []


def test_a_pending_build_that_fails_is_an_event_and_one_still_pending_is_not():
    before = with_builds(build("b1", "pending"))
    assert detect.diff(before, with_builds(build("b1", "pending"), minutes=9)) == []
    (event,) = detect.diff(before, with_builds(build("b1"), minutes=9))
    assert event.kind == detect.BUILD_FAILED and event.build is not None


def test_builds_not_read_by_a_check_are_carried_and_say_nothing():
    before = with_builds(build("b1"))
    unread = snap(minutes=20)  # a polling round that did not read them
    events, kept = detect.observe(before, unread)
    assert events == [] and kept.builds == (replace(build("b1"), output=()),)
    assert kept.builds_at == before.builds_at


def test_the_first_read_of_builds_is_a_baseline_but_for_builds_ended_since_the_last_check():
    never_read = snap(minutes=5)  # taken at T0+5 min, builds never read
    old = build("old", minutes=-120)
    ended_since = replace(build("new", minutes=0), updated_at=T0 + timedelta(minutes=7))
    events = detect.diff(never_read, with_builds(old, ended_since, minutes=8))
    assert [e.key for e in events] == ["my-app:build_failed:new"]
    assert detect.diff(None, with_builds(build("b1"))) == []  # the very first check


def test_only_the_newest_finished_build_succeeding_is_an_event():
    before = with_builds()
    fixed_later = with_builds(
        build("b1", minutes=1), build("b2", "succeeded", minutes=2), minutes=10
    )
    kinds = [e.kind for e in detect.diff(before, fixed_later)]
    assert kinds == [detect.BUILD_FAILED, detect.BUILD_SUCCEEDED]
    broken_again = with_builds(
        build("b2", "succeeded", minutes=2), build("b3", minutes=3), minutes=10
    )
    assert [e.kind for e in detect.diff(before, broken_again)] == [detect.BUILD_FAILED]


def test_the_kept_snapshot_holds_no_build_or_release_output():
    failed = replace(release(4, status="failed"), output=("secret-looking line",))
    seen = replace(with_builds(build("b1")), releases=(failed, *snap().releases))
    _, kept = detect.observe(with_builds(), seen)
    assert all(not b.output for b in kept.builds) and all(not r.output for r in kept.releases)


# -- the build incident ------------------------------------------------------------------


def test_a_failed_build_opens_an_incident_the_next_succeeded_build_resolves():
    failed = detect.Event(detect.BUILD_FAILED, "my-app", "k1", build=build("b1"))
    opened = incidents.apply([], [failed], T0)
    (incident,) = opened.incidents
    assert incident.family == builds.BUILD and [a.what for a in opened.actions] == ["opened"]
    ok = detect.Event(detect.BUILD_SUCCEEDED, "my-app", "k2", build=build("b2", "succeeded"))
    later = incidents.apply(opened.incidents, [ok], T0 + timedelta(minutes=12))
    (resolved,) = later.incidents
    assert resolved.resolved_at is not None
    reply = next(a for a in later.actions if a.what == incidents.RESOLVED)
    assert reply.broadcast  # the channel sees the build works again
    (text,) = [m.text for m in threads.outbox_messages([reply], T0)]
    assert text.startswith("✅ *Build Succeeded* ✅\nApp: my-app\nCommit: 1a2b3c4")
    assert text.endswith("✅ Resolved after 12 min")


def test_a_succeeded_build_with_no_incident_open_says_nothing():
    ok = detect.Event(detect.BUILD_SUCCEEDED, "my-app", "k2", build=build("b2", "succeeded"))
    assert incidents.apply([], [ok], T0).actions == ()


# -- what the alerts say ---------------------------------------------------------------------


def test_the_build_failed_alert_has_its_header_commit_builder_and_output_tail():
    event = detect.Event(detect.BUILD_FAILED, "my-app", "k1", build=build("b1"))
    (message,) = messages.build([event], T0)
    assert message.text.startswith(FAILED_BUILD_TEXT)
    assert message.text.endswith("-----&gt; Python app detected\n !     Push failed\n```")
    assert not problems(message.text, message.blocks)


def test_a_build_alert_with_huge_output_fits_block_kit():
    huge = tuple("É" * 1500 for _ in range(20))
    events = [
        detect.Event(detect.BUILD_FAILED, "my-app", f"k{n}", build=build(f"b{n}", output=huge))
        for n in range(8)
    ]
    (message,) = messages.build(events, T0)
    assert not problems(message.text, message.blocks) and blocks_size(message.blocks) <= 12_000


def test_a_build_whose_output_could_not_be_read_says_why():
    unread = replace(build("b1", output=()), output_error="the output stream did not answer")
    (message,) = messages.build(
        [detect.Event(detect.BUILD_FAILED, "my-app", "k", build=unread)], T0
    )
    assert "(The build output could not be read: the output stream did not answer)" in message.text


def test_a_failed_release_shows_the_last_lines_of_its_release_phase_output():
    failed = replace(release(4, status="failed"), output=("Running release command...", "boom"))
    event = detect.Event(detect.RELEASE_FAILED, "my-app", "k", release=failed)
    (message,) = messages.build([event], T0)
    assert message.text.startswith("❌ *Release Failed* ❌\nApp: my-app\nVersion: v4\n")
    assert message.text.endswith("```\nRunning release command...\nboom\n```")


DEPLOY_TEXT = "🚀 *New Deploy Detected* 🚀\nApp: my-app\nVersion: v4\nDeployed by: dev@example.com"


def deploy_event() -> detect.Event:
    new = replace(release(4), commit=SHA, commit_description="Fix the checkout\nmore")
    return detect.Event(detect.DEPLOY, "my-app", "k", release=new, previous_commit=PREV)


def test_the_deploy_alert_keeps_the_prd_text_and_adds_the_commit():
    (message,) = messages.build([deploy_event()], T0)
    assert message.text == f"{DEPLOY_TEXT}\nCommit: 1a2b3c4 Fix the checkout"


def test_with_a_repository_the_commit_links_to_github_with_a_compare_link():
    (message,) = messages.build([deploy_event()], T0, "acme/shop")
    assert message.text.startswith(DEPLOY_TEXT + "\n")
    assert f"Commit: <https://github.com/acme/shop/commit/{SHA}|1a2b3c4> Fix the checkout" in (
        message.text
    )
    assert f"<https://github.com/acme/shop/compare/{PREV}...{SHA}|9f8e7d6...1a2b3c4>" in (
        message.text
    )


def test_the_deploy_event_names_the_commit_that_ran_before_it():
    old = replace(release(3), commit=PREV)
    config = replace(release(4, "Set X config vars", slug="slug-3"), commit=PREV)
    new = replace(release(5), commit=SHA)
    before = replace(snap(), releases=(config, old))
    (event,) = detect.diff(before, replace(snap(minutes=5), releases=(new, config, old)))
    assert event.kind == detect.DEPLOY and event.previous_commit == PREV


def test_commits_are_carried_from_the_last_snapshot_by_slug():
    before = replace(snap(), releases=(replace(release(3), commit=PREV, commit_description="m"),))
    config = release(4, "Set X config vars", slug="slug-3")  # same slug, read again: no commit
    _, kept = detect.observe(before, replace(snap(minutes=5), releases=(config, release(3))))
    assert [r.commit for r in kept.releases] == [PREV, PREV]
    assert builds.known_commits(kept) == {"slug-3": (PREV, "m")}


def test_a_release_slug_is_read_only_for_a_new_newest_release():
    known = {"slug-3"}
    releases = (release(4), replace(release(3), commit=PREV))
    assert builds.artifacts_to_read(releases, known) == ["slug-4"]
    assert builds.artifacts_to_read((replace(release(4), commit=SHA), release(3)), known) == []
    failed_on_top = (release(5, status="failed"), release(4))
    assert builds.artifacts_to_read(failed_on_top, set()) == ["slug-5", "slug-4"]


def test_the_suspect_deploy_carries_the_same_compare_link():
    just_now = replace(release(4), created_at=T0, commit=SHA)
    below = replace(release(3), commit=PREV)
    suspect = suspect_deploy("my-app", (just_now, below), T0 + timedelta(minutes=5))
    assert suspect is not None and (suspect.commit, suspect.previous_commit) == (SHA, PREV)
    crash = detect.diff(snap(), CRASHED)
    outcome = incidents.apply([], crash, T0 + timedelta(minutes=5))
    (incident,) = outcome.incidents
    (opening,) = threads.outbox_messages(
        [replace(outcome.actions[0], incident=replace(incident, suspect=suspect))],
        T0,
        "acme/shop",
    )
    assert f"https://github.com/acme/shop/compare/{PREV}...{SHA}" in opening.text


@pytest.mark.parametrize("value", ["acme/shop", "a-b/c.d_e-f", "A1/x"])
def test_a_repository_is_owner_slash_name(value: str):
    assert builds.repository_error(value) is None


@pytest.mark.parametrize("value", ["acme", "acme/", "/shop", "-acme/shop", "acme/sh op", "a/.."])
def test_anything_else_is_not_a_repository(value: str):
    assert builds.repository_error(value) is not None


def test_a_pasted_github_url_is_kept_as_owner_slash_name():
    assert builds.normal_repository(" https://github.com/acme/shop.git ") == "acme/shop"


# -- where messages go -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", [detect.DEPLOY, detect.ROLLBACK, detect.CONFIG_CHANGED, detect.ADDON_ADDED,
             detect.ADDON_REMOVED, detect.ADDON_CHANGED, detect.MAINTENANCE],
)  # fmt: skip
def test_changes_go_to_the_changes_channel(kind: str):
    assert routing.channel_for(kind, "#alerts", "#deploys") == "#deploys"
    assert routing.channel_for(kind, "#alerts", None) == "#alerts"  # unless set apart


@pytest.mark.parametrize(
    "kind", [detect.DYNO_CRASHED, detect.DYNOS_DOWN, detect.RELEASE_FAILED, detect.BUILD_FAILED,
             detect.MONITORING_TROUBLE, "log_h12", incidents.OPENED, incidents.SNOOZE_ENDED],
)  # fmt: skip
def test_incidents_stay_in_the_alert_channel(kind: str):
    assert routing.channel_for(kind, "#alerts", "#deploys") == "#alerts"


# -- /heroku-status --------------------------------------------------------------------------


def test_the_status_answer_shows_the_newest_build_and_the_running_commit():
    running = replace(release(3), current=True, commit=PREV, commit_description="Add x")
    seen = replace(
        with_builds(build("b1", "succeeded", minutes=1), build("b2", minutes=2)),
        releases=(running,),
    )
    text, blocks = messages.status_reply(seen, T0 + timedelta(minutes=10))
    assert "*Running commit:* 9f8e7d6 Add x" in text
    assert "*Newest build:* 💥 failed · 1a2b3c4 Fix the checkout, 8 minutes ago" in text
    assert not problems(text, blocks)


def test_a_round_reads_builds_every_16_to_24_of_its_rounds_and_never_right_after_a_read():
    """`rounds.builds_due`: a round counted as the time between checks, never less than the
    interval; a first check reads them; builds never read fall back to one round in 20."""
    from heroku_monitor.core import rounds

    app_id = "an-app-id"
    k = builds.rounds_between(app_id)
    assert 16 <= k <= 24
    read = replace(snap(), taken_at=T0, builds_at=T0)
    assert rounds.builds_due(app_id, [None], T0, 1)  # a first check
    assert not rounds.builds_due(app_id, [read], T0 + timedelta(minutes=1), 1)
    last = replace(read, taken_at=T0 + timedelta(minutes=k - 1))
    assert rounds.builds_due(app_id, [last], T0 + timedelta(minutes=k), 1)
    assert not rounds.builds_due(app_id, [last], T0 + timedelta(minutes=k - 1, seconds=59), 1)
    # Rounds seconds apart (a test's fast minute) still count a round as the interval.
    quick = replace(read, taken_at=T0 + timedelta(seconds=30))
    assert not rounds.builds_due(app_id, [quick], T0 + timedelta(seconds=31), 5)
    unread = replace(snap(), taken_at=T0, builds_at=None)
    due = [rounds.builds_due(app_id, [unread], T0 + timedelta(minutes=m), 1) for m in range(40)]
    assert sum(due) == 2
