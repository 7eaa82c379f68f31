// pulumi-lvs: Linux Virtual Server (IPVS) clusters as Pulumi resources.
//
//   const d = new lvs.Director("lb1", { connection: { host, hostKey, privateKey } });
//   const web = new lvs.VirtualService("web", { director: d, protocol: "tcp", address: "10.0.0.240", port: 80,
//       scheduler: "rr" });
//   new lvs.RealServer("web-1", { service: web, address: "10.1.0.21", forwarding: "nat" });
//
// This file only gathers the package's public names: each resource is in its own file.
export type {
    CheckType, DnsQueryType, Family, Forwarding, Persistence, Protocol, Scheduler, SchedulerFlag, ServiceKey,
    SorryServerSpec as SorryServer, Tunnel,
} from "../provider/model";
export type { ConnectionArgs } from "./connection";
/** A connection as the resources take it (its key and password secrets), for a resource of your own. */
export { secretConnection } from "./provider";
export { Director } from "./director";
export type {
    DirectorAddress, DirectorArgs, DirectorSync, Failover, FailoverState, SyncDaemon, SyncDaemonState,
} from "./director";
export { VirtualService } from "./virtual-service";
export type { VirtualServiceArgs } from "./virtual-service";
export { RealServer } from "./real-server";
export type { HealthCheck, RealServerArgs, RealServerDrain, RealServerHealthState } from "./real-server";
export { RealServers } from "./real-servers";
export type { RealServerEntry, RealServersArgs } from "./real-servers";
export { RealServerNode } from "./real-server-node";
export type { RealServerNodeArgs } from "./real-server-node";
export { DosProtection } from "./dos-protection";
export type { DefenseMode, DosProtectionArgs } from "./dos-protection";
export { Cluster } from "./cluster";
export type {
    ClusterArgs, ClusterDirector, ClusterFailover, ClusterNode, ClusterRealServer, ClusterService, ClusterSync,
} from "./cluster";
