// A tiny web server for traffic tests, run inside a lab host: answers every request with its own
// name and address:port, so a client can count which real server served it. GET /slow/<ms> answers the
// same after waiting that many milliseconds (a long request in flight). Usage: node web.js NAME ADDR:PORT...
const http = require("http");
const [name, ...listen] = process.argv.slice(2);
for (const l of listen) {
    const i = l.lastIndexOf(":");
    const host = l.slice(0, i).replace(/^\[|\]$/g, ""), port = Number(l.slice(i + 1));
    http.createServer((req, res) => {
        res.setHeader("Connection", "close");
        const slow = /^\/slow\/(\d+)$/.exec(req.url ?? "");
        if (slow) setTimeout(() => res.end(`${name} ${l}\n`), Number(slow[1]));
        else res.end(`${name} ${l}\n`);
    }).listen(port, host);
}
