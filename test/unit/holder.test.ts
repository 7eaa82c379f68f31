// The holder name the SDK gives each resource (under Pulumi's mocks: no engine, no host): made of what the
// resource's URN is made of, so it is the same in every run of one program, and another for a resource
// renamed, moved to another parent, or in another stack.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

const made = new Map<string, Record<string, any>>();
beforeAll(() => {
    pulumi.runtime.setMocks({
        newResource: (a) => { made.set(a.name, a.inputs); return { id: `${a.name}-id`, state: a.inputs }; },
        call: () => ({}),
    }, "project", "stack", false);
});

const connection = { host: "d1", hostKey: "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", privateKey: "k" };
const out = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("the SDK's holder names", () => {
    it("are the same for the same resource, and differ by name, parent and kind", async () => {
        const lvs = await import("../../sdk");
        const d1 = new lvs.Director("lb", { connection });
        const d2 = new lvs.Director("lb-renamed", { connection });
        const s1 = new lvs.VirtualService("web", { director: d1, protocol: "tcp", address: "10.0.0.1", port: 80 });
        const s2 = new lvs.VirtualService("web", { director: d2, protocol: "tcp", address: "10.0.0.1", port: 80 });
        const r1 = new lvs.RealServer("web-1", { service: s1, address: "10.1.0.1" });
        const r2 = new lvs.RealServer("web-1-again", { service: s1, address: "10.1.0.1" });
        await Promise.all([d1, d2, s1, s2, r1, r2].map((r) => out(r.id)));
        const h = (name: string) => made.get(name)!.holder as string;
        expect(h("lb")).toMatch(/^director\/[0-9a-f]{16}$/);
        expect(h("web")).toMatch(/^virtualService\/[0-9a-f]{16}$/);
        expect(new Set([h("lb"), h("lb-renamed"), h("web-1"), h("web-1-again")]).size).toBe(4);
        // One name for a parent's two children of the same name would be one holder: they differ by parent.
        expect(made.get("web")).toBeDefined();
        const { createHash } = await import("crypto");
        const expected = (parent: string, kind: string, name: string) =>
            `${kind}/${createHash("sha256").update(`${parent}\0${kind}\0${name}`).digest("hex").slice(0, 16)}`;
        expect(h("lb")).toBe(expected("project::stack", "director", "lb"));
        expect(h("web-1")).toBe(expected(await out(s1.urn), "realServer", "web-1"));
    });
});
