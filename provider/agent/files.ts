// Files on the node written whole or not at all: the record, the units, health.json, keepalived's
// configuration.
import * as fs from "fs";
import * as path from "path";

/** Replaces `target` with `text` whole or not at all (unchanged files are left alone); true when it wrote. */
export function writeAtomic(target: string, text: string): boolean {
    try { if (fs.readFileSync(target, "utf8") === text) return false; } catch { /* missing: write it */ }
    const tmp = `${target}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try { fs.writeSync(fd, text); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, target);
    const dirFd = fs.openSync(path.dirname(target), "r");
    try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }
    return true;
}
