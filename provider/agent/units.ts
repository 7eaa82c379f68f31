// The text of the long-running systemd units the agent writes (the health daemon, keepalived): started
// after the restore unit (the table is back first) and restarted a second after they stop.

export interface LongRunning {
    /** What wrote it and what it is for (the unit's first line, a comment). */
    comment: string;
    description: string;
    /** The unit it starts after, and wants. */
    after: string;
    execStart: string;
    execReload?: string;
}

export function longRunningUnit(u: LongRunning): string {
    return [
        `# ${u.comment}`,
        "[Unit]",
        `Description=${u.description}`,
        `After=network-online.target ${u.after}`,
        `Wants=network-online.target ${u.after}`,
        "",
        "[Service]",
        "Type=simple",
        `ExecStart=${u.execStart}`,
        ...(u.execReload ? [`ExecReload=${u.execReload}`] : []),
        "Restart=always",
        "RestartSec=1",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
