/**
 * nginx mode: the load balancer's upstream weights, in the one include file cutover owns. Every
 * change is one host-side transaction (commands.ts lbApply): written atomically, tested with the
 * configured `test` before nginx may use it, the previous file put back byte for byte on any
 * failure, then reloaded (graceful: running requests finish on the old split).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Host } from '../../config/schema.ts';
import type { LoadBalancer } from '../../config/canary.ts';
import { lastLines } from '../../runners/run.ts';
import type { Runner } from '../../runners/types.ts';
import { parseKeyValues } from '../../commands/host-reads.ts';
import { command } from '../../commands/shell.ts';
import { APPLY_EXIT, dumpCommandText, lbCommand, shiftCommands } from './commands.ts';
import { dumpProblems } from './nginx-check.ts';
import { serverProblems, unifiedDiff, upstreamFileText } from './nginx-file.ts';
import { duplicateHosts, stepLabel, ShiftError, type FileChange, type ShiftHost, type ShiftPlan, type ShiftResult, type ShiftStep, type TrafficShifter } from './types.ts';
import { splitText, weightsFor, weightsText } from './weights.ts';

export interface NginxShifterOptions {
  readonly lb: LoadBalancer;
  /** A runner to the load balancer (runnerFor(env, lbHost(lb))). */
  readonly runner: Runner;
  /** The run's canary and stable hosts: what preflight() checks and reset() writes (all traffic to `stable`). */
  readonly canary: readonly ShiftHost[];
  readonly stable: readonly ShiftHost[];
  readonly runId: string;
  /** Largest sum of weights (default 1000). */
  readonly maxTotal?: number;
}

/** The file as last read or written: its text (null: absent) and the sha256 the host computed. */
interface Known {
  readonly text: string | null;
  readonly hash: string;
}

/** nginx -T of a large configuration: kept up to this size. */
const DUMP_LIMIT = 16 * 1024 * 1024;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The load balancer as a host runnerFor() understands. */
export function lbHost(lb: LoadBalancer): Host {
  return { name: lb.name, address: lb.address, user: lb.user, port: lb.port, transport: lb.transport, pathPrefix: lb.pathPrefix };
}

/** The plan of a split (pure): the file it writes, its diff against `before`, and what runs. */
export function nginxPlan(
  lb: LoadBalancer,
  o: { percent: number; canary: readonly ShiftHost[]; stable: readonly ShiftHost[]; label: string; before: string | null; beforeLabel?: string; maxTotal?: number },
): ShiftPlan {
  const weights = weightsFor(o.percent, o.canary.length, o.stable.length, o.maxTotal);
  const after = upstreamFileText({ upstream: lb.upstream, appPort: lb.appPort, canary: o.canary, stable: o.stable, weights, label: o.label });
  const file: FileChange = {
    host: lb.name,
    path: lb.include,
    before: o.before,
    after,
    diff: unifiedDiff(lb.include, o.before, after, { before: o.beforeLabel ?? 'now', after: o.label }),
    changed: o.before !== after,
  };
  const sudo = lb.sudo ? 'sudo -n ' : '';
  return {
    mode: 'nginx',
    percent: o.percent,
    real: weights.real,
    exact: weights.exact,
    summary: `${splitText(weights)}: ${weightsText(weights)}`,
    weights,
    files: [file],
    actions: [`write ${lb.include} on ${lb.name} (temporary file, then rename)`, `test: ${sudo}${lb.test}`, `reload: ${sudo}${lb.reload}`],
  };
}

function phasesOf(stdout: string): ShiftResult['phases'] {
  const m = /^timing (\S+) (\S+) (\S+) (\S+)$/m.exec(stdout);
  const t = m?.slice(1).map((x) => Number(x.replace(',', '.')));
  if (!t || t.some((x) => !Number.isFinite(x))) return undefined;
  const ms = (a: number, b: number) => Math.round((t[b]! - t[a]!) * 1000);
  return { writeMs: ms(0, 1), testMs: ms(1, 2), reloadMs: ms(2, 3) };
}

export class NginxShifter implements TrafficShifter {
  readonly mode = 'nginx' as const;
  private known?: Known;

  constructor(private readonly o: NginxShifterOptions) {}

  private get lb(): LoadBalancer {
    return this.o.lb;
  }

  /** The include file as it is now (null: absent; the first write creates it). */
  async read(signal?: AbortSignal): Promise<string | null> {
    const r = await this.o.runner.exec(shiftCommands.read(this.lb.include), { signal });
    if (r.code !== 0) throw new ShiftError(`${this.lb.name}: cannot read ${this.lb.include}: ${lastLines(r.stderr || r.error || `exit ${r.code}`, 10)}`, false);
    const nl = r.stdout.indexOf('\n');
    const head = r.stdout.slice(0, nl < 0 ? undefined : nl);
    if (head === 'absent') return (this.known = { text: null, hash: 'absent' }).text;
    const m = /^present ([0-9a-f]{64})$/.exec(head);
    const text = r.stdout.slice(nl + 1);
    if (!m || Buffer.byteLength(r.stdout) !== r.stdoutBytes) throw new ShiftError(`${this.lb.name}: ${this.lb.include} could not be read whole (${r.stdoutBytes} bytes): it is not a file cutover wrote`, false);
    return (this.known = { text, hash: m[1]! }).text;
  }

  async preflight(signal?: AbortSignal): Promise<string[]> {
    const { lb } = this;
    const problems = serverProblems([...this.o.canary, ...this.o.stable], lb.appPort);
    for (const name of duplicateHosts(this.o)) problems.push(`${name} is both a canary and a stable host (or named twice)`);
    let check: Record<string, string>;
    try {
      const r = await this.o.runner.exec(shiftCommands.check(lb.include), { signal });
      if (r.code !== 0) return [...problems, `${lb.name}: cannot check ${lb.include}: ${r.error ?? lastLines(r.stderr, 5)}`];
      check = parseKeyValues(r.stdout);
    } catch (err) {
      return [...problems, `load balancer ${(err as Error).message}`];
    }
    const dir = lb.include.replace(/\/[^/]*$/, '') || '/';
    const user = this.o.runner.host.user;
    if (check.dir !== 'yes') problems.push(`${lb.name}: folder ${dir} does not exist: create it, writable by ${user}, and include ${lb.include} in nginx's http block`);
    else if (check.writable !== 'yes') problems.push(`${lb.name}: folder ${dir} is not writable by ${user}: cutover writes ${lb.include} there (a temporary file, then a rename)`);
    if (check.file === 'symlink') problems.push(`${lb.name}: ${lb.include} is a symbolic link: give the real path in canary.nginx.include`);
    if (check.file === 'other') problems.push(`${lb.name}: ${lb.include} is not a regular file`);
    for (const [k, v] of Object.entries(check)) if (k === 'missing') problems.push(`${lb.name}: \`${v}\` is not installed (cutover needs mktemp, sha256sum and timeout there)`);
    if (check.file === 'yes') await this.read(signal).catch((err: Error) => problems.push(err.message));
    else if (check.file === 'no') this.known = { text: null, hash: 'absent' };
    const test = await this.o.runner.exec(command(lbCommand(lb.test, lb.sudo), { readOnly: true }), { signal });
    if (test.code !== 0) {
      problems.push(`${lb.name}: \`${lb.test}\` fails with the current configuration (fix nginx before a canary):\n${lastLines(test.stderr || test.stdout || test.error || '', 10)}`);
      return problems;
    }
    const dump = dumpCommandText(lb.test);
    if (dump) problems.push(...(await this.dumpProblems(dump, check.file === 'yes', signal)));
    return problems;
  }

  private async dumpProblems(dump: string, includeExists: boolean, signal?: AbortSignal): Promise<string[]> {
    const chunks: Buffer[] = [];
    let size = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (size < DUMP_LIMIT) chunks.push(chunk);
        size += chunk.length;
        done();
      },
    });
    const r = await this.o.runner.exec(command(lbCommand(dump, this.lb.sudo), { readOnly: true }), { signal, sink });
    if (r.code !== 0) return [`${this.lb.name}: \`${dump}\` (to check what nginx loads) exits ${r.code ?? r.error}: ${lastLines(r.stderr, 5)}`];
    return dumpProblems(Buffer.concat(chunks).toString('utf8'), { include: this.lb.include, upstream: this.lb.upstream, includeExists });
  }

  plan(step: ShiftStep, from?: ShiftPlan): ShiftPlan {
    const before = from ? from.files[0]!.after : this.knownText();
    return nginxPlan(this.lb, { percent: step.percent, canary: step.canary, stable: step.stable, label: `run ${step.runId}, ${stepLabel(step)}`, before, beforeLabel: from ? 'previous step' : 'now', maxTotal: this.o.maxTotal });
  }

  private knownText(): string | null {
    if (!this.known) throw new Error('NginxShifter.plan: call preflight() or read() first (the plan shows the file as it is now)');
    return this.known.text;
  }

  async apply(step: ShiftStep, signal?: AbortSignal): Promise<ShiftResult> {
    return this.change(`run ${step.runId}, ${stepLabel(step)}`, step.percent, step.canary, step.stable, signal);
  }

  /** All traffic to the stable servers: the first thing a rollback does. */
  async reset(signal?: AbortSignal): Promise<ShiftResult> {
    return this.change(`run ${this.o.runId}, reset`, 0, this.o.canary, this.o.stable, signal);
  }

  /** Put back a file exactly as it was (null: remove it), tested and reloaded like any change. */
  async restore(previous: string | null, signal?: AbortSignal): Promise<{ file: FileChange; durationMs: number; phases?: ShiftResult['phases'] }> {
    const t0 = performance.now();
    const before = await this.readForChange(signal);
    const file: FileChange = { host: this.lb.name, path: this.lb.include, before, after: previous ?? '', diff: unifiedDiff(this.lb.include, before, previous ?? '', { before: 'now', after: 'restored' }), changed: before !== previous };
    const phases = await this.transaction(previous);
    return { file, durationMs: Math.round(performance.now() - t0), phases };
  }

  private async readForChange(signal?: AbortSignal): Promise<string | null> {
    if (signal?.aborted) throw new ShiftError(`${this.lb.name}: interrupted before the weights changed; nothing was written`, false);
    return this.read(signal);
  }

  private async change(label: string, percent: number, canary: readonly ShiftHost[], stable: readonly ShiftHost[], signal?: AbortSignal): Promise<ShiftResult> {
    const t0 = performance.now();
    const planFor = (before: string | null) => nginxPlan(this.lb, { percent, canary, stable, label, before, maxTotal: this.o.maxTotal });
    try {
      planFor(null); // a split that cannot be written is refused before the load balancer is touched
    } catch (err) {
      throw err instanceof ShiftError ? err : new ShiftError(`${this.lb.name}: ${(err as Error).message}; nothing was written`, false);
    }
    const plan = planFor(await this.readForChange(signal));
    const phases = await this.transaction(plan.files[0]!.after);
    return { ...plan, durationMs: Math.round(performance.now() - t0), phases };
  }

  /** One lbApply on the load balancer (never interrupted: it ends tested and reloaded, or put back). */
  private async transaction(after: string | null): Promise<ShiftResult['phases']> {
    const { lb } = this;
    const expect = this.known!.hash;
    const cmd = shiftCommands.lbApply({ path: lb.include, expect, test: lb.test, reload: lb.reload, sudo: lb.sudo, remove: after === null });
    const r = await this.o.runner.exec(after === null ? cmd : { ...cmd, stdin: after });
    const said = lastLines(r.stderr.trim() || r.error || '', 20);
    const where = `${lb.name}: ${lb.include}`;
    switch (r.code) {
      case 0:
        this.known = after === null ? { text: null, hash: 'absent' } : { text: after, hash: sha256(after) };
        return phasesOf(r.stdout);
      case APPLY_EXIT.testFailed:
        throw new ShiftError(`${where}: \`${lb.test}\` failed with the new file; the previous file is back in place byte for byte and nginx was not reloaded (it serves the previous split):\n${said}`, false);
      case APPLY_EXIT.reloadFailed:
        throw new ShiftError(`${where}: \`${lb.reload}\` failed; the previous file is back in place and nginx reloaded with it (the previous split):\n${said}`, false);
      case APPLY_EXIT.reloadFailedTwice:
        throw new ShiftError(`${where}: \`${lb.reload}\` failed, the previous file is back in place, and reloading with it failed too: check nginx on ${lb.name} (systemctl status nginx; ${lb.test}):\n${said}`, true, true);
      case APPLY_EXIT.restoreFailed:
        throw new ShiftError(`${where}: a check failed and putting the previous file back failed too: the new, failing file may be in place; look at ${lb.include} on ${lb.name} now:\n${said}`, true, true);
      case APPLY_EXIT.writeFailed:
      case APPLY_EXIT.changed:
      case APPLY_EXIT.symlink:
        this.known = undefined;
        throw new ShiftError(`${where}: not written (nothing changed): ${said || `exit ${r.code}`}`, false);
      default: {
        // the script ends on the host whatever happened to the connection: say what the file holds now
        const now = await this.read().then((t) => (t === after ? 'the new file' : t === null ? 'no file' : 'not the new file'), (e: Error) => `unknown (${e.message})`);
        throw new ShiftError(`${where}: the change did not report its end (${r.error ?? `exit ${r.code}`}); the load balancer now holds ${now}; check that nginx was reloaded:\n${said}`, true, true);
      }
    }
  }
}
