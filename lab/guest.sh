#!/bin/bash
# PID 1 of the lab VM. Prepares the shared root (users, sudo, tools), boots the hosts of lab/topology.sh
# (lab/hosts.sh: network namespaces, each with its sshd and pinned key), says "lab ready" on the
# console, then reaps.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /lab/hosts.sh
mount -t devpts -o gid=5,mode=620 devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
mount -t tmpfs -o mode=0755 run /run; mount -t tmpfs tmp /tmp; chmod 1777 /tmp
mkdir -p /run/netns /run/sshd /var/run
echo /lab/bin/modprobe > /proc/sys/kernel/modprobe
hostname lab
# The project checkout that started the lab, live (cache=none) at the same path as on the machine.
project=$(sed -n 's/.*lab\.project=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$project" ]; then
  mkdir -p "$project"; mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=none project "$project"
fi
ip link set lo up

# The root filesystem is the machine's own (read-only, with a tmpfs overlay): give root a login that
# sshd accepts without PAM, an empty .bashrc (the machine's may be slow), and the sshd privsep user.
sed -i 's/^root:[^:]*:/root:*:/' /etc/shadow
: > /root/.bashrc; rm -f /root/.bash_profile /root/.profile
grep -q '^sshd:' /etc/passwd || echo 'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin' >> /etc/passwd

# Non-root logins (the overlay only; the machine's files stay as they are): operator logs in with the
# operator key or its password (/lab/operator-password) and has passwordless sudo; viewer logs in with
# the key and has no sudo rights (what a misconfigured node looks like). sudo is Debian's, extracted
# into the image, copied here with its setuid bit: it exists in the guest only.
add_user() { # name uid password-hash
  if grep -q "^$1:\|^[^:]*:x:$2:" /etc/passwd; then log "user $1 or uid $2 already exists"; return; fi
  echo "$1:x:$2:$2:lab $1:/home/$1:/bin/bash" >> /etc/passwd
  echo "$1:x:$2:" >> /etc/group
  echo "$1:$3:19000:0:99999:7:::" >> /etc/shadow
  mkdir -p "/home/$1"; chown "$2:$2" "/home/$1"; chmod 0700 "/home/$1"
}
add_user operator 1500 "$(/lab/bin/busybox mkpasswd -m sha512 -P 0 < /lab/operator-password)"
add_user viewer 1501 '*'
mkdir -p /usr/libexec/sudo; cp -a /lab/root/usr/libexec/sudo/. /usr/libexec/sudo/
install -m 4755 -o root -g root /lab/root/usr/bin/sudo /usr/bin/sudo
cat > /etc/sudoers <<'SUDOERS'
Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
root ALL=(ALL:ALL) ALL
operator ALL=(ALL:ALL) NOPASSWD: ALL
SUDOERS
chmod 0440 /etc/sudoers
# Each host knows the others' lan names (sudo also looks up its own host name).
echo "$LAB_HOSTS" | awk 'NF { print $2, $1 }' >> /etc/hosts
/lab/bin/modprobe ip_vs || log "ip_vs did not load"
# ipvsadm, nft and keepalived, extracted into the image with their libraries, on every host's PATH (never
# the machine's own: the guest shares its root, and the next machine may have none of them).
ln -sf /lab/bin/nft /usr/local/sbin/nft
ln -sf /lab/bin/ipvsadm /usr/local/sbin/ipvsadm
ln -sf /lab/bin/keepalived /usr/local/sbin/keepalived

for br in lan back; do ip link add "$br" type bridge; ip link set "$br" up; done
for name in $(lab_names); do host_up "$name"; done
log "lab ready"
while :; do wait; sleep 1; done
