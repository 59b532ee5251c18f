/**
 * The smoke checks before every increase of a canary's traffic, as the playbook runs them: a
 * command on this machine (its exit code recorded), the release validation suite against a canary
 * host, and verify's checks on every canary host. Any failure rolls the canary back.
 */
import { probeUrl, withPort } from '../probes/http.ts';
import { command, raw, sh } from '../commands/shell.ts';
import { verifyHost } from '../deploy/verify-host.ts';
import type { HostRun } from '../deploy/context.ts';
import { thisMachine } from '../runners/local.ts';
import { lastLines } from '../runners/run.ts';
import { loadDataFile } from '../signals/files.ts';
import { judgeSuite, QuestionSet, runSuite } from '../validate/suite.ts';
import type { CanaryCtx } from './context.ts';
import { instanceView } from './instance.ts';

export interface SmokeOutcome {
  readonly ok: boolean;
  /** The command's exit code (null: no command, or it was killed). */
  readonly returncode: number | null;
  /** One line per check: `command exit 0`, `validation GO (100% of 12, p95 40 ms)`, `verify host1 ok`. */
  readonly lines: string[];
}

/** The command line, with what it may want to know: the canary hosts and one URL to reach them. */
export function smokeCommand(script: string, hosts: readonly HostRun[], url: string | null) {
  const names = hosts.map((h) => h.host.name).join(',');
  const addresses = hosts.map((h) => h.host.address).join(',');
  return command(sh`export CANARY_HOSTS=${names} CANARY_ADDRESSES=${addresses} CANARY_URL=${url ?? ''}\n${raw(script)}`);
}

export async function runSmoke(ctx: CanaryCtx, hosts: readonly HostRun[], out: (line: string) => void): Promise<SmokeOutcome> {
  const { smoke } = ctx.canary;
  const lines: string[] = [];
  let ok = true;
  let returncode: number | null = null;
  // instances mode: the canary is the second instance, on its own port
  const port = ctx.canary.mode === 'instances' ? ctx.canary.instance!.port : null;
  const onCanary = (u: string) => (port === null ? u : withPort(u, port));
  const url = hosts[0] ? probeUrl(onCanary(ctx.env.config.verify.health.url), hosts[0].host.address) : null;

  if (smoke.command) {
    const cmd = smokeCommand(smoke.command, hosts, url);
    if (ctx.dry) ctx.dry.command('this machine', cmd);
    else {
      out(`smoke command: ${smoke.command}`);
      const r = await thisMachine().exec(cmd, { timeoutMs: smoke.timeout, signal: ctx.signal });
      returncode = r.code;
      const passed = r.code === 0;
      ok &&= passed;
      lines.push(passed ? 'command exit 0' : `command ${r.code === null ? (r.error ?? 'was killed') : `exit ${r.code}`}: ${ctx.redact(lastLines(r.stderr || r.stdout, 3))}`);
    }
  }

  const v = ctx.signals.validation;
  if (smoke.validate && v && hosts[0]) {
    const target = probeUrl(onCanary(v.request.url), hosts[0].host.address);
    if (ctx.dry) ctx.dry.add('this machine', `validation suite ${v.questions} against ${target}`);
    else {
      out(`validation suite against ${hosts[0].host.name}`);
      const set = await loadDataFile(v.questions, QuestionSet, 'questions');
      const verdict = judgeSuite(await runSuite(set, { request: v.request, url: target, concurrency: v.concurrency, signal: ctx.signal }), v.criteria);
      const passed = verdict.decision === 'GO';
      ok &&= passed;
      const missed = verdict.criteria.filter((c) => !c.met).map((c) => `${c.criterion} (${c.measured})`);
      lines.push(`validation ${verdict.decision} (${verdict.successRate.toFixed(1)}% passed${verdict.p95 !== null ? `, p95 ${Math.round(verdict.p95)} ms` : ''})${missed.length ? `: ${missed.join('; ')}` : ''}`);
    }
  }

  if (smoke.verify) {
    for (const h of hosts) {
      const failures: string[] = [];
      const passed = await verifyHost(port === null ? ctx : instanceView(ctx), h, ctx.tag, (r) => {
        if (!r.ok) failures.push(`${r.name}: ${r.detail}`);
      });
      if (ctx.dry) continue;
      ok &&= passed;
      lines.push(passed ? `verify ${h.host.name} ok` : `verify ${h.host.name}: ${failures.join('; ')}`);
    }
  }
  if (!lines.length && !ctx.dry) lines.push(hosts.length ? 'no smoke checks configured (canary.smoke)' : ctx.canary.mode === 'flags' ? 'no host has its flags on yet' : 'no canary host yet: the deploy of the first ones verifies them');
  return { ok, returncode, lines };
}
