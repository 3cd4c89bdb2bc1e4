// The real services the tests run against: their URLs and whether they answer. With CI=true an
// unavailable service is a failure, elsewhere the tests that need it are skipped with the reason.
import { TestServices } from "@effect-telemetry/testing"
import * as amqp from "amqplib"
import { Redis } from "ioredis"

export const redisUrl = TestServices.redisUrl
export const amqpUrl = TestServices.amqpUrl

/** Why the Redis tests cannot run here, or undefined. */
export const redisUnavailable = TestServices.required(
  "Redis queue",
  await TestServices.probe("Redis", redisUrl, async () => {
    const redis = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 3_000,
      retryStrategy: () => null
    })
    redis.on("error", () => {})
    try {
      await redis.connect()
      await redis.ping()
    } finally {
      redis.disconnect()
    }
  })
)

/** Why the RabbitMQ tests cannot run here, or undefined. */
export const amqpUnavailable = TestServices.required(
  "RabbitMQ queue",
  await TestServices.probe("RabbitMQ", amqpUrl, async () => {
    const connection = await amqp.connect(amqpUrl, { timeout: 3_000 })
    await connection.close()
  })
)

/** A name no other test or run uses (queues, key prefixes). */
export const unique = (label: string) => TestServices.uniqueName(`qtel_${label}`)
