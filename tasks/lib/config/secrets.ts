import { keyPath } from './issues.ts';

/** Secret values resolved from the process environment, by variable name. */
export type Secrets = Readonly<Record<string, string>>;

interface Found {
  path: PropertyKey[];
  variable: string;
}

/**
 * Free-form maps whose content is data, not config: an `{ env: 'production' }` there is an EC2
 * tag, a header or a request body, never a secret reference.
 */
const FREE_FORM = new Set(['tags', 'headers', 'body', 'env']);

/** Every `{ env: 'NAME' }` in a (possibly invalid) environment file, with where it is. */
export function findSecretRefs(value: unknown, path: PropertyKey[] = []): Found[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecretRefs(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'env' && typeof obj.env === 'string') return [{ path, variable: obj.env }];
  return keys.filter((k) => !(FREE_FORM.has(k) && obj[k] !== null && typeof obj[k] === 'object')).flatMap((k) => findSecretRefs(obj[k], [...path, k]));
}

/** Look each reference up; a missing one is a problem naming the variable and .env.example. */
export function resolveSecrets(
  file: string,
  raw: unknown,
  processEnv: NodeJS.ProcessEnv,
): { secrets: Secrets; problems: string[] } {
  const secrets: Record<string, string> = {};
  const problems: string[] = [];
  for (const ref of findSecretRefs(raw)) {
    const v = processEnv[ref.variable];
    if (v === undefined || v === '') {
      problems.push(
        `${file}: ${keyPath(ref.path)}: environment variable ${ref.variable} is not set (put it in .env or the environment; see .env.example)`,
      );
    } else secrets[ref.variable] = v;
  }
  return { secrets, problems };
}
