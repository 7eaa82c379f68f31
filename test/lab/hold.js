// Long-lived connections for failover tests, run inside a lab host: CONNECTIONS keep-alive HTTP
// connections to URL (web.js's /keep), each sending one request every INTERVAL_MS on the same TCP
// connection until STOPFILE appears. A connection survives when it never errs and every answer names the
// same server (a request unanswered for 20 s fails it). Then writes (to OUTFILE, through a rename) JSON:
// [{ server, answers, error?, errorAt?, longestGapMs, gapEnd }] (times in ms of this host's clock).
// Usage: node hold.js URL CONNECTIONS STOPFILE OUTFILE [INTERVAL_MS=250]
const fs = require("fs");
const http = require("http");
const [url, connections, stopFile, outFile] = process.argv.slice(2, 6);
const interval = Number(process.argv[6] ?? 250), timeoutMs = 20_000;

function hold() {
    // One socket for every request of this connection: an agent of one socket, kept alive.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const c = { server: undefined, answers: 0, longestGapMs: 0, gapEnd: 0, port: undefined };
    let last = Date.now();
    return new Promise((resolve) => {
        const done = (error) => {
            if (error && !c.error) { c.error = error; c.errorAt = Date.now(); }
            agent.destroy();
            resolve(c);
        };
        const one = () => {
            if (fs.existsSync(stopFile)) return done();
            const req = http.get(url, { agent }, (res) => {
                let body = "";
                res.on("data", (d) => (body += d));
                res.on("end", () => {
                    clearTimeout(timer);
                    const now = Date.now(), server = body.trim();
                    if (now - last > c.longestGapMs) { c.longestGapMs = now - last; c.gapEnd = now; }
                    last = now;
                    c.answers++;
                    c.port ??= req.socket?.localPort;
                    if (c.server === undefined) c.server = server;
                    else if (c.server !== server) return done(`answered by ${server}, not ${c.server}`);
                    // A new socket would be a new connection: this one must stay the same.
                    const port = req.socket?.localPort;
                    if (port !== c.port) return done(`a new connection (port ${port}, was ${c.port})`);
                    setTimeout(one, interval);
                });
            });
            req.on("error", (e) => { clearTimeout(timer); done(e.code ? `${e.code}: ${e.message}` : e.message); });
            const timer = setTimeout(() => { done(`no answer within ${timeoutMs} ms`); req.destroy(); }, timeoutMs);
        };
        one();
    });
}

(async () => {
    const out = await Promise.all(Array.from({ length: Number(connections) }, hold));
    fs.writeFileSync(`${outFile}.tmp`, JSON.stringify(out));
    fs.renameSync(`${outFile}.tmp`, outFile);
})();
