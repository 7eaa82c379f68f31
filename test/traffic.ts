// Traffic in the lab: web servers on real servers, requests from the client host.
import * as path from "path";
import { sh } from "./lab";

const dir = path.join(__dirname, "lab");

/** Starts a web server on `host` answering on each address:port; returns a function that stops it. */
export async function webServer(host: string, listen: string[]): Promise<() => Promise<void>> {
    const pidFile = `/tmp/web-${host}-${process.pid}-${Date.now()}.pid`;
    await sh(host, `setsid node ${dir}/web.js ${host} ${listen.join(" ")} >/dev/null 2>&1 < /dev/null & echo $! > ${pidFile}; sleep 1.5`);
    return async () => { await sh(host, `kill $(cat ${pidFile}) 2>/dev/null; rm -f ${pidFile}`); };
}

/** Sends `n` requests to `url` from the client host; how many each real server answered, and failures. */
export async function fetchFromClient(url: string, n: number): Promise<{ counts: Record<string, number>; failures: string[] }> {
    return JSON.parse(await sh("client", `node ${dir}/fetch.js ${url} ${n}`));
}
