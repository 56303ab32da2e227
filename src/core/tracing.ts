/**
 * Spans for Deno's built-in OpenTelemetry: with `OTEL_DENO=true` the runtime exports traces over
 * OTLP (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318) and already makes a span for
 * every incoming request and every `fetch` (the @upstash/redis commands). {@linkcode traced} adds
 * the archive transaction and the raw Redis pipelines (src/live/transport.ts); with tracing off it
 * calls the function straight away, so the hot path pays one boolean test.
 * @module
 */
import { type Attributes, SpanStatusCode, trace } from "@opentelemetry/api";

/** Whether the runtime exports traces (OTEL_DENO=true). */
export const tracing = (() => {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false; // no --allow-env
  }
})();

const tracer = trace.getTracer("bike-power-tracker");

/** Runs `fn` inside a span named `name` when tracing is on; a throw marks the span failed. */
export function traced<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracing) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}
