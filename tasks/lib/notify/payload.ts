/**
 * The JSON a Slack-compatible incoming webhook takes: `text` (complete on its own: Mattermost,
 * Rocket.Chat and Slack's notification previews read only it) and `blocks` (Slack's layout).
 * Pure; every string is redacted before it is placed, and escaped for Slack's mrkdwn.
 */
import type { NOTIFY_EVENTS } from '../config/schema.ts';
import { redactText } from '../reports/redact.ts';

export type NotifyKind = (typeof NOTIFY_EVENTS)[number];

export interface NotifyEvent {
  readonly kind: NotifyKind;
  /** One line: `deploy of production to v3.2.7: rolled back`. */
  readonly title: string;
  /** What happened and, for attention, what to do. */
  readonly text: string;
  readonly runId: string;
  /** Shown as labelled fields, in order: `{ tag: 'v3.2.7', hosts: 'web-1, web-2' }`. */
  readonly fields?: Readonly<Record<string, string | number>>;
}

export interface SlackPayload {
  readonly text: string;
  readonly blocks: readonly unknown[];
}

export const ICONS: Record<NotifyKind, string> = {
  start: ':rocket:',
  success: ':white_check_mark:',
  rollback: ':leftwards_arrow_with_hook:',
  attention: ':rotating_light:',
};

// Slack limits: 3000 characters in a section's text, 2000 in a field, 10 fields in a section
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;

/** Slack reads `<...>` as links and mentions (`<!channel>`): echoed text must not ping anyone. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function slackPayload(envName: string, e: NotifyEvent, secrets: readonly string[] = []): SlackPayload {
  const clean = (s: string | number) => escapeMrkdwn(redactText(String(s), secrets));
  const fields: [string, string][] = [
    ['Environment', clean(envName)],
    ['Run', clean(e.runId)],
    ...Object.entries(e.fields ?? {}).map(([k, v]): [string, string] => [clean(k), clean(v)]),
  ];
  const title = clean(e.title);
  const body = clean(e.text);
  const text = [`${ICONS[e.kind]} ${title}`, ...(body ? [body] : []), fields.map(([k, v]) => `${k}: ${v}`).join(' · ')].join('\n');
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: cut(`${ICONS[e.kind]} *${title}*${body ? `\n${body}` : ''}`, SECTION_MAX) } }];
  for (let i = 0; i < fields.length; i += FIELDS_MAX)
    blocks.push({ type: 'section', fields: fields.slice(i, i + FIELDS_MAX).map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${k}*\n${v}`, FIELD_MAX) })) });
  return { text, blocks };
}
