/** npx tsx tasks/canary.ts <tag> — a canary rollout: traffic in steps, each judged by the gates; promoted or rolled back by itself. */
import { COMMON_OPTIONS, flag, str, type TaskSpec } from './lib/cli/args.ts';
import { CHANGE_OPTIONS } from './lib/cli/change-options.ts';
import { main } from './lib/cli/main.ts';
import { UsageError } from './lib/base/errors.ts';

const spec: TaskSpec = {
  name: 'canary',
  summary:
    'A canary rollout of a release tag: the canary hosts get it through the full deploy procedure (backup, migrations, verification), then ' +
    'traffic moves to it in steps (canary.steps, e.g. 10 -> 20 -> 50 -> 75 -> 100%: nginx weights, a subset of hosts, feature flags, or on one host a second instance beside the stable one). ' +
    'Smoke checks run before every increase; every interval the signals gates compare the canary with the stable hosts: a step is promoted ' +
    'once every gate passed for its bake time, held on a warning or too little data (up to its maximum hold), and rolled back at once on a ' +
    'failed gate: traffic to the stable hosts first, then the moved hosts back to what they ran, verified. The controller holds the deploy lock ' +
    '(renewed) for the whole rollout. From another terminal: status, pause, resume, promote, abort.',
  positionals: [
    { name: 'tag|action', help: 'the release tag to roll out, or status | pause | resume | promote | abort (the canary recorded on the state host)' },
  ],
  options: {
    env: CHANGE_OPTIONS.env,
    steps: { type: 'string', value: 'P,P,...', help: 'traffic percentages instead of canary.steps, increasing, the last 100 (e.g. 10,20,50,75,100)' },
    'dry-run': { type: 'boolean', help: 'the plan, the steps, the exact nginx file (or flags) each step writes as a diff, the gates and smoke checks; changes nothing' },
    replay: { type: 'string', value: 'FILE.jsonl', help: 'judge a recorded request log offline as if the canary had run, printing each interval\'s decision; changes nothing' },
    field: { type: 'string', value: 'NAME', help: 'with --replay: the record field that names the release that served it (default version)' },
    traffic: { type: 'boolean', help: 'send the environment\'s synthetic traffic (signals.traffic) while the canary runs, for steps to judge where no users send any (the local demo, a quiet staging)' },
    yes: CHANGE_OPTIONS.yes,
    'skip-backup': { type: 'string', value: 'REASON', help: 'no database backup before the canary hosts change; the reason is recorded' },
    'force-unlock': CHANGE_OPTIONS['force-unlock'],
    renderer: CHANGE_OPTIONS.renderer,
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/canary.ts v1.1.0 --env local-canary --traffic  # the demo: promoted step by step (bakes of seconds), synthetic traffic meanwhile',
    'npx tsx tasks/canary.ts v1.6.0 --env local-canary --traffic  # degrades under traffic: rolled back at the first step, with the gate that failed',
    'npx tsx tasks/canary.ts v3.2.7 --env production --dry-run    # the steps, the nginx file of each as a diff, the gates',
    'npx tsx tasks/canary.ts v3.2.7 --env production --replay logs/predictions_2026-11-30.jsonl',
    'npx tsx tasks/canary.ts status --env production              # where it is, its last decisions, is its controller alive?',
    'npx tsx tasks/canary.ts pause --env production               # (resume, promote, abort): the controller acts within one interval',
    'npx tsx tasks/canary.ts resume --env production              # no controller running (laptop closed): continue from the recorded step here',
  ],
  notes: [
    'Exit codes as for deploy: 0 promoted to 100% and verified; 1 rolled back, and the rollback verified; 2 refused before anything changed;',
    '3 failed and NOT safely rolled back; 130 stopped by Ctrl-C (the split stays as it is: resume or abort, from any machine).',
    '--replay: 0 it would have promoted, 1 rolled back, 2 the file ended before. status, pause, promote: 0 done, 2 refused.',
  ],
};

const ACTIONS = ['status', 'pause', 'resume', 'promote', 'abort'] as const;

await main(spec, async () => {
  return async (args) => {
    const first = args.positionals[0]!;
    const action = (ACTIONS as readonly string[]).includes(first) ? (first as (typeof ACTIONS)[number]) : null;
    if (action && (str(args, 'steps') || str(args, 'replay') || flag(args, 'dry-run') || (flag(args, 'traffic') && action !== 'resume')))
      throw new UsageError(`canary ${action} takes no --steps, --replay, --dry-run${action === 'resume' ? '' : ' or --traffic'} (they are for canary <tag>)`);
    if (str(args, 'replay') !== undefined) {
      const { replayTask } = await import('./lib/canary/replay-task.ts');
      return replayTask(args);
    }
    const { runChanging } = await import('./lib/kernel/run.ts');
    if (!action) return runChanging(args, (await import('./lib/canary/task.ts')).canaryTask);
    const { control } = await import('./lib/canary/control.ts');
    const answered = await control(action, args);
    if (answered !== null) return answered;
    // resume or abort with no controller running: this machine takes the canary over
    return runChanging(args, (await import('./lib/canary/task.ts')).takeOverTask(action as 'resume' | 'abort'));
  };
});
