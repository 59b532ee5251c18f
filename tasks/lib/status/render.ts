/** status for people (a table per section) and for programs (--json): pure. */
import { describeHolder, type LockHolder } from '../state/lock.ts';
import { ageText } from '../base/format.ts';
import type { EnvStatus, HostStatus } from './read.ts';
import { ms } from '../verify/http-checks.ts';

function table(head: readonly string[], rows: readonly string[][], indent = ''): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: readonly string[]) => `${indent}${c.map((v, i) => (i < c.length - 1 ? v.padEnd(widths[i]!) : v)).join('  ')}`.trimEnd();
  return [line(head), ...rows.map(line)];
}

function deployedText(h: HostStatus, live: string | null): string {
  if (h.unreachable) return '?';
  const d = h.deployed!;
  if (!d.ok) return 'no working copy';
  const label = d.tag ?? `commit ${d.commit.slice(0, 12)}`;
  return live && d.tag !== live ? `${label} (history says ${live})` : label;
}

function lockText(lock: HostStatus['lock']): string {
  if (lock === undefined) return '-';
  if (lock === null) return 'free';
  if ('problem' in lock) return `unknown: ${lock.problem.split('\n')[0]}`;
  const h = lock as LockHolder;
  const who = h.record ? `${h.record.owner} (${h.record.task}${h.record.tag ? ` ${h.record.tag}` : ''}, run ${h.record.runId})` : 'an unreadable record';
  return `${h.stale ? 'STALE: ' : ''}held by ${who} for ${ageText(h.ageSec * 1000)}`;
}

function healthText(h: HostStatus['health']): string {
  if (h.status === null) return `no answer: ${h.error}`;
  return `${h.status}${h.version ? `, version ${h.version}` : ''}, ${ms(h.latencyMs)}`;
}

export function statusText(s: EnvStatus): string {
  const out: string[] = [`${s.env} (${s.file})${s.description ? `: ${s.description}` : ''}`];
  const live = s.history.ok ? s.history.current : null;
  if (s.history.ok)
    out.push(
      `history (${s.history.where}): live ${s.history.current ?? '(no verified deploy yet)'}; rollback goes back to ${s.history.rollbackTarget ?? '(nothing before it)'}` +
        (s.history.skipped ? `; ${s.history.skipped} damaged line(s) skipped` : ''),
    );
  else out.push(`history (${s.history.where}): cannot be read: ${s.history.problem.split('\n')[0]}`);
  out.push('');
  const rows = s.hosts.map((h) => [
    h.name,
    h.address,
    deployedText(h, live),
    h.unreachable ? `unreachable: ${h.unreachable.split('\n')[0]}` : h.services.map((x) => `${x.name}: ${x.state}`).join('; '),
    healthText(h.health),
    lockText(h.lock),
  ]);
  out.push(...table(['HOST', 'ADDRESS', 'DEPLOYED', 'SERVICES', 'HEALTH', 'LOCK'], rows));
  const mixed = tagsInUse(s.hosts);
  if (mixed.length > 1)
    out.push(
      `hosts on different tags: ${mixed.map(([tag, names]) => `${tag} on ${names.join(', ')}`).join('; ')}` +
        ' (a deploy limited with --hosts/--tag, or one that stopped part-way): deploy the same tag to the others, or roll these back',
    );
  for (const h of s.hosts) {
    if (!h.releases) continue;
    const current = h.deployed?.ok ? h.deployed.release : null;
    out.push(`releases kept on ${h.name}: ${h.releases.map((r) => (r === current ? `${r} (current)` : r)).join(', ') || '(none)'}`);
  }
  out.push('');
  if (s.deployments.length) {
    out.push(`last ${s.deployments.length} of ${s.totalDeployments} deployment(s), newest first:`);
    const runs = s.deployments.map((d) => [
      d.startedAt ?? d.finishedAt ?? '?',
      d.who ?? '?',
      d.task,
      `${d.from ?? '?'} -> ${d.to ?? '?'}${d.hosts ? ` (only ${d.hosts.join(', ')})` : ''}`,
      d.durationMs === null ? '-' : ms(d.durationMs),
      d.result ?? 'unfinished',
      d.backup ?? '-',
    ]);
    out.push(...table(['STARTED', 'WHO', 'TASK', 'FROM -> TO', 'DURATION', 'RESULT', 'BACKUP'], runs, '  '));
  } else if (s.history.ok) out.push('no deployment recorded yet');
  out.push(
    s.backup
      ? `newest backup: ${s.backup.file}, ${ageText(s.backup.ageMs)} old, ${s.backup.verified === null ? 'not verified' : s.backup.verified ? 'verified' : 'verification FAILED'} (${s.backup.count} in ${s.backup.dir})`
      : 'newest backup: none on this machine',
  );
  return out.join('\n');
}

/** [tag, hosts on it] for every tag the reachable hosts run, in host order. */
export function tagsInUse(hosts: readonly HostStatus[]): [string, string[]][] {
  const by = new Map<string, string[]>();
  for (const h of hosts) {
    if (h.unreachable || !h.deployed?.ok) continue;
    const label = h.deployed.tag ?? `commit ${h.deployed.commit.slice(0, 12)}`;
    by.set(label, [...(by.get(label) ?? []), h.name]);
  }
  return [...by.entries()];
}

export function statusJson(s: EnvStatus): unknown {
  return {
    environment: s.env,
    file: s.file,
    history: s.history,
    hosts: s.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      reachable: !h.unreachable,
      ...(h.unreachable ? { problem: h.unreachable } : {}),
      deployed: h.deployed ? (h.deployed.ok ? { tag: h.deployed.tag, commit: h.deployed.commit, release: h.deployed.release } : { problem: h.deployed.problem }) : null,
      ...(h.releases ? { releases: h.releases } : {}),
      services: h.services,
      health: h.health,
      ...(h.lock !== undefined ? { lock: lockJson(h.lock) } : {}),
    })),
    tags: Object.fromEntries(tagsInUse(s.hosts)),
    deployments: s.deployments,
    totalDeployments: s.totalDeployments,
    backup: s.backup,
  };
}

function lockJson(lock: HostStatus['lock']): unknown {
  if (!lock) return null;
  if ('problem' in lock) return lock;
  const h = lock as LockHolder;
  return { holder: h.record, ageSec: h.ageSec, stale: h.stale, staleReason: h.staleReason, text: describeHolder(h) };
}
