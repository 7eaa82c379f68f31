// A tiny web server for traffic tests, run inside a lab host: answers every request with its own
// name and address:port, so a client can count which real server served it. Usage: node web.js NAME ADDR:PORT...
const http = require("http");
const [name, ...listen] = process.argv.slice(2);
for (const l of listen) {
    const i = l.lastIndexOf(":");
    const host = l.slice(0, i).replace(/^\[|\]$/g, ""), port = Number(l.slice(i + 1));
    http.createServer((req, res) => { res.setHeader("Connection", "close"); res.end(`${name} ${l}\n`); }).listen(port, host);
}
