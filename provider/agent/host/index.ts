// The node agent's host operations: everything it does on a node that is not the IPVS table.
//   - addresses (VIPs on lo / tunl0 / any interface) over rtnetlink, with the kernel's errno exposed as is;
//   - sysctls through /proc/sys, from a closed table (no other path can be read or written);
//   - kernel modules from a closed list, loaded through the kernel's own modprobe program;
//   - a probe of the kernel: release, IPVS version, schedulers, and the features its version has.
// Only validation tables and pure parsers run on the provider side; the I/O runs on the node.
// The lab driver calls these by name, the tests use the parsers.
export { HostError } from "../errno";
export * from "./addresses";
export * from "./sysctls";
export {
    loadModule, modprobeProgram, moduleProblem, moduleState, MODULES, parseModuleList, parseProcModules,
    schedulerAvailable,
} from "./modules";
export * from "./probe";
