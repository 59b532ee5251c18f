/**
 * Task lists for every task: the renderer choice, per-host steps drawn inside their parent step,
 * and step timing. listr2's default renderer on a terminal, one line per event when piped or in
 * CI (listr2 falls back by itself when stdout is not a TTY); `--renderer` or CUTOVER_RENDERER
 * force one. With --json, task progress goes to stderr so stdout holds only JSON.
 */
import { figures, Listr, ListrDefaultRendererLogLevels, ListrLogger, ListrLogLevels, type ListrTask, type ListrTaskWrapper } from 'listr2';
import { UsageError } from '../base/errors.ts';
import type { StepRecord } from '../base/run.ts';

export type RendererName = 'default' | 'simple';

// listr2's wrapper type is generic over renderers; steps only use title/output/skip/newListr
export type Task<C> = ListrTaskWrapper<C, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function chooseRenderer(flag: string | undefined, processEnv: NodeJS.ProcessEnv): RendererName | undefined {
  const v = flag ?? (processEnv.CUTOVER_RENDERER || undefined);
  if (v === undefined) return undefined;
  if (v === 'default' || v === 'simple') return v;
  throw new UsageError(`--renderer ${JSON.stringify(v)}: use "default" (interactive) or "simple" (one line per event).`);
}

export interface ListOptions {
  readonly renderer?: RendererName;
  readonly json?: boolean;
  readonly concurrent?: boolean;
}

export type ListMaker<C> = (tasks: ListrTask<C>[]) => { run(): Promise<unknown> };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function makeList<C>(ctx: C, tasks: ListrTask<C>[], opts: ListOptions = {}): Listr<C, any, any> {
  const common = { ctx, concurrent: opts.concurrent ?? false, exitOnError: true, collectErrors: false as const, registerSignalListeners: false }; // the entry point handles Ctrl-C
  const logger = new ListrLogger({ useIcons: true, toStderr: opts.json ? Object.values(ListrLogLevels) : [] });
  if (opts.renderer === 'simple' || opts.json) return new Listr<C, 'simple', 'simple'>(tasks, { ...common, renderer: 'simple', fallbackRenderer: 'simple', rendererOptions: { logger } });
  return new Listr<C, 'default', 'simple'>(tasks, {
    ...common,
    renderer: 'default',
    fallbackRenderer: 'simple',
    // 'default' forced: keep the interactive renderer even when stdout is not a TTY
    ...(opts.renderer === 'default' ? { fallbackRendererCondition: false } : {}),
    rendererOptions: {
      collapseSubtasks: false,
      collapseErrors: false,
      showErrorMessage: true,
      collapseSkips: false,
      // a step that failed on a host is a failure: ✖, not listr2's default red pointer
      icon: { [ListrDefaultRendererLogLevels.FAILED_WITH_FAILED_SUBTASKS]: figures.cross },
    },
    fallbackRendererOptions: { logger },
  });
}

/** What a step needs of the run's context. */
export interface StepCtx {
  /** Aborted on Ctrl-C or a lost lock: no step starts after it. */
  readonly signal: AbortSignal;
  steps: StepRecord[];
  /** Masks secrets (and what a service may echo) in text about to be shown. */
  redact(text: string): string;
}

/** Wrap a task body so its duration and result land in ctx.steps, and its error text is masked. */
export function timed<C extends StepCtx>(name: string, body: (ctx: C, task: Task<C>) => Promise<unknown> | unknown): ListrTask<C>['task'] {
  return async (ctx, task) => {
    const t0 = performance.now();
    let ok = false;
    try {
      ctx.signal.throwIfAborted(); // an interrupted run starts nothing more
      const r = await body(ctx, task as Task<C>);
      ok = true;
      return r;
    } catch (err) {
      throw masked(ctx, err);
    } finally {
      ctx.steps.push({ name, durationMs: Math.round(performance.now() - t0), ok });
    }
  };
}

function masked(ctx: StepCtx, err: unknown): unknown {
  if (err instanceof Error) err.message = ctx.redact(err.message);
  return err;
}

/** A step failed on some hosts; each host's own reason is shown under it (and kept by the caller). */
export class HostsFailed extends Error {
  constructor(readonly hosts: readonly string[]) {
    super(`failed on ${hosts.join(', ')}`);
  }
}

export interface HostStep<C, H> {
  readonly title: string;
  /** The name in ctx.steps (history, reports). */
  readonly step: string;
  readonly hosts: () => H[];
  readonly hostTitle: (h: H) => string;
  readonly body: (h: H, task: Task<C>) => Promise<void>;
  /** Called once per failing host, before the step fails. */
  readonly onFail?: (h: H, err: Error) => void;
  /**
   * true: a host failing fails the step and stops the list after it (every host still finishes
   * this step). false: the step is marked failed on those hosts, and the list goes on (a gate
   * later decides what the failures mean).
   */
  readonly throws: boolean;
  readonly enabled?: () => boolean;
}

/**
 * One subtask per host, all at once, drawn inside the step (returned to listr2, never run by hand:
 * a list run by hand gets its own renderer, whose frames stay in a terminal's scrollback). A host
 * that fails shows ✖ with its reason; the step then shows ✖ too.
 */
export function hostStep<C extends StepCtx, H extends { readonly host: { readonly name: string } }>(s: HostStep<C, H>): ListrTask<C> {
  return {
    title: s.title,
    ...(s.enabled ? { enabled: s.enabled } : {}),
    exitOnError: s.throws,
    task: (ctx, task) => {
      const failed: string[] = [];
      const sub = task.newListr(
        s.hosts().map((h) => ({
          title: s.hostTitle(h),
          task: async (_c: C, t: Task<C>) => {
            try {
              ctx.signal.throwIfAborted();
              await s.body(h, t);
            } catch (err) {
              const e = masked(ctx, err) as Error;
              failed.push(h.host.name);
              s.onFail?.(h, e);
              throw e;
            }
          },
        })),
        { concurrent: true, exitOnError: false },
      );
      // listr2 runs a returned list with its public run(); failing the step once every host finished
      // is what makes the step ✖ (subtasks alone leave it "completed with failed subtasks")
      const run = sub.run.bind(sub);
      sub.run = async (c?: C) => {
        const t0 = performance.now();
        try {
          const r = await run(c);
          if (failed.length) throw new HostsFailed(failed);
          return r;
        } finally {
          ctx.steps.push({ name: s.step, durationMs: Math.round(performance.now() - t0), ok: failed.length === 0 });
        }
      };
      return sub;
    },
  };
}
