// The namespace catalogue: every type nslab teaches, with its clone flag and the kernel that added it.

export const NAMESPACE_TYPES = ['uts', 'ipc', 'pid', 'mnt', 'net', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface NamespaceInfo {
  type: NamespaceType;
  /** The name of the file under /proc/PID/ns/. */
  procName: string;
  flag: string;
  value: number;
  since: string;
}

export const NAMESPACES: Record<NamespaceType, NamespaceInfo> = {
  mnt: { type: 'mnt', procName: 'mnt', flag: 'CLONE_NEWNS', value: 0x00020000, since: '2.4.19' },
  uts: { type: 'uts', procName: 'uts', flag: 'CLONE_NEWUTS', value: 0x04000000, since: '2.6.19' },
  ipc: { type: 'ipc', procName: 'ipc', flag: 'CLONE_NEWIPC', value: 0x08000000, since: '2.6.19' },
  pid: { type: 'pid', procName: 'pid', flag: 'CLONE_NEWPID', value: 0x20000000, since: '2.6.24' },
  net: { type: 'net', procName: 'net', flag: 'CLONE_NEWNET', value: 0x40000000, since: '2.6.29' },
  user: { type: 'user', procName: 'user', flag: 'CLONE_NEWUSER', value: 0x10000000, since: '3.8' },
  cgroup: { type: 'cgroup', procName: 'cgroup', flag: 'CLONE_NEWCGROUP', value: 0x02000000, since: '4.6' },
  time: { type: 'time', procName: 'time', flag: 'CLONE_NEWTIME', value: 0x00000080, since: '5.6' },
};
