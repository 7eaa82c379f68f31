// Requests of one kind that wait for the node's lock at the same time are run as one: the first opens a
// batch and takes its turn for the lock; those that arrive before the lock is had join it; once it is had,
// the batch is closed and its run answers each request on its own (a result, or an error of its own).
// Requests in flight together are independent (Pulumi waits for a resource's answer before it starts what
// depends on it), so a batch may answer a request ahead of one of another kind that arrived before it.
import type { Context } from "./context";

interface Batch<I, R> {
    items: I[];
    waiting: Array<{ resolve(r: R): void; reject(e: unknown): void }>;
}

const open = new WeakMap<Context, Map<string, Batch<unknown, unknown>>>();

/** Runs `item` under the lock with the others of `kind` that wait with it: `run` gets them all, in the
 * order they came, and gives a result or an Error for each, in that order. */
export function together<I, R>(ctx: Context, kind: string, item: I,
    run: (items: I[]) => Promise<Array<R | Error>>): Promise<R> {
    let batches = open.get(ctx);
    if (!batches) open.set(ctx, (batches = new Map()));
    const mine = batches;
    let batch = mine.get(kind) as Batch<I, R> | undefined;
    if (!batch) {
        const b: Batch<I, R> = (batch = { items: [], waiting: [] });
        mine.set(kind, b as Batch<unknown, unknown>);
        const close = () => { if (mine.get(kind) === b) mine.delete(kind); };
        ctx.exclusive(async () => { close(); return run(b.items); }).then(
            (results) => b.waiting.forEach((w, i) => {
                const r = results[i];
                if (r instanceof Error) w.reject(r); else w.resolve(r as R);
            }),
            (e) => { close(); for (const w of b.waiting) w.reject(e); });
    }
    const b = batch;
    return new Promise<R>((resolve, reject) => { b.items.push(item); b.waiting.push({ resolve, reject }); });
}
