// The fields a plan marks. A dynamic provider's host (@pulumi/pulumi's cmd/dynamic-provider) passes on a
// diff's changes and replacements, not its detailed diff; without one the engine shows the difference of
// the old and new inputs, which a refresh does not change: after a refresh that found drift, the repair
// showed as "~ update" with no field marked. So the detailed diff a provider's diff returns is put on the
// host's reply here: the host sets the reply's changes right after our diff returns, in the same turn of
// the event loop (a diff does no I/O), and that setter, wrapped once, adds what was left for it.
import * as path from "path";

/** How a field changes: updated in place, or replacing the resource. */
export type FieldChange = "update" | "update-replace" | "add" | "delete";

let pending: Record<string, FieldChange> | undefined;
let installed = false;

/** Returns `result` with its detailed diff: each changed field and how it changes. */
export function withDetailedDiff<T extends { changes?: boolean }>(result: T, fields: Record<string, FieldChange>):
    T & { detailedDiff: Record<string, FieldChange> } {
    install();
    pending = result.changes ? fields : undefined;
    return { ...result, detailedDiff: fields };
}

function install(): void {
    if (installed) return;
    installed = true;
    // The host's own copy of the protocol (it may not be the one this package resolves).
    const host = require.main?.filename ?? "";
    let proto: any;
    try { proto = require(path.join(path.dirname(host), "..", "..", "proto", "provider_pb")); } catch { return; }
    const kinds: Record<FieldChange, number> = {
        "add": proto.PropertyDiff.Kind.ADD, "delete": proto.PropertyDiff.Kind.DELETE,
        "update": proto.PropertyDiff.Kind.UPDATE, "update-replace": proto.PropertyDiff.Kind.UPDATE_REPLACE,
    };
    const setChanges = proto.DiffResponse.prototype.setChanges;
    proto.DiffResponse.prototype.setChanges = function (this: any, value: number) {
        const r = setChanges.call(this, value);
        const fields = pending;
        pending = undefined;
        if (fields && Object.keys(fields).length) {
            const map = this.getDetaileddiffMap();
            for (const [field, kind] of Object.entries(fields)) {
                const d = new proto.PropertyDiff();
                d.setKind(kinds[kind]);
                d.setInputdiff(false);
                map.set(field, d);
            }
            this.setHasdetaileddiff(true);
            this.setDiffsList([...new Set(Object.keys(fields).map((f) => f.split(/[.[]/)[0]))]);
        }
        return r;
    };
}
