// The dynamic providers behind the SDK's resources, by the names the SDK's stub asks for. The SDK
// serializes only a stub that requires this module by package name, so the code that refresh and delete
// run is the installed package's, and no credential is ever captured in a closure: connections travel as
// (secret) inputs. States already written call require("pulumi-lvs/lib/provider/resources")[kind]: this
// path and these names stay. configure takes the stack's configuration (named credentials), for every kind.
export { configure } from "./credentials";
export { director } from "./director";
export { dosProtection } from "./dos-protection";
export { realServer } from "./real-server";
export { realServerNode } from "./real-server-node";
export { realServers } from "./real-servers";
export { virtualService } from "./virtual-service";
