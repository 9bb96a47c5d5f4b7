// What the agent and its namespace-facts worker say to each other (one thread to another).
import type { NamespaceType } from '@nslab/shared';

/** Read the facts of these namespaces, each through one process that is in it (a host pid). */
export interface FactsRequest {
  req: number;
  items: Array<{ type: NamespaceType; inode: number; pid: number }>;
}

export interface FactsReply {
  req: number;
  /** Per item (same order): what was read, or null when the process or namespace was gone. */
  results: Array<unknown | null>;
}

export interface UtsRead {
  hostname: string;
  domainname: string;
}
export interface IpcRead {
  objects: Array<{ kind: 'queue' | 'shm' | 'sem'; key: string; id: number; owner: number }>;
}
export interface NetRead {
  devices: Array<{ name: string; up: boolean; addresses: string[] }>;
}
/** Cgroup paths per hierarchy id as seen from inside the namespace. */
export interface CgroupRead {
  paths: Record<string, string>;
}
