#!/bin/bash
# The lab's hosts inside the VM: each a network namespace with its own user-mode NIC (the machine
# reaches its sshd on a loopback port), legs on the lan and back bridges, a mount namespace in which its
# own disk (/run/lab/disk/NAME, kept while the VM runs) is its /var/lib/pulumi-lvs, and one sshd.
# Sourced by guest.sh (PID 1) to boot every host; `hosts.sh reboot NAME`, run in PID 1's namespaces
# (lab.sh reboot NAME), reboots one host: everything in its kernel namespace is gone (IPVS table,
# addresses, sysctls), its disk stays, and at boot it runs pulumi-lvs's restore unit from that disk as
# systemd would, before its sshd starts; then supervises pulumi-lvs's long-running units (the health
# daemon, keepalived) as systemd would (`hosts.sh supervise UNIT`, inside the host: started when its unit
# appears or changes, restarted a second after it dies, stopped when the unit goes).
. /lab/topology.sh
log() { echo "lab: $*" > /dev/console; }

# Runs a command as host NAME: in its network namespace and a mount namespace where its disk is mounted.
in_host() { # name command...
  local name=$1; shift
  ip netns exec "$name" unshare --mount --uts --propagation private sh -c \
    'mount --bind "/run/lab/disk/$0" /var/lib/pulumi-lvs && hostname "$0" && exec "$@"' "$name" "$@"
}

host_up() { # name
  local name=$1 i=0 h lan4 lan6 back4 back6 mgmt
  while read -r h lan4 lan6 back4 back6; do
    [ -n "$h" ] || continue; i=$((i + 1)); [ "$h" = "$name" ] && break
  done <<< "$LAB_HOSTS"
  [ "$h" = "$name" ] || { log "no host $name"; return 1; }
  mkdir -p "/run/lab/disk/$name" /var/lib/pulumi-lvs
  ip netns add "$name"
  # The NIC comes back to the root namespace when a rebooted host's namespace is gone (asynchronously).
  for _ in $(seq 100); do
    mgmt=$(grep -l "52:54:00:1a:b0:0$i" /sys/class/net/*/address 2>/dev/null | cut -d/ -f5); [ -n "$mgmt" ] && break
    sleep 0.1
  done
  for _ in $(seq 100); do ip link show "$name-lan" >/dev/null 2>&1 || break; sleep 0.1; done
  ip link set "$mgmt" netns "$name"
  ns() { ip netns exec "$name" "$@"; }
  ns ip link set lo up
  ns ip link set "$mgmt" name mgmt
  ns ip addr add 10.254.0.15/24 dev mgmt; ns ip link set mgmt up
  # Fixed MACs, as a real host's NICs have: after a reboot its neighbours' ARP caches still hold.
  ip link add "$name-lan" type veth peer name lan0 address "52:54:00:1c:00:0$i" netns "$name"
  ip link set "$name-lan" master lan up
  ns ip addr add "$lan4/24" dev lan0; ns ip addr add "$lan6/64" dev lan0 nodad; ns ip link set lan0 up
  if [ "$back4" != - ]; then
    for _ in $(seq 100); do ip link show "$name-back" >/dev/null 2>&1 || break; sleep 0.1; done
    ip link add "$name-back" type veth peer name back0 address "52:54:00:1d:00:0$i" netns "$name"
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
  # What systemd does with pulumi-lvs's unit on a real node: run its ExecStart once the network is up.
  local unit=/run/lab/disk/$name/pulumi-lvs-restore.service cmd
  if [ -f "$unit" ]; then
    cmd=$(sed -n 's/^ExecStart=//p' "$unit")
    # shellcheck disable=SC2086
    in_host "$name" $cmd > "/run/lab/disk/$name/restore.log" 2>&1 \
      || log "$name: the restore unit failed (see /run/lab/disk/$name/restore.log)"
  fi
  for unit in pulumi-lvs-health.service pulumi-lvs-keepalived.service; do
    in_host "$name" /bin/bash /lab/hosts.sh supervise "$unit" > /dev/null 2>&1 &
  done
  in_host "$name" /lab/root/usr/sbin/sshd -f /lab/sshd_config -h "/lab/keys/$name" -o "PidFile=/run/sshd-$name.pid" \
    || log "sshd for $name did not start"
}

host_down() { # name
  local pids dev devs
  # Off its networks first, as a host that loses power is at once. Deleting a namespace tears down its
  # IPVS table before its interfaces: a host still on the lan in that moment answered its clients' packets
  # for a VIP it still held from its own TCP stack, with resets a real host never sends.
  devs=$(ip -n "$1" -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1)
  # When it went (the lab's clock, ms), for tests that time a failover.
  echo "lab: $1 down at $(date +%s%3N)"
  for dev in $devs; do echo "link set dev $dev down"; done | ip -n "$1" -batch -
  pids=$(ip netns pids "$1")
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null
  ip netns del "$1"
}

# systemd's part for a long-running unit of pulumi-lvs (Type=simple, Restart=always, RestartSec=1), run
# inside a host: the unit lives beside the record; a new text (a new agent) restarts it. Its output goes
# to a log there (pulumi-lvs-health.service: health.log), as journald would keep it.
supervise() { # unit
  local unit=/var/lib/pulumi-lvs/$1 log=/var/lib/pulumi-lvs/${1#pulumi-lvs-} text="" now pid=""
  log=${log%.service}.log
  local tick state
  # The loop forks nothing while nothing changes: a fork costs tens of milliseconds under emulation, and
  # six hosts polling with cat and sleep kept the VM's two CPUs more than half busy. It reads the unit
  # with read, waits on a FIFO nobody writes (read -t), and asks /proc whether the daemon still runs.
  tick=$(mktemp -u /run/lab-supervise.XXXXXX); mkfifo "$tick"; exec 3<> "$tick"; rm -f "$tick"
  # Running: the process is there and not a zombie (a killed child stays one until bash reaps it).
  alive() { [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && read -r _ _ state _ < "/proc/$pid/stat" && [ "$state" != Z ]; }
  while :; do
    now=""; [ -f "$unit" ] && { IFS= read -r -d '' now < "$unit" || true; }
    if [ "$now" != "$text" ] || { [ -n "$pid" ] && ! alive; }; then
      if [ -n "$pid" ]; then
        if [ "$now" != "$text" ]; then echo "$(date -u +%FT%T.%3NZ) lab: the unit changed: stopping $pid"
        else echo "$(date -u +%FT%T.%3NZ) lab: $pid ended, restarting in 1 s"; fi >> "$log"
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; read -r -t 1 -u 3 || true
        # As systemd, it starts what the unit says after the wait (the unit may have gone meanwhile).
        now=""; [ -f "$unit" ] && { IFS= read -r -d '' now < "$unit" || true; }
      fi
      text=$now
      if [ -n "$text" ]; then
        # shellcheck disable=SC2046
        $(sed -n 's/^ExecStart=//p' <<< "$text") >> "$log" 2>&1 &
        pid=$!
      fi
    fi
    read -r -t 0.5 -u 3 || true
  done
}

if [ "${1:-}" = supervise ]; then supervise "$2"; fi
if [ "${1:-}" = reboot ]; then
  [ -n "${2:-}" ] && lab_names | grep -qx "$2" \
    || { echo "usage: hosts.sh reboot NAME (one of: $(lab_names | tr '\n' ' '))" >&2; exit 2; }
  host_down "$2" && host_up "$2"
fi
