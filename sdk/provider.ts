// What every resource of the SDK shares: the provider stub Pulumi serializes into the state, the holder
// name a resource holds its objects by, and the connection's secrets.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as model from "../provider/model";
import type { ConnectionArgs } from "./connection";

export type Kind = "director" | "virtualService" | "realServer" | "realServers" | "realServerNode" | "dosProtection";

const providers = new Map<Kind, pulumi.dynamic.ResourceProvider>();

/**
 * The provider Pulumi serializes into the state: a stub that requires this package when it runs, so
 * refresh and delete run the installed version's code, and nothing (no credential) is captured. One
 * object per kind: @pulumi/pulumi serializes each provider object once (its cache is keyed by the object),
 * so every resource of a kind shares that work.
 */
export function provider(kind: Kind): pulumi.dynamic.ResourceProvider {
    let p = providers.get(kind);
    if (!p) providers.set(kind, p = stub(kind));
    return p;
}

function stub(kind: Kind): pulumi.dynamic.ResourceProvider {
    return {
        // The stack's configuration, where named credentials are (provider/credentials.ts).
        configure: async (req) => require("pulumi-lvs/lib/provider/resources").configure(req),
        check: (olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].check(olds, news),
        diff: (id, olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].diff(id, olds, news),
        create: (inputs) => require("pulumi-lvs/lib/provider/resources")[kind].create(inputs),
        read: (id, props) => require("pulumi-lvs/lib/provider/resources")[kind].read(id, props),
        update: (id, olds, news) => require("pulumi-lvs/lib/provider/resources")[kind].update(id, olds, news),
        delete: (id, props) => require("pulumi-lvs/lib/provider/resources")[kind].delete(id, props),
    };
}

/**
 * The credentials of a connection become secrets, in the inputs and in the state; a connection that names
 * credentials of the stack's configuration holds none, and stays readable. The engine marks an output secret
 * when its input held a secret, so the connection a Director passes on to the resources on it is secret
 * exactly when this one is.
 */
export function secretConnection(c: pulumi.Input<ConnectionArgs>): pulumi.Input<ConnectionArgs> {
    if (pulumi.Output.isInstance(c) || typeof (c as PromiseLike<unknown>).then === "function")
        return pulumi.output(c).apply((v) => (holdsCredentials(v) ? pulumi.secret(v) : pulumi.output(v))) as
            pulumi.Input<ConnectionArgs>;
    const plain = c as ConnectionArgs;
    const secret = <T>(v: pulumi.Input<T> | undefined) => (v === undefined ? undefined : pulumi.secret(v));
    const secrets = Object.fromEntries(model.secretConnectionFields.map((f) => [f, secret(plain[f])]));
    return {
        ...plain,
        ...secrets,
        ...(plain.proxy ? { proxy: secretConnection(plain.proxy) } : {}),
    };
}

/**
 * The name a resource holds the objects it declares on its nodes by (each object stays while any holder
 * is left): made of what its URN is made of (the parent's URN, or the project and stack; its kind and
 * name), so a resource keeps it across runs, and across an interrupted create retried, while a renamed
 * resource, a second declaration, a resource moved to another parent and another stack's each have
 * their own.
 */
export function holderOf(kind: Kind, name: string, opts?: pulumi.CustomResourceOptions): pulumi.Output<string> {
    // The parent's URN as a plain value: an Output of it would make the resource depend on its parent, and
    // on a component that means on all the component's children, the resource itself among them.
    const parent = opts?.parent;
    const urn = parent ? new Promise<string>((resolve) => parent.urn.apply(resolve))
        : Promise.resolve(`${pulumi.getProject()}::${pulumi.getStack()}`);
    return pulumi.output(urn).apply((p) =>
        `${kind}/${createHash("sha256").update(`${p}\0${kind}\0${name}`).digest("hex").slice(0, 16)}`);
}

/** Whether a connection (or its jump host) carries a key or password itself. */
function holdsCredentials(c: pulumi.Unwrap<ConnectionArgs>): boolean {
    return model.secretConnectionFields.some((f) => c[f] !== undefined) || (!!c.proxy && holdsCredentials(c.proxy));
}
