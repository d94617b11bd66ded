#!/usr/bin/env bash
# Runs a command of the project inside a fresh Debian root: debootstrap's minimal base, the
# project's tracked files copied in, nothing else. Whatever the command needs beyond that, the
# project's own scripts must install, exactly as on a newcomer's new machine.
# Usage: .ci/fresh-root.sh COMMAND [ARG]...   (run as root; the root is removed afterwards)
# NYX_FRESH_ROOT=DIR keeps the root in DIR (made if missing, reused if already bootstrapped).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "fresh-root.sh: must run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: .ci/fresh-root.sh COMMAND [ARG]..." >&2; exit 2; }

if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The same release and package mirror as this machine's own apt configuration.
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /debian/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "fresh-root.sh: no Debian mirror found in /etc/apt" >&2; exit 1; }

keep=${NYX_FRESH_ROOT:-}
root=${keep:-$(mktemp -d /var/tmp/nyx-root.XXXXXX)}
# mktemp makes it 0700: as the root of a system, other users (postgres) must get through it.
chmod 755 "$root"
mounted=()
# Processes the command left behind (a database server, a simulator) hold the mounts: they end
# first, found by the root they run in.
kill_inside() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [ "$r" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  return 0
}
cleanup() {
  kill_inside
  sleep 0.5
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  [ -n "$keep" ] || rm -rf --one-file-system "$root"
}
trap cleanup EXIT

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "fresh-root.sh: bootstrapping $suite (minbase) in $root" >&2
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -n 30 "$root.debootstrap.log" >&2; exit 1; }
  rm -f "$root.debootstrap.log"
fi
# The host's sources (security updates included) and name resolution.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
  : >"$root/etc/apt/sources.list"
fi

for m in proc sys dev dev/pts dev/shm; do
  mkdir -p "$root/$m"
  case "$m" in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    dev/shm) mount -t tmpfs -o mode=1777 shm "$root/dev/shm" ;;
    *) mount --bind "/$m" "$root/$m" ;;
  esac
  mounted+=("$root/$m")
done

# The project as committed or edited: its tracked files only, no build directories.
rm -rf "$root/src" && mkdir -p "$root/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$root/src"

chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 CI="${CI:-}" TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd /src && exec "$@"' bash "$@"
