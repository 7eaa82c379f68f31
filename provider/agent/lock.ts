// The node-wide lock that serializes agents. It is a listening socket in the abstract unix namespace:
// the kernel releases it when the holder dies (no stale lock files), and it is per network namespace,
// exactly as IPVS state is (directors that share a filesystem but not a netns do not block each other).
import * as net from "net";

const name = "\0pulumi-lvs-agent-lock";

export interface Lock {
    release(): Promise<void>;
}

/** Waits up to `timeoutMs` for the lock; throws when another agent holds it all that time. */
export async function acquireLock(timeoutMs = 120_000): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
        const server = net.createServer();
        const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
            server.once("error", resolve);
            server.listen(name, () => resolve(undefined));
        });
        if (!err) {
            server.unref();
            return { release: () => new Promise((resolve) => server.close(() => resolve())) };
        }
        if (err.code !== "EADDRINUSE") throw err;
        if (Date.now() > deadline)
            throw new Error(`another pulumi-lvs agent held this node's lock for ${timeoutMs / 1000} s; giving up`);
        await new Promise((resolve) => setTimeout(resolve, delay));
    }
}
