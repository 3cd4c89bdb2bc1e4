import { describe, expect, it } from "@effect/vitest"
import { queryInfo } from "../../src/internal/query.js"

describe("queryInfo", () => {
  it.each([
    ["SELECT * FROM users WHERE id = $1", "SELECT", "users"],
    ["select u.id from \"public\".\"Users\" u join orders o on o.user_id = u.id", "SELECT", "public.Users"],
    ["SELECT (SELECT max(id) FROM audit) AS m FROM accounts", "SELECT", "accounts"],
    ["SELECT * FROM (SELECT 1) AS sub", "SELECT", undefined],
    ["SELECT 1", "SELECT", undefined],
    ["INSERT INTO \"orders\" (\"id\") VALUES ($1)", "INSERT", "orders"],
    ["UPDATE ONLY inventory SET n = n - 1", "UPDATE", "inventory"],
    ["DELETE FROM sessions WHERE expires < now()", "DELETE", "sessions"],
    ["CREATE TABLE IF NOT EXISTS app.events (id int)", "CREATE", "app.events"],
    ["DROP TABLE t", "DROP", "t"],
    ["TRUNCATE TABLE logs", "TRUNCATE", "logs"],
    ["  -- a comment\n  /* another */ SELECT * FROM x", "SELECT", "x"],
    ["WITH recent AS (SELECT * FROM a) SELECT * FROM recent", "WITH", undefined],
    ["SELECT 1; DROP TABLE users", undefined, undefined],
    ["frobnicate the database", undefined, undefined],
    ["", undefined, undefined]
  ])("%j is operation %s on %s", (sql, operation, collection) => {
    const info = queryInfo(sql)
    expect(info.operation).toBe(operation)
    expect(info.collection).toBe(collection)
  })

  it.each([
    ["SELECT * FROM t WHERE a = 'x''y' AND b = 42 AND c = $1", "SELECT * FROM t WHERE a = ? AND b = ? AND c = $1"],
    ["SELECT E'it\\'s', $$dollar 'quoted'$$, $tag$body$tag$, 1.5e3, x'ff'", "SELECT ?, ?, ?, ?, ?"],
    ["SELECT col1, t2.col3 FROM t2 WHERE v::int > -7", "SELECT col1, t2.col3 FROM t2 WHERE v::int > -?"],
    ["SELECT \"it's a column\" FROM t", "SELECT \"it's a column\" FROM t"],
    ["SELECT * FROM t WHERE a = ? AND b = :name AND c = @p1", "SELECT * FROM t WHERE a = ? AND b = :name AND c = @p1"]
  ])("sanitizes %j to %j", (sql, text) => {
    expect(queryInfo(sql).text).toBe(text)
  })
})
