/**
 * Which host keeps an environment's deploy lock and history (the "state host"), and the check
 * that it has not moved. `state.host` (a host name) or `state.hostTag` (an EC2 tag of the
 * instance) pins it; without either, it is the first host, today's rule for static lists. The
 * state host a machine used is remembered in `backups/<env>/state-host.json`: a run refuses
 * (exit 2) when that host is gone or another host would now be used, and says how to move it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../base/errors.ts';
import { history } from '../commands/history.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import type { Host } from '../config/schema.ts';
import type { Runner } from '../runners/types.ts';
import { stateDirOf } from '../state/paths.ts';

export const STATE_HOST_FILE = 'state-host.json';

interface Remembered {
  readonly name: string;
  readonly address: string;
  readonly instanceId?: string;
}

/** Pure: the state host among `hosts` (every host of the environment, before any filter). */
export function chooseStateHost(env: LoadedEnvironment, hosts: readonly Host[]): Host {
  const pin = env.config.state;
  const names = hosts.map((h) => h.name).join(', ');
  if (pin?.host) {
    const h = hosts.find((x) => x.name === pin.host);
    if (!h) throw new UsageError(`state.host ${JSON.stringify(pin.host)} in ${env.file} is not one of the hosts (${names}). Name one of them, or the instance tag with state.hostTag.`);
    return h;
  }
  if (pin?.hostTag) {
    const want = Object.entries(pin.hostTag);
    const match = hosts.filter((h) => want.every(([k, v]) => h.tags?.[k] === v));
    const tag = want.map(([k, v]) => `${k}=${v}`).join(', ');
    if (match.length !== 1)
      throw new UsageError(`state.hostTag (${tag}) in ${env.file} matches ${match.length ? `${match.length} hosts (${match.map((h) => h.name).join(', ')})` : 'no host'}; it must match exactly one (hosts: ${names}).`);
    return match[0]!;
  }
  const first = hosts[0];
  if (!first) throw new UsageError(`${env.file} has no hosts`);
  return first;
}

const same = (a: Remembered, h: Host) => (a.instanceId && h.instanceId ? a.instanceId === h.instanceId : a.name === h.name && a.address === h.address);

function rememberedPath(env: LoadedEnvironment): string {
  return path.join(env.backupDir, STATE_HOST_FILE);
}

function readRemembered(env: LoadedEnvironment): Remembered | null {
  const file = rememberedPath(env);
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Remembered;
    return typeof v.name === 'string' && typeof v.address === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** After the run's "started" record is on the state host: this machine remembers where it is. */
export function rememberStateHost(env: LoadedEnvironment, h: Host): void {
  const v: Remembered = { name: h.name, address: h.address, ...(h.instanceId ? { instanceId: h.instanceId } : {}) };
  writeFileSync(rememberedPath(env), `${JSON.stringify(v)}\n`, { mode: 0o600 });
}

function moveHint(env: LoadedEnvironment, from: string, to: Host): string {
  const dir = stateDirOf(env.config.app);
  return (
    `To keep the state where it is, pin it in ${env.file}: state: { host: '${from}' } (or state.hostTag). ` +
    `To move it to ${to.name}: copy ${dir}/history.jsonl from ${from} (or this machine's mirror ${path.join(env.backupDir, 'history.jsonl')}) ` +
    `to ${to.name}:${dir}/history.jsonl with no run in progress, then delete ${rememberedPath(env)}.`
  );
}

/**
 * Refuses (UsageError, exit 2) when the lock and history would not be where they were: the
 * remembered state host is gone, another host would be used now, or (first run on this machine)
 * another host already holds a history while the chosen one has none.
 */
export async function checkStateHost(env: LoadedEnvironment, chosen: Host, all: readonly { host: Host; runner: Runner }[], signal?: AbortSignal): Promise<void> {
  const remembered = readRemembered(env);
  if (remembered) {
    if (same(remembered, chosen)) return;
    const still = all.find((x) => same(remembered, x.host));
    if (still)
      throw new UsageError(
        `the deploy lock and history of ${env.name} are on ${remembered.name} (remembered in ${rememberedPath(env)}), but this run would keep them on ${chosen.name}: two runs could each hold "the" lock. ${moveHint(env, remembered.name, chosen)}`,
      );
    throw new UsageError(
      `${remembered.name} (${remembered.address}${remembered.instanceId ? `, ${remembered.instanceId}` : ''}), which held the deploy lock and history of ${env.name}, is no longer one of its hosts. ${moveHint(env, remembered.name, chosen)}`,
    );
  }
  const dir = stateDirOf(env.config.app);
  const has = async (r: Runner) => (await r.exec(history.exists(dir), { signal, timeoutMs: 30_000 })).code === 0;
  const chosenRunner = all.find((x) => x.host === chosen)?.runner;
  if (!chosenRunner || (await has(chosenRunner))) return;
  const others = all.filter((x) => x.host !== chosen);
  const found = await Promise.all(others.map(async (x) => ((await has(x.runner).catch(() => false)) ? x.host.name : null)));
  const holder = found.find((n) => n !== null);
  if (holder)
    throw new UsageError(`${holder} holds the deployment history of ${env.name}, but this run would keep the lock and history on ${chosen.name}, which has none. ${moveHint(env, holder, chosen)}`);
}
