#!/usr/bin/env bash
# The lab: Debian's kernel (with IPVS) under qemu, the hosts of topology.sh inside it, each reachable by
# SSH on a loopback port with a pinned host key. Usage: lab.sh up | down | status | ssh HOST [COMMAND...]
# | reboot HOST (that host alone: its kernel state is gone, its disk stays; see hosts.sh).
# Its state (qemu pid, console log, lab.json for the tests, known_hosts) lives in $PULUMI_LVS_CACHE/lab/run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
run=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}/lab/run
base_port=${PULUMI_LVS_LAB_PORT:-22200}
. "$here/topology.sh"
fail() { echo "lab: $*" >&2; exit 1; }
running() { [ -f "$run/qemu.pid" ] && kill -0 "$(cat "$run/qemu.pid")" 2>/dev/null; }
port_of() {
  local i=0 h
  for h in $(lab_names); do i=$((i + 1)); [ "$h" = "$1" ] && { echo $((base_port + i)); return; }; done
  fail "no host '$1' in the lab (hosts: $(lab_names | tr '\n' ' '))"
}
lab_ssh() { # host args...
  local img; img=$(cat "$run/image")
  ssh -i "$img/id_ed25519" -o UserKnownHostsFile="$run/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o LogLevel=ERROR -o ConnectTimeout=20 -p "$(port_of "$1")" root@127.0.0.1 "${@:2}"
}

down() {
  if running; then
    local pid; pid=$(cat "$run/qemu.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$run/qemu.pid"
}

up() {
  local img; img=$(bash "$here/image.sh") || fail "the lab image could not be built (lab/image.sh stopped; see above)"
  if running; then
    if [ "$(cat "$run/image" 2>/dev/null)" = "$img" ] && [ "$(cat "$run/project" 2>/dev/null)" = "$repo" ]; then
      wait_ssh; return
    fi
    echo "lab: the image or the project checkout changed; restarting the lab" >&2; down
  fi
  command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
  . "$img/kernel.env"
  local accel="-accel tcg,thread=multi -cpu max"
  if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel="-accel kvm -cpu host"; fi
  local nics=() i=0 h port
  for h in $(lab_names); do
    i=$((i + 1)); port=$((base_port + i))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
      && fail "port $port (for $h) is in use; set PULUMI_LVS_LAB_PORT to another base port"
    nics+=(-netdev "user,id=n$i,restrict=on,net=10.254.0.0/24,hostfwd=tcp:127.0.0.1:$port-:22"
           -device "virtio-net-pci,netdev=n$i,mac=52:54:00:1a:b0:0$i")
  done
  mkdir -p "$run"; rm -f "$run/console.log"
  rm -rf "$run/demo-state"  # the demo's Pulumi state describes the kernel of the VM that is gone
  echo "$img" > "$run/image"; echo "$repo" > "$run/project"
  local start=$SECONDS
  # The TSC clock source stalls emulated guests under load (soft lockups, RCU stalls seen here): HPET.
  # shellcheck disable=SC2086
  qemu-system-x86_64 -name pulumi-lvs-lab $accel -machine pc -smp 2 -m 2048 -no-reboot \
    -kernel "$KERNEL_DIR/vmlinux" -initrd "$img/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet clocksource=hpet tsc=unstable lab.project=$repo" \
    -fsdev "local,id=project,path=$repo,security_model=none,readonly=on" \
    -device virtio-9p-pci,fsdev=project,mount_tag=project \
    -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
    -fsdev "local,id=lab,path=$img,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=lab,mount_tag=lab \
    -fsdev "local,id=modules,path=$KERNEL_DIR/lib/modules/$KERNEL_RELEASE,security_model=none,readonly=on" \
    -device virtio-9p-pci,fsdev=modules,mount_tag=modules \
    "${nics[@]}" -display none -monitor none -serial "file:$run/console.log" \
    -daemonize -pidfile "$run/qemu.pid" || fail "qemu did not start"
  write_clients "$img"
  until grep -q 'lab ready' "$run/console.log" 2>/dev/null; do
    running || fail "the VM stopped while booting; its console said:$(echo; tail -n 30 "$run/console.log")"
    # Emulated, it boots in 70 s to 140 s here (once more than 180 s, with the machine's CPUs busy).
    [ $((SECONDS - start)) -lt 300 ] \
      || { down; fail "the VM did not come up in 300 s; console:$(echo; tail -n 30 "$run/console.log")"; }
    sleep 0.2
  done
  echo "lab: booted in $((SECONDS - start)) s" >&2
  wait_ssh
}

reboot() { # host: through another host's shell, in the namespaces of the VM's PID 1 (which built the hosts)
  local via=client; [ "$1" = client ] && via=director1
  port_of "$1" >/dev/null
  lab_ssh "$via" "nsenter -t 1 -m -n -u -- bash /lab/hosts.sh reboot $1" || fail "rebooting $1 failed"
  wait_ssh "$1"
}

wait_ssh() {
  local h start=$SECONDS
  for h in ${1:-$(lab_names)}; do
    until lab_ssh "$h" true 2>/dev/null; do
      [ $((SECONDS - start)) -lt 60 ] || fail "$h does not answer SSH on 127.0.0.1:$(port_of "$h")"
      sleep 0.5
    done
  done
}

write_clients() { # the pinned host keys and lab.json (and the operator user's password), which tests and examples read
  local img=$1 h lan4 lan6 back4 back6 sep="" i=0
  local host_format='%s    "%s": { "host": "127.0.0.1", "port": %d, "user": "root", "hostKey": "%s", '
  host_format+='"lan4": "%s", "lan6": "%s", "back4": "%s", "back6": "%s" }'
  : > "$run/known_hosts"
  {
    printf '{\n  "privateKeyPath": "%s",\n  "operatorPassword": "%s",\n  "hosts": {\n' \
      "$img/id_ed25519" "$(cat "$img/operator-password")"
    while read -r h lan4 lan6 back4 back6; do
      [ -n "$h" ] || continue
      i=$((i + 1))
      local key; key=$(cut -d' ' -f1,2 "$img/keys/$h.pub")
      echo "[127.0.0.1]:$((base_port + i)) $key" >> "$run/known_hosts"
      printf "$host_format" \
        "$sep" "$h" $((base_port + i)) "$key" "$lan4" "$lan6" "$back4" "$back6"
      sep=$',\n'
    done <<< "$LAB_HOSTS"
    printf '\n  }\n}\n'
  } > "$run/lab.json"
}

case "${1:-}" in
  up) up; echo "lab: up; hosts: $(lab_names | tr '\n' ' ')(lab.json: $run/lab.json)" ;;
  down) down; echo "lab: down" ;;
  status)
    if running; then
      echo "lab: running (qemu pid $(cat "$run/qemu.pid"), image $(cat "$run/image"))"
      for h in $(lab_names); do
        if lab_ssh "$h" true 2>/dev/null; then s=answers; else s="does not answer"; fi
        echo "  $h 127.0.0.1:$(port_of "$h") $s"
      done
    else echo "lab: not running"; exit 3; fi ;;
  reboot)
    [ $# -eq 2 ] || fail "usage: lab.sh reboot HOST"; running || fail "the lab is not running (npm run lab:up)"
    reboot "$2"; echo "lab: $2 rebooted" ;;
  ssh)
    [ $# -ge 2 ] || fail "usage: lab.sh ssh HOST [COMMAND...]"
    running || fail "the lab is not running (npm run lab:up)"
    port_of "$2" >/dev/null; shift; lab_ssh "$@" ;;
  *) fail "usage: lab.sh up | down | status | ssh HOST [COMMAND...] | reboot HOST" ;;
esac
