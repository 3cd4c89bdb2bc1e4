// The real services the tests run against: their URLs and whether they answer. With CI=true an
// unavailable service is a failure, elsewhere the tests that need it are skipped with the reason.
import * as amqp from "amqplib"
import { Redis } from "ioredis"

export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
export const amqpUrl = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, "//***@")

const probeRedis = async (): Promise<string | undefined> => {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3_000, retryStrategy: () => null })
  redis.on("error", () => {})
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (error) {
    return `Redis at ${redact(redisUrl)} is unavailable: ${String(error)}`
  } finally {
    redis.disconnect()
  }
}

const probeAmqp = async (): Promise<string | undefined> => {
  try {
    const connection = await amqp.connect(amqpUrl, { timeout: 3_000 })
    await connection.close()
    return undefined
  } catch (error) {
    return `RabbitMQ at ${redact(amqpUrl)} is unavailable: ${String(error)}`
  }
}

const required = (name: string, reason: string | undefined) => {
  if (reason === undefined) return undefined
  if (process.env.CI === "true") throw new Error(`queue tests need ${name}: ${reason}`)
  console.warn(`skipping ${name} queue tests: ${reason}`)
  return reason
}

/** Why the Redis tests cannot run here, or undefined. */
export const redisUnavailable = required("Redis", await probeRedis())

/** Why the RabbitMQ tests cannot run here, or undefined. */
export const amqpUnavailable = required("RabbitMQ", await probeAmqp())

/** A name no other test or run uses (queues, key prefixes). */
export const unique = (label: string) =>
  `qtel_${label}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
