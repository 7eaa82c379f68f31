#!/usr/bin/env bash
# Builds what the lab boots, into the cache, and prints the image folder:
# - kernel-<package>/: Debian's kernel package (IPVS and every scheduler as modules), extracted, with
#   the uncompressed vmlinux for PVH boot and a modules.dep; reused for as long as the cache lives.
# - image-<key>/: the initramfs, the guest-only tools (sshd, ipvsadm, sudo, nft, busybox: extracted from
#   Debian packages, never installed on this machine), each host's SSH host key (pinned by every client), the
#   operator key and the operator user's password (random, operator-password); keyed by the kernel and
#   the content of lab/, so a change to the lab rebuilds it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}/lab
mkdir -p "$cache"
fail() { echo "lab: $*" >&2; exit 1; }

# Tools this machine needs: qemu and friends are installed with apt; the guest's sshd and sudo run from
# extracted packages, so only their libraries are installed here (no service is ever started). ipvsadm
# and nft bring their libraries in the image. dpkg-query fails for a package dpkg has never heard of
# (and prints nothing): each package is asked on its own, and anything but "installed" is missing.
# LAB_CHECK_EXTRA_PACKAGES adds names to the check (test/unit/setup.test.ts: one dpkg has never heard of).
host_packages="qemu-system-x86 cpio xz-utils openssh-client iproute2 util-linux libwrap0 libkrb5-3 libgssapi-krb5-2"
host_packages+=" libaudit1 libselinux1 libpam0g libpam-modules zlib1g"
host_packages+="${LAB_CHECK_EXTRA_PACKAGES:+ $LAB_CHECK_EXTRA_PACKAGES}"
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null \
  || fail "dpkg-query or apt-get is missing: the lab needs a Debian or Ubuntu machine (it installs Debian packages)"
missing=
for p in $host_packages; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing="$missing $p"
done
missing=${missing# }
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || fail "these Debian packages are missing and installing them needs root: $missing"
  echo "lab: installing Debian packages this machine lacks: $missing" >&2
  apt-get update -qq >&2 \
    || fail "apt-get update failed (see above), so these Debian packages could not be installed: $missing"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 \
    || fail "apt-get could not install: $missing (see above)"
  echo "lab: installed $missing" >&2
fi
[ "${LAB_CHECK_PACKAGES_ONLY:-}" = 1 ] && exit 0

apt_ready=
apt_fetch() { # packages... -> extracted into $PWD/root
  [ -n "$apt_ready" ] || { apt-get update -qq >&2 || fail "apt-get update failed"; apt_ready=1; }
  apt-get download -qq -o APT::Sandbox::User=root "$@" >&2 || fail "apt-get download $* failed"
  for deb in *.deb; do dpkg -x "$deb" root || fail "dpkg -x $deb failed (see above)"; done; rm -f ./*.deb
}

kdir=$(for d in "$cache"/kernel-*; do [ -f "$d/ready" ] && echo "$d"; done | tail -n 1 || true)
if [ -z "$kdir" ]; then
  apt-get update -qq >&2 || fail "apt-get update failed"; apt_ready=1
  deps=$(apt-cache depends linux-image-amd64) || fail "apt-cache depends linux-image-amd64 failed (see above)"
  pkg=$(awk '/Depends: linux-image-[0-9]/ { print $2; exit }' <<< "$deps")
  [ -n "$pkg" ] || fail "apt does not name a kernel package behind linux-image-amd64"
  kdir=$cache/kernel-$pkg
  echo "lab: fetching and unpacking $pkg (about 70 MB)" >&2
  rm -rf "$kdir"; mkdir -p "$kdir/tmp"; cd "$kdir/tmp"
  apt_fetch "$pkg" busybox-static
  [ -d root/boot ] && [ -d root/lib/modules ] && [ -x root/bin/busybox ] \
    || fail "$pkg or busybox-static is not laid out as expected (boot/, lib/modules/, bin/busybox): $(ls root)"
  mv root/boot root/lib "$kdir/"; mv root/bin/busybox "$kdir/busybox"; cd "$kdir"; rm -rf tmp
  release=$(ls lib/modules)
  # The first xz stream in vmlinuz is the kernel (grep exits 1 when there is none: checked below).
  offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' boot/vmlinuz-* | awk -F: 'NR == 1 { print $1 }' || true)
  [ -n "$offset" ] || fail "$pkg's vmlinuz holds no xz stream: cannot extract the uncompressed vmlinux"
  tail -c +$((offset + 1)) boot/vmlinuz-* | xz -dc 2>/dev/null > vmlinux || true
  [ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" = '177ELF' ] || fail "could not extract vmlinux from $pkg"
  ./busybox depmod -b "$kdir" "$release" || fail "depmod of $release failed (see above)"
  touch ready
fi
release=$(ls "$kdir/lib/modules")

key=$( { echo "$kdir"; cat "$here/image.sh" "$here/init.sh" "$here/guest.sh" "$here/hosts.sh" "$here/topology.sh"; } \
  | sha256sum | cut -c1-12)
img=$cache/image-$key
if [ ! -f "$img/ready" ]; then
  echo "lab: building image $key" >&2
  rm -rf "$img"; mkdir -p "$img/keys" "$img/bin" "$img/initramfs"; cd "$img"
  # nftables (for the tests' firewall marks) with the libraries this machine does not have: they stay in
  # root/usr/lib, found through LD_LIBRARY_PATH by the bin/nft wrapper, so nothing of it reaches the machine.
  # keepalived (the directors' failover) with the libraries of its package's dependencies.
  apt_fetch openssh-server openssh-sftp-server ipvsadm libnl-3-200 libnl-genl-3-200 libpopt0 sudo nftables \
    libnftables1 libnftnl11 libjansson4 libxtables12 libmnl0 \
    keepalived libsnmp40 libsnmp-base libpci3 libperl5.36 libsensors5 libwrap0
  lab_libs=/lab/root/usr/lib/x86_64-linux-gnu:/lab/root/lib/x86_64-linux-gnu
  # ldd exits 0 when a library is not found (listed below) and 1 when a program is missing or unreadable.
  ldd_out=$(LD_LIBRARY_PATH=root/usr/libexec/sudo:root/usr/lib/x86_64-linux-gnu:root/lib/x86_64-linux-gnu \
    ldd root/usr/sbin/sshd root/sbin/ipvsadm root/usr/bin/sudo root/usr/libexec/sudo/sudoers.so \
    root/usr/sbin/nft root/usr/sbin/keepalived 2>&1) \
    || fail "ldd could not read the guest's sshd, ipvsadm, sudo, nft or keepalived as extracted from their" \
      "packages: $ldd_out"
  missing_libs=$(awk '/not found/ { print $1 }' <<< "$ldd_out" | sort -u)
  [ -z "$missing_libs" ] \
    || fail "the guest's sshd, ipvsadm, sudo, nft or keepalived needs libraries this machine lacks: $missing_libs"
  cp "$kdir/busybox" bin/busybox; ln -s busybox bin/modprobe
  # ipvsadm (the tests' oracle), nft (their firewall marks) and keepalived with the libraries they brought: found
  # through LD_LIBRARY_PATH by these wrappers, so nothing of them reaches the machine.
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec /lab/root/usr/sbin/nft "$@"\n' "$lab_libs" > bin/nft; chmod +x bin/nft
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec /lab/root/sbin/ipvsadm "$@"\n' "$lab_libs" > bin/ipvsadm
  chmod +x bin/ipvsadm
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec /lab/root/usr/sbin/keepalived "$@"\n' "$lab_libs" > bin/keepalived
  chmod +x bin/keepalived
  cp "$here/guest.sh" "$here/hosts.sh" "$here/topology.sh" .
  . "$here/topology.sh"
  for h in $(lab_names); do ssh-keygen -q -t ed25519 -N '' -C "$h.lab" -f "keys/$h"; done
  ssh-keygen -q -t ed25519 -N '' -C operator@pulumi-lvs-lab -f id_ed25519
  cp id_ed25519.pub authorized_keys
  # The operator user's password (guest.sh hashes it into the guest's /etc/shadow; lab.json carries it).
  (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '\n' > operator-password)
  # Every user's authorized keys are authorized_keys (root, operator and viewer log in with the operator
  # key); passwords are accepted for users that have one (operator: root's is locked).
  cat > sshd_config <<CFG
Port 22
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AuthorizedKeysFile /lab/authorized_keys
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp /lab/root/usr/lib/openssh/sftp-server
CFG
  # initramfs: busybox plus the modules needed to mount the roots; the rest load on demand later.
  ir=initramfs; mkdir -p "$ir/bin" "$ir/lib/modules/$release"
  cp "$kdir/busybox" "$ir/bin/busybox"; cp "$here/init.sh" "$ir/init"; chmod +x "$ir/init"
  dep="$kdir/lib/modules/$release/modules.dep"
  want="virtio_pci virtio_net 9pnet_virtio 9p overlay"; seen=""
  while [ -n "$want" ]; do
    set -- $want; m=$1; shift; want="$*"
    case " $seen " in *" $m "*) continue;; esac; seen="$seen $m"
    line=$(grep -E "(^|/)$m\.ko:" "$dep") || fail "module $m not in $release"
    file=${line%%:*}; mkdir -p "$ir/lib/modules/$release/$(dirname "$file")"
    cp "$kdir/lib/modules/$release/$file" "$ir/lib/modules/$release/$file"
    for d in ${line#*:}; do want="$want $(basename "$d" .ko)"; done
  done
  cp "$dep" "$ir/lib/modules/$release/"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.cpio.gz \
    || fail "packing the initramfs failed (see above)"
  rm -rf "$ir"
  echo "KERNEL_DIR=$kdir" > kernel.env; echo "KERNEL_RELEASE=$release" >> kernel.env
  touch ready
fi
echo "$img"
