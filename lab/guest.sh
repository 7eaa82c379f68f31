#!/bin/bash
# PID 1 of the lab VM. Builds the hosts of lab/topology.sh as network namespaces, each with its own
# user-mode NIC (the machine reaches its sshd on a loopback port) and legs on the lan and back bridges,
# starts one sshd per host with that host's pinned key, says "lab ready" on the console, then reaps.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t devpts -o gid=5,mode=620 devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
mount -t tmpfs -o mode=0755 run /run; mount -t tmpfs tmp /tmp; chmod 1777 /tmp
mkdir -p /run/netns /run/sshd /var/run
echo /lab/bin/modprobe > /proc/sys/kernel/modprobe
hostname lab
# The project checkout that started the lab, live (cache=none) at the same path as on the machine.
project=$(sed -n 's/.*lab\.project=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$project" ]; then mkdir -p "$project"; mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=none project "$project"; fi
ip link set lo up
log() { echo "lab: $*" > /dev/console; }

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
. /lab/topology.sh
echo "$LAB_HOSTS" | awk 'NF { print $2, $1 }' >> /etc/hosts
/lab/bin/modprobe ip_vs || log "ip_vs did not load"
# nft (nftables, extracted into the image with its libraries) on every host's PATH, for firewall marks.
ln -sf /lab/bin/nft /usr/local/sbin/nft

. /lab/topology.sh
for br in lan back; do ip link add "$br" type bridge; ip link set "$br" up; done
i=0
while read -r name lan4 lan6 back4 back6 <&3; do
  [ -n "$name" ] || continue
  i=$((i + 1))
  ip netns add "$name"
  mgmt=$(grep -l "52:54:00:1a:b0:0$i" /sys/class/net/*/address | cut -d/ -f5)
  ip link set "$mgmt" netns "$name"
  ns() { ip netns exec "$name" "$@"; }
  ns ip link set lo up
  ns ip link set "$mgmt" name mgmt
  ns ip addr add 10.254.0.15/24 dev mgmt; ns ip link set mgmt up
  ip link add "$name-lan" type veth peer name lan0 netns "$name"
  ip link set "$name-lan" master lan up
  ns ip addr add "$lan4/24" dev lan0; ns ip addr add "$lan6/64" dev lan0 nodad; ns ip link set lan0 up
  if [ "$back4" != - ]; then
    ip link add "$name-back" type veth peer name back0 netns "$name"
    ip link set "$name-back" master back up
    ns ip addr add "$back4/24" dev back0; ns ip addr add "$back6/64" dev back0 nodad; ns ip link set back0 up
    # The NAT gateway forwards IPv4 from boot: several stacks (one per example) declare ipForward on
    # it at once, and each one's destroy restores what it found, which must not cut the others off.
    if [ "$back4" = "$LAB_NAT_GATEWAY4" ]; then ns sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'; fi
    case "$name" in rs*)
      ns ip route add default via "$LAB_NAT_GATEWAY4" table 100
      ns ip rule add from 10.1.0.0/24 table 100
      ns ip -6 route add default via "$LAB_NAT_GATEWAY6" table 100
      ns ip -6 rule add from fd01::/64 table 100;;
    esac
  fi
  ns unshare --uts sh -c "hostname $name; exec /lab/root/usr/sbin/sshd -f /lab/sshd_config -h /lab/keys/$name -o PidFile=/run/sshd-$name.pid" \
    || log "sshd for $name did not start"
done 3<<< "$LAB_HOSTS"
log "lab ready"
while :; do wait; sleep 1; done
