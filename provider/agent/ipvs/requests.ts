// Every IPVS request the agent sends, as data: pure functions that return the generic netlink payload
// (requests), and the writes to the table with how to name each one and its errno (writes).
import type { IpvsOpKind } from "../errno";
import type {
    Daemon, DestinationSettings, RealServerId, SyncState, Timeouts, VirtualServiceId, VirtualServiceSettings,
} from "../../model";
import { ipvsMessage, nest } from "./attrs";
import {
    describeDestination, describeService, packDaemon, packDaemonState, packDestination, packDestinationId, packService,
    packServiceId, packTimeouts,
} from "./codec";
import { IPVS } from "./constants";

// ---------------------------------------------------------------------------------------------
// Requests (pure: each returns the generic netlink payload to send)

const C = IPVS.cmd, T = IPVS.cmdAttr;
type ServiceSpec = VirtualServiceId & VirtualServiceSettings;
type DestinationSpec = RealServerId & DestinationSettings;

export const requests = {
    services: () => ipvsMessage(C.GET_SERVICE, []),
    service: (id: VirtualServiceId) => ipvsMessage(C.GET_SERVICE, [nest(T.SERVICE, packServiceId(id))]),
    addService: (s: ServiceSpec) => ipvsMessage(C.NEW_SERVICE, [nest(T.SERVICE, packService(s))]),
    updateService: (s: ServiceSpec) => ipvsMessage(C.SET_SERVICE, [nest(T.SERVICE, packService(s))]),
    deleteService: (id: VirtualServiceId) => ipvsMessage(C.DEL_SERVICE, [nest(T.SERVICE, packServiceId(id))]),
    destinations: (id: VirtualServiceId) => ipvsMessage(C.GET_DEST, [nest(T.SERVICE, packServiceId(id))]),
    addDestination: (id: VirtualServiceId, d: DestinationSpec) =>
        ipvsMessage(C.NEW_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestination(d))]),
    updateDestination: (id: VirtualServiceId, d: DestinationSpec) =>
        ipvsMessage(C.SET_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestination(d))]),
    deleteDestination: (id: VirtualServiceId, d: RealServerId) =>
        ipvsMessage(C.DEL_DEST, [nest(T.SERVICE, packServiceId(id)), nest(T.DEST, packDestinationId(d))]),
    timeouts: () => ipvsMessage(C.GET_CONFIG, []),
    setTimeouts: (t: Partial<Timeouts>) => ipvsMessage(C.SET_CONFIG, packTimeouts(t)),
    daemons: () => ipvsMessage(C.GET_DAEMON, []),
    startDaemon: (d: Daemon) => ipvsMessage(C.NEW_DAEMON, [nest(T.DAEMON, packDaemon(d))]),
    stopDaemon: (state: SyncState) => ipvsMessage(C.DEL_DAEMON, [nest(T.DAEMON, packDaemonState(state))]),
    info: () => ipvsMessage(C.GET_INFO, []),
    zero: (id?: VirtualServiceId) => ipvsMessage(C.ZERO, id ? [nest(T.SERVICE, packServiceId(id))] : []),
};

// ---------------------------------------------------------------------------------------------
// Writes

/** A write to the table: its payload, and how to name it and its errno. */
export interface IpvsWrite {
    payload: Buffer;
    kind: IpvsOpKind;
    op: string;
}

const timeoutsText = (t: Partial<Timeouts>) =>
    Object.entries(t).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${v}`).join(" ");

/** Every write the handle can send, as data (so a batch of them can be sent at once). */
export const writes = {
    addService: (s: ServiceSpec): IpvsWrite =>
        ({ payload: requests.addService(s), kind: "add service", op: `add service ${describeService(s)}` }),
    updateService: (s: ServiceSpec): IpvsWrite =>
        ({ payload: requests.updateService(s), kind: "update service", op: `update service ${describeService(s)}` }),
    deleteService: (id: VirtualServiceId): IpvsWrite =>
        ({ payload: requests.deleteService(id), kind: "delete service", op: `delete service ${describeService(id)}` }),
    addDestination: (id: VirtualServiceId, d: DestinationSpec): IpvsWrite => ({
        payload: requests.addDestination(id, d), kind: "add destination",
        op: `add destination ${describeDestination(d)} to service ${describeService(id)}`,
    }),
    updateDestination: (id: VirtualServiceId, d: DestinationSpec): IpvsWrite => ({
        payload: requests.updateDestination(id, d), kind: "update destination",
        op: `update destination ${describeDestination(d)} of service ${describeService(id)}`,
    }),
    deleteDestination: (id: VirtualServiceId, d: RealServerId): IpvsWrite => ({
        payload: requests.deleteDestination(id, d), kind: "delete destination",
        op: `delete destination ${describeDestination(d)} from service ${describeService(id)}`,
    }),
    setTimeouts: (t: Partial<Timeouts>): IpvsWrite =>
        ({ payload: requests.setTimeouts(t), kind: "set timeouts", op: `set timeouts ${timeoutsText(t)}` }),
    startDaemon: (d: Daemon): IpvsWrite => ({
        payload: requests.startDaemon(d), kind: "start daemon",
        op: `start ${d.state} sync daemon on ${d.mcastInterface} syncid ${d.syncId}`,
    }),
    stopDaemon: (state: SyncState): IpvsWrite =>
        ({ payload: requests.stopDaemon(state), kind: "stop daemon", op: `stop ${state} sync daemon` }),
    zero: (id?: VirtualServiceId): IpvsWrite => ({
        payload: requests.zero(id), kind: "zero", op: id ? `zero service ${describeService(id)}` : "zero all services",
    }),
};
