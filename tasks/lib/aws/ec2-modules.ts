/**
 * The three pieces of @aws-sdk/client-ec2 cutover uses, loaded from the package's per-command
 * ES modules: its index pulls in every EC2 command (about 75 MB more resident memory under tsx,
 * measured), which alone would take a 20-host deploy past its 250 MB budget. The SDK is pinned
 * to an exact version in package.json; test/integration/aws-ec2.test.ts runs these against the
 * local EC2 server, so a layout change fails there.
 */
import type * as Ec2 from '@aws-sdk/client-ec2';

const ROOT = '@aws-sdk/client-ec2/dist-es';
// specifiers held in variables: TypeScript types come from the package index (import type above)
const load = <T>(specifier: string): Promise<T> => import(specifier) as Promise<T>;

export async function ec2ClientClass(): Promise<typeof Ec2.EC2Client> {
  return (await load<Pick<typeof Ec2, 'EC2Client'>>(`${ROOT}/EC2Client.js`)).EC2Client;
}

export async function describeInstancesCommand(): Promise<typeof Ec2.DescribeInstancesCommand> {
  return (await load<Pick<typeof Ec2, 'DescribeInstancesCommand'>>(`${ROOT}/commands/DescribeInstancesCommand.js`)).DescribeInstancesCommand;
}

export async function describeInstanceStatusCommand(): Promise<typeof Ec2.DescribeInstanceStatusCommand> {
  return (await load<Pick<typeof Ec2, 'DescribeInstanceStatusCommand'>>(`${ROOT}/commands/DescribeInstanceStatusCommand.js`)).DescribeInstanceStatusCommand;
}
