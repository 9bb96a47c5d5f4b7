// What a lab may not see of the host's filesystem, following runc's default masked paths and
// the secrets a host keeps. Files are covered by an empty read-only file, directories by an
// empty read-only tmpfs. The agent's own directories are added at start.
export const MASKED_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/machine-id'];

export const MASKED_DIRS = ['/home', '/etc/ssh', '/etc/sudoers.d', '/var/log', '/var/lib/sudo', '/var/spool', '/mnt', '/media', '/srv', '/opt'];
