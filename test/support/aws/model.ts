// What the fake AWS knows: instances (mapped to sandbox hosts) and the knobs that make it misbehave.
import type { HostTarget } from '../../../tasks/lib/runners/types.ts';

export type PingStatus = 'Online' | 'ConnectionLost' | 'Inactive';
export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
export const STATE_CODES: Record<InstanceState, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

/** How one SSM command invocation behaves (per instance, or for all). */
export interface InvocationKnobs {
  /** Answer InvocationDoesNotExist to the first N polls of the invocation. */
  missingPolls?: number;
  /** Stay Pending this long before anything runs. */
  pendingMs?: number;
  /** Stay InProgress at least this long (the script's own time counts). */
  inProgressMs?: number;
  /** End TimedOut: 'delivery' (nothing runs) or 'execution' (reported after the InProgress time). */
  timeout?: 'delivery' | 'execution';
  /** End Failed/Undeliverable (nothing runs). */
  undeliverable?: boolean;
  /** End Cancelled/Canceled (nothing runs). */
  cancelled?: boolean;
}

export interface FakeInstance {
  instanceId: string;
  tags: Record<string, string>;
  privateIp: string;
  publicIp?: string;
  state: InstanceState;
  /** SSM agent: absent from DescribeInstanceInformation when not managed. */
  managed: boolean;
  ping: PingStatus;
  checks: { system: string; instance: string };
  /** The sandbox host its SSM commands run on, over SSH. */
  ssh?: HostTarget;
  knobs: InvocationKnobs;
}

export type InstanceSpec = Pick<FakeInstance, 'instanceId' | 'privateIp'> & Partial<FakeInstance>;

export function instance(spec: InstanceSpec): FakeInstance {
  return { tags: {}, state: 'running', managed: true, ping: 'Online', checks: { system: 'ok', instance: 'ok' }, knobs: {}, ...spec };
}

/** `i-00000000000000001` for index 0: a valid instance id, distinct per index. */
export const instanceIdFor = (index: number): string => `i-${(index + 1).toString(16).padStart(17, '0')}`;

/** A protocol-level error: each protocol renders it its own way. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}
