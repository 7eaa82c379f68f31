// npm run bench -- cluster: a cluster of services x real servers on director1 (bench/cluster: 100 x 10 = 1,100
// IPVS objects, then 30 x 10) through the real Pulumi CLI and a file backend, in pulumi-lvs's resources in
// both forms (fine: a RealServer each, 1,101 resources; coarse: a RealServers per service, 201) and each
// form's graph on a provider that does nothing (Pulumi's own cost, the floor), one after the other in this
// one run; and `ipvsadm -R` of the same rules over one SSH exec. FORMS=fine or FORMS=coarse runs one form
// (and its floor); SIZES=100x10 one size. Each command is timed from start to
// exit; `up` and `destroy` skip their preview (timed on its own, as preview). Prints a table per size, the
// ratios to the floor, and how each command grows from the small size to the large. The engine's own
// parallelism is left at its default (4 x this machine's CPUs), but for the last three commands (64).
// Asserts nothing but that each command succeeded and that the kernel has the rules (or none) after each.
import * as fs from "fs";
import * as path from "path";
import { closeLab, sh } from "../test/lab";
import { labStackNamed, type Stack } from "../test/pulumi";

const host = "director1";
const program = path.join(__dirname, "..", "..", "bench", "cluster");
const sizes = (process.env.SIZES ?? "100x10,30x10").split(",").map((s) => s.split("x").map(Number) as [number, number]);
/** Each form of pulumi-lvs's resources, and the no-op program of its graph. */
const pairs = { fine: "floor", coarse: "coarse-floor" } as const;
type Pair = keyof typeof pairs;
type Form = Pair | (typeof pairs)[Pair];
const chosen = (process.env.FORMS ?? "fine,coarse").split(",") as Pair[];
for (const f of chosen) if (!(f in pairs)) throw new Error(`FORMS: "fine" and or "coarse", not ${JSON.stringify(f)}`);

const vip = (i: number) => `10.3.${i >> 8}.${(i & 255) + 1}`;
const rules = (services: number, realServers: number) => Array.from({ length: services }, (_, i) =>
    [`-A -t ${vip(i)}:80 -s wlc`, ...Array.from({ length: realServers },
        (_, j) => `-a -t ${vip(i)}:80 -r 10.3.100.${j + 1}:80 -g -w 1`)].join("\n")).join("\n") + "\n";
/** This benchmark's lines of the director's table. */
const ours = async () => (await sh(host, "ipvsadm -Sn")).split("\n").filter((l) => / 10\.3\./.test(l));
const clear = () => sh(host, `ipvsadm -Sn | awk '$1 == "-A" && $3 ~ /^10\\.3\\./ { print "-D", $2, $3 }' | ` +
    "while read -r a; do ipvsadm $a; done");

const skip = { PULUMI_SKIP_CHECKPOINTS: "true" };
const wide = 64;
/** The commands, in the order run: name, how, and how many of the benchmark's rules the kernel has after. */
const commands: Array<{ name: string; run(s: Stack): Promise<unknown>; after: "all" | "none" | "same" }> = [
    { name: "preview", run: (s) => s.run("preview"), after: "none" },
    { name: "up, creating everything", run: (s) => s.run("up", "--yes", "--skip-preview"), after: "all" },
    { name: "up with no change", run: (s) => s.run("up", "--yes", "--skip-preview"), after: "same" },
    { name: "refresh", run: (s) => s.run("refresh", "--yes", "--skip-preview"), after: "same" },
    { name: "up changing one weight", run: async (s) => {
        await s.config("weight", "2");
        return s.run("up", "--yes", "--skip-preview");
    }, after: "same" },
    { name: "destroy (checkpoints skipped)", run: (s) => s.runWith(skip, "destroy", "--yes", "--skip-preview"),
        after: "none" },
    { name: "up, creating everything, checkpoints skipped",
        run: (s) => s.runWith(skip, "up", "--yes", "--skip-preview"), after: "all" },
    { name: "destroy", run: (s) => s.run("destroy", "--yes", "--skip-preview"), after: "none" },
    // The engine runs at most --parallel operations at once (4 x the CPUs by default: 8 on a 2-core machine),
    // and so at most that many requests reach a node together; a wider run gives the agent larger batches.
    { name: `up, creating everything, checkpoints skipped, --parallel ${wide}`,
        run: (s) => s.runWith(skip, "up", "--yes", "--skip-preview", "--parallel", `${wide}`), after: "all" },
    { name: `refresh, --parallel ${wide}`,
        run: (s) => s.run("refresh", "--yes", "--skip-preview", "--parallel", `${wide}`), after: "same" },
    { name: `destroy (checkpoints skipped), --parallel ${wide}`,
        run: (s) => s.runWith(skip, "destroy", "--yes", "--skip-preview", "--parallel", `${wide}`), after: "none" },
];

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

interface Run { times: number[]; stateBytes: number; resources: number }

async function runForm(form: Form, services: number, realServers: number): Promise<Run> {
    const stack = await labStackNamed(program, `bench-${form}-${services}x${realServers}`);
    try {
        await stack.config("form", form);
        await stack.config("services", String(services));
        await stack.config("realServers", String(realServers));
        const times: number[] = [];
        let stateBytes = 0, resources = 0;
        for (const c of commands) {
            const t0 = process.hrtime.bigint();
            await c.run(stack);
            times.push(seconds(t0));
            process.stderr.write(`(${form} ${services} x ${realServers}: ${c.name} ${fmt(times.at(-1)!)} s)\n`);
            if (c.name === "up, creating everything") {
                const state = fs.readFileSync(stack.stateFile(), "utf8");
                stateBytes = state.length;
                resources = JSON.parse(state).checkpoint.latest.resources.length;
            }
            const want = form.includes("floor") || c.after === "none" ? 0 : services * (realServers + 1);
            const have = (await ours()).length;
            if (have !== want) throw new Error(`${form} ${services} x ${realServers}, after ${c.name}: ` +
                `the director has ${have} of the benchmark's rules, not ${want}`);
        }
        return { times, stateBytes, resources };
    } finally {
        await stack.dispose();
    }
}

async function ipvsadmRestore(services: number, realServers: number): Promise<number> {
    await sh(host, "cat > /tmp/bench-cluster-rules", rules(services, realServers));
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
        const t0 = process.hrtime.bigint();
        await sh(host, "ipvsadm -R < /tmp/bench-cluster-rules");
        times.push(seconds(t0));
        const have = (await ours()).length;
        if (have !== services * (realServers + 1)) throw new Error(`ipvsadm -R made ${have} rules`);
        await clear();
    }
    await sh(host, "rm -f /tmp/bench-cluster-rules");
    return median(times);
}

async function main(): Promise<void> {
    await clear();
    const results: Array<{ size: [number, number]; runs: Partial<Record<Form, Run>>; restore: number }> = [];
    for (const [services, realServers] of sizes) {
        const runs: Partial<Record<Form, Run>> = {};
        for (const pair of chosen) for (const form of [pair, pairs[pair]])
            runs[form] = await runForm(form, services, realServers);
        const restore = await ipvsadmRestore(services, realServers);
        results.push({ size: [services, realServers], runs, restore });
        for (const pair of chosen) {
            const ours = runs[pair]!, floor = runs[pairs[pair]]!;
            console.log(`\n${services} services x ${realServers} real servers on ${host}, the ${pair} form: ` +
                `${ours.resources} resources in the state (${services * (realServers + 1)} IPVS objects)`);
            console.log(`| command | pulumi-lvs | floor | ratio |\n|---|---|---|---|`);
            commands.forEach((c, k) => console.log(`| ${c.name} | ${fmt(ours.times[k])} s | ` +
                `${fmt(floor.times[k])} s | ${(ours.times[k] / floor.times[k]).toFixed(2)} |`));
            console.log(`| \`ipvsadm -R\` of the same ${services * (realServers + 1)} rules in one SSH exec ` +
                `(median of 3) | ${fmt(restore)} s | | |`);
            const kib = (r: Run) => `${(r.stateBytes / 1024).toFixed(0)} KiB (${(r.stateBytes / r.resources / 1024)
                .toFixed(2)} KiB per resource)`;
            console.log(`state after create: pulumi-lvs ${kib(ours)}, floor ${kib(floor)}`);
            console.log(`create / ipvsadm -R: ${(ours.times[1] / restore).toFixed(1)}x; ` +
                `one weight / ipvsadm -R: ${(ours.times[4] / restore).toFixed(1)}x`);
        }
    }
    if (results.length > 1) {
        const [big, small] = results;
        const objects = (r: (typeof results)[number]) => r.size[0] * (r.size[1] + 1);
        const forms = chosen.flatMap((p) => [p, pairs[p]]);
        console.log(`\ngrowth from ${small.size.join(" x ")} to ${big.size.join(" x ")} ` +
            `(${(objects(big) / objects(small)).toFixed(2)}x the objects):`);
        console.log(`| command | ${forms.join(" | ")} |\n|---|${forms.map(() => "---|").join("")}`);
        commands.forEach((c, k) => console.log(`| ${c.name} | ` +
            `${forms.map((f) => `${(big.runs[f]!.times[k] / small.runs[f]!.times[k]).toFixed(2)}x`).join(" | ")} |`));
        console.log(`| ipvsadm -R | ${(big.restore / small.restore).toFixed(2)}x |${forms.slice(1).map(() => " |")
            .join("")}`);
    }
    await closeLab();
}

main().catch(async (e) => { console.error(e); await clear().catch(() => undefined); process.exit(1); });
