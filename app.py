"""Heroku Monitor: `python app.py` runs the web server and the scheduler in one process.

python app.py           # the real Heroku and Slack: needs HEROKU_API_KEY, SLACK_BOT_TOKEN
python app.py --demo    # the built-in Heroku simulator; Slack optional

The commands live in `heroku_monitor/cli.py`.
"""

import sys

if __name__ == "__main__":
    try:
        from heroku_monitor.cli import entry

        entry()  # the `heroku-monitor` console script's entry, too
    except KeyboardInterrupt:  # Ctrl-C while still importing: quiet, as once started
        sys.exit(130)
