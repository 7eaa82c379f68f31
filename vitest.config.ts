import { defineConfig } from "vitest/config";

// Every test file runs one after another on the one lab kernel: lab tests and end-to-end examples change
// the same node-wide state (arp sysctls and lo addresses on the real servers, ip_forward and the IPVS
// sysctls on director1) and compare exact values. One file at a time is also lighter on the emulated VM.
export default defineConfig({
    test: {
        globalSetup: ["test/global-setup.ts"],
        testTimeout: 600_000,
        hookTimeout: 600_000,
        include: ["test/unit/**/*.test.ts", "test/lab/**/*.test.ts", "test/e2e/**/*.test.ts"],
        fileParallelism: false,
    },
});
