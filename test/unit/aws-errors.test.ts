import { describe, expect, it } from 'vitest';
import { AwsApiError, AwsCredentialsError, awsError, credentialSources, errorCode } from '../../tasks/lib/aws/errors.ts';
import { ExitCode } from '../../tasks/lib/base/errors.ts';

const files = (content: Record<string, string>) => (p: string) => content[p] ?? null;
const facts = (env: NodeJS.ProcessEnv, content: Record<string, string> = {}) => ({ env, readFile: files(content), home: '/home/op' });
const settings = { region: 'eu-west-1', source: 'environments/production.ts' };
const sdkError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

describe('what the credential chain tried', () => {
  it('with nothing configured: each source and why it gave nothing', () => {
    expect(credentialSources(settings, facts({}))).toEqual([
      'environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set',
      "profile 'default' (the default profile): /home/op/.aws/credentials does not exist; /home/op/.aws/config does not exist",
      'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE): not set',
      'container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI): not set',
      'EC2 instance role (instance metadata service): no credentials from it (not on EC2, or no instance profile attached)',
    ]);
  });

  it('names the profile and where it came from, and whether the files have it', () => {
    const content = { '/home/op/.aws/credentials': '[default]\naws_access_key_id = x\n', '/home/op/.aws/config': '[profile prod-deploy]\nsso_session = corp\n' };
    const fromConfig = credentialSources({ ...settings, profile: 'prod-deploy' }, facts({ AWS_EC2_METADATA_DISABLED: 'true' }, content));
    expect(fromConfig[0]).toBe('environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: skipped because a profile is set (aws.profile in environments/production.ts)');
    expect(fromConfig[1]).toBe("profile 'prod-deploy' (aws.profile in environments/production.ts): /home/op/.aws/credentials does not have it; /home/op/.aws/config has it");
    expect(fromConfig[4]).toBe('EC2 instance role (instance metadata service): disabled by AWS_EC2_METADATA_DISABLED=true');
    const fromVar = credentialSources(settings, facts({ AWS_PROFILE: 'default', AWS_SHARED_CREDENTIALS_FILE: '/etc/aws/creds' }, content));
    expect(fromVar[1]).toBe("profile 'default' (AWS_PROFILE): /etc/aws/creds does not exist; /home/op/.aws/config does not have it");
  });
});

describe('AWS errors', () => {
  it('no credentials: exit 2, every source tried, and what to do', () => {
    const err = awsError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'SSM.SendCommand', settings, facts({ AWS_EC2_METADATA_DISABLED: 'true' }));
    expect(err).toBeInstanceOf(AwsCredentialsError);
    expect(err.exitCode).toBe(ExitCode.refused);
    expect(err.message).toBe(
      'no AWS credentials for SSM.SendCommand (eu-west-1). Tried, in order:\n' +
        '  - environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set\n' +
        "  - profile 'default' (the default profile): /home/op/.aws/credentials does not exist; /home/op/.aws/config does not exist\n" +
        '  - web identity token (AWS_WEB_IDENTITY_TOKEN_FILE): not set\n' +
        '  - container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI): not set\n' +
        '  - EC2 instance role (instance metadata service): disabled by AWS_EC2_METADATA_DISABLED=true\n' +
        '  (the SDK said: Could not load credentials from any providers)\n' +
        'Give cutover credentials: set AWS_PROFILE (or aws.profile) to a profile that has them (for SSO: aws sso login --profile NAME), ' +
        'or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or run on an EC2 instance with an instance profile.',
    );
  });

  it('expired credentials: where they came from and to refresh them', () => {
    const err = awsError(sdkError('ExpiredTokenException', 'The security token included in the request is expired'), 'SSM.GetCommandInvocation', { ...settings, profile: 'prod' }, facts({}));
    expect(err).toBeInstanceOf(AwsCredentialsError);
    expect(err.message).toBe(
      "AWS rejected the credentials for SSM.GetCommandInvocation (eu-west-1): ExpiredTokenException: The security token included in the request is expired. They came from profile 'prod' (aws.profile in environments/production.ts); " +
        'they are expired or not valid. Refresh them (aws sso login, new keys or session token, or check the machine clock) and run again.',
    );
  });

  it('denied and unreachable say which permission or which endpoint', () => {
    const denied = awsError(sdkError('AccessDeniedException', 'User: arn:aws:iam::1:user/x is not authorized to perform: ssm:SendCommand'), 'SSM.SendCommand', settings);
    expect(denied).toBeInstanceOf(AwsApiError);
    expect(denied.message).toBe('SSM.SendCommand (eu-west-1) was denied: AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized to perform: ssm:SendCommand. The identity cutover runs as needs permission for ssm:SendCommand.');
    const refused = awsError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'EC2.DescribeInstances', { ...settings, endpoint: 'http://127.0.0.1:9' });
    expect(refused.message).toBe('cannot reach AWS for EC2.DescribeInstances (eu-west-1 at http://127.0.0.1:9): ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9. Check the network, the region, and aws.endpoint.');
    expect(errorCode(sdkError('InvocationDoesNotExist', ''))).toBe('InvocationDoesNotExist');
  });
});
