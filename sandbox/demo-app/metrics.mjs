// Prometheus metrics with prom-client, loaded from the path in DEMO_PROM_CLIENT (the deploying
// machine's node_modules/prom-client): the app folder has no node_modules and installs nothing.
import { createRequire } from 'node:module';

export function loadMetrics(modulePath, version) {
  if (!modulePath) return { available: false, why: 'DEMO_PROM_CLIENT is not set (the path of a prom-client package)' };
  let client;
  try {
    client = createRequire(import.meta.url)(modulePath);
  } catch (e) {
    return { available: false, why: `cannot load prom-client from ${modulePath}: ${e.message}` };
  }
  const registry = new client.Registry();
  registry.setDefaultLabels({ version });
  client.collectDefaultMetrics({ register: registry });
  const m = {
    requests: new client.Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'path', 'status'], registers: [registry] }),
    duration: new client.Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['path'], buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    predictions: new client.Counter({ name: 'predictions_total', help: 'Chat predictions by route', labelNames: ['route'], registers: [registry] }),
    lowConfidence: new client.Counter({ name: 'prediction_low_confidence_total', help: 'Predictions under the confidence threshold', registers: [registry] }),
    rules: new client.Counter({ name: 'prediction_rule_applied_total', help: 'Tie-break and other rules applied', labelNames: ['rule'], registers: [registry] }),
    golden: new client.Counter({ name: 'golden_mismatch_total', help: 'Answers that differ from the golden set', registers: [registry] }),
    dimension: new client.Counter({ name: 'dimension_mismatch_total', help: 'Embedding dimension mismatches', registers: [registry] }),
  };
  for (const c of [m.golden, m.dimension, m.lowConfidence]) c.inc(0); // present (0) from the start: "no data" would be ambiguous
  return {
    available: true,
    request(method, path, status, seconds) {
      m.requests.inc({ method, path, status: String(status) });
      m.duration.observe({ path }, seconds);
    },
    prediction(p) {
      m.predictions.inc({ route: p.route });
      if (p.prediction.low_confidence) m.lowConfidence.inc();
      if (p.prediction.rule_applied) m.rules.inc({ rule: p.prediction.rule_applied });
    },
    async text() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
