// A tiny web server for traffic tests, run inside a lab host: answers every request with its own
// name and address:port, so a client can count which real server served it. GET /slow/<ms> answers the
// same after waiting that many milliseconds (a long request in flight), GET /keep the same on a connection
// kept open (a long-lived one, test/lab/hold.js); GET /.testpage answers "test page"
// (what the seeds' ldirectord check fetches). A listen address written https://ADDR:PORT serves TLS with
// the test-only certificate of test/fixtures/tls; one written udp://ADDR:PORT answers every datagram with
// the same "NAME ADDR:PORT" line. Usage: node web.js NAME [https://|udp://]ADDR:PORT...
const dgram = require("dgram");
const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");
const [name, ...listen] = process.argv.slice(2);
const tls = path.join(__dirname, "..", "fixtures", "tls");
for (const entry of listen) {
    const secure = entry.startsWith("https://");
    const l = entry.replace(/^(https|udp):\/\//, "");
    const i = l.lastIndexOf(":");
    const host = l.slice(0, i).replace(/^\[|\]$/g, ""), port = Number(l.slice(i + 1));
    if (entry.startsWith("udp://")) {
        const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
        socket.on("message", (_, from) => socket.send(`${name} ${l}\n`, from.port, from.address));
        socket.bind(port, host);
        continue;
    }
    const answer = (req, res) => {
        // /keep keeps the connection open (test/lab/hold.js); everything else closes it.
        if (req.url === "/keep") return res.end(`${name} ${l}\n`);
        res.setHeader("Connection", "close");
        const slow = /^\/slow\/(\d+)$/.exec(req.url ?? "");
        if (slow) setTimeout(() => res.end(`${name} ${l}\n`), Number(slow[1]));
        else if (req.url === "/.testpage") res.end("test page\n");
        else res.end(`${name} ${l}\n`);
    };
    const server = secure ? https.createServer({ cert: fs.readFileSync(path.join(tls, "lab-rs.crt")),
        key: fs.readFileSync(path.join(tls, "lab-rs.key")) }, answer) : http.createServer(answer);
    // A long-lived connection may wait out a failover (seconds without a packet) between requests.
    server.keepAliveTimeout = 60_000;
    server.listen(port, host);
}
