// The process environment AWS tests run with: static fake credentials, no instance metadata, no
// ~/.aws files, nothing inherited that could point the SDK at real AWS.

export const TEST_ACCESS_KEY_ID = 'AKIDCUTOVERTEST00001';
export const TEST_REGION = 'eu-west-1';

/** Variables that would change where credentials or endpoints come from: removed in tests. */
export const INHERITED_AWS_VARS = [
  'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SSM',
  'AWS_ENDPOINT_URL_EC2', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_EC2_METADATA_SERVICE_ENDPOINT',
] as const;

/** For a child process: spread over process.env (and delete INHERITED_AWS_VARS from the copy). */
export function testAwsEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: 'cutover-test-secret-not-real',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/cutover-test/credentials',
    AWS_CONFIG_FILE: '/nonexistent/cutover-test/config',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Applies testAwsEnv() (plus `over`; undefined deletes) to this process; returns the undo. */
export function useTestAwsEnv(over: Record<string, string | undefined> = {}): () => void {
  const wanted: Record<string, string | undefined> = { ...Object.fromEntries(INHERITED_AWS_VARS.map((k) => [k, undefined])), ...testAwsEnv(), ...over };
  const before = Object.fromEntries(Object.keys(wanted).map((k) => [k, process.env[k]]));
  const apply = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(wanted);
  return () => apply(before);
}
