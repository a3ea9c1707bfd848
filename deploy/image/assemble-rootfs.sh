#!/usr/bin/env bash
# Assembles meshprobe's runtime file tree: everything the container image
# holds (deploy/Dockerfile copies this tree onto an empty `scratch` image) and
# what the bastion bundle packs (deploy/bastion/make-bundle.sh).
#
#   assemble-rootfs.sh [--strip] BINARY DESTDIR
#
# DESTDIR must not exist or be empty. It receives:
#   usr/local/bin/meshprobe             the binary (--strip: without symbols)
#   each library `ldd BINARY` resolves, at the path ldd names, and the
#     dynamic loader (glibc 2.34+ has NSS files/dns built in: no libnss_* needed)
#   etc/ssl/certs/ca-certificates.crt   the system trust store, for targets
#     without a CA bundle and `system: true` bundles; usr/lib/ssl/cert.pem and
#     usr/lib/ssl/certs point at it (OpenSSL's default paths on Debian)
#   etc/passwd, etc/group               root, nobody and meshprobe (65532)
#   etc/nsswitch.conf                   hosts: files dns
#   etc/meshprobe/                      empty: the ConfigMap's mount point
# No shell, no package manager, nothing else. test/deploy/rootfs_test.sh
# proves the tree complete by running meshprobe from it under `env -i chroot`.
set -euo pipefail

usage() { echo "usage: $0 [--strip] BINARY DESTDIR" >&2; exit 2; }

strip_binary=false
if [ "${1:-}" = "--strip" ]; then strip_binary=true; shift; fi
[ $# -eq 2 ] || usage
binary=$1
dest=$2

[ -x "$binary" ] || { echo "assemble-rootfs: $binary is not an executable" >&2; exit 2; }
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
  echo "assemble-rootfs: $dest exists and is not empty" >&2
  exit 2
fi
mkdir -p "$dest"

# The numeric user the image runs as (distroless' "nonroot" id).
readonly uid=65532

install -D -m 0755 "$binary" "$dest/usr/local/bin/meshprobe"
if $strip_binary; then strip --strip-unneeded "$dest/usr/local/bin/meshprobe"; fi

# Every shared library, resolved the way the loader resolves it here. ldd
# lists the whole closure (libraries of libraries) and the loader itself.
# meshprobe loads libcurl only when Kubernetes mode starts (dlopen, see
# kube/detail/libcurl.cpp), so ldd of the binary does not name it: its
# closure is added from the directory its libssl comes from.
runtime_loaded=(libcurl.so.4)
ldd_output=$(ldd "$binary")
library_dir=$(awk '$1 ~ /^libssl\.so/ { print $3 }' <<<"$ldd_output" | xargs dirname)
for soname in "${runtime_loaded[@]}"; do
  [ -e "$library_dir/$soname" ] \
    || { echo "assemble-rootfs: no $library_dir/$soname (apt-get install libcurl4)" >&2; exit 1; }
  ldd_output+=$'\n'"$soname => $library_dir/$soname (0x0)"$'\n'"$(ldd "$library_dir/$soname")"
done
if grep -q 'not found' <<<"$ldd_output"; then
  echo "assemble-rootfs: unresolved libraries:" >&2
  grep 'not found' <<<"$ldd_output" >&2
  exit 1
fi
libraries=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_output" | sort -u)
[ -n "$libraries" ] || { echo "assemble-rootfs: ldd found no libraries" >&2; exit 1; }
for library in $libraries; do
  # The file itself, under the name the binary asks for (the soname link).
  install -D -m 0644 "$(readlink -f "$library")" "$dest$library"
done
# The loader must be executable: it is the ELF interpreter.
interpreter=$(awk '$1 ~ /^\// { print $1 }' <<<"$ldd_output" | sort -u)
chmod 0755 "$dest$interpreter"

# Trust store and OpenSSL's default locations (openssl version -d: /usr/lib/ssl).
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca_bundle" ] || { echo "assemble-rootfs: $ca_bundle missing (apt-get install ca-certificates)" >&2; exit 1; }
install -D -m 0644 "$ca_bundle" "$dest$ca_bundle"
mkdir -p "$dest/usr/lib/ssl"
ln -s "$ca_bundle" "$dest/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$dest/usr/lib/ssl/certs"

cat >"$dest/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
meshprobe:x:$uid:$uid:meshprobe:/nonexistent:/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<GROUP
root:x:0:
nogroup:x:65534:
meshprobe:x:$uid:
GROUP
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/nsswitch.conf"
mkdir -p "$dest/etc/meshprobe"

echo "assemble-rootfs: $dest: meshprobe, $(wc -w <<<"$libraries") libraries, $(du -sh "$dest" | cut -f1)"
