#!/usr/bin/env bash
# Packs meshprobe for hosts that are not Debian 12 (a bastion, a VM in the
# control-plane network): the runtime tree of the container image plus a
# launcher that starts the binary with the bundled dynamic loader and
# libraries. It runs on any x86-64 Linux whatever its own glibc, OpenSSL or
# C++ runtime, without installing anything — the "static-ish" build: a
# truly static binary is not possible from Debian's packages
# (libprometheus-cpp-core and libfmt ship no static archives, and a static
# glibc cannot load NSS modules for getaddrinfo).
#
#   make-bundle.sh BINARY OUT.tar.gz
#   tar -C /opt -xzf OUT.tar.gz && /opt/meshprobe/bin/meshprobe version
#
# The launcher defaults SSL_CERT_FILE to the bundled CA store, so targets
# without a CA bundle verify against Debian's trust store; set SSL_CERT_FILE
# to use the host's own.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BINARY OUT.tar.gz" >&2; exit 2; }
binary=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/meshprobe"
"$here/../image/assemble-rootfs.sh" --strip "$binary" "$root" >/dev/null

# The loader is the ELF interpreter the binary names; the library path is
# every directory the tree holds a library in, each as "$root/DIR" for the
# launcher to expand.
interpreter=$(ldd "$binary" | awk '$1 ~ /^\// { print $1 }')
# shellcheck disable=SC2016  # a literal $root, expanded by the launcher
library_path=$(find "$root" -name '*.so*' ! -path "$root$interpreter" -printf '%h\n' \
  | sed "s|^$root||" | sort -u | sed 's|^|$root|' | paste -sd: -)

mkdir -p "$root/bin"
cat >"$root/bin/meshprobe" <<LAUNCHER
#!/bin/sh
# meshprobe with its own loader and libraries (deploy/bastion/make-bundle.sh).
root=\$(cd "\$(dirname "\$(readlink -f "\$0")")/.." && pwd)
SSL_CERT_FILE=\${SSL_CERT_FILE:-\$root/etc/ssl/certs/ca-certificates.crt}
export SSL_CERT_FILE
exec "\$root$interpreter" --argv0 meshprobe --library-path "$library_path" \\
  "\$root/usr/local/bin/meshprobe" "\$@"
LAUNCHER
chmod 0755 "$root/bin/meshprobe"
"$root/bin/meshprobe" version >/dev/null

tar -C "$work" --owner=0 --group=0 -czf "$out" meshprobe
echo "make-bundle: $out ($(du -h "$out" | cut -f1)): tar -C /opt -xzf $(basename "$out") && /opt/meshprobe/bin/meshprobe version"
