/**
 * Optional notifications (environment `notifications`): one POST to a Slack-compatible webhook
 * per event, with a short timeout. Never throws and never fails a run: a notification that could
 * not be sent comes back as a warning to print. The URL is a secret: it is never shown, not even
 * its host.
 */
import { secret, secretValues, type LoadedEnvironment } from '../config/load.ts';
import { describeFetchError, httpRequest } from '../probes/http.ts';
import { excerpt } from '../probes/text.ts';
import { slackPayload, type NotifyEvent } from './payload.ts';

export type { NotifyEvent, NotifyKind } from './payload.ts';

export interface NotifyResult {
  readonly sent: boolean;
  /** Why nothing was sent although nothing went wrong: not configured, or the event is not subscribed. */
  readonly skipped?: string;
  /** The notification failed: say it (one line, nothing secret in it), and carry on. */
  readonly warning?: string;
  readonly durationMs: number;
}

export interface NotifyOptions {
  /** The run's interruption: a notification in flight is abandoned (a warning, not a throw). */
  readonly signal?: AbortSignal;
}

export async function notify(env: LoadedEnvironment, event: NotifyEvent, opts: NotifyOptions = {}): Promise<NotifyResult> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  const cfg = env.config.notifications;
  if (!cfg) return { sent: false, skipped: 'no notifications configured', durationMs: 0 };
  if (!cfg.events.includes(event.kind)) return { sent: false, skipped: `'${event.kind}' is not in notifications.events`, durationMs: 0 };
  const variable = cfg.webhook.env;
  let hide = secretValues(env);
  const failed = (why: string): NotifyResult => ({
    sent: false,
    warning: `notification '${event.kind}' not sent (webhook from ${variable}): ${excerpt(why, hide, 200)}`,
    durationMs: took(),
  });
  try {
    const url = secret(env, cfg.webhook) ?? '';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return failed('the value is not a URL');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return failed('the value is not an http(s) URL');
    // the whole URL is the secret; its parts are hidden from the warning too (a receiver may echo its path)
    hide = [...hide, parsed.origin, parsed.host, parsed.hostname, parsed.pathname + parsed.search, parsed.pathname];
    const payload = slackPayload(env.name, event, secretValues(env));
    const out = await httpRequest(
      { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) },
      { timeoutMs: cfg.timeout, signal: opts.signal, maxBodyBytes: 4096 },
    );
    if (out.kind === 'error') return failed(out.error);
    if (out.status < 200 || out.status > 299) return failed(`the webhook answered ${out.status}${out.body.trim() ? `: ${out.body}` : ''}`);
    return { sent: true, durationMs: took() };
  } catch (err) {
    // httpRequest throws only the run's own interruption; anything else is a bug here, still not the run's failure
    return failed(opts.signal?.aborted ? 'interrupted' : describeFetchError(err));
  }
}
