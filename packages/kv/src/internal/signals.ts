/**
 * Every span and metric `@effect-telemetry/kv` emits, declared once: docs/SIGNALS.md's tables for it are
 * generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as metrics from "./metrics.js"

/** @internal */
export const signals: Signals.Catalogue = Signals.make({
  surface: "kv",
  spans: [
    {
      name: "{kv.operation} {kv.namespace}",
      nameNote: "(`get sessions`)",
      ours: true,
      kind: "Internal",
      attributes: "`kv.namespace`, `kv.operation`; `error.type` on failure (the same value as on the metrics)",
      meaning:
        "One operation, child of the caller's span. **Off by default** (`spans: true` to enable: a cache sits on hot paths). Keys and values are never recorded."
    }
  ],
  metrics: [
    {
      instrument: metrics.operationDuration,
      ours: true,
      attributes:
        "always `kv.namespace`, `kv.operation` = `get` \\| `set` \\| `remove` \\| `has` \\| `clear` \\| `size` \\| `modify`, `kv.result` = `ok` \\| `not_found` \\| `error`; `error.type` when `kv.result=error` (a `SystemError`'s reason, `NotFound`, `PermissionDenied`; the error's tag; `interrupted`)",
      meaning: "Duration of each store operation."
    },
    {
      instrument: metrics.operations,
      ours: true,
      attributes: "the same",
      meaning:
        "Store operations by outcome, each call counted once whatever the backend does inside (`getUint8Array` as `get`, `isEmpty` as `size`, `modifyUint8Array` as `modify`). `not_found`: a `get`/`modify` of a missing key; a failed decode in a SchemaStore is `error`."
    }
  ]
})
