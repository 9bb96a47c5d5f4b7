// Course progress, per browser, in localStorage: a task once done stays done.
const KEY = 'nslab.progress.v1';
type Progress = Record<string, Record<string, true>>;

function read(): Progress {
  try {
    const raw = localStorage.getItem(KEY);
    const v = raw ? (JSON.parse(raw) as unknown) : {};
    return v && typeof v === 'object' ? (v as Progress) : {};
  } catch {
    return {};
  }
}

export function doneTasks(lesson: string): Set<string> {
  return new Set(Object.keys(read()[lesson] ?? {}));
}

export function markDone(lesson: string, tasks: string[]): boolean {
  if (!tasks.length) return false;
  const p = read();
  const l = (p[lesson] ??= {});
  let changed = false;
  for (const t of tasks) {
    if (!l[t]) {
      l[t] = true;
      changed = true;
    }
  }
  if (changed) {
    try {
      localStorage.setItem(KEY, JSON.stringify(p));
      window.dispatchEvent(new Event('nslab-progress'));
    } catch {
      /* private mode: progress is not kept */
    }
  }
  return changed;
}

export function subscribeProgress(fn: () => void): () => void {
  const onStorage = (e: StorageEvent) => {
    if (e.key === KEY) fn();
  };
  window.addEventListener('storage', onStorage);
  window.addEventListener('nslab-progress', fn);
  return () => {
    window.removeEventListener('storage', onStorage);
    window.removeEventListener('nslab-progress', fn);
  };
}
