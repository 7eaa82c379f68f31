import { defineConfig } from "vitest/config";

// Unit and lab tests run side by side (each owns its addresses). End-to-end files run one after
// another: their Directors set node-wide sysctls (ip_forward) that another example may share.
const common = { globalSetup: ["test/global-setup.ts"], testTimeout: 600_000, hookTimeout: 600_000 };
export default defineConfig({
    test: {
        maxWorkers: 2,
        minWorkers: 1,
        projects: [
            { test: { ...common, name: "unit+lab", include: ["test/unit/**/*.test.ts", "test/lab/**/*.test.ts"] } },
            { test: { ...common, name: "e2e", include: ["test/e2e/**/*.test.ts"], fileParallelism: false } },
        ],
    },
});
