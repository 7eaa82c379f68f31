// The loop before the agent: the real `pulumi up` of test/smoke reaches director1 over SSH and adds a
// virtual service; `pulumi destroy` removes it. The kernel (ipvsadm -Sn) is the judge.
import * as fs from "fs";
import * as path from "path";
import { afterAll, expect, test } from "vitest";
import { closeLab, lab, sh } from "../lab";
import { newStack } from "../pulumi";

afterAll(closeLab);

test("pulumi up adds a virtual service on director1 and destroy removes it", async () => {
    const { hosts, privateKeyPath } = lab();
    const d = hosts.director1;
    const service = "10.0.0.250:80";
    const stack = await newStack(path.join(__dirname, "..", "smoke"), `smoke${process.pid}`);
    await stack.config("host", d.host);
    await stack.config("port", String(d.port));
    await stack.config("hostKey", d.hostKey);
    await stack.config("service", service);
    await stack.config("privateKey", fs.readFileSync(privateKeyPath, "utf8"), true);

    await stack.run("up", "--yes", "--skip-preview");
    expect(await sh("director1", "ipvsadm -Sn")).toContain(`-A -t ${service} -s rr`);

    // The private key is a secret input: never in plaintext in the state.
    const keyLine = fs.readFileSync(privateKeyPath, "utf8").split("\n")[1];
    expect(fs.readFileSync(stack.stateFile(), "utf8")).not.toContain(keyLine);

    await stack.run("destroy", "--yes", "--skip-preview");
    expect(await sh("director1", "ipvsadm -Sn")).not.toContain(service);
    await stack.run("stack", "rm", "--yes");
});
