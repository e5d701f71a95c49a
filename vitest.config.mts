import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // examples/fleet imports the package by name (as a user would); in the unit suite that is the
        // sources, as in tsconfig.json. test/unit/package.test.ts checks the example against the build.
        resolve: { alias: { pyjoules: "/components/index.ts" } },
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          globalSetup: ["test/setup/unit.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/setup/integration.ts"],
          // VMs under software emulation: one file at a time, generous but bounded waits.
          fileParallelism: false,
          testTimeout: 20 * 60_000,
          hookTimeout: 30 * 60_000,
        },
      },
    ],
  },
});
