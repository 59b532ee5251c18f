import { describe, expect, it } from 'vitest';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { escapeMrkdwn, slackPayload } from '../../tasks/lib/notify/payload.ts';

describe('slackPayload', () => {
  it('text complete on its own, blocks for Slack; redacted and escaped', () => {
    const p = slackPayload(
      'production',
      {
        kind: 'attention',
        title: 'deploy of production to v3.2.7: needs attention',
        text: 'rollback failed on web-2 <!channel>; user ops@example.com said hunter22',
        runId: '20261121T211305Z-a1b2c3',
        fields: { tag: 'v3.2.7', hosts: 'web-1, web-2', exit: 3 },
      },
      ['hunter22'],
    );
    expect(p).toEqual({
      text:
        ':rotating_light: deploy of production to v3.2.7: needs attention\n' +
        'rollback failed on web-2 &lt;!channel&gt;; user [EMAIL] said ***\n' +
        'Environment: production · Run: 20261121T211305Z-a1b2c3 · tag: v3.2.7 · hosts: web-1, web-2 · exit: 3',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: ':rotating_light: *deploy of production to v3.2.7: needs attention*\nrollback failed on web-2 &lt;!channel&gt;; user [EMAIL] said ***' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Environment*\nproduction' },
            { type: 'mrkdwn', text: '*Run*\n20261121T211305Z-a1b2c3' },
            { type: 'mrkdwn', text: '*tag*\nv3.2.7' },
            { type: 'mrkdwn', text: '*hosts*\nweb-1, web-2' },
            { type: 'mrkdwn', text: '*exit*\n3' },
          ],
        },
      ],
    });
  });

  it('icons per kind; an empty text leaves no blank line; more than 10 fields make a second section; long text is cut', () => {
    const fields = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, 'x'.repeat(i === 0 ? 2500 : 1)]));
    const p = slackPayload('staging', { kind: 'start', title: 'deploy of staging to v1', text: '', runId: 'r', fields });
    expect(p.text.split('\n')[0]).toBe(':rocket: deploy of staging to v1');
    expect(p.text.split('\n')).toHaveLength(2);
    expect(p.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: ':rocket: *deploy of staging to v1*' } });
    const sections = p.blocks.slice(1) as { fields: { text: string }[] }[];
    expect(sections.map((s) => s.fields.length)).toEqual([10, 3]);
    expect(sections[0]!.fields[2]!.text).toHaveLength(2000);
    expect(sections[0]!.fields[2]!.text.endsWith('x…')).toBe(true);
    expect(slackPayload('e', { kind: 'success', title: 't', text: 'x', runId: 'r' }).text.startsWith(':white_check_mark: t')).toBe(true);
    expect(slackPayload('e', { kind: 'rollback', title: 't', text: 'x', runId: 'r' }).text.startsWith(':leftwards_arrow_with_hook: t')).toBe(true);
  });

  it('escapeMrkdwn', () => {
    expect(escapeMrkdwn('a & b <@U123> > c')).toBe('a &amp; b &lt;@U123&gt; &gt; c');
  });
});

describe('the notifications schema', () => {
  const base = {
    hosts: [{ name: 'h', address: '127.0.0.1', transport: 'local' }],
    app: { path: '/srv/app', repo: '/tmp/origin.git' },
    services: [{ unit: 'demo' }],
    verify: { health: { url: 'http://{host}:1/h' } },
  };
  it('defaults: every event, 5 s', () => {
    const env = Environment.parse({ ...base, notifications: { webhook: { env: 'CUTOVER_WEBHOOK_URL' } } });
    expect(env.notifications).toEqual({ webhook: { env: 'CUTOVER_WEBHOOK_URL' }, events: ['start', 'success', 'rollback', 'attention'], timeout: 5000 });
  });
  it('refuses a URL written in the file, unknown events, silly timeouts', () => {
    const r = Environment.safeParse({ ...base, notifications: { webhook: 'https://hooks.slack.com/services/T/B/X', events: ['deploy'], timeout: '2m' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['notifications.events.0', 'notifications.timeout', 'notifications.webhook']);
  });
});
