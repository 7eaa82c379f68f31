// A load generator for traffic tests, run inside a lab host: CLIENTS concurrent clients, each sending
// requests to URL one after another (a new connection each), until STOPFILE appears or SECONDS pass.
// Each client finishes the request it is in before it stops. A request fails when it errs, answers with
// a status other than 200, or takes longer than TIMEOUT_MS. Then writes (to OUTFILE, through a rename, so
// a reader never sees half of it) JSON: { ok, failures: [{ error, start, end }], counts: { answer: n },
// requests: [{ server, start, end }] }, times in ms of this host's clock (Date.now()).
// Usage: node load.js URL CLIENTS STOPFILE OUTFILE [SECONDS=600] [TIMEOUT_MS=10000]
const fs = require("fs");
const http = require("http");
const [url, clients, stopFile, outFile] = process.argv.slice(2, 6);
const seconds = Number(process.argv[6] ?? 600), timeoutMs = Number(process.argv[7] ?? 10000);
const until = Date.now() + seconds * 1000;
const out = { ok: 0, failures: [], counts: {}, requests: [] };

function one() {
    const start = Date.now();
    return new Promise((resolve) => {
        let done = false;
        const finish = (error, server) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            const end = Date.now();
            if (error) out.failures.push({ error, start, end });
            else {
                out.ok++;
                out.counts[server] = (out.counts[server] ?? 0) + 1;
                out.requests.push({ server, start, end });
            }
            resolve();
        };
        const req = http.get(url, { agent: false }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => finish(res.statusCode === 200 ? undefined : `status ${res.statusCode}`, body.trim()));
            res.on("error", (e) => finish(e.message));
            res.on("aborted", () => finish("aborted"));
        });
        req.on("error", (e) => finish(e.code ? `${e.code}: ${e.message}` : e.message));
        const timer = setTimeout(() => { finish(`timeout after ${timeoutMs} ms`); req.destroy(); }, timeoutMs);
    });
}

async function client() {
    while (Date.now() < until && !fs.existsSync(stopFile)) await one();
}

(async () => {
    await Promise.all(Array.from({ length: Number(clients) }, client));
    fs.writeFileSync(`${outFile}.tmp`, JSON.stringify(out));
    fs.renameSync(`${outFile}.tmp`, outFile);
})();
