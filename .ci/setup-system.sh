#!/usr/bin/env bash
# System packages the test suite needs beyond Python: dbus-daemon (Debian package "dbus") for
# the end-to-end BLE tests on a private bus, Chromium for the HTML report tests, and espeak-ng
# for the spoken-cue tests (speech rendered to WAV through pyttsx3).
# Idempotent: installs only what is missing, only when running as root with apt-get; a no-op
# otherwise (the tests that need a missing tool skip with the reason).
set -euo pipefail

missing=()
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    missing+=(chromium)
fi
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: missing ${missing[*]}; not root or no apt-get, skipping (dependent tests will skip)" >&2
    exit 0
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
