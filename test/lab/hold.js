// Long-lived connections for failover tests, run inside a lab host: CONNECTIONS TCP connections to
// HOST:PORT, each sending an HTTP/1.1 keep-alive request for /keep (web.js) every INTERVAL_MS on the same
// socket until STOPFILE appears (a plain socket, not an HTTP agent: nothing opens a second one). A
// connection survives when it never errs or ends and every answer names the same server (a request
// unanswered for 20 s fails it). Then writes (to OUTFILE, through a rename) JSON:
// [{ server, port, answers, error?, errorAt?, longestGapMs, gapEnd }] (times in ms of this host's clock).
// Usage: node hold.js HOST:PORT CONNECTIONS STOPFILE OUTFILE [INTERVAL_MS=250]
const fs = require("fs");
const net = require("net");
const [target, connections, stopFile, outFile] = process.argv.slice(2, 6);
const interval = Number(process.argv[6] ?? 250), timeoutMs = 20_000;
const i = target.lastIndexOf(":");
const host = target.slice(0, i), port = Number(target.slice(i + 1));

function hold() {
    const c = { server: undefined, port: undefined, answers: 0, longestGapMs: 0, gapEnd: 0 };
    let last = Date.now(), buffer = "", timer;
    return new Promise((resolve) => {
        const socket = net.connect(port, host);
        const done = (error) => {
            clearTimeout(timer);
            if (error && !c.error) { c.error = error; c.errorAt = Date.now(); }
            socket.removeAllListeners();
            socket.on("error", () => undefined);
            socket.destroy();
            resolve(c);
        };
        const ask = () => {
            if (fs.existsSync(stopFile)) return done();
            socket.write(`GET /keep HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
            timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
        };
        socket.on("connect", () => { c.port = socket.localPort; ask(); });
        socket.on("data", (d) => {
            buffer += d;
            const head = buffer.indexOf("\r\n\r\n");
            if (head < 0) return;
            const length = Number(/content-length:\s*(\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
            if (buffer.length < head + 4 + length) return;
            const status = buffer.slice(0, buffer.indexOf("\r\n"));
            const server = buffer.slice(head + 4, head + 4 + length).trim();
            buffer = buffer.slice(head + 4 + length);
            clearTimeout(timer);
            const now = Date.now();
            if (now - last > c.longestGapMs) { c.longestGapMs = now - last; c.gapEnd = now; }
            last = now;
            c.answers++;
            if (!/ 200 /.test(status)) return done(`answered ${status}`);
            c.server ??= server;
            if (c.server !== server) return done(`answered by ${server}, not ${c.server}`);
            setTimeout(ask, interval);
        });
        socket.on("end", () => done("closed by the other end"));
        socket.on("error", (e) => done(e.code ? `${e.code}: ${e.message}` : e.message));
    });
}

(async () => {
    const out = await Promise.all(Array.from({ length: Number(connections) }, hold));
    fs.writeFileSync(`${outFile}.tmp`, JSON.stringify(out));
    fs.renameSync(`${outFile}.tmp`, outFile);
})();
