/**
 * A slow link for the benchmark: a TCP proxy on loopback that forwards every chunk after `delayMs`,
 * in each direction, in order (a round trip through it costs 2 x delayMs more). No bandwidth limit:
 * only latency, which is what a distant host adds to every round trip. Bench tooling only.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards what `from` sends to `to`, each chunk (and the end) `delayMs` later, in order. */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0]!.at <= now + 0.5) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else if (!to.destroyed) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0]!.at - performance.now()));
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    timer ??= setTimeout(drain, delayMs);
  };
  from.on('data', (c: Buffer) => push(c));
  from.on('end', () => push(null));
}

export function startDelayProxy(target: { address: string; port: number }, delayMs: number, listenAddress = '127.0.0.1'): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: target.address, port: target.port, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    delayed(client, upstream, delayMs);
    delayed(upstream, client, delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenAddress, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        address: listenAddress,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
