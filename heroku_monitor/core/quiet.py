"""How long a problem must stay quiet before its incident ends (SPEC sections 11 and 12)."""

from __future__ import annotations

from datetime import timedelta

# A log incident ends after this long without a new alert; a log alert's key stays the same
# while its lines keep coming with shorter gaps than this (a storm after it is a new one).
QUIET_FOR = timedelta(minutes=10)
# A dyno incident ends when its dynos are all up, but only says so once they have stayed up
# this long: a crash-looping dyno comes up between crashes, and each short `up` must not end
# the incident (a new top-level post and a broadcast per loop is the flood section 11 stops).
# Longer than the default check interval (5 min), so a polled loop stays one incident.
# The opening message is edited at once ("dynos up, watching"), and "Resolved after N min"
# counts to the moment they came up, not to the end of the wait. The default of
# RESOLVE_AFTER_MINUTES: the incident machine is given each monitor's own hold.
STABLE_FOR = timedelta(minutes=10)
