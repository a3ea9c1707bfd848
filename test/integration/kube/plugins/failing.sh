#!/bin/sh
# A plugin whose login has lapsed: a message on stderr, a token-looking
# line on stdout that must never reach a message, exit 1.
echo '{"status":{"token":"stdout-secret"}}'
echo "error: the refresh token has expired; run: gcloud auth login" >&2
exit 1
