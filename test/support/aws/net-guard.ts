// Records every outgoing TCP connection this process starts, to prove tests only talk to loopback.
import net from 'node:net';

export interface ConnectionLog {
  /** `host:port` of every connection attempt, in order. */
  readonly destinations: string[];
  /** Destinations outside 127.0.0.0/8. */
  notLoopback(): string[];
  stop(): void;
}

export function watchConnections(): ConnectionLog {
  const destinations: string[] = [];
  const original = net.Socket.prototype.connect;
  // connect(options[, cb]) | connect(port[, host][, cb]) | connect(path[, cb]) | the internal normalized [options, cb]
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (typeof first === 'number') destinations.push(`${typeof args[1] === 'string' ? args[1] : 'localhost'}:${first}`);
    else if (first && typeof first === 'object' && !('path' in first && (first as { path?: string }).path)) {
      const o = first as { host?: string; port?: number | string };
      destinations.push(`${o.host ?? 'localhost'}:${o.port ?? ''}`);
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  return {
    destinations,
    notLoopback: () => destinations.filter((d) => !/^127\.\d+\.\d+\.\d+:/.test(d)),
    stop: () => void (net.Socket.prototype.connect = original),
  };
}
