/**
 * The environment schema: one zod schema is both the TypeScript type of an environment file and
 * its runtime check. Environment files default-export `defineEnvironment({...})`; the loader
 * (tasks/lib/config/load.ts) validates them and reports every problem at once.
 */
import { z } from '../base/zod.ts';
import { CanaryConfig } from './canary.ts';
import { SignalsConfig } from './signals.ts';

export { Duration, HostUrl, NAME, SecretRef } from './primitives.ts';
import { Duration, HostUrl, NAME, SecretRef } from './primitives.ts';

/** One hop as OpenSSH's ProxyJump writes it: `[user@]host[:port]` (an IPv6 address in brackets). */
export const HOP = /^(?:([A-Za-z0-9._-]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/;

/** Jump hosts: `'bastion'`, `'ops@bastion:2222,inner'` (hops in order, like ProxyJump a,b) or a list; `'none'` connects directly. */
export const Jump = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((h) => h.trim()))
  .superRefine((hops, ctx) => {
    if (hops.length === 1 && hops[0] === 'none') return;
    hops.forEach((h) => {
      if (!HOP.test(h)) ctx.addIssue({ code: 'custom', message: `hop ${JSON.stringify(h)} must be [user@]host[:port], e.g. ops@bastion.example.com:22` });
    });
  });
export type Jump = z.output<typeof Jump>;

/** Free-form labels for --tag KEY=VALUE (EC2-discovered hosts carry their instance tags). */
const Tags = z.record(z.string().min(1).max(128), z.string().max(256));

export const Host = z
  .object({
    /** Short name used in output, history and --hosts. */
    name: z.string().regex(NAME, 'must be letters, digits, dot, dash or underscore'),
    /** Hostname or IP address cutover connects to (SSH) and probes (HTTP `{host}`); with ssh.config, the name looked up there. */
    address: z.string().min(1),
    /** SSH login; defaults to ssh.user, then the ssh config file's User, then ec2-user. */
    user: z.string().min(1).optional(),
    /** SSH port; defaults to the ssh config file's Port, then 22. */
    port: z.number().int().min(1).max(65535).optional(),
    /** Jump hosts for this host only (overrides ssh.jump; 'none' connects directly). */
    jump: Jump.optional(),
    /** Labels for --tag KEY=VALUE. */
    tags: Tags.optional(),
    /** EC2 instance id, for SSM restarts and EC2 preflight. */
    instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/, "must look like 'i-0123456789abcdef0'").optional(),
    /** `ssh` (default) or `local`: run on this machine with bash (the built-in sandbox). */
    transport: z.enum(['ssh', 'local']).default('ssh'),
    /** local transport only: folders put first on PATH (the sandbox's systemctl/journalctl stand-ins). */
    pathPrefix: z.array(z.string()).default([]),
    /**
     * local transport only: every command of this host runs in its own mount namespace where `source` (this host's
     * folder) is bind-mounted at `target` (the path every host shares, holding app.path): several hosts on one machine.
     */
    mount: z
      .object({ source: z.string().regex(/^\//, 'must be an absolute path'), target: z.string().regex(/^\//, 'must be an absolute path') })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.mount && h.transport !== 'local') ctx.addIssue({ code: 'custom', path: ['mount'], message: "needs transport 'local' (an SSH host has its own file system)" });
  });
export type Host = z.infer<typeof Host>;

const Ec2HostsShape = z
  .object({
    ec2: z
      .object({
        /** The running instances carrying every one of these tags are the hosts (name from the Name tag, else the instance id). */
        tags: z.record(z.string().min(1).max(128), z.string().max(256)).refine((t) => Object.keys(t).length > 0, 'needs at least one tag'),
        /** Which IP cutover connects to (SSH) and probes. */
        address: z.enum(['private', 'public']).default('private'),
        /** SSH login; defaults to ssh.user. */
        user: z.string().min(1).optional(),
        /** SSH port; defaults to the ssh config file's Port, then 22. */
        port: z.number().int().min(1).max(65535).optional(),
      })
      .strict(),
  })
  .strict();
/**
 * `hosts: { ec2: { tags } }`: hosts discovered at run time (tasks/lib/aws/hosts.ts resolveHosts).
 * Checked apart from the list form so a mistake in either is reported at its own key.
 */
export const Ec2Hosts = z
  .custom<z.input<typeof Ec2HostsShape>>((v) => !Array.isArray(v))
  .transform((v, ctx) => {
    const r = Ec2HostsShape.safeParse(v);
    if (r.success) return r.data;
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, continue: true } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });
export type Ec2Hosts = z.output<typeof Ec2Hosts>;

const AwsEndpoint = z.string().refine(
  (s) => {
    try {
      return /^https?:$/.test(new URL(s).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

/** AWS access (SSM restarts, EC2 preflight and discovery). Credentials: the SDK's default chain (AWS_PROFILE, variables, SSO, instance role). */
export const Aws = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "must be a region such as 'eu-west-1'"),
    /** Profile in ~/.aws/config or ~/.aws/credentials; default AWS_PROFILE, else the default chain. */
    profile: z.string().min(1).optional(),
    /** Endpoint URL for both SSM and EC2 (VPC endpoints, tests); default the public AWS endpoints. */
    endpoint: AwsEndpoint.optional(),
  })
  .strict();

/** SSM Run Command settings for `restart: 'ssm'`. */
export const Ssm = z
  .object({
    /** SendCommand TimeoutSeconds: how long SSM tries to deliver the command (at least 30). */
    timeoutSeconds: z.number().int().min(30).max(2_592_000).default(60),
    /** AWS-RunShellScript executionTimeout: how long the restart may run on the host (1 s to 48 h). */
    executionTimeout: Duration.refine((ms) => ms >= 1000 && ms <= 172_800_000, 'must be between 1s and 48h').default(600_000),
    /** Also send the command output to this CloudWatch Logs group (SSM itself keeps only the first 24,000 characters). */
    cloudWatchLogGroup: z.string().regex(/^[\w\-/.#]{1,512}$/, 'must be a CloudWatch Logs group name').optional(),
    /** Polling of each invocation: first delay, doubling up to pollMax, until deadline. */
    pollMin: Duration.default(250),
    pollMax: Duration.default(2000),
    deadline: Duration.default(600_000),
  })
  .strict()
  .refine((s) => s.pollMin > 0 && s.pollMin <= s.pollMax, { message: 'needs 0 < pollMin <= pollMax', path: ['pollMin'] });

export const Ssh = z
  .object({
    /** Login for every host that names none; else the ssh config file's User, else ec2-user. */
    user: z.string().min(1).optional(),
    /** Path of the private key, read from this environment variable. Or `agent`, or IdentityFile in the ssh config file. */
    privateKey: SecretRef.optional(),
    /** Passphrase of the key, if it has one. */
    passphrase: SecretRef.optional(),
    /** Authenticate with the keys of the running ssh-agent (SSH_AUTH_SOCK). The agent is never forwarded to hosts. */
    agent: z.boolean().default(false),
    /** Read Host blocks of an OpenSSH config file: true for ~/.ssh/config, or a path. Values written here win over it. */
    config: z.union([z.boolean(), z.string().min(1)]).default(false),
    /** Jump hosts for every host (hosts[].jump overrides): one connection per chain, shared by the hosts behind it. */
    jump: Jump.optional(),
    /** known_hosts file checked for every host key (targets and jump hosts); `~` is the home folder. Default: UserKnownHostsFile, else ~/.ssh/known_hosts. */
    knownHosts: z.string().min(1).optional(),
    /** `verify`: the key must be in known_hosts. `accept-new`: an unknown host is added (like OpenSSH), a changed key is refused. */
    hostKeys: z.enum(['verify', 'accept-new']).default('verify'),
    keepalive: Duration.default(10_000),
    connectTimeout: Duration.default(10_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.privateKey && !s.agent && s.config === false)
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'is required unless ssh.agent is true or ssh.config names the keys (IdentityFile)' });
  });

export const App = z
  .object({
    /** Absolute path of the application on the host. */
    path: z.string().regex(/^\//, 'must be an absolute path'),
    /** Deploy lock and history on the host (absolute); default `<parent of path>/.cutover/<name of path>`. */
    stateDir: z.string().regex(/^\//, 'must be an absolute path').optional(),
    /** git remote the host fetches tags from. */
    repo: z.string().min(1),
    /** `in-place`: check out the tag in one working copy. `releases`: one folder per tag and an atomic `current` symlink. */
    strategy: z.enum(['in-place', 'releases']).default('in-place'),
    /** releases strategy: how many release folders to keep. */
    keepReleases: z.number().int().min(2).default(5),
    /** Shell commands run in the app folder after checkout, in order (e.g. `source env/bin/activate && pip install -r requirements.txt`). */
    install: z.array(z.string().min(1)).default([]),
    /** Shell commands that migrate the database, run in the app folder after install. */
    migrate: z.array(z.string().min(1)).default([]),
    /** Folder (relative to the app) holding migration files: the plan lists the ones the new tag adds or changes. */
    migrationsDir: z.string().min(1).optional(),
    /** Extra environment for install and migrate commands (values are not secret). */
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).default({}),
  })
  .strict();

const CustomCommands = z
  .object({ restart: z.string().min(1), status: z.string().min(1), logs: z.string().min(1) })
  .strict();

export const Service = z
  .object({
    /** systemd unit name (without or with `.service`). */
    unit: z.string().regex(/^[A-Za-z0-9:_.@-]+$/, 'must be a systemd unit name').optional(),
    /** Display name; defaults to the unit. Required with `commands`. */
    name: z.string().regex(NAME).optional(),
    /** How restarts reach the host: `ssh`, or `ssm` (SSM Run Command; needs `aws`, `unit`, and an instanceId on every host or EC2 discovery). */
    restart: z.enum(['ssh', 'ssm']).default('ssh'),
    /** Prefix systemctl with `sudo -n` (the seed scripts do). */
    sudo: z.boolean().default(true),
    /** Hosts without systemd: shell commands to restart, check (exit 0 = running) and show logs. */
    commands: CustomCommands.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.unit && !s.commands) ctx.addIssue({ code: 'custom', message: 'needs `unit` (systemd) or `commands` (restart/status/logs)' });
    if (s.unit && s.commands) ctx.addIssue({ code: 'custom', message: 'give `unit` or `commands`, not both' });
    if (s.commands && !s.unit && !s.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'is required with `commands`' });
    if (s.restart === 'ssm' && !s.unit) ctx.addIssue({ code: 'custom', path: ['restart'], message: "'ssm' restarts a systemd `unit` (SSM runs systemctl)" });
  })
  .transform((s) => ({ ...s, name: s.name ?? s.unit! }));
export type Service = z.infer<typeof Service>;

export const Database = z
  .object({
    /** Database name. */
    name: z.string().min(1),
    /** As seen from where pg_dump runs (the host, or this machine). */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    user: z.string().min(1),
    password: SecretRef.optional(),
    /** Where pg_dump runs: on the app host over SSH (dump streamed back) or on this machine. */
    dumpOn: z.enum(['host', 'local']).default('host'),
    /** custom (-Fc, compressed, selective restore) or plain SQL. */
    format: z.enum(['custom', 'plain']).default('custom'),
  })
  .strict();

export const Backups = z
  .object({
    /** Local folder for dumps, manifests, history mirror and reports; default `backups/<env>`. */
    dir: z.string().min(1).optional(),
    /** How many dumps to keep. */
    keep: z.number().int().min(1).default(10),
    /** verify: the newest backup older than this fails (default 26h: a daily backup, with slack). */
    maxAge: Duration.optional(),
  })
  .strict();

const Health = z
  .object({
    url: HostUrl,
    expectStatus: z.number().int().min(100).max(599).default(200),
    /** Text the body must contain. */
    expectBody: z.string().optional(),
    /** JSON field holding the version (e.g. `version`); when set it must equal the deployed tag. */
    versionField: z.string().min(1).optional(),
    /** How long to wait for health after a restart, and how often to poll. */
    timeout: Duration.default(60_000),
    interval: Duration.default(200),
  })
  .strict();

const Readiness = z
  .object({ url: HostUrl, expectStatus: z.number().int().min(100).max(599).default(200) })
  .strict();

const Chat = z
  .object({
    url: HostUrl,
    method: z.enum(['POST', 'GET']).default('POST'),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    expectStatus: z.number().int().min(100).max(599).default(200),
    /** Every string must appear in the answer. */
    expectContains: z.array(z.string()).default([]),
    latencyBudget: Duration.default(4000),
  })
  .strict();

const PRIORITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

const Journal = z
  .object({
    /** Units to scan; default: every service unit. */
    units: z.array(z.string()).optional(),
    /** Entries at this priority or worse fail the scan. */
    priority: z.enum(PRIORITIES).default('err'),
    /** Regular expressions that fail the scan whatever the priority. */
    failPatterns: z.array(z.string()).default(['Traceback']),
  })
  .strict()
  .superRefine((j, ctx) => {
    j.failPatterns.forEach((p, i) => {
      try {
        new RegExp(p);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['failPatterns', i], message: `is not a valid regular expression: ${p}` });
      }
    });
  });

/** verify: N requests one after another; nearest-rank percentiles against these budgets. */
const Latency = z
  .object({
    samples: z.number().int().min(1).max(1000).default(20),
    /** What is sampled: the health endpoint (cheap, the default) or the test chat request (mind its rate limit). */
    target: z.enum(['health', 'chat']).default('health'),
    p50: Duration.optional(),
    p95: Duration,
    p99: Duration.optional(),
  })
  .strict();

/** verify: opt-in probes from the production checklist. Nothing destructive; the burst is bounded. */
const Hardening = z
  .object({
    /** POST an oversized message to the chat URL: it must be answered 413. */
    oversizedBody: z.boolean().default(false),
    oversizedBytes: z.number().int().min(1024).max(8 * 1024 * 1024).default(256 * 1024),
    /** A burst of `requests` chat requests at once as `userId` (a test user): at least one must be answered 429. */
    rateLimit: z.object({ requests: z.number().int().min(2).max(500), userId: z.union([z.string().min(1), z.number().int()]) }).strict().optional(),
    /** Names the readiness answer must list in its dependency map (`dependencies` or `services`). */
    readinessDependencies: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** verify: free space on the host's file system holding `path` (default app.path). */
const Disk = z
  .object({ path: z.string().regex(/^\//, 'must be an absolute path').optional(), minFreePercent: z.number().min(0).max(100).default(10) })
  .strict();

export const Verify = z
  .object({
    health: Health,
    readiness: Readiness.optional(),
    chat: Chat.optional(),
    journal: Journal.optional(),
    latency: Latency.optional(),
    hardening: Hardening.optional(),
    disk: Disk.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const needChat = (path: (string | number)[], what: string) => !v.chat && ctx.addIssue({ code: 'custom', path, message: `${what} needs verify.chat (its URL and body)` });
    if (v.latency?.target === 'chat') needChat(['latency', 'target'], "target 'chat'");
    if (v.hardening?.oversizedBody) needChat(['hardening', 'oversizedBody'], 'the oversized-message probe');
    if (v.hardening?.rateLimit) needChat(['hardening', 'rateLimit'], 'the rate-limit probe');
    if (v.hardening?.readinessDependencies && !v.readiness)
      ctx.addIssue({ code: 'custom', path: ['hardening', 'readinessDependencies'], message: 'needs verify.readiness' });
  });

const CountOrPercent = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, "must be a count or a percentage such as '25%'") as z.ZodType<`${number}%`>,
]);

/**
 * Rolling deploys over a fleet (tasks/lib/deploy/rollout.ts). maxFailures: the deploy goes on
 * while at most N hosts failed and stops when the count EXCEEDS N ('P%' = floor(P% of the hosts));
 * 0 stops at the first failure. firstBatchGates: any failure in the first batch stops.
 */
export const RolloutConfig = z
  .object({
    batchSize: CountOrPercent.default('100%'),
    maxFailures: CountOrPercent.default(0),
    firstBatchGates: z.boolean().default(true),
    /** Wait between batches. */
    pause: Duration.default(0),
  })
  .strict();

export const Policy = z
  .object({
    /** Roll back automatically when verification (or restart, install, migration) fails. */
    autoRollback: z.boolean().default(true),
    /** Ask the operator to type the environment name before changing anything. */
    confirm: z.boolean().default(false),
  })
  .strict();

/**
 * Where the deploy lock and history live (tasks/lib/kernel/state-host.ts): a host name, or the EC2
 * tag of one instance; default the first host. `lockTtl`: a lock older than this (not renewed) is
 * stale; a run renews its lock every quarter of it.
 */
export const StateConfig = z
  .object({
    host: z.string().regex(NAME, 'must be a host name').optional(),
    hostTag: z.record(z.string().min(1).max(128), z.string().max(256)).refine((t) => Object.keys(t).length > 0, 'needs at least one tag').optional(),
    lockTtl: Duration.refine((ms) => ms >= 8000, 'must be at least 8s').default(7_200_000),
  })
  .strict()
  .refine((s) => !(s.host && s.hostTag), { message: 'give host or hostTag, not both', path: ['hostTag'] });

export const NOTIFY_EVENTS = ['start', 'success', 'rollback', 'attention'] as const;

/** A Slack-compatible incoming webhook (POST JSON `{ text, blocks }`); a failed notification only warns. */
export const Notifications = z
  .object({
    /** The webhook URL, read from this environment variable: it is a secret and is never shown. */
    webhook: SecretRef,
    /** Which events are sent (default all): deploy/rollback start, success, rolled back, needs attention. */
    events: z.array(z.enum(NOTIFY_EVENTS)).min(1).default([...NOTIFY_EVENTS]),
    /** How long one notification may take (default 5s). */
    timeout: Duration.refine((ms) => ms >= 100 && ms <= 60_000, 'must be between 100ms and 60s').default(5000),
  })
  .strict();

export const Environment = z
  .object({
    /** One line shown in plans and reports. */
    description: z.string().optional(),
    /** A list of hosts, or `{ ec2: { tags } }` to discover them (tasks/lib/aws/hosts.ts resolveHosts). */
    hosts: z.union([z.array(Host).min(1, 'needs at least one host'), Ec2Hosts]),
    aws: Aws.optional(),
    ssm: Ssm.optional(),
    ssh: Ssh.optional(),
    app: App,
    services: z.array(Service).min(1, 'needs at least one service'),
    database: Database.optional(),
    backups: Backups.default({ keep: 10 }),
    verify: Verify,
    policy: Policy.default({ autoRollback: true, confirm: false }),
    state: StateConfig.default({ lockTtl: 7_200_000 }),
    rollout: RolloutConfig.default({ batchSize: '100%', maxFailures: 0, firstBatchGates: true, pause: 0 }),
    notifications: Notifications.optional(),
    /** Metric sources, SLO gates, traffic and release validation (docs/signals.md). */
    signals: SignalsConfig.optional(),
    /** Canary rollouts (tasks/canary.ts): steps, bakes, how traffic moves; judged by signals.gates. */
    canary: CanaryConfig.optional(),
    /** The built-in sandboxes, created on first use (environments/local.ts, local-canary.ts; docs/sandbox.md). */
    sandbox: z
      .object({
        root: z.string(),
        /** `host`: one sandbox host (local); `fleet`: the hosts of the list, each with `mount`, and nginx in front (local-canary). */
        kind: z.enum(['host', 'fleet']).default('host'),
        /** The port of the demo service (a fleet: on each host's own loopback address). */
        appPort: z.number().int(),
        pgPort: z.number().int(),
        /** The PostgreSQL cluster's folder when it is another sandbox's (default `<root>/pg`). */
        pgDir: z.string().optional(),
        /** fleet: nginx on 127.0.0.1:nginxPort in front of the hosts (when nginx is installed). */
        nginxPort: z.number().int().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((env, ctx) => {
    const names = new Set<string>();
    const list = Array.isArray(env.hosts) ? env.hosts : [];
    list.forEach((h, i) => {
      if (names.has(h.name)) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `duplicate host name '${h.name}'` });
      names.add(h.name);
    });
    if ((!Array.isArray(env.hosts) || list.some((h) => h.transport === 'ssh')) && !env.ssh)
      ctx.addIssue({ code: 'custom', path: ['ssh'], message: 'is required: some hosts use the ssh transport' });
    const ssm = env.services.findIndex((s) => s.restart === 'ssm');
    if (!Array.isArray(env.hosts) && !env.aws) ctx.addIssue({ code: 'custom', path: ['aws'], message: 'is required: hosts are discovered from EC2' });
    if (ssm >= 0 && !env.aws) ctx.addIssue({ code: 'custom', path: ['aws'], message: `is required: services[${ssm}] restarts through SSM` });
    if (env.canary && !env.signals) ctx.addIssue({ code: 'custom', path: ['canary'], message: 'needs signals (the sources and gates that judge each step)' });
    if (env.canary?.mode === 'instances') {
      // the second instance runs from a release folder of its own, beside `current`
      if (env.app.strategy !== 'releases') ctx.addIssue({ code: 'custom', path: ['app', 'strategy'], message: `is '${env.app.strategy}': canary mode 'instances' needs 'releases' (the second instance runs from its own release folder)` });
      if (Array.isArray(env.hosts) && env.hosts.length !== 1)
        ctx.addIssue({ code: 'custom', path: ['hosts'], message: `lists ${env.hosts.length} hosts: canary mode 'instances' is for one host (a fleet: mode 'nginx' or 'subset')` });
    }
    for (const [i, g] of (env.canary?.gates ?? []).entries())
      if (env.signals && !env.signals.gates.some((x) => x.name === g)) ctx.addIssue({ code: 'custom', path: ['canary', 'gates', i], message: `names no gate of signals.gates: ${g}` });
    list.forEach((h, i) => {
      if (ssm >= 0 && !h.instanceId)
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'instanceId'], message: `is required: services[${ssm}] restarts through SSM` });
    });
  });

/** What an environment file writes (defaults may be left out). */
export type EnvironmentInput = z.input<typeof Environment>;
/** What cutover works with after validation (defaults filled in, durations in ms). */
export type EnvironmentConfig = z.output<typeof Environment>;

/** Identity at run time; gives environment files completion and type errors in the editor. */
export function defineEnvironment(env: EnvironmentInput): EnvironmentInput {
  return env;
}
