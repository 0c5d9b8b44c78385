# shellcheck shell=bash
# The one poll loop of the scripts, sourced by common.sh and by chaos-faults.sh (which runs as
# a process of its own and does not source common.sh).

# skyshop_wait_until SECONDS CMD...: runs CMD (quietly) every 0.2 s until it succeeds; fails
# after SECONDS.
skyshop_wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
