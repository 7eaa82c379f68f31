// The staging backend, uploaded to each real server by the WebServer resource and run there with the
// host's own node: answers every request with its host's name and the address:port it listens on
// ("rs1 10.1.0.21:8251"), so a client can count which real server served it. Prints "ready" once it
// listens on every address, and exits if one cannot be bound. Usage: node server.js NAME ADDR:PORT...
const http = require("http");
const [name, ...listen] = process.argv.slice(2);
let waiting = listen.length;
for (const l of listen) {
    const i = l.lastIndexOf(":");
    const host = l.slice(0, i).replace(/^\[|\]$/g, ""), port = Number(l.slice(i + 1));
    http.createServer((req, res) => {
        res.setHeader("Connection", "close");
        res.end(`${name} ${l}\n`);
    })
        .on("error", (e) => { console.error(`${l}: ${e.message}`); process.exit(1); })
        .listen(port, host, () => { if (--waiting === 0) console.log("ready"); });
}
