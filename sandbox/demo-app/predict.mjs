// The demo's "model": a deterministic toy emotion classifier with the seed's prediction record
// (primary, confidence, low_confidence, rule_applied) and a PII-redacted text preview.

// whole words, accents included (\b is ASCII-only: it would not end "frustré")
const words = (list) => new RegExp(`(?<!\\p{L})(?:${list.join('|')})(?!\\p{L})`, 'giu');
const EMOTIONS = {
  joy: words(['merci', 'super', 'génial', 'content', 'contente', 'heureux', 'heureuse', 'happy', 'great', 'thanks', 'love', 'parfait']),
  anger: words(['colère', 'furieux', 'furieuse', 'inadmissible', 'scandale', 'angry', 'furious', 'outraged', 'unacceptable']),
  frustration: words(['frustré', 'frustrée', 'agaçant', 'encore', 'toujours', 'frustrated', 'annoying', 'again', 'still']),
  fear: words(['peur', 'inquiet', 'inquiète', 'angoisse', 'worried', 'afraid', 'scared', 'anxious']),
  sadness: words(['triste', 'déçu', 'déçue', 'dommage', 'sad', 'disappointed', 'unhappy']),
};
export const LOW_CONFIDENCE = 0.45;

/** FNV-1a: a stable number per text (confidence jitter, simulated latency). */
export function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function predict(message) {
  const scores = Object.fromEntries(Object.entries(EMOTIONS).map(([e, re]) => [e, (message.match(re) ?? []).length]));
  const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  const [top, second] = ranked;
  const total = ranked.reduce((a, [, n]) => a + n, 0);
  const jitter = (hash(message) % 100) / 1000; // 0 .. 0.099
  // no letters at all (emoji, digits), or almost nothing: the linear head has nothing to read
  const route = /\p{L}{2,}/u.test(message) ? 'linear_head' : 'regex';
  let primary = top[1] > 0 ? top[0] : 'neutral';
  let confidence = top[1] > 0 ? 0.5 + (0.4 * (top[1] - second[1])) / total + jitter : 0.55 + jitter * 3;
  let rule_applied = null;
  if (top[1] > 0 && top[1] === second[1]) {
    confidence = 0.3 + jitter;
    if ([top[0], second[0]].includes('anger') && [top[0], second[0]].includes('frustration')) {
      primary = 'anger';
      rule_applied = 'tiebreak_anger_keyword';
    }
  }
  if (route === 'regex') confidence = 0.35 + jitter;
  confidence = Math.round(Math.min(0.99, confidence) * 1000) / 1000;
  return { route, prediction: { primary, confidence, low_confidence: confidence < LOW_CONFIDENCE, rule_applied } };
}

const PII = [
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}/g, '[EMAIL]'],
  [/\bhttps?:\/\/[^\s]+/gi, '[URL]'],
  [/\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b/gi, '[IPV6]'],
  [/(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\d){7,13}\b/g, '[PHONE]'],
  [/\b0[1-9](?:[ .-]?\d{2}){4}\b/g, '[PHONE]'],
  [/\b(?:\d[ -]?){13,19}\b/g, '[CARD]'],
];

/** The first 80 characters with emails, URLs, IPv6 addresses, phone and card numbers masked. */
export function redactPreview(message) {
  let text = message;
  for (const [re, mark] of PII) text = text.replace(re, mark);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
