// Warnings for the user in the run's output. A dynamic provider's methods are not told which resource
// they serve, so a warning is the run's, not a resource's: it goes to the engine through its Log RPC, at
// the address the engine started this process with (`pulumi-resource-pulumi-nodejs <engine>`). Without
// an engine (a provider driven directly, as in unit tests), it goes to stderr.
import type { EngineClient } from "@pulumi/pulumi/proto/engine_grpc_pb";

let engine: EngineClient | null | undefined;

function engineClient(): EngineClient | null {
    if (engine !== undefined) return engine;
    const address = process.argv[2];
    if (!address || !/^[\w.[\]:-]+:\d+$/.test(address)) return (engine = null);
    const paths = [require.resolve("@pulumi/pulumi")];
    const grpc = require(require.resolve("@grpc/grpc-js", { paths }));
    const { EngineClient } = require("@pulumi/pulumi/proto/engine_grpc_pb");
    return (engine = new EngineClient(address, grpc.credentials.createInsecure()) as EngineClient);
}

export async function warn(message: string): Promise<void> {
    const text = `pulumi-lvs: ${message}`;
    const client = engineClient();
    if (!client) { console.error(`warning: ${text}`); return; }
    const { LogRequest, LogSeverity } = require("@pulumi/pulumi/proto/engine_pb");
    const req = new LogRequest();
    req.setSeverity(LogSeverity.WARNING);
    req.setMessage(text);
    await new Promise<void>((resolve) => client.log(req, (err: Error | null) => {
        if (err) console.error(`warning: ${text}`);
        resolve();
    }));
}
