// The namespace-facts worker: a thread that steps into a lab's UTS, IPC, network and cgroup
// namespaces (setns is per thread for these types) to read what the kernel shows only from
// inside: the host name, the System V IPC objects, the network devices, the cgroup paths. It
// never joins a mount namespace, so every file it reads is the host's own /proc; after each
// read it steps back into the agent's namespaces, and if that fails it ends, taking nothing of
// a lab's into the next read.
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { sys } from '../native/sys.js';
import { AF_INET, CLONE, O, SIOC, SOCK_CLOEXEC, SOCK_DGRAM, IFF_UP } from '../native/constants.js';
import { NAMESPACES, type NamespaceType } from '@nslab/shared';
import type { CgroupRead, FactsReply, FactsRequest, IpcRead, NetRead, UtsRead } from './facts-messages.js';

const JOINED: Partial<Record<NamespaceType, number>> = { uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, net: CLONE.NEWNET, cgroup: CLONE.NEWCGROUP };

/** The agent's own namespaces, to come back to. */
const home = new Map<NamespaceType, number>();
for (const t of Object.keys(JOINED) as NamespaceType[]) {
  home.set(t, sys.open(`/proc/thread-self/ns/${NAMESPACES[t].procName}`, O.RDONLY | O.CLOEXEC));
}

function inside<T>(type: NamespaceType, pid: number, read: () => T): T | null {
  let fd: number;
  try {
    fd = sys.open(`/proc/${pid}/ns/${NAMESPACES[type].procName}`, O.RDONLY | O.CLOEXEC);
  } catch {
    return null; // the process is gone
  }
  try {
    sys.setns(fd, JOINED[type]!, `${type} namespace of pid ${pid}`);
  } catch {
    sys.close(fd);
    return null;
  }
  sys.close(fd);
  try {
    return read();
  } catch {
    return null;
  } finally {
    try {
      sys.setns(home.get(type)!, JOINED[type]!, `back to the agent's ${type} namespace`);
    } catch {
      // Never read anything more from a lab's namespace believing it the agent's.
      process.exit(1);
    }
  }
}

function readUts(): UtsRead {
  const u = sys.uname();
  return { hostname: u.nodename, domainname: u.domainname };
}

/** /proc/sysvipc/* show the reading thread's IPC namespace. */
function readIpc(): IpcRead {
  const objects: IpcRead['objects'] = [];
  for (const [file, kind, idCol, ownerCol] of [
    ['msg', 'queue', 1, 7],
    ['shm', 'shm', 1, 7],
    ['sem', 'sem', 1, 4],
  ] as const) {
    const lines = readFileSync(`/proc/sysvipc/${file}`, 'latin1').trim().split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length <= ownerCol) continue;
      const key = Number(f[0]);
      objects.push({ kind, key: `0x${(key >>> 0).toString(16).padStart(8, '0')}`, id: Number(f[idCol]), owner: Number(f[ownerCol]) });
      if (objects.length >= 64) return { objects };
    }
  }
  return { objects };
}

/** Devices from the thread's own /proc/net, their flags and IPv4 address from a socket made inside. */
function readNet(): NetRead {
  const names = readFileSync('/proc/thread-self/net/dev', 'latin1')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean)
    .slice(0, 32);
  const sock = sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    return {
      devices: names.map((name) => {
        const ifr = Buffer.alloc(40);
        ifr.write(name.slice(0, 15), 0, 'latin1');
        let up = false;
        try {
          sys.ioctlPtr(sock, SIOC.GIFFLAGS, ifr, 'SIOCGIFFLAGS');
          up = (ifr.readUInt16LE(16) & IFF_UP) !== 0;
        } catch {
          /* gone meanwhile */
        }
        const addresses: string[] = [];
        try {
          const a = Buffer.alloc(40);
          a.write(name.slice(0, 15), 0, 'latin1');
          sys.ioctlPtr(sock, SIOC.GIFADDR, a, 'SIOCGIFADDR');
          const addr = [...a.subarray(20, 24)].join('.');
          const m = Buffer.alloc(40);
          m.write(name.slice(0, 15), 0, 'latin1');
          sys.ioctlPtr(sock, SIOC.GIFNETMASK, m, 'SIOCGIFNETMASK');
          const bits = [...m.subarray(20, 24)].reduce((n, b) => n + b.toString(2).replace(/0/g, '').length, 0);
          addresses.push(`${addr}/${bits}`);
        } catch {
          /* no IPv4 address */
        }
        return { name, up, addresses };
      }),
    };
  } finally {
    sys.close(sock);
  }
}

/** The process's cgroup paths per hierarchy, as the reading thread's cgroup namespace names them. */
function readCgroup(pid: number): CgroupRead {
  const paths: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'latin1').trim().split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    paths[line.slice(0, a)] = line.slice(b + 1);
  }
  return { paths };
}

parentPort!.on('message', (msg: FactsRequest) => {
  const results = msg.items.map(({ type, pid }) => {
    switch (type) {
      case 'uts':
        return inside('uts', pid, readUts);
      case 'ipc':
        return inside('ipc', pid, readIpc);
      case 'net':
        return inside('net', pid, readNet);
      case 'cgroup':
        return inside('cgroup', pid, () => readCgroup(pid));
      default:
        return null;
    }
  });
  parentPort!.postMessage({ req: msg.req, results } satisfies FactsReply);
});
