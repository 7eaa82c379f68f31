// The program of bench/cluster.ts: `services` virtual services on director1 (tcp 10.3.x.y:80, wlc), each with
// `realServers` real servers (10.3.100.1-..., dr, weight 1; the first real server of the first service has
// weight `weight`), under one Director. `form` says whose resources: "fine" is pulumi-lvs's Director,
// VirtualService and a RealServer each; "coarse" the same with each service's real servers as one
// RealServers; "floor" and "coarse-floor" are the same graphs (the same names, parents and dependencies) on
// a dynamic provider that does nothing, each resource carrying only its identity (and a list its entries):
// what Pulumi itself costs.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";
import { connection } from "../../examples/lab";

const config = new pulumi.Config();
const form = config.require("form");
const services = config.requireNumber("services"), realServers = config.requireNumber("realServers");
const firstWeight = config.getNumber("weight") ?? 1;
const vip = (i: number) => `10.3.${i >> 8}.${(i & 255) + 1}`;
const weight = (i: number, j: number) => (i === 0 && j === 0 ? firstWeight : 1);

/** One no-op provider for every resource of the floor (as pulumi-lvs has one per kind). */
const nothing: pulumi.dynamic.ResourceProvider = {
    async create(inputs) { return { id: `${inputs.kind}/${inputs.name}`, outs: inputs }; },
    async diff(_id, olds, news) { return { changes: JSON.stringify(olds) !== JSON.stringify(news) }; },
    async update(_id, _olds, news) { return { outs: news }; },
    async read(id, props) { return { id, props }; },
};
class Nothing extends pulumi.dynamic.Resource {
    declare readonly key: pulumi.Output<unknown>;
    constructor(kind: string, name: string, props: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
        super(nothing, name, { kind, name, ...props }, opts, "bench", kind);
    }
}

if (form === "fine") {
    const director = new lvs.Director("director1", { connection: connection("director1") });
    for (let i = 0; i < services; i++) {
        const service = new lvs.VirtualService(`s${i}`,
            { director, protocol: "tcp", address: vip(i), port: 80, scheduler: "wlc" });
        for (let j = 0; j < realServers; j++)
            new lvs.RealServer(`s${i}-r${j}`, { service, address: `10.3.100.${j + 1}`, weight: weight(i, j) });
    }
} else if (form === "floor") {
    const director = new Nothing("Director", "director1", { host: "director1" });
    for (let i = 0; i < services; i++) {
        const key = { protocol: "tcp", address: vip(i), port: 80 };
        const service = new Nothing("VirtualService", `s${i}`, { ...key, scheduler: "wlc" }, { parent: director });
        for (let j = 0; j < realServers; j++)
            new Nothing("RealServer", `s${i}-r${j}`, { service: service.id.apply(() => key),
                address: `10.3.100.${j + 1}`, weight: weight(i, j) }, { parent: service });
    }
} else if (form === "coarse") {
    const director = new lvs.Director("director1", { connection: connection("director1") });
    for (let i = 0; i < services; i++) {
        const service = new lvs.VirtualService(`s${i}`,
            { director, protocol: "tcp", address: vip(i), port: 80, scheduler: "wlc" });
        new lvs.RealServers(`s${i}`, { service, realServers: Array.from({ length: realServers },
            (_, j) => ({ address: `10.3.100.${j + 1}`, weight: weight(i, j) })) });
    }
} else if (form === "coarse-floor") {
    const director = new Nothing("Director", "director1", { host: "director1" });
    for (let i = 0; i < services; i++) {
        const key = { protocol: "tcp", address: vip(i), port: 80 };
        const service = new Nothing("VirtualService", `s${i}`, { ...key, scheduler: "wlc" }, { parent: director });
        new Nothing("RealServers", `s${i}`, { service: service.id.apply(() => key),
            realServers: Array.from({ length: realServers },
                (_, j) => ({ address: `10.3.100.${j + 1}`, weight: weight(i, j) })) }, { parent: service });
    }
} else throw new Error(`config form: "fine", "floor", "coarse" or "coarse-floor", not ${JSON.stringify(form)}`);
