#!/usr/bin/env bash
# Fail if the systemd hardening of appliance.service regresses.
#
# Runs `systemd-analyze security --offline=true` on the unit next to this
# script, prints the overall exposure level and exits non-zero if it is above
# MAX_EXPOSURE (default 1.5) or cannot be determined.
# Works with systemd >= 250 (--offline=); tested with 252 (Debian 12).
set -euo pipefail

MAX_EXPOSURE="${MAX_EXPOSURE:-1.5}"
unit="$(dirname "$0")/appliance.service"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-exposure: systemd-analyze not found (install systemd)" >&2
    exit 2
fi
if [[ ! -r "$unit" ]]; then
    echo "check-exposure: unit file not found: $unit" >&2
    exit 2
fi

# A C locale keeps the output free of colours; --no-pager avoids a pager on a
# terminal (failed checks are then marked "-", passed ones "+"). Exit status is checked separately so its output can be shown.
if ! out="$(LC_ALL=C systemd-analyze security --offline=true --no-pager "$unit" 2>&1)"; then
    printf '%s\n' "$out" >&2
    echo "check-exposure: systemd-analyze security failed for $unit" >&2
    exit 2
fi

# Last line: "→ Overall exposure level for appliance.service: 1.2 OK :-)"
# ("->" instead of "→" in a non-UTF-8 locale).
last="$(printf '%s\n' "$out" | grep 'Overall exposure level' | tail -n 1 || true)"
if [[ "$last" =~ Overall\ exposure\ level\ for\ [^:]+:\ ([0-9]+(\.[0-9]+)?) ]]; then
    exposure="${BASH_REMATCH[1]}"
else
    printf '%s\n' "$out" >&2
    echo "check-exposure: could not parse the overall exposure level from systemd-analyze output" >&2
    exit 2
fi

echo "$exposure"

if awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e + 0 > m + 0) }'; then
    printf '%s\n' "$out" | grep -E '^(-|✗) ' >&2 || true
    echo "check-exposure: FAIL: exposure $exposure of $unit is above the maximum $MAX_EXPOSURE" >&2
    exit 1
fi
