// examples/ldirectord end to end: the seeds' ldirectord configuration as a program. up makes the
// direct-routing service with weight-5 real servers, which come in once their http check of /.testpage
// finds "test page" (they start down: no traffic until a check passes); the client's requests reach
// both; a preview after a refresh finds nothing to change; a real server whose page stops answering is
// quiesced (weight 0) at the next checks; destroy removes it all, and the health daemon's unit with it.
import { afterAll, beforeAll, expect, test } from "vitest";
import { closeLab, sh } from "../lab";
import { exampleStack, Stack } from "../pulumi";
import { fetchFromClient, webServer } from "../traffic";

const vip = "10.0.0.225";
const lines = async () => (await sh("director1", "ipvsadm -Sn")).split("\n").filter((l) => l.includes(`-t ${vip}:80`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(want: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (JSON.stringify(await lines()) !== JSON.stringify(want)) {
        if (Date.now() > deadline) throw new Error(`after ${timeoutMs / 1000} s: ${JSON.stringify(await lines())}`);
        await sleep(500);
    }
}
const table = (w1: number, w2: number) => [`-A -t ${vip}:80 -s wlc`,
    `-a -t ${vip}:80 -r 10.0.0.21:80 -g -w ${w1}`, `-a -t ${vip}:80 -r 10.0.0.22:80 -g -w ${w2}`];

let stack: Stack;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
    stack = await exampleStack("ldirectord");
    await sh("director1", `ipvsadm -D -t ${vip}:80 2>/dev/null; true`);
});
afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await stack?.dispose();
    await closeLab();
});

test("up makes the service; its real servers come in at weight 5 once the test page answers", async () => {
    await stack.run("up", "--yes", "--skip-preview");
    // Down until proven: the real servers' pages are not up yet.
    expect(await lines()).toEqual(table(0, 0));
    // The VIP is on each real server's lo now: its web server answers on the VIP (what DR delivers) and on
    // its own address (what the director checks).
    stops.push(await webServer("rs1", [`${vip}:80`, "10.0.0.21:80"]),
        await webServer("rs2", [`${vip}:80`, "10.0.0.22:80"]));
    // checkinterval 10: the next check of each finds the page.
    await until(table(5, 5), 25_000);
    const { counts, failures } = await fetchFromClient(`http://${vip}/`, 10);
    expect(failures).toEqual([]);
    expect(Object.keys(counts).sort()).toEqual([`rs1 ${vip}:80`, `rs2 ${vip}:80`]);
    await stack.run("refresh", "--yes");
    await stack.run("preview", "--expect-no-changes");
});

test("a real server whose page stops answering is quiesced, not removed", async () => {
    await stops.shift()!();
    // Within interval 10 s x failureCount 1 + timeout 10 s.
    await until(table(0, 5), 25_000);
    await stack.run("preview", "--expect-no-changes");
});

test("destroy removes the service and the health daemon's unit", async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await lines()).toEqual([]);
    expect(await sh("director1", "ls /var/lib/pulumi-lvs")).not.toContain("pulumi-lvs-health.service");
});
