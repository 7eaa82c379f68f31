// pulumi-lvs: Linux Virtual Server (IPVS) clusters as Pulumi resources. The resource classes land here
// (Director, VirtualService, RealServer, DosProtection, RealServerNode, Cluster).
export const version: string = require("../../package.json").version;
