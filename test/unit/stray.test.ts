import { describe, expect, it } from 'vitest';
import { confirmGone, countTagged } from '../../tasks/lib/runners/stray.ts';

describe('stopping a command a lost connection left running (exact strings)', () => {
  it('counts and confirms by the tag, never matching the search itself', () => {
    expect(countTagged('cutover-0a1b').script).toBe(
      `out=$(pgrep -f -- '[c]utover-0a1b'); s=$?; [ "$s" -le 1 ] || exit "$s"; printf '%s' "$out" | grep -c . || true`,
    );
    expect(confirmGone('cutover-0a1b').script).toBe(
      `for i in $(seq 50); do pgrep -f -- '[c]utover-0a1b' >/dev/null || exit 0; sleep 0.1; done; pgrep -a -f -- '[c]utover-0a1b'; exit 3`,
    );
    expect(countTagged('cutover-0a1b').readOnly).toBe(true);
  });
  it('refuses anything but a command tag', () => {
    expect(() => countTagged('x; rm -rf /')).toThrow('not a command tag');
    expect(() => confirmGone('cutover-')).toThrow('not a command tag');
  });
});
