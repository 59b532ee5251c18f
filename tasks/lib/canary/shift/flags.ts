/**
 * flags mode (the canary playbook): the release is on every host; feature flags in a JSON file are
 * turned on host by host. The file is read over the host's runner, edited here (json-pointer.ts:
 * only the flags' values change), and written back through stdin atomically (temporary file in the
 * same folder, then a rename), only if it is still what was read; then the services restart or
 * reload when `after` says so.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { FlagsConfig } from '../../config/canary.ts';
import type { Service } from '../../config/schema.ts';
import { parseKeyValues } from '../../commands/host-reads.ts';
import { systemd } from '../../commands/systemd.ts';
import { lastLines } from '../../runners/run.ts';
import type { Runner } from '../../runners/types.ts';
import { APPLY_EXIT, shiftCommands } from './commands.ts';
import { isJsonValue, pointerProblems, setPointers, type PointerEdit } from './json-pointer.ts';
import { unifiedDiff } from './nginx-file.ts';
import { duplicateHosts, ShiftError, SignoffMissingError, stepLabel, type FileChange, type ShiftHost, type ShiftPlan, type ShiftResult, type ShiftStep, type TrafficShifter } from './types.ts';
import { percentText } from './weights.ts';

/** `canary.flags` as the schema gives it. */
export type Flags = z.output<typeof FlagsConfig>;

export interface FlagsShifterOptions {
  readonly flags: Flags;
  /** Every host of the run: what preflight() checks and reset() turns off. */
  readonly hosts: readonly ShiftHost[];
  readonly runnerOf: (host: ShiftHost) => Runner;
  /** Restarted, one host at a time, with `after: 'restart'`. */
  readonly services: readonly Service[];
}

interface Known {
  readonly text: string;
  readonly hash: string;
}

/** How long a restarted unit may take to be active. */
const ACTIVE_WITHIN_MS = 10_000;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export class FlagsShifter implements TrafficShifter {
  readonly mode = 'flags' as const;
  private readonly known = new Map<string, Known>();

  constructor(private readonly o: FlagsShifterOptions) {}

  private edits(on: boolean): PointerEdit[] {
    return this.o.flags.flags.map((f) => ({ pointer: f.pointer, value: on ? f.on : f.off }));
  }

  /** The flag file on a host as it is now (kept for plan()). */
  async read(host: ShiftHost, signal?: AbortSignal): Promise<string> {
    const file = this.o.flags.file;
    const r = await this.o.runnerOf(host).exec(shiftCommands.read(file), { signal });
    if (r.code !== 0) throw new ShiftError(`${host.name}: cannot read ${file}: ${lastLines(r.stderr || r.error || `exit ${r.code}`, 10)}`, false);
    const nl = r.stdout.indexOf('\n');
    const m = /^present ([0-9a-f]{64})$/.exec(r.stdout.slice(0, nl));
    if (!m) throw new ShiftError(`${host.name}: ${file} does not exist: flags mode needs the flag file on every host`, false);
    if (Buffer.byteLength(r.stdout) !== r.stdoutBytes) throw new ShiftError(`${host.name}: ${file} is larger than cutover reads (64 KiB)`, false);
    const text = r.stdout.slice(nl + 1);
    this.known.set(host.name, { text, hash: m[1]! });
    return text;
  }

  async preflight(signal?: AbortSignal): Promise<string[]> {
    const { signoff, after, flags } = this.o.flags;
    const problems = flags.flatMap((f) =>
      [f.on, f.off].filter((v) => !isJsonValue(v)).map((v) => `canary.flags: ${f.pointer}: the value ${String(v)} cannot be written as JSON`),
    );
    if (after === 'restart' && !this.o.services.length) problems.push("canary.flags.after is 'restart' but the environment has no services");
    const checks = await Promise.all(this.o.hosts.map((h) => this.checkHost(h, signal)));
    problems.push(...checks.flatMap((c) => c.problems));
    const missing = this.o.hosts.filter((_, i) => checks[i]!.signoffMissing).map((h) => h.name);
    if (signoff && missing.length) problems.push(new SignoffMissingError(signoff, missing).message);
    return problems;
  }

  private async checkHost(h: ShiftHost, signal?: AbortSignal): Promise<{ problems: string[]; signoffMissing: boolean }> {
    const { file, signoff, after } = this.o.flags;
    const runner = this.o.runnerOf(h);
    let check: Record<string, string>;
    try {
      const r = await runner.exec(shiftCommands.check(file, signoff), { signal });
      if (r.code !== 0) return { problems: [`${h.name}: cannot check ${file}: ${r.error ?? lastLines(r.stderr, 5)}`], signoffMissing: false };
      check = parseKeyValues(r.stdout);
    } catch (err) {
      return { problems: [(err as Error).message], signoffMissing: false };
    }
    const problems: string[] = [];
    const dir = file.replace(/\/[^/]*$/, '') || '/';
    if (check.file === 'no') problems.push(`${h.name}: ${file} does not exist: flags mode changes an existing flag file`);
    else if (check.file === 'symlink') problems.push(`${h.name}: ${file} is a symbolic link: give the real path in canary.flags.file`);
    else if (check.file === 'other') problems.push(`${h.name}: ${file} is not a regular file`);
    else if (check.writable !== 'yes') problems.push(`${h.name}: folder ${dir} is not writable by ${runner.host.user}: cutover writes ${file} there (a temporary file, then a rename)`);
    for (const [k, v] of Object.entries(check)) if (k === 'missing') problems.push(`${h.name}: \`${v}\` is not installed (cutover needs mktemp, sha256sum and timeout there)`);
    if (check.file === 'yes') {
      try {
        const text = await this.read(h, signal);
        problems.push(...pointerProblems(text, this.edits(true)).map((p) => `${h.name}: ${file}: ${p}`));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (after === 'restart')
      for (const s of this.o.services.filter((x) => x.unit)) {
        const r = await runner.exec(systemd.unitExists(s.unit!, s.sudo), { signal });
        if (r.code !== 0) problems.push(`${h.name}: unit ${s.unit} not found (canary.flags.after: 'restart' restarts it)`);
      }
    return { problems, signoffMissing: check.signoff === 'no' };
  }

  plan(step: ShiftStep, from?: ShiftPlan): ShiftPlan {
    const texts = new Map<string, string>();
    for (const f of from?.files ?? []) texts.set(f.host, f.after);
    const files = [...step.canary.map((h) => [h, true] as const), ...step.stable.map((h) => [h, false] as const)].map(([h, on]) => {
      const before = texts.get(h.name) ?? this.known.get(h.name)?.text;
      if (before === undefined) throw new Error(`FlagsShifter.plan: ${h.name}'s flag file was not read: call preflight() first`);
      return this.change(h, before, on, from ? 'previous step' : 'now', `${stepLabel(step)} (${on ? 'on' : 'off'})`);
    });
    return this.planOf(step.percent, step.canary, step.stable, files);
  }

  private change(h: ShiftHost, before: string, on: boolean, beforeLabel: string, afterLabel: string): FileChange {
    const after = setPointers(before, this.edits(on)).text;
    const path = this.o.flags.file;
    return { host: h.name, path, before, after, diff: unifiedDiff(path, before, after, { before: beforeLabel, after: afterLabel }), changed: after !== before };
  }

  private planOf(percent: number, canary: readonly ShiftHost[], stable: readonly ShiftHost[], files: FileChange[]): ShiftPlan {
    const all = canary.length + stable.length;
    const real = all ? (100 * canary.length) / all : 0;
    const names = canary.map((h) => h.name).join(', ') || 'no host';
    const { after, reload } = this.o.flags;
    const changed = files.filter((f) => f.changed).map((f) => f.host);
    const then = after === 'restart' ? `restart ${this.o.services.map((s) => s.name).join(', ')}` : after === 'reload' ? `run \`${reload}\`` : null;
    return {
      mode: 'flags',
      percent,
      real,
      exact: Math.abs(real - percent) < 1e-9,
      summary: `${percent}% asked, ${percentText(real, percent)} of the hosts: flags on for ${names} (${canary.length} of ${all})`,
      files,
      actions: changed.map((h) => `write ${this.o.flags.file} on ${h} (temporary file, then rename)${then ? `, then ${then}` : ''}`),
    };
  }

  async apply(step: ShiftStep, signal?: AbortSignal): Promise<ShiftResult> {
    const { signoff } = this.o.flags;
    const twice = duplicateHosts(step);
    if (twice.length) throw new ShiftError(`${twice.join(', ')}: named twice in the step (a host is either canary or stable); nothing was changed`, false);
    if (signoff && step.canary.length) {
      // before anything changes: turning a flag on needs the sign-off on that host
      const checks = await Promise.all(step.canary.map(async (h) => ({ h, r: await this.o.runnerOf(h).exec(shiftCommands.signoff(signoff), { signal }) })));
      const failed = checks.filter((c) => c.r.code !== 0 && c.r.code !== 1);
      if (failed.length) throw new ShiftError(`cannot check the sign-off ${signoff} on ${failed.map((c) => `${c.h.name} (${c.r.error ?? lastLines(c.r.stderr, 3)})`).join(', ')}; nothing was changed`, false);
      const missing = checks.filter((c) => c.r.code === 1).map((c) => c.h.name);
      if (missing.length) throw new SignoffMissingError(signoff, missing);
    }
    const targets = [...step.canary.map((h) => [h, true] as const), ...step.stable.map((h) => [h, false] as const)];
    return this.write(step.percent, step.canary, step.stable, targets, `${stepLabel(step)}`, { keepGoing: false, signal });
  }

  /** Flags off on these hosts (default all): a breach's first action. Goes on past a failing host and names every failure. */
  async revert(hosts: readonly ShiftHost[] = this.o.hosts, signal?: AbortSignal): Promise<ShiftResult> {
    return this.write(0, [], hosts, hosts.map((h) => [h, false] as const), 'reverted', { keepGoing: true, signal });
  }

  reset(signal?: AbortSignal): Promise<ShiftResult> {
    return this.revert(this.o.hosts, signal);
  }

  private async write(
    percent: number,
    canary: readonly ShiftHost[],
    stable: readonly ShiftHost[],
    targets: readonly (readonly [ShiftHost, boolean])[],
    label: string,
    o: { keepGoing: boolean; signal?: AbortSignal },
  ): Promise<ShiftResult> {
    const t0 = performance.now();
    const done: { file: FileChange; durationMs: number }[] = [];
    const failures: ShiftError[] = [];
    const one = async ([h, on]: readonly [ShiftHost, boolean]) => {
      const started = performance.now();
      try {
        if (o.signal?.aborted) throw new ShiftError(`${h.name}: interrupted before its flags changed`, false);
        const file = this.change(h, await this.read(h, o.signal), on, 'now', `${label} (${on ? 'on' : 'off'})`);
        if (file.changed) await this.writeHost(h, file.after);
        done.push({ file, durationMs: Math.round(performance.now() - started) });
      } catch (err) {
        failures.push(err instanceof ShiftError ? err : new ShiftError(`${h.name}: ${(err as Error).message}`, false));
      }
    };
    // a restart takes a host out for a moment: one host at a time (rolling), stopping at a failure unless reverting
    if (this.o.flags.after === 'restart') for (const t of targets) {
      if (failures.length && !o.keepGoing) break;
      await one(t);
    }
    else await Promise.all(targets.map(one));
    if (failures.length) {
      const written = done.filter((d) => d.file.changed).map((d) => d.file.host);
      const changed = written.length > 0 || failures.some((f) => f.changed);
      const lines = [...failures.map((f) => f.message), ...(written.length ? [`${o.keepGoing ? 'reverted on' : 'flags already changed on'}: ${written.join(', ')}`] : [])];
      // a revert that did not complete leaves flags on somewhere: a person must look
      throw new ShiftError(`${o.keepGoing ? 'flags not reverted everywhere' : `${label}: flags not changed everywhere`}:\n${lines.join('\n')}`, changed, o.keepGoing || failures.some((f) => f.attention));
    }
    const order = targets.map(([h]) => h.name);
    done.sort((a, b) => order.indexOf(a.file.host) - order.indexOf(b.file.host));
    return {
      ...this.planOf(percent, canary, stable, done.map((d) => d.file)),
      durationMs: Math.round(performance.now() - t0),
      hosts: done.map((d) => ({ host: d.file.host, changed: d.file.changed, durationMs: d.durationMs })),
    };
  }

  /** Write the new text (if the file is still what was read), then restart or reload. */
  private async writeHost(h: ShiftHost, text: string): Promise<void> {
    const runner = this.o.runnerOf(h);
    const { file, after, reload } = this.o.flags;
    const r = await runner.exec({ ...shiftCommands.writeFile(file, this.known.get(h.name)!.hash), stdin: text });
    if (r.code !== 0) {
      this.known.delete(h.name);
      const lost = r.code === null || ![APPLY_EXIT.writeFailed, APPLY_EXIT.changed, APPLY_EXIT.symlink].includes(r.code as 20);
      throw new ShiftError(`${h.name}: ${file} ${lost ? 'may or may not have been written' : 'not written (nothing changed)'}: ${lastLines(r.stderr || r.error || `exit ${r.code}`, 10)}`, lost, lost);
    }
    this.known.set(h.name, { text, hash: sha256(text) });
    if (after === 'reload') await this.must(runner, shiftCommands.configured(reload!), `${h.name}: \`${reload}\` after changing ${file}`);
    if (after === 'restart') await this.restart(h, runner);
  }

  private async must(runner: Runner, cmd: ReturnType<typeof shiftCommands.configured>, what: string): Promise<void> {
    const r = await runner.exec(cmd);
    if (r.code !== 0) throw new ShiftError(`${what} failed (the file is written): ${lastLines(r.stderr || r.stdout || r.error || `exit ${r.code}`, 10)}`, true);
  }

  /** Each service restarted, then active (systemd) or its status command passing. */
  private async restart(h: ShiftHost, runner: Runner): Promise<void> {
    const what = (s: Service) => `${h.name}: restarting ${s.name} after changing ${this.o.flags.file}`;
    for (const s of this.o.services) {
      if (s.commands) {
        await this.must(runner, shiftCommands.configured(s.commands.restart), what(s));
        await this.must(runner, shiftCommands.configured(s.commands.status, true), `${h.name}: ${s.name}'s status after the restart`);
        continue;
      }
      await this.must(runner, systemd.restart([s.unit!], s.sudo), what(s));
      const deadline = Date.now() + ACTIVE_WITHIN_MS;
      for (;;) {
        const r = await runner.exec(systemd.isActive([s.unit!]));
        if (r.code === 0) break;
        const state = r.stdout.trim() || r.error || `exit ${r.code}`;
        if (state === 'failed' || Date.now() > deadline) throw new ShiftError(`${h.name}: ${s.unit} is ${state} after the restart (the file is written); see: journalctl -u ${s.unit} -n 50`, true);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
  }
}
