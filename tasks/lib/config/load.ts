import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Environment, type EnvironmentConfig, type SecretRef } from './schema.ts';
import { ConfigError, UsageError } from '../base/errors.ts';
import { formatIssues } from './issues.ts';
import { resolveSecrets, type Secrets } from './secrets.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const ENV_NAME = /^[a-z0-9][a-z0-9_-]*$/;

export interface LoadedEnvironment {
  readonly name: string;
  /** Path shown in messages, relative to the repository: `environments/staging.ts`. */
  readonly file: string;
  readonly config: EnvironmentConfig;
  readonly secrets: Secrets;
  /** Absolute folder for dumps, manifests, history mirror and reports. */
  readonly backupDir: string;
}

/** --env, else DEPLOY_ENV, else `local`. Production is never a default. */
export function chooseEnvironment(flag: string | undefined, processEnv: NodeJS.ProcessEnv): string {
  return flag ?? (processEnv.DEPLOY_ENV || undefined) ?? 'local';
}

export function listEnvironments(dir = path.join(REPO_ROOT, 'environments')): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'schema.ts')
    .map((f) => f.slice(0, -3))
    .sort();
}

export interface LoadOptions {
  processEnv?: NodeJS.ProcessEnv;
  /** Folder holding the environment files; default $CUTOVER_ENVIRONMENTS_DIR, else environments/. */
  dir?: string;
}

export async function loadEnvironment(name: string, opts: LoadOptions = {}): Promise<LoadedEnvironment> {
  const processEnv = opts.processEnv ?? process.env;
  const dir = opts.dir ?? (processEnv.CUTOVER_ENVIRONMENTS_DIR ? path.resolve(processEnv.CUTOVER_ENVIRONMENTS_DIR) : path.join(REPO_ROOT, 'environments'));
  const available = () => listEnvironments(dir).join(', ');
  if (!ENV_NAME.test(name)) throw new UsageError(`--env ${JSON.stringify(name)}: not an environment name. Available: ${available()}.`);
  const abs = path.join(dir, `${name}.ts`);
  if (!existsSync(abs)) throw new UsageError(`--env ${name}: there is no environments/${name}.ts. Available: ${available()}.`);
  const file = path.join(path.basename(dir), `${name}.ts`); // as the user knows it: environments/staging.ts

  let raw: unknown;
  try {
    raw = ((await import(pathToFileURL(abs).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new ConfigError([`${file}: cannot be loaded: ${(err as Error).message}`]);
  }
  if (raw === undefined) throw new ConfigError([`${file}: has no default export (write \`export default defineEnvironment({...})\`)`]);

  const parsed = Environment.safeParse(raw);
  const { secrets, problems: secretProblems } = resolveSecrets(file, raw, processEnv);
  const problems = [...(parsed.success ? [] : formatIssues(file, parsed.error.issues)), ...secretProblems];
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const config = parsed.data;
  const backupDir = path.resolve(REPO_ROOT, config.backups.dir ?? path.join('backups', name));
  return { name, file, config, secrets, backupDir };
}

/** The value of a secret the environment refers to (validated present at load). */
export function secret(env: LoadedEnvironment, ref: SecretRef | undefined): string | undefined {
  return ref ? env.secrets[ref.env] : undefined;
}

/** Every secret value, for redaction. */
export function secretValues(env: LoadedEnvironment): string[] {
  return Object.values(env.secrets);
}
