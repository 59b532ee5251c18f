/**
 * Verify one host after a restart, the same way after a deploy and after a rollback: health
 * (polled; the version must be the tag when configured), then readiness and the test chat in
 * parallel, then the journal since the restart and the units' state, in one command. While health
 * is polled, systemd is watched too: a service that crashes at start fails verification at once
 * instead of at the health timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { secretValues } from '../config/load.ts';
import { systemd } from '../commands/systemd.ts';
import { checkChat } from '../probes/chat.ts';
import { checkReadiness, waitForHealth } from '../probes/health.ts';
import { runJournalScan } from '../probes/journal.ts';
import type { ProbeResult } from '../probes/types.ts';
import type { HostRun, RunCtx } from './context.ts';

export type OnResult = (r: ProbeResult) => void;

class ServiceFailed extends Error {}

export async function verifyHost(ctx: RunCtx, h: HostRun, expectTag: string | undefined, onResult: OnResult): Promise<boolean> {
  const { verify, services } = ctx.env.config;
  if (ctx.dry) {
    ctx.dry.add(h.host.name, dryRunLine(ctx, h, expectTag));
    return true;
  }
  const secrets = secretValues(ctx.env);
  const address = h.host.address;
  const record = (r: ProbeResult) => {
    onResult(r);
    return r.ok;
  };

  const watch = new AbortController();
  const stop = () => watch.abort(new Error('deploy interrupted'));
  ctx.signal.addEventListener('abort', stop, { once: true });
  const units = services.filter((s) => s.unit).map((s) => s.unit!);
  const watcher = watchUnits(h, units, watch.signal).catch((e: unknown) => {
    if (e instanceof ServiceFailed) watch.abort(e);
  });
  let healthy: boolean;
  const started = performance.now();
  try {
    const expectVersion = verify.health.versionField ? expectTag : undefined;
    healthy = record(await waitForHealth(verify.health, { address, expectVersion, signal: watch.signal, secrets }));
  } catch (err) {
    if (!(watch.signal.reason instanceof ServiceFailed)) throw err;
    const why = watch.signal.reason.message;
    healthy = record({ name: 'health', ok: false, detail: why, requested: { method: 'exec', url: `${h.host.name}: systemctl is-active ${units.join(' ')}` }, got: null, waitedMs: Math.round(performance.now() - started) });
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    if (!watch.signal.aborted) watch.abort(new Error('done'));
    await watcher;
  }
  if (!healthy) return false;

  const probes: Promise<boolean>[] = [];
  if (verify.readiness) probes.push(checkReadiness(verify.readiness, { address, signal: ctx.signal, secrets }).then(record));
  if (verify.chat) probes.push(checkChat(verify.chat, { address, signal: ctx.signal, secrets }).then(record));
  const okSoFar = (await Promise.all(probes)).every(Boolean);
  let journalOk = true;
  let serviceOk = true;
  if (verify.journal && h.restartedAt) {
    const scanUnits = verify.journal.units ?? units;
    const sudo = services.some((s) => s.unit && s.sudo);
    if (scanUnits.length) {
      // the units' state at the end of the verification comes in the same command as the journal
      // on the host that keeps the lock, the "finished" command follows: a session opens for it now
      const thenMore = h.runner === ctx.state.runner;
      const scan = await runJournalScan(h.runner, scanUnits, h.restartedAt, verify.journal, { sudo, signal: ctx.signal, secrets, states: units, thenMore, ...(h.pidsBefore ? { excludePids: h.pidsBefore } : {}) });
      journalOk = record(scan);
      if (scan.unitStates) serviceOk = record(servicesAtEnd(h, units, scan.unitStates, scan.waitedMs));
    }
  }
  return okSoFar && journalOk && serviceOk;
}

/** The units still active once health, readiness, the chat and the journal were checked. */
function servicesAtEnd(h: HostRun, units: readonly string[], states: readonly string[], waitedMs: number): ProbeResult {
  const down = units.map((u, i) => [u, states[i] ?? 'unknown'] as const).filter(([, s]) => s !== 'active');
  const requested = { method: 'exec', url: `${h.host.name}: systemctl is-active -- ${units.join(' ')}` };
  const got = { status: down.length ? 3 : 0, body: states.join(' ') };
  if (!down.length) return { name: 'service', ok: true, detail: `${units.join(', ')} still active at the end of the verification`, requested, got, waitedMs };
  return {
    name: 'service',
    ok: false,
    detail: `${down.map(([u, s]) => `${u} is ${s}`).join(', ')} at the end of the verification (active after the restart). See: journalctl -u ${down[0]![0]} -n 50 --no-pager`,
    requested,
    got,
    waitedMs,
  };
}

/** What the verification would check, for --dry-run. */
function dryRunLine(ctx: RunCtx, h: HostRun, expectTag: string | undefined): string {
  const { verify } = ctx.env.config;
  const url = (u: string) => u.replaceAll('{host}', h.host.address);
  const parts = [`GET ${url(verify.health.url)} every ${verify.health.interval} ms until ${verify.health.expectStatus}${verify.health.versionField && expectTag ? ` with ${verify.health.versionField} = ${expectTag}` : ''} (at most ${verify.health.timeout} ms)`];
  if (verify.readiness) parts.push(`GET ${url(verify.readiness.url)}`);
  if (verify.chat) parts.push(`${verify.chat.method} ${url(verify.chat.url)} within ${verify.chat.latencyBudget} ms`);
  if (verify.journal) parts.push(`journal since the restart (priority ${verify.journal.priority} or worse, ${verify.journal.failPatterns.join(', ')}) and the services' state, in one command`);
  return `verify: ${parts.join('; ')}`;
}

/** Poll `systemctl is-active` every second; throw ServiceFailed when a unit is failed or inactive. */
async function watchUnits(h: HostRun, units: readonly string[], signal: AbortSignal): Promise<void> {
  if (!units.length) return;
  while (!signal.aborted) {
    // abortable: the verification must not wait for the watcher's next tick once health answered
    if (await sleep(1000, false, { signal }).catch(() => true)) return;
    const r = await h.runner.exec(systemd.isActive(units), { signal, timeoutMs: 10_000 });
    if (signal.aborted) return;
    const states = r.stdout.trim().split('\n');
    const down = units.map((u, i) => [u, states[i] ?? 'unknown'] as const).filter(([, s]) => s === 'failed' || s === 'inactive');
    if (down.length)
      throw new ServiceFailed(
        `${down.map(([u, s]) => `${u} is ${s}`).join(', ')} after the restart (it exited instead of serving). See: journalctl -u ${down[0]![0]} -n 50 --no-pager`,
      );
  }
}
