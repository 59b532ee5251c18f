/**
 * The one place that turns results and errors into exit codes. Heavy modules (listr2, node-ssh,
 * zod, the AWS SDK) are loaded by `load` only after --help and flag errors are dealt with.
 */
import { ConfigError, CutoverError, ExitCode, exitCodeFor } from '../base/errors.ts';
import { helpText, parse, type ParsedArgs, type TaskSpec } from './args.ts';
import { outliveTheTerminal } from '../base/terminal-loss.ts';

export type TaskBody = (args: ParsedArgs) => Promise<ExitCode>;

export async function main(spec: TaskSpec, load: () => Promise<TaskBody>, argv = process.argv.slice(2)): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  outliveTheTerminal();
  try {
    const args = parse(spec, argv);
    if (args.values.help) {
      process.stdout.write(`${helpText(spec)}\n`);
      return;
    }
    if (args.values.version) {
      process.stdout.write(`${(await import('./version.ts')).versionText(spec.name)}\n`);
      return;
    }
    const { config } = await import('dotenv');
    config({ quiet: true }); // .env fills in; the real environment wins
    const body = await load();
    process.exitCode = await body(args);
  } catch (err) {
    process.stderr.write(`${describe(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}

function describe(err: unknown): string {
  if (err instanceof ConfigError) return `cutover: the environment is not valid (nothing was changed):\n${err.problems.map((p) => `  ${p}`).join('\n')}`;
  if (err instanceof CutoverError) return `cutover: ${err.message}`;
  const e = err as Error;
  return `cutover: unexpected error (exit ${ExitCode.needsHuman}: check the hosts' state before retrying):\n${e?.stack ?? String(err)}`;
}
