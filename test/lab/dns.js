// A tiny DNS server for the dns health check's test, run inside a lab host: answers an A query for each
// NAME=ADDRESS it is given, and NXDOMAIN for every other name. Usage: node dns.js ADDR:PORT NAME=ADDRESS...
const dgram = require("dgram");
const [listen, ...records] = process.argv.slice(2);
const i = listen.lastIndexOf(":");
const host = listen.slice(0, i), port = Number(listen.slice(i + 1));
const answers = new Map(records.map((r) => r.split("=")).map(([n, a]) => [n.toLowerCase(), a]));

/** The name a query asks for, and where its question ends. */
function question(msg) {
    const labels = [];
    let o = 12;
    while (msg[o] !== 0) { labels.push(msg.subarray(o + 1, o + 1 + msg[o]).toString()); o += msg[o] + 1; }
    return { name: labels.join(".").toLowerCase(), end: o + 5, type: msg.readUInt16BE(o + 1) };
}

const server = dgram.createSocket("udp4");
server.on("message", (msg, from) => {
    const q = question(msg);
    const address = q.type === 1 ? answers.get(q.name) : undefined;
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2); // the id
    head.writeUInt16BE(0x8180 | (address ? 0 : 3), 2); // a response, recursion available; NXDOMAIN without one
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(address ? 1 : 0, 6);
    const parts = [head, msg.subarray(12, q.end)];
    if (address) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(60, 6);
        rr.writeUInt16BE(4, 10);
        address.split(".").forEach((b, k) => rr.writeUInt8(Number(b), 12 + k));
        parts.push(rr);
    }
    server.send(Buffer.concat(parts), from.port, from.address);
});
server.bind(port, host);
