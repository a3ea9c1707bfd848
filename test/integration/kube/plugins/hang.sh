#!/bin/sh
# A plugin that never answers (waiting on a browser login, say), with a
# child of its own: both must be killed at the deadline.
sleep 60 &
sleep 60
