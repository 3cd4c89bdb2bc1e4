/**
 * Every span and metric `@effect-telemetry/sql` emits, declared once: docs/SIGNALS.md's tables for it are
 * generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as metrics from "./metrics.js"

/** @internal */
export const signals: Signals.Catalogue = Signals.make({
  surface: "sql",
  spans: [
    {
      name: "{db.operation.name} {db.collection.name}",
      nameNote: "(`SELECT orders`), else `{db.operation.name}` (`SELECT`), else `{db.system.name}` (`postgresql`)",
      kind: "Client",
      attributes:
        "From the driver: `db.system.name`, `db.namespace`, `server.address`, `server.port` and any `spanAttributes` given to it. When known: `db.operation.name` (a keyword from a fixed list), `db.collection.name` (first table, schema-qualified as written). `db.query.text` unless `queryText: false` (placeholders kept, literals as `?`, never parameter values). On failure `error.type` and `db.response.status_code` (SQLSTATE)",
      meaning:
        "One statement execution on any path (yield, `raw`, `values`, `unprepared`, `withoutTransform`, `stream`, PgClient `notify`), pool wait included; child of the caller's span or of the transaction span. A stream's span lasts until the stream ends. Error on failure; Unset with `effect.interrupted` when interrupted. Off with `spans: false`."
    },
    {
      name: "transaction",
      ours: true,
      kind: "Internal",
      attributes:
        "the driver's connection attributes, `db.transaction.depth` *(ours)* = 0, or 1+ for a savepoint; `db.transaction.outcome` *(ours)* = `commit` \\| `rollback`",
      meaning:
        "One `withTransaction` (or nested savepoint); parent of the statements and user spans inside. Error when it fails. Off with `spans: false`."
    }
  ],
  metrics: [
    {
      instrument: metrics.operationDuration,
      attributes:
        "always `db.system.name`; from the driver `db.namespace`, `server.address`, `server.port`; when known `db.operation.name`, `db.collection.name`; on failure `error.type` (SQLSTATE, error tag, or `interrupted`)",
      meaning: "Duration of each statement execution, pool wait included."
    },
    {
      instrument: metrics.operations,
      ours: true,
      attributes:
        "the same, plus always `result` = `ok` \\| `error` (an interrupted statement is `error` with `error.type=interrupted`)",
      meaning: "Statement executions by outcome, each counted once."
    }
  ]
})
