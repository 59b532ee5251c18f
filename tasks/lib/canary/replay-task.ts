/** The body of canary <tag> --replay FILE.jsonl: read-only, offline. */
import path from 'node:path';
import { ExitCode, UsageError } from '../base/errors.ts';
import { str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment } from '../config/load.ts';
import { validateTag } from '../deploy/tag.ts';
import { replayCanary, replayExit, replayText } from './replay.ts';
import { parseSteps, runSteps } from './task.ts';

export async function replayTask(args: ParsedArgs): Promise<ExitCode> {
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const { canary, signals } = env.config;
  if (!canary || !signals) throw new UsageError(`${env.file} needs a canary and a signals section for --replay (the steps, bakes and gates it replays)`);
  const tag = validateTag(args.positionals[0]!);
  const file = path.resolve(str(args, 'replay')!);
  const percents = runSteps(canary, parseSteps(str(args, 'steps')), env.file);
  const r = await replayCanary({ signals, canary, percents, tag, file, field: str(args, 'field') ?? 'version' });
  const json = args.values.json === true;
  const text = replayText(tag, path.relative(process.cwd(), file) || file, r, canary.interval);
  (json ? process.stderr : process.stdout).write(`${text.join('\n')}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ tag, file, outcome: r.outcome, reason: r.reason, decisions: r.lines }, null, 2)}\n`);
  return replayExit(r.outcome);
}
