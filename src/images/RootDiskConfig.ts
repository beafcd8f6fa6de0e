// The files Typevisor writes into a Debian root tree on the host, before the guest configures the
// packages: what debootstrap's first stage writes (fstab, hostname, hosts, apt sources, a
// policy-rc.d that keeps maintainer scripts from starting services), the ssh host keys (made by the
// host's ssh-keygen, so the guest does not spend emulated cycles on key generation and
// openssh-server's postinst finds them present), and Typevisor's own integration:
//  - the serial console logs root in (the console is the host user's own terminal, as with the
//    busybox image); ssh takes keys only (root has no password);
//  - sshd also reads /run/typevisor/authorized_keys/USER, which the initramfs fills at every boot
//    from the host's ~/.ssh/*.pub (a virtio-9p share tagged typevisor-cidata), as Lima injects keys;
//  - tv.cmd="..." on the kernel command line runs the command once the system is up (with its
//    network), framed by the marker lines of the busybox image, then powers off;
//  - the apt/dpkg timers are masked: an unattended `apt-get update` at boot would take the
//    emulated CPU for minutes and hold apt's lock.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostTool } from "./LinuxImage.js";

export const ROOT_LABEL = "typevisor-root";
/** Where the configuration stage's scripts live in the tree (deleted when it succeeds). */
export const STAGE_DIR = "var/lib/typevisor";
/** Printed by the stage script when every package is configured. */
export const STAGE_OK = "TYPEVISOR-CONFIGURED";

export interface RootConfigOptions {
  readonly imageName: string;
  readonly mirror: string;
  readonly suite: string;
  readonly components: readonly string[];
  /** Packages whose preinst runs with "install" before configuration, in this order: "INFONAME/PACKAGE/ARCH". */
  readonly preinst: readonly string[];
}

/**
 * Units masked in the image: the apt/dpkg timers (an unattended `apt-get update` at boot would take
 * the emulated CPU for minutes and hold apt's lock), and getty-static, which starts gettys on
 * tty2-tty6 of a display the board does not have.
 */
const MASKED_UNITS = [
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.timer",
  "fstrim.timer",
  "getty-static.service",
];

function put(root: string, path: string, text: string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
}

function link(root: string, path: string, target: string): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  symlinkSync(target, p);
}

/** The tv.cmd runner: same parsing and markers as the initramfs /init (src/images/Init.ts). */
const CMD_SCRIPT = `#!/bin/sh
# Typevisor: runs tv.cmd="COMMAND" from the kernel command line, then powers the VM off.
cmdline=$(cat /proc/cmdline)
tv_cmd=$(echo " $cmdline" | sed -n 's/.* tv\\.cmd="\\([^"]*\\)".*/\\1/p')
if [ -z "$tv_cmd" ]; then tv_cmd=$(echo " $cmdline" | sed -n 's/.* tv\\.cmd=\\([^" ][^ ]*\\).*/\\1/p'); fi
# With a NIC, wait (at most 30 s) for the DHCP lease so the command has its network.
if ls /sys/class/net | grep -q '^e'; then
  i=0
  while ! ip route show default | grep -q . && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
fi
echo "TYPEVISOR-BOOT-OK image=$(. /etc/typevisor/image; echo "$name") kernel=$(uname -r)"
echo "TYPEVISOR-CMD-BEGIN"
cd /root && HOME=/root sh -c "$tv_cmd" </dev/null 2>&1
echo "TYPEVISOR-CMD-END rc=$?"
systemctl --no-block poweroff
`;

const CMD_UNIT = `[Unit]
Description=Typevisor: run tv.cmd from the kernel command line, then power off
ConditionKernelCommandLine=tv.cmd
Wants=network-online.target
After=network-online.target systemd-user-sessions.service

[Service]
Type=simple
ExecStart=/usr/lib/typevisor/cmd
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
Environment=HOME=/root

[Install]
WantedBy=multi-user.target
`;

// The console's login: agetty on ttyS0, logging root in. Not Debian's serial-getty@ttyS0 (masked),
// which waits for udev to announce dev-ttyS0.device and gives up after 90 s, a wait an emulated CPU
// under load can exceed; /dev/ttyS0 exists from the start (devtmpfs). Not on tv.cmd boots, whose
// output has the console to itself. Settings as serial-getty@.service's.
const CONSOLE_UNIT = `[Unit]
Description=Typevisor: root login on the serial console
After=systemd-user-sessions.service getty-pre.target
Before=getty.target
ConditionKernelCommandLine=!tv.cmd

[Service]
ExecStart=-/sbin/agetty --autologin root --noreset --noclear --keep-baud 115200,57600,38400,9600 ttyS0 $TERM
Type=idle
Restart=always
UtmpIdentifier=ttyS0
StandardInput=tty
StandardOutput=tty
TTYPath=/dev/ttyS0
TTYReset=yes
TTYVHangup=yes
IgnoreSIGPIPE=no
SendSIGHUP=yes
KillMode=process
Environment=TERM=vt220

[Install]
WantedBy=getty.target
`;

// The serial console (ttyS0, the login console) has no way to learn the host terminal's size; hvc0
// (virtio-console) does: Typevisor offers VIRTIO_CONSOLE_F_SIZE and changes cols/rows whenever the
// host terminal is resized, and the kernel resizes hvc0 and sends SIGWINCH to its foreground
// process group. This service holds hvc0 as its controlling terminal (StandardInput=tty) and copies
// each new size to ttyS0, whose foreground programs then get their own SIGWINCH.
const WINSIZE_SCRIPT = `#!/bin/sh
# Typevisor: the serial console follows hvc0's size, which follows the host terminal.
copy() {
  set -- $(stty -F /dev/hvc0 size 2>/dev/null)
  [ "\${1:-0}" -gt 0 ] && [ "\${2:-0}" -gt 0 ] && stty -F /dev/ttyS0 rows "$1" cols "$2"
}
trap copy WINCH
copy
while :; do
  sleep 86400 &
  wait $! || kill $! 2>/dev/null
done
`;

const WINSIZE_UNIT = `[Unit]
Description=Typevisor: the serial console follows the host terminal's size (through hvc0)
ConditionPathExists=/dev/hvc0
ConditionKernelCommandLine=!tv.cmd

[Service]
ExecStart=/usr/lib/typevisor/winsize
StandardInput=tty
StandardOutput=null
TTYPath=/dev/hvc0
TTYReset=no
TTYVHangup=no

[Install]
WantedBy=multi-user.target
`;

// The console's size at login: tv.rows/tv.cols from `typevisor start` (also right when hvc0 is absent).
const SIZE_PROFILE = `# Typevisor: the serial console has no size of its own; take the host terminal's (hvc0 follows it).
if [ "$(tty)" = /dev/ttyS0 ]; then
  s=$(stty -F /dev/hvc0 size 2>/dev/null)
  case "$s" in
    "" | "0 0") for w in $(cat /proc/cmdline); do
        case "$w" in tv.rows=*) r=\${w#tv.rows=} ;; tv.cols=*) c=\${w#tv.cols=} ;; esac
      done ;;
    *) r=\${s% *} c=\${s#* } ;;
  esac
  [ -n "$r" ] && [ -n "$c" ] && stty rows "$r" cols "$c" 2>/dev/null
  unset r c s w
fi
`;

/** Writes the host-side configuration into the unpacked tree. */
export function writeRootConfig(root: string, o: RootConfigOptions): void {
  put(root, "etc/hostname", "typevisor\n");
  put(root, "etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\ttypevisor\n::1\t\tlocalhost ip6-localhost ip6-loopback\n");
  // The initramfs mounts the root read-write; systemd-growfs grows the file system to the disk's
  // size at boot (typevisor start --disk-size).
  put(root, "etc/fstab", `LABEL=${ROOT_LABEL}\t/\text4\trw,errors=remount-ro,x-systemd.growfs\t0\t0\n`);
  put(
    root,
    "etc/network/interfaces",
    "# Written by Typevisor: loopback, and every virtio NIC by DHCP (dhcpcd) when it appears.\nsource /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n",
  );
  put(
    root,
    "etc/apt/sources.list.d/debian.sources",
    `Types: deb\nURIs: ${o.mirror}\nSuites: ${o.suite}\nComponents: ${o.components.join(" ")}\nSigned-By: /usr/share/keyrings/debian-archive-keyring.pgp\n`,
  );
  // No translated package descriptions: they are as large as the package index itself, and every
  // byte of `apt-get update` goes through the emulated CPU.
  put(
    root,
    "etc/apt/apt.conf.d/90typevisor",
    '// Written by Typevisor: English descriptions only (halves what apt-get update fetches).\nAcquire::Languages "none";\n',
  );
  put(root, "etc/typevisor/image", `name=${o.imageName}\n`);
  put(root, "usr/lib/typevisor/cmd", CMD_SCRIPT, 0o755);
  put(root, "etc/systemd/system/typevisor-cmd.service", CMD_UNIT);
  link(root, "etc/systemd/system/multi-user.target.wants/typevisor-cmd.service", "../typevisor-cmd.service");
  put(root, "etc/systemd/system/typevisor-console.service", CONSOLE_UNIT);
  link(root, "etc/systemd/system/getty.target.wants/typevisor-console.service", "../typevisor-console.service");
  link(root, "etc/systemd/system/serial-getty@ttyS0.service", "/dev/null");
  put(root, "etc/profile.d/typevisor-size.sh", SIZE_PROFILE);
  put(root, "usr/lib/typevisor/winsize", WINSIZE_SCRIPT, 0o755);
  put(root, "etc/systemd/system/typevisor-winsize.service", WINSIZE_UNIT);
  link(root, "etc/systemd/system/multi-user.target.wants/typevisor-winsize.service", "../typevisor-winsize.service");
  // systemd-getty-generator adds a getty on hvc0 when it exists; its input is not wired (the
  // console's keys go to ttyS0), so its prompt would only clutter the terminal.
  link(root, "etc/systemd/system/serial-getty@hvc0.service", "/dev/null");
  put(
    root,
    "etc/ssh/sshd_config.d/typevisor.conf",
    "# Written by Typevisor: keys injected at boot from the host's ~/.ssh/*.pub (typevisor start).\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /run/typevisor/authorized_keys/%u\n",
  );
  for (const [type, bits] of [
    ["rsa", "3072"],
    ["ecdsa", "256"],
    ["ed25519", ""],
  ] as const) {
    const key = join(root, `etc/ssh/ssh_host_${type}_key`);
    hostTool(
      "ssh-keygen",
      ["-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", "", "-C", "root@typevisor", "-f", key],
      "openssh-client",
    );
  }
  // Maintainer scripts must not start services while the packages are configured (invoke-rc.d(8)).
  put(root, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755);

  // The configuration stage: the outer script runs in the build VM's initramfs (busybox) with the
  // root disk on /mnt, the inner one inside it with chroot, as debootstrap's second stage does.
  put(
    root,
    `${STAGE_DIR}/stage`,
    `#!/bin/sh
r=/mnt
mount -o rbind /dev $r/dev && mount -t proc proc $r/proc && mount -t sysfs sysfs $r/sys && mount -t tmpfs tmpfs $r/run || exit 1
rc=0
chroot $r /bin/sh /${STAGE_DIR}/configure || rc=$?
umount $r/run; umount $r/sys; umount $r/proc; umount $r/dev/pts; umount $r/dev
exit $rc
`,
    0o755,
  );
  put(
    root,
    `${STAGE_DIR}/configure`,
    `#!/bin/sh
set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
start=$(cut -d' ' -f1 /proc/uptime)
# What dpkg --unpack would have run before unpacking, base-passwd's first (it makes /etc/passwd).
# The environment dpkg gives maintainer scripts (dpkg(1) "ENVIRONMENT"; dpkg-maintscript-helper needs it).
export DPKG_ADMINDIR=/var/lib/dpkg DPKG_ROOT= DPKG_MAINTSCRIPT_NAME=preinst DPKG_RUNNING_VERSION=$(dpkg-query -f '\${Version}' -W dpkg)
for p in ${o.preinst.join(" ")}; do
  info=\${p%%/*}; rest=\${p#*/}
  echo "Preparing \${rest%/*} (preinst install)"
  DPKG_MAINTSCRIPT_PACKAGE=\${rest%/*} DPKG_MAINTSCRIPT_ARCH=\${rest#*/} DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 /var/lib/dpkg/info/$info.preinst install
done
unset DPKG_ADMINDIR DPKG_ROOT DPKG_MAINTSCRIPT_NAME DPKG_RUNNING_VERSION
echo "preinst done at $(cut -d' ' -f1 /proc/uptime) s"
dpkg --configure -a
dpkg --audit
ldconfig
# Masked after configuration (the packages' postinst scripts preset these units and fail on a mask).
for t in ${MASKED_UNITS.join(" ")}; do ln -sf /dev/null /etc/systemd/system/$t; done
# No virtual terminals to log in on (the board has no display): only the serial console's getty.
rm -f /etc/systemd/system/getty.target.wants/getty@tty1.service
# /etc and /var are current with /usr: no ldconfig/catalog/sysusers rerun at every boot of a
# fresh copy (systemd-update-done.service, ConditionNeedsUpdate=).
/usr/lib/systemd/systemd-update-done || echo "systemd-update-done failed: the first boot reruns ldconfig and the journal catalog"
rm -f /usr/sbin/policy-rc.d
# Every VM made from this image gets its own machine-id at first boot (machine-id(5)).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -rf /${STAGE_DIR}
echo "${STAGE_OK} packages=$(dpkg-query -f '.' -W | wc -c) seconds=$(awk -v s=$start '{print int($1 - s)}' /proc/uptime)"
`,
    0o755,
  );
}
