/**
 * The work's modules (the graph, the backup, retention: work.ts) are loaded while the preflight
 * waits for the hosts, not at start-up: the first line shows sooner, and the loading overlaps the
 * network. A preflight starts it and awaits it before the plan, so the work finds them loaded.
 */
type Work = typeof import('./work.ts');
let loaded: Work | null = null;
let loading: Promise<Work> | null = null;

/** Starts loading (once); the modules when they are there. */
export function loadWork(): Promise<Work> {
  return (loading ??= import('./work.ts').then((m) => (loaded = m)));
}

/** The modules, once loadWork() resolved. */
export function work(): Work {
  if (!loaded) throw new Error('the work modules are not loaded yet: the preflight loads them (loadWork)');
  return loaded;
}
