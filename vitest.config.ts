import { defineConfig } from "vitest/config";

// Two projects. unit: our own logic, no lab (npm run test:unit, in seconds). lab: against the lab's kernel
// and through the real Pulumi CLI; its global setup fails the run when the lab is not up (npm test starts it).
// Every test file runs one after another on the one lab kernel: lab tests and end-to-end examples change
// the same node-wide state (arp sysctls and lo addresses on the real servers, ip_forward and the IPVS
// sysctls on director1) and compare exact values. One file at a time is also lighter on the emulated VM.
export default defineConfig({
    test: {
        testTimeout: 600_000,
        hookTimeout: 600_000,
        fileParallelism: false,
        projects: [
            { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
            { extends: true, test: { name: "lab", include: ["test/lab/**/*.test.ts", "test/e2e/**/*.test.ts"],
                globalSetup: ["test/global-setup.ts"] } },
        ],
    },
});
