# Shared by scripts/build_sandbox_image.sh and deploy/build_base_image.sh: build a minimal Debian root
# file system with debootstrap from the mirror apt is already configured with (no registry, no host
# name written down here). Source it after defining log() and die().

# The first Debian mirror for $1 (a suite) in apt's sources (deb822 *.sources or one-line *.list).
find_mirror() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )'"$suite"'( |$)/) { print uri; exit } uri=""; suites=""; next }
      /^URIs:/ { uri=$2 }
      /^Suites:/ { $1=""; suites=$0 " " }
      END { if (uri != "" && suites ~ /(^| )'"$suite"'( |$)/) print uri }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == "'"$suite"'") print $i; break } }' "$f"
  done
}

# debootstrap_rootfs SUITE PACKAGES ROOTFS LOGDIR: a minbase root file system with PACKAGES (comma list).
debootstrap_rootfs() {
  local suite=$1 packages=$2 rootfs=$3 logdir=$4 mirror
  mirror=${GLEITZEIT_DEBIAN_MIRROR:-$(find_mirror "$suite" | head -n 1)}
  [ -n "$mirror" ] || die "no Debian mirror for '$suite' found in /etc/apt/sources.list*; set GLEITZEIT_DEBIAN_MIRROR"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    } || die "could not install debootstrap"
  fi
  log "debootstrap $suite ($packages) from the configured mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$logdir/debootstrap.log" 2>&1 || {
    tail -n 30 "$logdir/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  }
}
