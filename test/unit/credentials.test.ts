// Credentials named in the stack's configuration (provider/credentials.ts): what a check says of a name
// that is missing, of a configured value that is not credentials and of credentials given twice, and the
// connection a name resolves to. The lab's tests log in through them (examples/lab.ts); the SSH login with
// them is in transport.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { configure, setCredentials, withCredentials } from "../../provider/credentials";
import { director, realServers } from "../../provider/resources";

const hostKey = "SHA256:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
const failures = async (connection: Record<string, unknown>) =>
    ((await director.check!({}, { connection })).failures ?? []).map((f) => `${f.property}: ${f.reason}`);
// As Pulumi's configure gives it: the raw values of the stack's configuration by full key.
const config = (raw: Record<string, string>) =>
    ({ config: { get: (k: string) => raw[k], require: (k: string) => raw[k] } });

afterEach(() => setCredentials(undefined));

describe("a connection's credentials by name", () => {
    it("resolve to the configured fields, the rest of the connection kept", () => {
        configure(config({ "lvs:credentials": JSON.stringify({
            deploy: { privateKey: "KEY", privateKeyPassword: "PW" }, ops: { password: "secret" } }) }));
        const c = { host: "10.0.0.11", port: 2222, credentials: "deploy", hostKey };
        expect(withCredentials(c)).toEqual({ ...c, privateKey: "KEY", privateKeyPassword: "PW" });
        expect(withCredentials({ host: "10.0.0.12", credentials: "ops" }).password).toBe("secret");
        const inline = { host: "10.0.0.13", privateKey: "INLINE" };
        expect(withCredentials(inline)).toBe(inline);
    });

    it("pass the check, as does a jump host's", async () => {
        configure(config({ "lvs:credentials":
            JSON.stringify({ deploy: { privateKey: "KEY" }, jump: { password: "p" } }) }));
        expect(await failures({ host: "10.0.0.11", hostKey, credentials: "deploy",
            proxy: { host: "10.0.0.1", hostKey, credentials: "jump" } })).toEqual([]);
    });

    it("that are not configured are refused at check, naming the field, the name and what is there", async () => {
        configure(config({ "lvs:credentials": JSON.stringify({ deploy: { privateKey: "KEY" } }) }));
        expect(await failures({ host: "10.0.0.11", hostKey, credentials: "prod",
            proxy: { host: "10.0.0.1", hostKey, credentials: "jmp" } })).toEqual([
            `connection.credentials: "prod" is not in the stack's configuration lvs:credentials (it names "deploy"): ` +
                `set it with pulumi config set --secret --path 'lvs:credentials.prod.privateKey' -- "$(cat KEYFILE)"`,
            `connection.proxy.credentials: "jmp" is not in the stack's configuration lvs:credentials ` +
                `(it names "deploy"): set it with pulumi config set --secret --path ` +
                `'lvs:credentials.jmp.privateKey' -- "$(cat KEYFILE)"`,
        ]);
        configure(config({}));
        expect(await failures({ host: "10.0.0.11", hostKey, credentials: "prod" })).toEqual([
            `connection.credentials: "prod" is not in the stack's configuration lvs:credentials (it is not set): ` +
                `set it with pulumi config set --secret --path 'lvs:credentials.prod.privateKey' -- "$(cat KEYFILE)"`,
        ]);
        expect(() => withCredentials({ host: "10.0.0.11", credentials: "prod" }))
            .toThrow(`connection.credentials: "prod" is not in the stack's configuration lvs:credentials`);
    });

    it.each([
        ["a string", "KEY TEXT", "is not an object of named credentials"],
        ["a list", "[1]", "is not an object of named credentials"],
        ["a name that is no object", JSON.stringify({ deploy: "KEY" }), "lvs:credentials.deploy is not credentials: " +
            "it is not an object"],
        ["a field of another name", JSON.stringify({ deploy: { key: "KEY" } }), "lvs:credentials.deploy is not " +
            `credentials: it has "key", which is none of privateKey, privateKeyPassword, password`],
        ["an empty field", JSON.stringify({ deploy: { password: "" } }), "lvs:credentials.deploy is not credentials: " +
            "its password is not a non-empty string"],
        ["no field", JSON.stringify({ deploy: {} }), "lvs:credentials.deploy is not credentials: it is empty"],
    ])("configured as %s are refused at check, saying what is wrong", async (_, raw, reason) => {
        configure(config({ "lvs:credentials": raw }));
        const out = await failures({ host: "10.0.0.11", hostKey, credentials: "deploy" });
        expect(out).toHaveLength(1);
        expect(out[0]).toMatch(/^connection\.credentials: the stack's configuration lvs:credentials/);
        expect(out[0]).toContain(reason);
    });

    it("given with a key or password as well are refused: one place for them", async () => {
        configure(config({ "lvs:credentials": JSON.stringify({ deploy: { privateKey: "KEY" } }) }));
        expect(await failures({ host: "10.0.0.11", hostKey, credentials: "deploy", privateKey: "K", password: "P" }))
            .toEqual(['connection.credentials: "deploy" is given with privateKey and password: give the credentials ' +
                "either by name (in the stack's configuration) or here, not both"]);
    });

    it("are what a connection without any way to log in is told of", async () => {
        expect(await failures({ host: "10.0.0.11", hostKey })).toEqual(["connection: give credentials (named in the " +
            "stack's configuration), privateKey, password or agentSocket to log in with"]);
    });

    it("are checked by every kind, a RealServers' among them", async () => {
        configure(config({}));
        const out = ((await realServers.check!({}, { connection: { host: "10.0.0.11", hostKey, credentials: "x" },
            service: { protocol: "tcp", address: "10.0.0.240", port: 80 }, realServers: [] })).failures ?? [])
            .map((f) => f.property);
        expect(out).toContain("connection.credentials");
    });
});
