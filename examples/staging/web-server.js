// The WebServer provider: what @pulumi/command's remote.Command would do for the staging backends (a
// create command, a delete command), plus a read, so that a server that died shows as drift. It runs in
// Pulumi's dynamic-provider process, which requires it by package name (the stub in backends.ts), so it
// is plain CommonJS. SSH is the project's own connect (provider/ssh.ts): the host key is pinned.
//
// On the host: the script goes to /var/tmp/pulumi-lvs-staging/NAME.js (sent on stdin, so nothing relies
// on this checkout being there), runs detached (setsid) with its pid in NAME.pid and its output in
// NAME.log. The path is fixed: a create first stops a server left there by an earlier run (it would hold
// the ports). A server is the resource's while the recorded pid runs that script.
"use strict";
const { connect, target } = require("pulumi-lvs/lib/provider/ssh");

const dir = "/var/tmp/pulumi-lvs-staging";
const fields = ["connection", "name", "listen", "script"];
// What a preview gives for a value not known yet: nothing to check then.
const unknown = (v) => v === "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Runs a shell command on the host, `input` on its stdin; its stdout, or an error with its stderr. */
async function run(connection, command, input) {
    const client = await connect(connection);
    try {
        return await new Promise((resolve, reject) =>
            client.exec(command, (err, ch) => {
                if (err) return reject(err);
                let stdout = "", stderr = "";
                ch.on("data", (d) => (stdout += d)).stderr.on("data", (d) => (stderr += d));
                ch.on("close", (code) => (code === 0 ? resolve(stdout)
                    : reject(new Error(`${target(connection)}: ${stderr.trim() || `exit ${code}`}`))));
                ch.end(input);
            }));
    } finally {
        client.end();
    }
}

// Shell functions: `ours PID` is true while PID runs this server's script; `stop PID` ends it (TERM, then KILL).
const shell = (name) => `f=${dir}/${name}
ours() { grep -qasF "$f.js" /proc/$1/cmdline; }
stop() { kill $1 2>/dev/null || true; for i in $(seq 50); do ours $1 || return 0; sleep 0.1; done; ` +
    `kill -9 $1 2>/dev/null || true; }
`;

module.exports = {
    async check(_olds, news) {
        const failures = [];
        const fail = (property, reason) => failures.push({ property, reason });
        const { name, listen, connection, script } = news;
        if (!unknown(name) && !(typeof name === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)))
            fail("name", `${JSON.stringify(name)} is not a name of letters, digits, dots, dashes and underscores`);
        if (!unknown(listen) && (!Array.isArray(listen) || !listen.length))
            fail("listen", "give at least one ADDRESS:PORT");
        else if (!unknown(listen)) listen.forEach((l, i) => {
            if (!unknown(l) && !(typeof l === "string" &&
                /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(l) &&
                Number(l.slice(l.lastIndexOf(":") + 1)) <= 65535))
                fail(`listen[${i}]`, `${JSON.stringify(l)} is not ADDRESS:PORT (an IPv6 address in brackets)`);
        });
        if (!unknown(connection) && (typeof connection !== "object" || !connection))
            fail("connection", "give the host's connection");
        if (!unknown(script) && !(typeof script === "string" && script)) fail("script", "give the server's script");
        return failures.length ? { failures } : { inputs: news };
    },
    async diff(_id, olds, news) {
        // Every change replaces, the old one first: the new server needs its ports and its path.
        const replaces = fields.filter((f) => JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
        return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        const out = await run(inputs.connection, `set -e
${shell(inputs.name)}
mkdir -p ${dir}
old=$(cat $f.pid 2>/dev/null || true)
if [ -n "$old" ] && ours $old; then stop $old; fi
cat > $f.js
cd /
setsid node $f.js ${inputs.name} ${inputs.listen.map((l) => `'${l}'`).join(" ")} > $f.log 2>&1 < /dev/null &
pid=$!; echo $pid > $f.pid
for i in $(seq 300); do
  if grep -qx ready $f.log; then echo $pid; exit 0; fi
  [ -e /proc/$pid ] || break; sleep 0.1
done
echo "the web server did not start: $(cat $f.log)" >&2; stop $pid; exit 1
`, inputs.script);
        const pid = Number(out.trim().split("\n").pop());
        return { id: `${target(inputs.connection)}${dir}/${inputs.name}.js`, outs: { ...inputs, pid } };
    },
    async read(id, props) {
        const out = await run(props.connection, `${shell(props.name)}
if ours ${Number(props.pid)}; then echo running; else echo gone; fi
`);
        return out.trim() === "running" ? { id, props } : {};
    },
    async delete(_id, props) {
        await run(props.connection, `${shell(props.name)}
if ours ${Number(props.pid)}; then stop ${Number(props.pid)}; fi
if [ "$(cat $f.pid 2>/dev/null)" = "${Number(props.pid)}" ]; then rm -f $f.pid $f.js $f.log; fi
`);
    },
};
