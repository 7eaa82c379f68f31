// Sends N requests, one after another, to a URL from inside a lab host, and prints how many each
// answer got (as JSON), plus the failures. Usage: node fetch.js URL N
const http = require("http");
const [url, n] = [process.argv[2], Number(process.argv[3])];
const counts = {}, failures = [];
function one() {
    return new Promise((resolve) => {
        const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d)).on("end", () => {
                counts[body.trim()] = (counts[body.trim()] ?? 0) + 1;
                resolve();
            });
        });
        req.on("timeout", () => req.destroy(new Error("timeout"))).on("error", (e) => {
            failures.push(e.message);
            resolve();
        });
    });
}
(async () => { for (let i = 0; i < n; i++) await one(); console.log(JSON.stringify({ counts, failures })); })();
