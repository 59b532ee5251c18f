/**
 * The `canary` section of an environment: how a release reaches its users in steps (tasks/canary.ts).
 * Traffic moves by one of four modes; each step bakes while the signals' gates compare the canary
 * cohort with the stable one; a failed gate rolls back, a pass for the whole bake promotes.
 */
import { z } from '../base/zod.ts';
import { Duration, NAME } from './primitives.ts';

/** The load balancer cutover drives in `nginx` mode: a host reached like the others (SSH, or this machine). */
export const LoadBalancer = z
  .object({
    name: z.string().regex(NAME, 'must be letters, digits, dot, dash or underscore').default('lb'),
    address: z.string().min(1),
    user: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    transport: z.enum(['ssh', 'local']).default('ssh'),
    /** local transport only: folders put first on PATH. */
    pathPrefix: z.array(z.string()).default([]),
    /** The file cutover owns: one `upstream` block, written whole and atomically (absolute path on the load balancer). */
    include: z.string().regex(/^\//, 'must be an absolute path'),
    /** The upstream's name (what `proxy_pass http://NAME` uses). */
    upstream: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be an nginx upstream name'),
    /** The port the app listens on, on every host (the upstream's servers are `address:port`). */
    appPort: z.number().int().min(1).max(65535),
    /** Checks the whole configuration with the new file in place; must exit 0 before a reload. */
    test: z.string().min(1).default('nginx -t'),
    /** Makes nginx use it (graceful: running requests finish on the old split). */
    reload: z.string().min(1).default('nginx -s reload'),
    /** Prefix test and reload with `sudo -n`. */
    sudo: z.boolean().default(false),
  })
  .strict();
export type LoadBalancer = z.output<typeof LoadBalancer>;

/** One feature flag in a JSON file: where (a JSON pointer) and its values off and on. */
const Flag = z
  .object({
    pointer: z.string().regex(/^(\/([^~/]|~[01])*)+$/, "must be a JSON pointer such as '/flags/new_catalog/enabled'"),
    on: z.unknown().default(true),
    off: z.unknown().default(false),
  })
  .strict();

/** `flags` mode (the canary playbook): flags turned on in a JSON file on the hosts, in steps of hosts. */
export const FlagsConfig = z
  .object({
    /** The flag file on every host (absolute path). */
    file: z.string().regex(/^\//, 'must be an absolute path'),
    flags: z.array(Flag).min(1),
    /** A file that must exist on the hosts before any flag is turned on (a sign-off, e.g. after a shadow run). */
    signoff: z.string().regex(/^\//, 'must be an absolute path').optional(),
    /** After a change: restart the services, run a reload command, or nothing (the service reads the file itself). */
    after: z.enum(['restart', 'reload', 'none']).default('none'),
    reload: z.string().min(1).optional(),
  })
  .strict()
  .refine((f) => f.after !== 'reload' || f.reload, { message: "after: 'reload' needs reload: '<command>'", path: ['reload'] });

/**
 * `instances` mode (one host, the seeds' own setup): the release runs as a second instance beside
 * the stable one, from its own release folder, and nginx (`canary.nginx`, usually on that host)
 * splits the traffic between the two ports. At 100% the stable instance takes the release over.
 */
export const InstanceConfig = z
  .object({
    /** The second instance's systemd unit; its WorkingDirectory is `<app.path>/<link>` and it listens on `port`. */
    unit: z.string().regex(/^[A-Za-z0-9@_.:-]+$/, 'must be a systemd unit name'),
    /** Where it listens (the stable instance listens on canary.nginx.appPort). */
    port: z.number().int().min(1).max(65535),
    /** The link under app.path the unit runs from (switched atomically to the release folder, like `current`). */
    link: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a plain file name').default('canary'),
    sudo: z.boolean().default(false),
  })
  .strict();
export type InstanceConfig = z.output<typeof InstanceConfig>;

export const Smoke = z
  .object({
    /** A command run on this machine before every increase (exit 0 = passed); CANARY_URL and CANARY_HOSTS are set for it. */
    command: z.string().min(1).optional(),
    timeout: Duration.default(120_000),
    /** The release validation suite (signals.validation) against a canary host. */
    validate: z.boolean().default(false),
    /** verify's checks (health, version, readiness, chat, journal) on the canary hosts. */
    verify: z.boolean().default(true),
  })
  .strict();

export const CanaryConfig = z
  .object({
    /**
     * nginx: cutover writes the load balancer's upstream weights; canary hosts get the release first.
     * subset: ceil(p% x hosts) hosts on the release (a load balancer cutover does not control spreads the traffic).
     * flags: the release is everywhere; feature flags turn on host by host.
     * instances: one host, the release as a second instance beside the stable one, nginx splitting between the two.
     */
    mode: z.enum(['nginx', 'subset', 'flags', 'instances']),
    /** Traffic percentages, increasing, the last one 100. */
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .default([10, 20, 50, 75, 100])
      .refine((s) => s.every((p, i) => i === 0 || p > s[i - 1]!), 'must increase step by step')
      .refine((s) => s.at(-1) === 100, 'must end at 100'),
    /** How long each step must pass every gate before the next one: one duration, or one per step. */
    bake: z.union([Duration, z.array(Duration).min(1)]).default(86_400_000),
    /** How often the gates are evaluated while baking. */
    interval: Duration.refine((ms) => ms >= 1000, 'must be at least 1s').default(60_000),
    /** warn or inconclusive extends a step up to this long (default: twice its bake); then onMaxHold. */
    maxHold: Duration.optional(),
    onMaxHold: z.enum(['rollback', 'wait']).default('rollback'),
    /** nginx mode: how many hosts take the release first (default 1). */
    canaryHosts: z.number().int().min(1).default(1),
    /** Which signals gates judge the canary (default: all of signals.gates). */
    gates: z.array(z.string().min(1)).optional(),
    /** How records of the canary are told from the stable ones: by host, nginx upstream address, or a record field (the version). */
    cohortBy: z.enum(['host', 'upstream', 'version']).optional(),
    smoke: Smoke.default({ timeout: 120_000, validate: false, verify: true }),
    nginx: LoadBalancer.optional(),
    flags: FlagsConfig.optional(),
    instance: InstanceConfig.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === 'nginx' && !c.nginx) ctx.addIssue({ code: 'custom', path: ['nginx'], message: "is required with mode 'nginx' (the load balancer cutover drives)" });
    if (c.mode === 'instances' && !c.nginx) ctx.addIssue({ code: 'custom', path: ['nginx'], message: "is required with mode 'instances' (the nginx that splits between the two instances)" });
    if (c.mode === 'instances' && !c.instance) ctx.addIssue({ code: 'custom', path: ['instance'], message: "is required with mode 'instances' (the second instance's unit and port)" });
    if (c.instance && c.nginx && c.instance.port === c.nginx.appPort)
      ctx.addIssue({ code: 'custom', path: ['instance', 'port'], message: `is ${c.instance.port}, the stable instance's port (canary.nginx.appPort): give the second instance a port of its own` });
    if (c.mode === 'flags' && !c.flags) ctx.addIssue({ code: 'custom', path: ['flags'], message: "is required with mode 'flags' (the flag file and its flags)" });
    if (Array.isArray(c.bake) && c.bake.length !== c.steps.length)
      ctx.addIssue({ code: 'custom', path: ['bake'], message: `has ${c.bake.length} durations for ${c.steps.length} steps: give one, or one per step` });
  });
export type CanaryConfig = z.output<typeof CanaryConfig>;

/** The bake time of step `i`. */
export function bakeOf(c: CanaryConfig, i: number): number {
  return Array.isArray(c.bake) ? c.bake[i]! : c.bake;
}
