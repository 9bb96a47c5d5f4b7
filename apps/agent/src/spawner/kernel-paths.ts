// The kernel interfaces a lab's init hides or makes read-only in the lab's own /proc and /sys.
// Inside every lab, after runc's default spec: kernel interfaces covered (a file by an empty
// read-only file, a directory by an empty read-only tmpfs) and others made read-only. The lab's
// init applies them to the lab's own /proc and /sys; a path the kernel does not have is skipped.
export const LAB_MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const LAB_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
