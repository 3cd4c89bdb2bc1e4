/**
 * The demo service: every surface composed through Layers.
 *
 *   npm ci && npm start        # embedded: in-process Postgres, in-memory KV and queue
 *   DATABASE_URL=... REDIS_URL=... AMQP_URL=... OTEL_EXPORTER_OTLP_ENDPOINT=... npm start
 *
 * SIGINT/SIGTERM close every layer: in-flight requests end, consumers stop, spans and a final
 * metric collection are flushed, the embedded database is stopped.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Layer from "effect/Layer"
import * as App from "./App.js"

NodeRuntime.runMain(Layer.launch(App.layer()), { disablePrettyLogger: false })
