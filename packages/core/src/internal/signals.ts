/**
 * Core's own signal declarations besides traced functions (declared in FunctionTelemetry next
 * to its instruments): the SDK's span delivery counters and the logs layer's counters.
 * docs/SIGNALS.md's Core tables are generated from these (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import type { Catalogue } from "../Signals.js"
import * as Delivery from "./delivery.js"
import * as Logs from "./logs.js"

/** The Tracer layer's self-observability (no spans). @internal */
export const sdk: Catalogue = {
  surface: "sdk",
  spans: [],
  metrics: [
    {
      instrument: Delivery.processed,
      attributes: "`error.type=queue_full` when dropped",
      meaning:
        "Sampled spans that ended and were offered to the batch processor. With `error.type`, spans dropped because the queue was full; these are also counted in the one shutdown line."
    },
    {
      instrument: Delivery.exported,
      attributes: "`error.type` when the export failed",
      meaning:
        "Spans handed to the exporter, by outcome (after the exporter's own retries). Exports abandoned at the shutdown deadline are not recorded here: the shutdown line counts them."
    }
  ]
}

const severities = Object.values(Logs.severities).flatMap((severity) =>
  severity === undefined ? [] : [`\`${severity.text}\``]
).join(" \\| ")

/** The logs layer's metrics (no spans). @internal */
export const logs: Catalogue = {
  surface: "logs",
  spans: [],
  metrics: [
    {
      instrument: Logs.logRecords,
      ours: true,
      attributes: `always \`${Logs.ATTR_LOG_SEVERITY}\` = ${severities}`,
      meaning:
        "Messages logged through Effect, once each (exported or not, also with `OTEL_LOGS_EXPORTER=none`; providing the layer twice does not count twice)."
    },
    {
      instrument: Logs.processed,
      attributes: "`error.type=queue_full` when dropped",
      meaning:
        "Log records offered to the batch processor. With `error.type`, records dropped because the queue (`OTEL_BLRP_MAX_QUEUE_SIZE`) was full."
    },
    {
      instrument: Logs.exported,
      attributes: "`error.type` when the export failed",
      meaning:
        "Log records handed to the exporter, by outcome. Exports abandoned at the shutdown deadline are counted in the shutdown line only."
    }
  ]
}
