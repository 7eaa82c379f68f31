// Runs the real Pulumi CLI (built by scripts/pulumi-cli.sh, on PATH through scripts/env.sh) against a
// local file backend in a scratch folder, non-interactively.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Stack {
    name: string;
    dir: string;
    backend: string;
    run(...args: string[]): Promise<string>;
    /** As run, its output followed by what it wrote on stderr (the engine's logs with --logtostderr). */
    runLogged(...args: string[]): Promise<string>;
    /** As run, with these environment variables besides the stack's (PULUMI_SKIP_CHECKPOINTS, say). */
    runWith(env: Record<string, string>, ...args: string[]): Promise<string>;
    /** Sets a config value (`path`: the key is a path into an object, as `pulumi config set --path`). */
    config(key: string, value: string, secret?: boolean, path?: boolean): Promise<void>;
    stateFile(): string;
    /** What the provider traced (PULUMI_LVS_TRACE) since the stack was made: one line per event. */
    trace(): string[];
    /** Destroys what the stack still has (errors ignored: this is cleanup) and removes its files. */
    dispose(): Promise<void>;
}

/** The URL of a file backend in `dir`. `metadata=skip`: the file backend's storage library (gocloud's fileblob)
 * otherwise writes a sidecar `<file>.attrs` beside each file by truncating it and then writing it, so an engine
 * killed between the two leaves it empty, and every later command fails with `failed to load checkpoint: EOF`
 * (seen in test/e2e/faults.test.ts). Without sidecars, each state file is written to a temporary file and
 * renamed into place, which a kill cannot leave half-written. */
export const backendUrl = (dir: string) => `file://${dir}?metadata=skip`;

/** Creates a stack of the Pulumi project in `dir` in a fresh file backend. */
export async function newStack(dir: string, name = "test"): Promise<Stack> {
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-state-"));
    const traceFile = path.join(backend, "trace.log");
    const env = { ...process.env, PULUMI_BACKEND_URL: backendUrl(backend), PULUMI_CONFIG_PASSPHRASE: "pulumi-lvs-test",
        PULUMI_LVS_TRACE: traceFile };
    const pulumi = (args: string[], input?: string, more: Record<string, string> = {}, withStderr = false) =>
        new Promise<string>((resolve, reject) => {
            const child = execFile("pulumi", [...args, "--non-interactive", "--stack", name],
                { cwd: dir, env: { ...env, ...more }, maxBuffer: 256 << 20 },
                (err, stdout, stderr) => (err
                    ? reject(new Error(`pulumi ${args.join(" ")} failed:\n${stdout}\n${stderr}`))
                    : resolve(withStderr ? stdout + stderr : stdout)));
            child.stdin?.end(input ?? "");
        });
    const run = (...args: string[]) => pulumi(args);
    await new Promise<void>((resolve, reject) =>
        execFile("pulumi", ["stack", "init", name, "--non-interactive"], { cwd: dir, env },
            (err, stdout, stderr) => (err ? reject(new Error(`pulumi stack init: ${stdout}${stderr}`)) : resolve())));
    return {
        name, dir, backend, run,
        runLogged: (...args) => pulumi(args, undefined, {}, true),
        runWith: (more, ...args) => pulumi(args, undefined, more),
        config: async (key, value, secret = false, path = false) => {
            // The value goes on stdin: it may start with a dash and must not show in a process listing.
            await pulumi(["config", "set", key, ...(secret ? ["--secret"] : []), ...(path ? ["--path"] : [])], value);
        },
        dispose: async () => {
            await run("destroy", "--yes", "--skip-preview").catch(() => undefined);
            fs.rmSync(path.join(dir, `Pulumi.${name}.yaml`), { force: true });
            fs.rmSync(backend, { recursive: true, force: true });
        },
        trace: () => (fs.existsSync(traceFile) ? fs.readFileSync(traceFile, "utf8").trim().split("\n") : []),
        stateFile: () => {
            const stacks = path.join(backend, ".pulumi", "stacks");
            const find = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true })
                .flatMap((e) => e.isDirectory() ? find(path.join(d, e.name))
                    : e.name === `${name}.json` ? [path.join(d, e.name)] : []);
            const [file] = find(stacks);
            if (!file) throw new Error(`no state file for stack ${name} under ${stacks}`);
            return file;
        },
    };
}

/** A stack of one of examples/, configured for the lab. */
export async function exampleStack(example: string): Promise<Stack> {
    return labStack(path.join(__dirname, "..", "examples", example));
}

/** A stack of the Pulumi program in `dir` (any program that uses examples/lab.ts), configured for the lab. */
export async function labStack(dir: string): Promise<Stack> {
    return labStackNamed(dir, `e2e${process.pid}`);
}

/** As labStack, under a stack name of the caller's: two stacks of one project (each in a backend of its own) keep
 * their config apart. */
export async function labStackNamed(dir: string, name: string): Promise<Stack> {
    const { lab } = await import("./lab");
    const { hosts, privateKeyPath } = lab();
    const stack = await newStack(dir, name);
    const pinned = Object.fromEntries(Object.entries(hosts).map(([k, h]) =>
        [k, { host: h.host, port: h.port, hostKey: h.hostKey }]));
    await stack.config("hosts", JSON.stringify(pinned));
    // examples/lab.ts names these credentials: the state holds the name, the stack's config the key.
    await stack.config("lvs:credentials.lab.privateKey", fs.readFileSync(privateKeyPath, "utf8"), true, true);
    return stack;
}

/** The outputs of one resource of a stack's state, found by the end of its URN ("::name"). */
export function resourceOutputs(stack: Stack, name: string): Record<string, any> | undefined {
    const state = JSON.parse(fs.readFileSync(stack.stateFile(), "utf8"));
    const r = (state.checkpoint?.latest?.resources ?? []).find((x: { urn: string }) => x.urn.endsWith(`::${name}`));
    return r?.outputs;
}
