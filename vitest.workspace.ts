import { defineWorkspace } from "vitest/config"

// One project per package so `npm test -- --project http` runs one surface.
export default defineWorkspace(["packages/*/vitest.config.ts"])
