// Builds the node agent into lib/agent/: code.js (the agent and everything it requires, in one file),
// agent.js (which runs code.js through a V8 code cache: provider/agent/loader.ts), and
// netlink-<arch>.node, the netlink package's prebuilt binding for each architecture it ships. The
// provider uploads agent.js, code.js and the binding for the node's architecture, as netlink.node beside them.
const esbuild = require("esbuild");
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const out = path.join(root, "lib", "agent");
const version = require(path.join(root, "package.json")).version;

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
// One file for Node.js 18 or newer, with everything it requires but Node's own modules.
const bundle = (entry, file) => ({
    entryPoints: [path.join(root, "provider", "agent", entry)], outfile: path.join(out, file),
    bundle: true, platform: "node", target: "node18", format: "cjs", legalComments: "none", logLevel: "warning",
});
async function main() {
await esbuild.build(bundle("loader.ts", "agent.js"));
await esbuild.build({
    ...bundle("main.ts", "code.js"),
    minify: true,
    sourcemap: false,
    define: { AGENT_VERSION: JSON.stringify(version) },
    plugins: [{
        // netlink loads its binding with node-gyp-build from its own folder; the agent loads it from its own.
        name: "netlink-binding",
        setup(build) {
            build.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: "node-gyp-build", namespace: "binding" }));
            build.onLoad({ filter: /.*/, namespace: "binding" }, () => ({
                contents: 'module.exports = () => require(require("path").join(__dirname, "netlink.node"));',
                loader: "js",
            }));
        },
    }],
});
const prebuilds = path.join(root, "node_modules", "netlink", "prebuilds");
for (const arch of ["x64", "arm64"]) {
    fs.copyFileSync(path.join(prebuilds, `linux-${arch}`, "node.napi.node"), path.join(out, `netlink-${arch}.node`));
}
const size = (f) => (fs.statSync(path.join(out, f)).size / 1024).toFixed(0);
console.log(`agent ${version}: lib/agent/code.js ${size("code.js")} KiB, agent.js ${size("agent.js")} KiB, ` +
    `netlink-x64.node ${size("netlink-x64.node")} KiB`);
}
main().catch((e) => { console.error(e); process.exit(1); });
