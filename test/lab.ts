// Test access to the lab (lab/lab.sh): its hosts, and shell commands on them over one reused SSH
// connection per host, with the host key pinned. Used as an oracle (ipvsadm, ip) and to set scenes.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "ssh2";

export interface LabHost {
    host: string;
    port: number;
    user: string;
    hostKey: string;
    lan4: string;
    lan6: string;
    back4: string;
    back6: string;
}
export interface Lab {
    privateKeyPath: string;
    hosts: Record<string, LabHost>;
}

/** This checkout, which the lab mounts at the same path inside the VM (scripts for the guest live here). */
export const repoDir = path.join(__dirname, "..");

export const labDir = path.join(process.env.PULUMI_LVS_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-lvs"),
    "lab", "run");

export function lab(): Lab {
    const file = path.join(labDir, "lab.json");
    if (!fs.existsSync(file)) throw new Error(`the lab is not up (${file} is missing): run npm run lab:up`);
    return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** The provider's connection arguments for a lab host (root, the operator key, the pinned host key). */
export function labConnection(name: string) {
    const { hosts, privateKeyPath } = lab();
    const h = hosts[name];
    if (!h) throw new Error(`no host ${name} in the lab`);
    return { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey,
        privateKey: fs.readFileSync(privateKeyPath, "utf8") };
}

const connections = new Map<string, Promise<Client>>();

function connect(name: string): Promise<Client> {
    let c = connections.get(name);
    if (!c) {
        const { hosts, privateKeyPath } = lab();
        const h = hosts[name];
        if (!h) throw new Error(`no host ${name} in the lab`);
        const pinned = Buffer.from(h.hostKey.split(" ")[1], "base64");
        c = new Promise<Client>((resolve, reject) => {
            const client = new Client();
            client.on("ready", () => resolve(client)).on("error", reject).on("close", () => connections.delete(name));
            client.connect({
                host: h.host, port: h.port, username: h.user, privateKey: fs.readFileSync(privateKeyPath),
                hostVerifier: (key: Buffer) => key.equals(pinned), readyTimeout: 60_000, keepaliveInterval: 10_000,
            });
        });
        connections.set(name, c);
        c.catch(() => connections.delete(name));
    }
    return c;
}

/** Runs a shell command on a lab host; resolves with stdout, rejects with stderr on a non-zero exit. */
export async function sh(host: string, command: string, input?: string): Promise<string> {
    const client = await connect(host);
    return new Promise((resolve, reject) => {
        client.exec(command, (err, stream) => {
            if (err) return reject(err);
            let out = "", errOut = "";
            stream.on("data", (d: Buffer) => (out += d)).stderr.on("data", (d: Buffer) => (errOut += d));
            stream.on("close", (code: number) =>
                code === 0 ? resolve(out)
                    : reject(new Error(`${host}: '${command}' exited ${code}: ${errOut || out}`)));
            if (input !== undefined) stream.end(input); else stream.end();
        });
    });
}

/** Reboots one lab host (lab.sh reboot: its kernel state is gone, its disk stays) and waits for its sshd; the
 * lab's clock (ms) when it went down. */
export async function rebootHost(name: string): Promise<number> {
    (await connections.get(name)?.catch(() => undefined))?.end();
    connections.delete(name);
    const out = await new Promise<string>((resolve, reject) =>
        execFile("bash", [path.join(repoDir, "lab", "lab.sh"), "reboot", name], (err, stdout, stderr) =>
            (err ? reject(new Error(`lab.sh reboot ${name}: ${stdout}${stderr}`)) : resolve(stdout))));
    const down = new RegExp(`lab: ${name} down at (\\d+)`).exec(out);
    if (!down) throw new Error(`lab.sh reboot ${name} did not say when the host went down: ${out}`);
    return Number(down[1]);
}

/** Closes every connection so the test process can exit. */
export async function closeLab(): Promise<void> {
    for (const c of connections.values()) (await c.catch(() => undefined))?.end();
    connections.clear();
}
