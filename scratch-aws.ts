import { startAwsServer } from './test/support/aws/server.ts';
import { useTestAwsEnv } from './test/support/aws/env.ts';
import { watchConnections } from './test/support/aws/net-guard.ts';
import { discoverHosts } from './tasks/lib/aws/discover.ts';
import { ec2Preflight } from './tasks/lib/aws/ec2-preflight.ts';
useTestAwsEnv();
const guard = watchConnections();
const srv = await startAwsServer({ instances: [
  { instanceId: 'i-00000000000000001', privateIp: '127.0.0.2', tags: { Name: 'api-1', Role: 'api' } },
  { instanceId: 'i-00000000000000002', privateIp: '127.0.0.3', tags: { Name: 'api 2', Role: 'api' }, state: 'stopped' },
  { instanceId: 'i-00000000000000003', privateIp: '127.0.0.4', tags: { Role: 'api' }, ping: 'ConnectionLost' },
  { instanceId: 'i-00000000000000004', privateIp: '127.0.0.5', tags: { Name: 'db', Role: 'db' } },
  { instanceId: 'i-00000000000000005', privateIp: '127.0.0.6', tags: { Name: 'api-1', Role: 'api' }, managed: false },
]});
const s = { region: 'eu-west-1', endpoint: srv.endpoint };
let t = performance.now();
console.log(await discoverHosts(s, { tags: { Role: 'api' }, address: 'private', port: 22 }));
console.log(performance.now() - t, srv.callCounts());
t = performance.now();
console.log(await ec2Preflight(s, [1,2,3,4,5,9].map(n => ({ hostName: `h${n}`, instanceId: `i-0000000000000000${n}` }))));
console.log(performance.now() - t, srv.callCounts());
srv.throttle('EC2.DescribeInstances', 2);
t = performance.now();
console.log((await discoverHosts(s, { tags: { Role: 'db' }, address: 'public', port: 22 }).catch(e => e)).message);
console.log(performance.now() - t, srv.callCounts());
srv.expireKey('AKIDCUTOVERTEST00001');
console.log((await ec2Preflight(s, [{hostName:'a', instanceId:'i-00000000000000001'}]).catch(e => e)).message);
delete process.env.AWS_ACCESS_KEY_ID;
console.log((await ec2Preflight(s, [{hostName:'a', instanceId:'i-00000000000000001'}]).catch(e => e)).message);
await srv.close();
console.log(guard.destinations, guard.notLoopback());
