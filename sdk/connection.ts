// How a resource reaches its node: the connection's fields (each with its doc in provider/model's
// Connection) as Pulumi inputs. The credentials become secrets: see secretConnection in provider.ts.
import type * as pulumi from "@pulumi/pulumi";
import type * as model from "../provider/model";
import type { Inputs } from "./inputs";

/** The fields of a connection as inputs; its jump host (proxy) is a connection of its own. */
type ConnectionInputs = {
    [K in keyof model.Connection]: K extends "proxy" ? pulumi.Input<ConnectionArgs> : Inputs<model.Connection>[K];
};

/** How to reach a node over SSH (the arguments of pulumi-command's connections). */
export interface ConnectionArgs extends ConnectionInputs {}
