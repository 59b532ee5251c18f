/**
 * The nginx include file cutover owns (pure): one `upstream` block with the stable and canary
 * servers and their weights, under a header saying who owns it and which run and step wrote it;
 * and the unified diff between two versions (what --dry-run shows for each step).
 */
import { isIP } from 'node:net';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { NAME } from '../../config/primitives.ts';
import { duplicateHosts, ShiftError, type ShiftHost } from './types.ts';
import { splitText, type Weights } from './weights.ts';

export interface UpstreamFile {
  /** The upstream's name (what `proxy_pass http://NAME` uses). */
  readonly upstream: string;
  /** The port of a host that gives none. */
  readonly appPort: number;
  readonly canary: readonly ShiftHost[];
  readonly stable: readonly ShiftHost[];
  readonly weights: Weights;
  /** Who wrote it: "run 20261201T031500Z-a1b2c3, step 1 of 5", or "reset". */
  readonly label: string;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Problems with the servers nginx would be given ([] when every name, address and port is usable). */
export function serverProblems(hosts: readonly ShiftHost[], appPort: number): string[] {
  const problems: string[] = [];
  for (const h of hosts) {
    if (!NAME.test(h.name)) problems.push(`host name ${JSON.stringify(h.name)}: must be letters, digits, dot, dash or underscore`);
    if (!HOSTNAME.test(h.address) && isIP(h.address.replace(/^\[(.*)\]$/, '$1')) === 0)
      problems.push(`${h.name}: address ${JSON.stringify(h.address)} is not a host name or IP address nginx can use in a server line`);
    const port = h.port ?? appPort;
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${h.name}: port ${port} must be between 1 and 65535`);
  }
  return problems;
}

/** `address:port` as an nginx server line wants it (IPv6 in brackets). */
export function serverAddress(h: ShiftHost, appPort: number): string {
  const a = h.address.includes(':') && !h.address.startsWith('[') ? `[${h.address}]` : h.address;
  return `${a}:${h.port ?? appPort}`;
}

const count = (n: number) => `${n} server${n === 1 ? '' : 's'}`;

function cohort(name: 'stable' | 'canary', hosts: readonly ShiftHost[], weight: number, f: UpstreamFile): string[] {
  if (!hosts.length) return [];
  if (weight === 0) {
    const which = hosts.map((h) => `${h.name} ${serverAddress(h, f.appPort)}`).join(', ');
    return [`    # ${name}: not listed at ${f.weights.asked}% (${which})`];
  }
  return [`    # ${name}: ${count(hosts.length)}, weight ${weight} each`, ...hosts.map((h) => `    server ${serverAddress(h, f.appPort)} weight=${weight};  # ${h.name}`)];
}

/** The whole include file for a split. Throws (nothing written) when a server cannot be written safely. */
export function upstreamFileText(f: UpstreamFile): string {
  const problems = serverProblems([...f.canary, ...f.stable], f.appPort);
  for (const name of duplicateHosts(f)) problems.push(`${name} is named twice (a host is either canary or stable)`);
  if (!/^[A-Za-z0-9_-]+$/.test(f.upstream)) problems.push(`upstream name ${JSON.stringify(f.upstream)}: must be letters, digits, dash or underscore`);
  if (problems.length) throw new ShiftError(`cannot write the nginx upstream: ${problems.join('; ')}`, false);
  if (f.canary.length !== f.weights.canaryServers || f.stable.length !== f.weights.stableServers)
    throw new Error(`weights for ${f.weights.canaryServers}+${f.weights.stableServers} servers, hosts ${f.canary.length}+${f.stable.length}`);
  const label = f.label.replace(/[\r\n]+/g, ' ');
  return [
    '# Managed by cutover (canary traffic shifting): rewritten whole at every step and restored on',
    '# rollback. Edits made here are lost; change the environment\'s `canary` settings instead.',
    `# ${label}: ${f.weights.asked === 0 ? 'all traffic to the stable servers' : f.weights.asked === 100 ? 'all traffic to the canary servers' : splitText(f.weights)}`,
    `upstream ${f.upstream} {`,
    ...cohort('stable', f.stable, f.weights.stable, f),
    ...cohort('canary', f.canary, f.weights.canary, f),
    '}',
    '',
  ].join('\n');
}

/**
 * Unified diff of a file between two versions ('' when they are equal); `before` null: the file
 * does not exist yet (--- /dev/null). Labels say which version is which ("now", "step 2 of 5").
 */
export function unifiedDiff(path: string, before: string | null, after: string, labels: { before: string; after: string }): string {
  if (before === after) return '';
  return createTwoFilesPatch(before === null ? '/dev/null' : path, path, before ?? '', after, labels.before, labels.after, { headerOptions: FILE_HEADERS_ONLY, context: 3 });
}
