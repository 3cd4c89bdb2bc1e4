/**
 * Drives every demo endpoint for a while, so dashboards and benchmarks have traffic.
 *
 *   npm run load -- [--url http://127.0.0.1:8080] [--duration 30] [--concurrency 8] [--requests N]
 *
 * Stops after `--duration` seconds or `--requests` requests, whichever comes first, and prints
 * the count per endpoint and status (the numbers the end-to-end test compares with Prometheus).
 */
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    url: { type: "string", default: `http://127.0.0.1:${process.env.PORT ?? "8080"}` },
    duration: { type: "string", default: "30" },
    concurrency: { type: "string", default: "8" },
    requests: { type: "string" }
  }
})

const base = values.url!.replace(/\/$/, "")
const durationMs = Number(values.duration) * 1000
const concurrency = Number(values.concurrency)
const limit = values.requests === undefined ? Infinity : Number(values.requests)
if (!(durationMs > 0) || !(concurrency >= 1) || !(limit > 0)) {
  console.error("usage: load [--url URL] [--duration SECONDS>0] [--concurrency N>=1] [--requests N>0]")
  process.exit(2)
}

const ids: Array<string> = []
const counts = new Map<string, number>()
const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)

const requestOnce = async (i: number) => {
  const pick = i % 10
  let route: string
  let response: Response
  if (pick < 4) {
    route = "POST /orders"
    response = await fetch(`${base}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: pick === 3 && i % 20 === 3 ? "none" : `sku-${i % 7}`, quantity: 1 + (i % 3) })
    })
    if (response.status === 201) ids.push(((await response.json()) as { id: string }).id)
    else await response.arrayBuffer()
  } else if (pick < 7) {
    route = "GET /orders/:id"
    const id = ids.length > 0 ? ids[i % ids.length] : "missing"
    response = await fetch(`${base}/orders/${id}`)
    await response.arrayBuffer()
  } else if (pick === 7) {
    route = "GET /report"
    response = await fetch(`${base}/report`)
    await response.arrayBuffer()
  } else if (pick === 8) {
    route = "GET /slow"
    response = await fetch(`${base}/slow`)
    await response.arrayBuffer()
  } else {
    route = "GET /fail"
    response = await fetch(`${base}/fail`)
    await response.arrayBuffer()
  }
  count(`${route} ${response.status}`)
}

const started = Date.now()
let issued = 0
const worker = async () => {
  while (Date.now() - started < durationMs && issued < limit) {
    const i = issued++
    try {
      await requestOnce(i)
    } catch (error) {
      count(`error ${(error as Error).message}`)
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker))
const summary = Object.fromEntries([...counts.entries()].sort())
console.log(JSON.stringify({ requests: issued, seconds: (Date.now() - started) / 1000, counts: summary }, null, 2))
