"""Alert texts (Slack mrkdwn) shown on the dashboard as a person reads them in Slack."""

from __future__ import annotations

from jinja2 import Environment
from markupsafe import Markup

from heroku_monitor.core import detect
from heroku_monitor.core.detect import diff
from heroku_monitor.render import messages
from heroku_monitor.render.mrkdwn import to_html, to_plain, unescape
from tests.support.builders import T0, dyno, snap


def crash_text(name: str) -> str:
    (message,) = messages.build(diff(snap(), snap(dynos=(dyno(name, "crashed"),))), T0)
    return message.text


def test_a_dyno_named_like_a_script_shows_as_text():
    html = to_html(crash_text("<script>alert(1)</script>"))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_slack_escapes_are_undone_once_so_nothing_shows_escaped_twice():
    html = to_html("R&amp;D &lt;b&gt; &amp;lt;")

    assert html == Markup("<p>R&amp;D &lt;b&gt; &amp;lt;</p>")  # reads: R&D <b> &lt;
    assert unescape("&amp;lt;") == "&lt;"


def test_a_mention_smuggled_in_a_dyno_name_is_plain_text():
    html = to_html(crash_text("web.9<!channel>"))

    assert "web.9&lt;!channel&gt;" in html


def test_bold_italic_strike_and_code_become_tags():
    html = to_html("*bold* _italic_ ~gone~ `a*b*c`")

    assert html == Markup(
        "<p><strong>bold</strong> <em>italic</em> <del>gone</del> <code>a*b*c</code></p>"
    )


def test_underscores_inside_names_are_not_italic():
    assert "<em>" not in to_html("Added: DATABASE_URL, REDIS_URL, MY_VAR_")


def test_bullet_lines_become_a_list_and_other_lines_keep_their_breaks():
    html = to_html(crash_text("web.1") + "\n• worker.1 (worker)")

    assert html == Markup(
        "<p>🚨 <strong>ALERT: Dyno Crash Detected</strong> 🚨<br>\nApp: my-app<br>\n"
        "Crashed dynos:</p>\n<ul><li>web.1 (web)</li><li>worker.1 (worker)</li></ul>"
    )


def test_http_links_become_safe_links_and_others_only_their_label():
    html = to_html(
        "<https://dashboard.heroku.com/apps/my-app|Open &lt;my-app&gt;> "
        '<javascript:alert(1)|click> <https://x.io/?a=1&amp;b="2">'
    )

    assert (
        '<a href="https://dashboard.heroku.com/apps/my-app" rel="noopener noreferrer nofollow">'
        "Open &lt;my-app&gt;</a>"
    ) in html
    assert "javascript" not in html and "click" in html
    assert 'href="https://x.io/?a=1&amp;b=&#34;2&#34;"' in html


def test_dates_and_mentions_show_their_fallback_text():
    html = to_html("<!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC> <!here>")

    assert html == Markup("<p>2026-11-27 12:00 UTC @here</p>")


def test_every_alert_kind_renders_without_raw_markup():
    old = snap(dynos=(dyno("web.1", "crashed"),), maintenance=False)
    new = snap(dynos=(dyno("web.1"), dyno("worker.1", "down")), maintenance=True)
    for message in messages.build(diff(old, new), T0):
        html = to_html(message.text)
        assert "&amp;amp;" not in html and "<script" not in html
    assert detect.MAINTENANCE in {m.kind for m in messages.build(diff(old, new), T0)}


def test_as_a_jinja_filter_the_html_is_not_escaped_again():
    env = Environment(autoescape=True)
    env.filters["mrkdwn"] = to_html

    page = env.from_string("<div>{{ text | mrkdwn }}</div>").render(text="*R&amp;D* &lt;x&gt;")

    assert page == "<div><p><strong>R&amp;D</strong> &lt;x&gt;</p></div>"


def test_nothing_gives_nothing():
    assert to_html("") == Markup("<p></p>")
    assert to_html(None) == Markup("<p></p>")


def test_a_tooltip_reads_mrkdwn_as_one_plain_line():
    text = "🔥 *Dyno Crashed* 🔥\nApp: my_app\n\n<https://x.example/a|Open _my_app_> &amp;lt;b"

    assert to_plain(text) == "🔥 Dyno Crashed 🔥 · App: my_app · Open my_app &lt;b"
