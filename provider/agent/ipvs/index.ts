// IPVS over generic netlink, for the node agent: the wire constants in one table (constants), attributes
// (attrs), pure pack / unpack of every object (codec), the requests and writes as data (requests), and
// IpvsHandle, one socket that talks to the kernel (handle). The data types are the shared tree's
// (provider/model/types). The lab driver loads IpvsHandle from here, the tests the rest.
export { IpvsError, errnoMeaning, errnoName } from "../errno";
export type { IpvsOpKind } from "../errno";
export { IPVS, NETLINK } from "./constants";
export { attr, ipvsMessage, nest, parseAttrs } from "./attrs";
export * from "./codec";
export * from "./requests";
export { IpvsHandle } from "./handle";
