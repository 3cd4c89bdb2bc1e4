/**
 * The peer the issue names: a plain `node:http` server answering what the Effect app answers,
 * alone (`node-plain`) or with the official `@opentelemetry/instrumentation-http` and a batch
 * OTLP/protobuf span export (`node-otel`), configured from the same OTEL_* variables.
 *
 *   node bench/http/node-server.cjs <node-plain|node-otel> <port>
 *
 * CommonJS on purpose: the instrumentation patches `http` through require hooks, registered
 * before `http` is loaded.
 */
"use strict"
const variant = process.argv[2]
const port = Number(process.argv[3])
if (!["node-plain", "node-otel"].includes(variant) || !Number.isInteger(port)) {
  console.error("usage: node-server.cjs <node-plain|node-otel> <port>")
  process.exit(2)
}

let provider
if (variant === "node-otel") {
  const { registerInstrumentations } = require("@opentelemetry/instrumentation")
  const { HttpInstrumentation } = require("@opentelemetry/instrumentation-http")
  const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node")
  const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base")
  const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto")
  const { resourceFromAttributes } = require("@opentelemetry/resources")
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench-node-otel" }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces` }))
    ]
  })
  provider.register()
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] })
}

const http = require("node:http")
const route = /^\/users\/([^/?]+)/
const server = http.createServer((req, res) => {
  const match = req.method === "GET" ? route.exec(req.url ?? "") : null
  if (match === null) {
    res.writeHead(404).end()
    return
  }
  const body = JSON.stringify({ id: match[1], name: "Ada" })
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
})
server.listen(port, "127.0.0.1")

const stop = () => server.close(() => (provider ? provider.shutdown() : Promise.resolve()).then(() => process.exit(0)))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
