// agent.js, what every command line on a node names: it runs the agent's code (code.js, beside it) as the
// main module through a V8 code cache kept beside it. Node compiles the 370 KiB bundle at every start
// (half a second of each session's first contact on an emulated CPU, and of each notify keepalived runs);
// with the cache, a tenth of that. The cache is made by the first run of each Node.js version, once the
// code has run for a while (it then holds the functions compiled on first use too); one that this
// Node.js rejects is made again, and one that cannot be written (a read-only home) is not kept.
import * as fs from "fs";
import Module = require("module");
import * as path from "path";
import * as vm from "vm";

const file = path.join(__dirname, "code.js");
const cacheFile = path.join(__dirname, `code-${process.version}-${process.arch}.cache`);
let cachedData: Buffer | undefined;
try { cachedData = fs.readFileSync(cacheFile); } catch { /* not made yet */ }
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
    let written = false;
    const keep = () => {
        if (written) return;
        written = true;
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        try {
            fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
            fs.renameSync(tmp, cacheFile);
        } catch {
            fs.rmSync(tmp, { force: true });
        }
    };
    setTimeout(keep, 2000).unref();
    process.once("exit", keep);
}
// The code is this module: `require.main === module` holds in it, and its __dirname is this folder.
script.runInThisContext()(module.exports, require, module, file, __dirname);
