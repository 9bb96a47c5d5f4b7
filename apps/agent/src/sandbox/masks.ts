// What a lab may not see of the host's filesystem, following runc's default masked paths and
// the secrets a host keeps. Files are covered by an empty read-only file, directories by an
// empty read-only tmpfs. The agent's own directories are added at start.
export const MASKED_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/machine-id'];

export const MASKED_DIRS = ['/home', '/etc/ssh', '/etc/sudoers.d', '/var/log', '/var/lib/sudo', '/var/spool', '/mnt', '/media', '/srv', '/opt'];

// Inside every lab, after runc's default spec: kernel interfaces covered (a file by an empty
// read-only file, a directory by an empty read-only tmpfs) and others made read-only. The lab's
// init applies them to the lab's own /proc and /sys; a path the kernel does not have is skipped.
export const LAB_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const LAB_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
