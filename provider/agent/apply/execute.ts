// apply: every write reconciles against the kernel: plan from one read of the table, write only the
// difference in one pipelined batch, read back once, and record it on the node's disk. A request with
// several changes applies all or none of them. Requests that wait for the lock together are applied as
// one (one read, one batch of writes, one record), each answered on its own.
import * as model from "../../model";
import { AgentError, Report } from "../../model/protocol";
import type { Context } from "../context";
import * as desired from "../desired";
import type { Desired } from "../desired";
import type { IpvsHandle } from "../ipvs/handle";
import type { IpvsWrite } from "../ipvs/requests";
import { loadHealth } from "../health/state";
import { together } from "../together";
import { Expected, Planned, Planner, planStep } from "./plan";
import { keyOf, rsKey, rsName, Table } from "./table";
import { fail, object, onlyKeys, Step, step } from "./validate";

const { serviceDiff, realServerDiff } = model;

export async function apply(args: unknown, ctx: Context): Promise<Report> {
    const a = object(args, "args");
    onlyKeys(a, ["changes"], "args");
    if (!Array.isArray(a.changes)) fail("changes", "must be a list of changes");
    const steps = a.changes.map((c, i) => step(c, `changes[${i}]`));
    return together(ctx, "apply", steps, (requests) => applyEach(requests, ctx));
}

/** Applies the steps of one request under the lock, all or nothing. */
export async function applySteps(steps: Step[], ctx: Context, restoring = false): Promise<Report> {
    return ctx.exclusive(async () => (await applyLocked([steps], ctx, restoring))[0]);
}

/**
 * Requests that came together, under the lock: applied as one. When that fails at one request, those
 * before it are applied (together, the same way), then that one alone (its own error, as if it had come
 * by itself), then those after it; a failure that belongs to no one request (the record could not be
 * written) has each tried alone. So requests take effect in the order they came, a failing one fails by
 * itself, and nothing of it is left applied.
 */
async function applyEach(requests: Step[][], ctx: Context): Promise<Array<Report | Error>> {
    const out: Array<Report | Error> = new Array(requests.length);
    const alone = async (i: number) => {
        out[i] = await applyLocked([requests[i]], ctx).then(([r]) => r, (e) => e as Error);
    };
    const inOrder = async (these: number[]): Promise<void> => {
        while (these.length > 1) {
            const r = await applyLocked(these.map((i) => requests[i]), ctx)
                .catch((e) => e as Error & { request?: number });
            if (!(r instanceof Error)) {
                r.forEach((report, k) => (out[these[k]] = { ...report, together: these.length }));
                return;
            }
            if (r.request === undefined) break;
            await inOrder(these.slice(0, r.request));
            await alone(these[r.request]);
            these = these.slice(r.request + 1);
        }
        for (const i of these) await alone(i);
    };
    await inOrder(requests.map((_, i) => i));
    return out;
}

/**
 * Plans, writes, reads back and records the requests' steps on the node's disk, all or nothing, and
 * reports to each request what was done for it. The record goes ahead of the kernel: before the first
 * write it names every object of the record before and after the change (marked pending), and once the
 * kernel has the change it is the record after it; on a failure, the record before. An agent killed
 * anywhere in between leaves nothing in the kernel that the record does not name. A failure carries the
 * index of the request it came from, when it came from one.
 */
async function applyLocked(requests: Step[][], ctx: Context, restoring = false): Promise<Report[]> {
    const h = await ctx.ipvs();
    const before = desired.load(ctx.stateDir);
    // What the requests leave is a confirmed record (before may be one an agent killed mid-change left
    // pending).
    const { pending: _, ...confirmed } = structuredClone(before);
    const p: Planner = {
        h, table: new Table(h), plan: [], expected: new Expected(), next: confirmed,
        health: loadHealth(ctx.stateDir), restoring, dir: ctx.stateDir,
        warnings: [], kept: [],
    };
    const record = (d: Desired) => {
        try { desired.save(ctx.stateDir, d, ctx.agentFile); return undefined; } catch (e) {
            return new AgentError(`could not record what was applied in ${ctx.stateDir}, which a reboot ` +
                `restores from: ${(e as Error).message}`, "state");
        }
    };
    // Whose each planned write, warning and note is.
    const owner = new Map<Planned, number>();
    const told = requests.map(() => ({ warnings: [] as string[], kept: [] as string[] }));
    const steps = requests.flatMap((r, request) => r.map((s) => ({ s, request })));
    let from: number | undefined;
    // Modules first (never undone): a sysctl of the interface a module makes (tunl0) is planned after.
    // A step refused while planning (a holder with other settings, say) is a failure like any other:
    // the record goes back to what it was.
    const planAll = async (these: typeof steps) => {
        for (const { s, request } of these) {
            const [n, w, k] = [p.plan.length, p.warnings.length, p.kept.length];
            try { await planStep(s, p); } catch (e) { from = request; return e as Error; }
            for (const x of p.plan.slice(n)) owner.set(x, request);
            told[request].warnings.push(...p.warnings.slice(w));
            told[request].kept.push(...p.kept.slice(k));
        }
        return undefined;
    };
    const run = async (plan: Planned[], done: Planned[]) => {
        const r = await execute(h, plan, done);
        if (r) from = owner.get(r.at);
        return r?.failure;
    };
    const loaded: Planned[] = [];
    let failure = await planAll(steps.filter(({ s }) => s.kind === "module"));
    const ahead = () =>
        (JSON.stringify(p.next) !== JSON.stringify(before) ? record(desired.inFlight(before, p.next)) : undefined);
    if (!failure && p.plan.length) failure = ahead();
    if (!failure) failure = await run(p.plan.splice(0), loaded);
    if (!failure) failure = await planAll(steps.filter(({ s }) => s.kind !== "module"));
    const done: Planned[] = [...loaded];
    if (!failure) failure = ahead();
    if (!failure) failure = await run(p.plan, done);
    if (!failure) failure = await readBack(h, p.expected).then(() => undefined, (e) => e as Error);
    if (!failure && JSON.stringify(p.next) !== JSON.stringify(before)) failure = record(p.next);
    if (failure) {
        const notes = await rollback(h, [...done]);
        // The record goes back with the kernel (if it was written ahead); if even that fails, the
        // pending record still names everything.
        try { if (desired.load(ctx.stateDir).pending) record(before); } catch { record(before); }
        const note = done.length ? ` (rolled back ${done.length} change${done.length > 1 ? "s" : ""} of this ` +
            `request${notes.length ? `; ${notes.join("; ")}` : ""})` : "";
        const code = (failure as { code?: string }).code;
        throw Object.assign(new AgentError(failure.message + note, (failure as AgentError).field, code),
            from === undefined ? {} : { request: from });
    }
    return requests.map((_, request) => {
        const actions = done.flatMap((x) => (x.action && owner.get(x) === request ? [x.action] : []));
        const { warnings, kept } = told[request];
        return { changed: actions.length > 0, actions,
            ...(warnings.length ? { warnings } : {}), ...(kept.length ? { kept } : {}) };
    });
}

/** Runs the plan in order, table writes in pipelined batches; returns the first failure, if any, and the
 * write it came from. Every write that succeeded (even after a failed one in the same batch) is in `done`. */
async function execute(h: IpvsHandle, plan: Planned[], done: Planned[]):
    Promise<{ failure: Error; at: Planned } | undefined> {
    let failed: { failure: Error; at: Planned } | undefined;
    for (let i = 0; i < plan.length && !failed;) {
        if (plan[i].ipvs) {
            let j = i;
            while (j < plan.length && plan[j].ipvs) j++;
            const batch = plan.slice(i, j);
            const results = await h.writeAll(batch.map((x) => x.ipvs!));
            results.forEach((r, k) => (r ? (failed ??= { failure: r, at: batch[k] }) : done.push(batch[k])));
            i = j;
        } else {
            try { await plan[i].host!(); done.push(plan[i]); } catch (e) {
                failed = { failure: e as Error, at: plan[i] };
            }
            i++;
        }
    }
    return failed;
}

/** Undoes what was done, newest first; says what could not be undone. */
async function rollback(h: IpvsHandle, done: Planned[]): Promise<string[]> {
    const undo = done.reverse().flatMap((p) => p.undo());
    const notes: string[] = [];
    for (let i = 0; i < undo.length;) {
        const u = undo[i];
        if (typeof u === "function") {
            await u().catch((e) => notes.push(`could not undo: ${(e as Error).message}`));
            i++;
            continue;
        }
        let j = i;
        while (j < undo.length && typeof undo[j] !== "function") j++;
        const results = await h.writeAll(undo.slice(i, j) as IpvsWrite[]);
        for (const r of results) if (r) notes.push(`could not undo: ${r.message}`);
        i = j;
    }
    return notes;
}

/** Reads back every declared object once (one dump of services, one of each service's real servers). */
async function readBack(h: IpvsHandle, expected: Expected): Promise<void> {
    if (!expected.services.size && !expected.realServers.size) return;
    const live = new Map((await h.services()).map((s) => [keyOf(s), s]));
    const notKept = (diff: string[]) =>
        `the kernel did not keep what was written (${diff.join(", ")}); it may be too old for a setting`;
    for (const [key, want] of expected.services) {
        const back = live.get(key);
        const diff = back ? serviceDiff(want, back) : ["missing"];
        if (diff.length) throw new AgentError(`service ${key}: ${notKept(diff)}`, "service");
    }
    for (const [key, { service, want }] of expected.realServers) {
        if (!live.has(key)) continue;
        const backs = new Map((await h.destinations(service)).map((d) => [rsKey(d), d]));
        for (const [k, w] of want) {
            const back = backs.get(k);
            const diff = back ? realServerDiff(w, back) : ["missing"];
            if (diff.length) throw new AgentError(`${rsName(service, w)}: ${notKept(diff)}`, "realServer");
        }
    }
}
