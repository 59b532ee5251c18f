import { describe, expect, it } from 'vitest';
import { CUSTOM_DOWN_EXIT, restartScript } from '../../tasks/lib/commands/restart.ts';

describe('the restart: one command for every service of a host (exact strings)', () => {
  it('the clock, the units\' processes before, the custom restarts, one systemctl restart per sudo setting, the custom status checks, then all units waited for together', () => {
    const c = restartScript({
      custom: [{ restart: 'pm2 restart api', status: 'pm2 pid api | grep -q .', logs: 'pm2 logs api --nostream' }],
      units: [
        { unit: 'conversation-service', sudo: true },
        { unit: 'search-service', sudo: true },
        { unit: 'worker', sudo: false },
      ],
      waitSec: 10,
    });
    expect(c.script).toBe(`date +%s.%N
printf '\\036pids %s\\n' "$(echo $(systemctl show -p MainPID --value -- conversation-service search-service worker))"
(
pm2 restart api
) </dev/null || exit $?
sudo -n systemctl restart -- conversation-service search-service || exit $?
systemctl restart -- worker || exit $?
printf '\\036restarted\\n'
( pm2 pid api | grep -q .
) </dev/null >/dev/null 2>&1; c=$?; if [ "$c" != 0 ]; then printf '\\036down %s %s\\n' 0 "$c"; ( pm2 logs api --nostream
) </dev/null 2>&1 | tail -n 15; exit 4; fi
end=$((SECONDS + 10))
while :; do
  s=$(systemctl is-active -- conversation-service search-service worker) && break
  if printf '%s\\n' "$s" | grep -qx failed || [ "$SECONDS" -ge "$end" ]; then printf '\\036states %s\\n' "$(echo $s)"; exit 3; fi
  sleep 0.2
done
printf '\\036states %s\\n' "$(echo $s)"`);
    expect(c.readOnly).toBeUndefined();
    expect(c.stdin).toBeUndefined();
    expect(CUSTOM_DOWN_EXIT).toBe(4);
  });

  it('units only', () => {
    expect(restartScript({ custom: [], units: [{ unit: 'a', sudo: true }], waitSec: 10 }).script).toBe(`date +%s.%N
printf '\\036pids %s\\n' "$(echo $(systemctl show -p MainPID --value -- a))"
sudo -n systemctl restart -- a || exit $?
printf '\\036restarted\\n'
end=$((SECONDS + 10))
while :; do
  s=$(systemctl is-active -- a) && break
  if printf '%s\\n' "$s" | grep -qx failed || [ "$SECONDS" -ge "$end" ]; then printf '\\036states %s\\n' "$(echo $s)"; exit 3; fi
  sleep 0.2
done
printf '\\036states %s\\n' "$(echo $s)"`);
  });

  it('refuses a wait that is not a whole number of seconds', () => {
    expect(() => restartScript({ custom: [], units: [], waitSec: 0.5 })).toThrow(/waitSec/);
  });
});
