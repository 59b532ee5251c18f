/**
 * Renderer choice for every task: listr2's default renderer on a TTY, one line per event when
 * piped or in CI (listr2 falls back by itself when stdout is not a TTY); `--renderer` or
 * CUTOVER_RENDERER force one. With --json, task progress goes to stderr so stdout holds only JSON.
 */
import { Listr, ListrLogger, ListrLogLevels, type ListrTask } from 'listr2';
import { UsageError } from './errors.ts';

export type RendererName = 'default' | 'simple';

export function chooseRenderer(flag: string | undefined, processEnv: NodeJS.ProcessEnv): RendererName | undefined {
  const v = flag ?? (processEnv.CUTOVER_RENDERER || undefined);
  if (v === undefined) return undefined;
  if (v === 'default' || v === 'simple') return v;
  throw new UsageError(`--renderer ${JSON.stringify(v)}: use "default" (interactive) or "simple" (one line per event).`);
}

export interface ListOptions {
  renderer?: RendererName;
  json?: boolean;
  concurrent?: boolean;
}

export function makeList<Ctx>(ctx: Ctx, tasks: ListrTask<Ctx>[], opts: ListOptions = {}): Listr<Ctx> {
  const logger = new ListrLogger({ useIcons: true, toStderr: opts.json ? Object.values(ListrLogLevels) : [] });
  const forced = opts.renderer;
  return new Listr<Ctx>(tasks, {
    ctx,
    concurrent: opts.concurrent ?? false,
    exitOnError: true,
    registerSignalListeners: false, // the entry point handles Ctrl-C: cleanup, lock release, history
    collectErrors: false,
    renderer: forced === 'simple' || opts.json ? 'simple' : 'default',
    fallbackRenderer: 'simple',
    fallbackRendererCondition: forced === 'default' ? false : undefined,
    // logger: with --json the simple renderer (chosen as primary then) writes to stderr
    rendererOptions: { collapseSubtasks: false, collapseErrors: false, showErrorMessage: true, persistentOutput: true, outputBar: 8, logger },
    fallbackRendererOptions: { logger, timestamp: undefined, timer: undefined },
  } as ConstructorParameters<typeof Listr<Ctx>>[1]);
}
