#!/bin/busybox sh
# /init of the lab's initramfs: mounts the machine's root read-only over 9p with a tmpfs overlay on top,
# the kernel's modules and the lab image beside it, then hands over to /lab/guest.sh.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci virtio_net 9pnet_virtio 9p overlay; do modprobe "$m" || echo "init: modprobe $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /lower /upper /newroot
mount -t 9p -o "$opts,ro,cache=loose" hostroot /lower || { echo "init: cannot mount the host root"; exec sh; }
mount -t tmpfs -o size=1g,mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot
mkdir -p /newroot/lab "/newroot/lib/modules/$(uname -r)"
mount -t 9p -o "$opts,ro" lab /newroot/lab
mount -t 9p -o "$opts,ro,cache=loose" modules "/newroot/lib/modules/$(uname -r)"
for d in dev proc sys; do mount --move "/$d" "/newroot/$d"; done
exec switch_root /newroot /bin/bash /lab/guest.sh
