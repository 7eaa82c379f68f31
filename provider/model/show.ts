// How error messages quote a value: as JSON, cut to a short prefix, so that a bad 10 MB value comes back
// as a line and not as 10 MB. Used by both sides of the wire (the providers' checks and the agent).
export function show(v: unknown, max = 80): string {
    let s: string;
    try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
    return s.length > max ? `${s.slice(0, max)}... (${s.length} characters)` : s;
}
