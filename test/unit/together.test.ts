// Requests that wait for the node's lock together are run as one batch (provider/agent/together.ts), with
// the agent's own session (its lock is the real node-wide one, on this machine).
import { describe, expect, it } from "vitest";
import { session } from "../../provider/agent/main";
import { together } from "../../provider/agent/together";

/** A gate the test opens. */
function gate(): { wait: Promise<void>; open(): void } {
    let open!: () => void;
    const wait = new Promise<void>((r) => (open = r));
    return { wait, open };
}

describe("together", () => {
    it("gathers the requests of a kind that arrive while the lock is held, and answers each on its own", async () => {
        const ctx = session();
        const runs: string[][] = [];
        const held = gate();
        const apply = (item: string) => together<string, string>(ctx, "apply", item, async (items) => {
            runs.push([...items]);
            if (items.includes("a")) await held.wait;
            return items.map((i) => (i === "bad" ? new Error(`refused ${i}`) : `applied ${i}`));
        });
        const read = (item: string) => together<string, string>(ctx, "state", item, async (items) => {
            runs.push(items.map((i) => `read ${i}`));
            return items.map((i) => `state of ${i}`);
        });
        const a = apply("a");
        await new Promise((r) => setTimeout(r, 50)); // a's batch has the lock now
        expect(runs).toEqual([["a"]]);
        const [b, bad, c, s1, s2] = [apply("b"), apply("bad"), apply("c"), read("x"), read("y")];
        const settled = Promise.allSettled([b, bad, c, s1, s2]);
        held.open();
        expect(await a).toBe("applied a");
        expect(await settled).toEqual([
            { status: "fulfilled", value: "applied b" },
            { status: "rejected", reason: new Error("refused bad") },
            { status: "fulfilled", value: "applied c" },
            { status: "fulfilled", value: "state of x" },
            { status: "fulfilled", value: "state of y" },
        ]);
        // One batch per kind, in the order each batch was opened.
        expect(runs).toEqual([["a"], ["b", "bad", "c"], ["read x", "read y"]]);
        // A request after that opens a new batch.
        expect(await apply("d")).toBe("applied d");
        expect(runs.at(-1)).toEqual(["d"]);
        ctx.close();
    });

    it("a batch that cannot take its turn fails every request of it, and the next batch starts afresh", async () => {
        const ctx = session();
        let refuse = true;
        const real = ctx.exclusive;
        ctx.exclusive = (fn) => (refuse ? Promise.reject(new Error("the session ended")) : real(fn));
        const run = async (items: number[]) => items.map((i) => i * 2);
        const first = [1, 2, 3].map((i) => together(ctx, "apply", i, run));
        expect(await Promise.allSettled(first)).toEqual([1, 2, 3].map(() =>
            ({ status: "rejected", reason: new Error("the session ended") })));
        refuse = false;
        expect(await Promise.all([4, 5].map((i) => together(ctx, "apply", i, run)))).toEqual([8, 10]);
        ctx.close();
    });
});
