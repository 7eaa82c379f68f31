// The shared, pure tree: the data types, one attribute table per object (each field's doc, rule,
// default and kernel name, once), and what is made from the tables (validation, normalisation, the
// user's view of a live object, comparisons, allow-lists). The SDK, the providers and the agent all
// import it; it imports none of them and does no I/O.
export * from "./address";
export * from "./connection";
export * from "./drain";
export * from "./failover";
export * from "./health";
export * from "./interface";
export * from "./kernel";
export * from "./protocol";
export * from "./real-server";
export * from "./rules";
export * from "./schedulers";
export * from "./service";
export * from "./show";
export * from "./sync";
export * from "./sysctls";
export * from "./timeouts";
export * from "./types";
