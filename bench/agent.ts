// npm run bench -- agent: 100 virtual services x 10 real servers (1,100 objects) applied on director1
// in one agent request, against the same rules loaded with `ipvsadm -R`, in the same run, several
// rounds. Both are timed from this machine over an open SSH connection (each pays about one round
// trip, printed too). Prints figures; asserts nothing.
import { agentFor, closeAgents } from "../provider/client";
import { closeLab, labConnection, sh } from "../test/lab";

const host = "director1";
const rounds = Number(process.env.ROUNDS ?? 5);
const services = Array.from({ length: 100 },
    (_, i) => ({ protocol: "tcp" as const, address: `10.3.${i >> 8}.${(i & 255) + 1}`, port: 80 }));
const realServers = Array.from({ length: 10 }, (_, j) => `10.3.100.${j + 1}`);

const changes = services.flatMap((s) =>
    [{ service: s }, ...realServers.map((address) => ({ service: s, realServer: { address } }))]);
const rules = services.flatMap((s) =>
    [`-A -t ${s.address}:80 -s wlc`, ...realServers.map((r) => `-a -t ${s.address}:80 -r ${r}:80 -g -w 1`)])
    .join("\n") + "\n";
const removeAll = services.map((s) => ({ deleteService: s }));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t: bigint) => Number(t) / 1e6;

async function main(): Promise<void> {
    const agent = await agentFor(labConnection(host));
    await agent.request("apply", { changes: removeAll });
    await sh(host, `cat > /tmp/bench-rules`, rules);
    const rtt: number[] = [], byAgent: number[] = [], byIpvsadm: number[] = [];
    for (let r = 0; r < rounds; r++) {
        let t = process.hrtime.bigint();
        await agent.request("probe");
        rtt.push(ms(process.hrtime.bigint() - t));

        t = process.hrtime.bigint();
        const report = await agent.request("apply", { changes });
        byAgent.push(ms(process.hrtime.bigint() - t));
        if (report.actions.length !== changes.length)
            throw new Error(`the agent made ${report.actions.length} changes, not ${changes.length}`);
        await agent.request("apply", { changes: removeAll });

        t = process.hrtime.bigint();
        await sh(host, "ipvsadm -R < /tmp/bench-rules");
        byIpvsadm.push(ms(process.hrtime.bigint() - t));
        const lines = (await sh(host, "ipvsadm -Sn")).split("\n").filter((l) => l.includes(" 10.3.")).length;
        if (lines !== changes.length) throw new Error(`ipvsadm -R made ${lines} objects, not ${changes.length}`);
        await agent.request("apply", { changes: removeAll });
        console.log(`round ${r + 1}: agent ${byAgent[r].toFixed(0)} ms, ipvsadm -R ${byIpvsadm[r].toFixed(0)} ms, ` +
            `round trip ${rtt[r].toFixed(0)} ms`);
    }
    const probe = await agent.request("probe");
    await sh(host, "rm -f /tmp/bench-rules");
    console.log(`objects: ${changes.length} (${services.length} services x ${realServers.length} real servers), ` +
        `rounds: ${rounds}`);
    console.log(`median round trip (probe): ${median(rtt).toFixed(0)} ms`);
    console.log(`median agent apply: ${median(byAgent).toFixed(0)} ms`);
    console.log(`median ipvsadm -R: ${median(byIpvsadm).toFixed(0)} ms`);
    console.log(`agent peak RSS: ${(probe.agent.maxRssKiB / 1024).toFixed(1)} MiB`);
    console.log(`ratio agent/ipvsadm-R: ${(median(byAgent) / median(byIpvsadm)).toFixed(2)}`);
    await closeAgents();
    await closeLab();
}

main().catch((e) => { console.error(e); process.exit(1); });
