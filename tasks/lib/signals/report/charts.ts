/**
 * Mermaid `xychart-beta` charts (they render on GitHub and GitLab): a metric over time with its
 * thresholds drawn as flat lines. Pure. Mermaid lines cannot have gaps: no data is drawn as 0 and
 * the chart's title says so.
 */
import { num } from '../gates.ts';

export interface Series {
  readonly title: string;
  readonly unit: string;
  /** x labels (HH:MM) and one value per label (null: no data). */
  readonly labels: readonly string[];
  readonly values: readonly (number | null)[];
  /** Threshold lines: name -> value. */
  readonly thresholds: readonly { readonly name: string; readonly value: number }[];
}

const q = (s: string) => `"${s.replace(/"/g, "'")}"`;

export function xyChart(s: Series): string[] {
  const vals = s.values.map((v) => (v === null ? 0 : Math.round(v * 100) / 100));
  const gaps = s.values.some((v) => v === null);
  const top = Math.max(1, ...vals, ...s.thresholds.map((t) => t.value)) * 1.1;
  const legend = s.thresholds.map((t) => `${t.name} ${num(t.value)}${s.unit === '%' ? '%' : s.unit ? ` ${s.unit}` : ''}`).join(', ');
  return [
    '```mermaid',
    'xychart-beta',
    `  title ${q(`${s.title}${legend ? ` (lines: ${legend})` : ''}${gaps ? ', no data drawn as 0' : ''}`)}`,
    `  x-axis [${s.labels.map(q).join(', ')}]`,
    `  y-axis ${q(s.unit || 'value')} 0 --> ${num(Math.ceil(top))}`,
    `  line [${vals.join(', ')}]`,
    ...s.thresholds.map((t) => `  line [${s.labels.map(() => t.value).join(', ')}]`),
    '```',
  ];
}
