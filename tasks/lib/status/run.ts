/** The body of tasks/status.ts. Read-only. */
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, secretValues } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { redactDeep } from '../reports/redact.ts';
import { environmentHosts } from '../verify/hosts.ts';
import { filterHosts, hostFilterFrom } from '../cli/host-filter.ts';
import { gatherStatus } from './read.ts';
import { statusJson, statusText } from './render.ts';

export const DEFAULT_LAST = 10;

export async function statusTask(args: ParsedArgs): Promise<ExitCode> {
  const lastText = str(args, 'last');
  const last = lastText === undefined ? DEFAULT_LAST : Number(lastText);
  if (!Number.isInteger(last) || last < 1) throw new UsageError(`--last ${JSON.stringify(lastText)}: a whole number of at least 1`);
  const filter = hostFilterFrom(args);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const hosts = filterHosts(await environmentHosts(env), filter, env.file);
  // masked before rendering, so the table keeps its columns
  const s = redactDeep(await gatherStatus(env, hosts, last), secretValues(env));
  if (flag(args, 'json')) process.stdout.write(`${JSON.stringify(statusJson(s), null, 2)}\n`);
  else process.stdout.write(`${statusText(s)}\n`);
  const unreachable = s.hosts.filter((h) => h.unreachable).map((h) => h.name);
  if (unreachable.length) process.stderr.write(`cutover: cannot read ${unreachable.join(', ')} (unreachable): status is incomplete\n`);
  return unreachable.length ? ExitCode.refused : ExitCode.ok;
}
