# Sourced by .ci/run and .ci/test: the PC/SC stack the end-to-end tests need (recipe:
# docs/pcsc-harness.md). Debian/Ubuntu packages, and pcscd as a child of the calling script.

# The packages (idempotent; apt-get update only when something is missing). Needs root, or sudo.
pcsc_packages() {
  local need=(pcscd libpcsclite-dev vsmartcard-vpcd pkgconf) missing=() p sudo=()
  for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "missing packages: ${missing[*]}; as root run:" >&2
      echo "  apt-get install -y ${need[*]}" >&2
      return 1
    fi
  fi
  echo "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Starts pcscd in the foreground as our child (logs in $PCSC_LOGDIR/pcscd.log), or reuses a
# running one, and waits until vpcd listens on both slots (35963 = 8C7B, 35964 = 8C7C). Never
# probe the ports with a TCP connect: vpcd would take the probe for a card.
# Call pcsc_stop (e.g. from an EXIT trap) to stop and reap the pcscd started here.
PCSCD_PID=""
pcsc_start() {
  PCSC_LOGDIR=$(mktemp -d -t pcsc-ci.XXXXXX)
  local old=""
  [ -r /run/pcscd/pcscd.pid ] && old=$(tr -dc 0-9 </run/pcscd/pcscd.pid 2>/dev/null)
  if [ -S /run/pcscd/pcscd.comm ] && [ -n "$old" ] && [ -d "/proc/$old" ] \
     && ! grep -q '^State:.*Z' "/proc/$old/status"; then
    echo "reusing running pcscd $old"
  else
    /usr/sbin/pcscd --foreground --info >"$PCSC_LOGDIR/pcscd.log" 2>&1 &  # never --auto-exit
    PCSCD_PID=$!
  fi
  local _
  for _ in $(seq 100); do
    [ -S /run/pcscd/pcscd.comm ] && pcsc_listening 8C7B && pcsc_listening 8C7C && return 0
    sleep 0.1
  done
  echo "pcscd is not ready: no vpcd reader listening on 35963/35964" >&2
  [ -z "$PCSCD_PID" ] && echo "(a pcscd started before vsmartcard-vpcd was installed must be restarted)" >&2
  [ -f "$PCSC_LOGDIR/pcscd.log" ] && cat "$PCSC_LOGDIR/pcscd.log" >&2
  return 1
}

pcsc_listening() { grep -qi ":$1 00000000:0000 0A" /proc/net/tcp; }

pcsc_stop() {
  if [ -n "$PCSCD_PID" ]; then
    kill -TERM "$PCSCD_PID" 2>/dev/null || true
    wait "$PCSCD_PID" 2>/dev/null || true   # reap it, or the next pcscd sees a live pid file
    PCSCD_PID=""
  fi
  return 0
}
