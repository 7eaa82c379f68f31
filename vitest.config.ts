import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        globalSetup: ["test/global-setup.ts"],
        testTimeout: 600_000,
        hookTimeout: 600_000,
        maxWorkers: 2,
        minWorkers: 1,
    },
});
