/**
 * Renderer choice for every task: listr2's default renderer on a TTY, one line per event when
 * piped or in CI (listr2 falls back by itself when stdout is not a TTY); `--renderer` or
 * CUTOVER_RENDERER force one. With --json, task progress goes to stderr so stdout holds only JSON.
 */
import { Listr, ListrLogger, ListrLogLevels, type ListrTask } from 'listr2';
import { UsageError } from './base/errors.ts';

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function makeList<Ctx>(ctx: Ctx, tasks: ListrTask<Ctx>[], opts: ListOptions = {}): Listr<Ctx, any, any> {
  const common = { ctx, concurrent: opts.concurrent ?? false, exitOnError: true, collectErrors: false as const, registerSignalListeners: false }; // the entry point handles Ctrl-C
  const logger = new ListrLogger({ useIcons: true, toStderr: opts.json ? Object.values(ListrLogLevels) : [] });
  if (opts.renderer === 'simple' || opts.json) return new Listr<Ctx, 'simple', 'simple'>(tasks, { ...common, renderer: 'simple', fallbackRenderer: 'simple', rendererOptions: { logger } });
  return new Listr<Ctx, 'default', 'simple'>(tasks, {
    ...common,
    renderer: 'default',
    fallbackRenderer: 'simple',
    // 'default' forced: keep the interactive renderer even when stdout is not a TTY
    ...(opts.renderer === 'default' ? { fallbackRendererCondition: false } : {}),
    rendererOptions: { collapseSubtasks: false, collapseErrors: false, showErrorMessage: true, collapseSkips: false },
    fallbackRendererOptions: { logger },
  });
}
